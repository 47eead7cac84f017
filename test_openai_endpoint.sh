#!/usr/bin/env bash
# Curl smoke tests against a running Fintalk server; exits non-zero if any check fails.
#   BASE_URL=http://127.0.0.1:8000 API_KEY=sk-... ./test_openai_endpoint.sh
# Sends every request body in example_requests.json, then what clients send on their defaults
# (any model name, `stream` absent with various Accept headers, a voice call), then checks errors.
# It checks shapes, not wording, so it works with any model; on the demo model it also checks the
# card conversation.
# With FINTALK_AUTH=disabled, leave API_KEY empty.
set -uo pipefail
cd "$(dirname "$0")"
BASE_URL="${BASE_URL:-http://127.0.0.1:8000}"
API_KEY="${API_KEY:-}"
AUTH=(); [ -n "$API_KEY" ] && AUTH=(-H "Authorization: Bearer $API_KEY")
body_file=$(mktemp); trap 'rm -f "$body_file"' EXIT
passed=0; failed=0

report() { # name, ok?, detail
  if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "ok   $1"
  else failed=$((failed + 1)); echo "FAIL $1"; echo "$3" | head -c 1500 | sed 's/^/     /'; echo; fi
}

EXTRA=() # more curl arguments for the next requests (e.g. an Accept header)

request() { # method, path, [json body] -> status code; body in $body_file
  local data=(); [ $# -ge 3 ] && data=(-H 'Content-Type: application/json' --data-binary "$3")
  curl -sS -N -o "$body_file" -w '%{http_code}' -X "$1" "${AUTH[@]}" "${EXTRA[@]}" "${data[@]}" "$BASE_URL$2"
}

check() { # name, expected status, python expression on `body` (text) and `j` (JSON or None), method, path, [json]
  local name="$1" want="$2" expr="$3"; shift 3
  local got; got=$(request "$@")
  python3 - "$want" "$got" "$expr" "$body_file" <<'PY'
import json, sys
want, got, expr, path = sys.argv[1:5]  # json is used by the checks too
body = open(path).read()
try:
    j = json.loads(body)
except ValueError:
    j = None
assert got == want, f"status {got}, expected {want}: {body[:800]}"
assert eval(expr), f"check failed: {expr}\n{body[:800]}"
PY
  report "$name" $? "$(cat "$body_file")"
}

SSE_OK='body.rstrip().endswith("data: [DONE]") and "\"role\":\"assistant\"" in body and "\"finish_reason\":\"stop\"" in body'
check "GET /api/models" 200 'j["object"] == "list" and j["data"]' GET /api/models
check "GET /v1/models" 200 'j["data"][0]["object"] == "model"' GET /v1/models

# Every example request body the docs use.
while IFS=$'\t' read -r name path streamed body expr; do
  if [ -n "$expr" ]; then :
  elif [ "$streamed" = "1" ]; then expr="$SSE_OK"
  elif [[ "$path" == /api/agent/query* ]]; then expr='j["response"].strip()'
  else expr='j["object"] == "chat.completion" and j["choices"][0]["message"]["content"].strip()'; fi
  check "example $name" 200 "$expr" POST "$path" "$body"
done < <(python3 -c '
import json
for name, ex in json.load(open("example_requests.json")).items():
    streamed = ex["path"].endswith("chat/completions") and ex["body"].get("stream", True)
    print(name, ex["path"], int(streamed), json.dumps(ex["body"]), ex.get("check", ""), sep="\t")')

# Clients on their defaults.
HI='"messages": [{"role": "user", "content": "hi"}]'
CHUNK_MODELS='[json.loads(l[6:])["model"] for l in body.splitlines() if l.startswith("data: {")]'
check "unknown model gpt-4o is answered and names the model used" 200 \
  'j["model"] != "gpt-4o" and j["choices"][0]["message"]["content"].strip()' \
  POST /api/chat/completions "{\"model\": \"gpt-4o\", \"stream\": false, $HI}"
check "gpt-3.5-turbo streamed: every chunk names the model used" 200 \
  "$SSE_OK and len(set($CHUNK_MODELS)) == 1 and \"gpt-3.5-turbo\" not in $CHUNK_MODELS" \
  POST /api/chat/completions "{\"model\": \"gpt-3.5-turbo\", \"stream\": true, $HI}"
check "text-embedding-3-small gets the server's embedding model" 200 \
  'j["model"] != "text-embedding-3-small" and len(j["data"][0]["embedding"]) > 0' \
  POST /api/embeddings '{"model": "text-embedding-3-small", "input": "hello"}'
EXTRA=(-H 'Accept: application/json')  # what the openai clients send: stream absent means JSON
check "stream absent + Accept: application/json is JSON" 200 'j["object"] == "chat.completion"' \
  POST /api/chat/completions "{$HI}"
EXTRA=(-H 'Accept:')  # no Accept header at all: stream absent streams, as voice clients expect
check "stream absent + no Accept header streams" 200 "$SSE_OK" POST /api/chat/completions "{$HI}"
EXTRA=(-H 'Accept: text/event-stream')  # EventSource, SSE libraries, gateways: never a 406
check "Accept: text/event-stream streams" 200 "$SSE_OK" POST /api/chat/completions "{$HI}"
check "Accept: text/event-stream + stream false is JSON" 200 'j["object"] == "chat.completion"' \
  POST /api/chat/completions "{\"stream\": false, $HI}"
check "responses stream with Accept: text/event-stream" 200 '"event: response.completed" in body' \
  POST /api/responses '{"input": "hi"}'
EXTRA=(-H 'Accept: text/html')
check "GET /api/models with Accept: text/html is JSON" 200 'j["object"] == "list"' GET /api/models
EXTRA=()
check "a voice call is answered with speech (a busy server too), never a 429" 200 "$SSE_OK" \
  POST /api/chat/completions "{\"stream\": true, \"call\": {\"id\": \"smoke-test\"}, $HI}"
check "GET /api/models/gpt-4o stays a 404 (a lookup)" 404 'j["error"]["code"] == "model_not_found"' \
  GET /api/models/gpt-4o
check "the OpenAPI schema is published" 200 'j["openapi"].startswith("3.1")' GET '/api/schema/?format=json'

check "temperature 3 is a 400 naming the param" 400 'j["error"]["param"] == "temperature"' \
  POST /api/chat/completions '{"temperature": 3, "messages": [{"role": "user", "content": "hi"}]}'
check "malformed JSON is a 400" 400 'j["error"]["type"] == "invalid_request_error"' \
  POST /api/chat/completions '{"messages": ['
check "unknown route is a JSON 404" 404 'set(j["error"]) == {"message", "type", "param", "code"}' GET /api/nope
check "GET on chat completions is a 405" 405 'j["error"]["code"] == "method_not_allowed"' GET /api/chat/completions
check "healthz" 200 'j == {"status": "ok"}' GET /healthz
if [ -n "$API_KEY" ]; then
  saved=("${AUTH[@]}"); AUTH=(-H "Authorization: Bearer wrong-key")
  check "wrong key is a 401" 401 'j["error"]["code"] == "invalid_api_key"' POST /api/chat/completions '{}'
  AUTH=("${saved[@]}")
fi
if request GET /api/models >/dev/null && grep -q fintalk-demo "$body_file"; then
  check "demo: blocking asks for the last four digits" 200 '"last four digits" in j["choices"][0]["message"]["content"]' \
    POST /api/chat/completions '{"stream": false, "messages": [{"role": "user", "content": "Block my credit card [phone: +15550100001]"}]}'
  check "demo: 4242 blocks the card (or it was blocked)" 200 '"blocked" in j["choices"][0]["message"]["content"]' \
    POST /api/chat/completions '{"stream": false, "messages": [{"role": "user", "content": "Block my credit card [phone: +15550100001]"}, {"role": "assistant", "content": "What are the last four digits of the card?"}, {"role": "user", "content": "4242"}]}'
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
