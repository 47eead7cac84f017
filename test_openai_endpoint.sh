#!/usr/bin/env bash
# Curl smoke tests against a running Fintalk server. Exits non-zero on the first failure.
#   BASE_URL=http://127.0.0.1:8000 API_KEY=sk-... ./test_openai_endpoint.sh
# Works with any model (checks shapes, not wording); with FINTALK_LLM=demo it also checks the
# card-blocking conversation. With FINTALK_AUTH=disabled, leave API_KEY empty.
set -uo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:8000}"
API_KEY="${API_KEY:-}"
AUTH=(); [ -n "$API_KEY" ] && AUTH=(-H "Authorization: Bearer $API_KEY")
failures=0; passed=0

check() { # name, command...
  local name="$1"; shift
  if out=$("$@" 2>&1); then passed=$((passed + 1)); echo "ok   $name"
  else failures=$((failures + 1)); echo "FAIL $name"; echo "$out" | head -20 | sed 's/^/     /'; fi
}
post() { curl -sS -o /tmp/fintalk_smoke_body -w '%{http_code}' "${AUTH[@]}" -H 'Content-Type: application/json' "$BASE_URL$1" -d "$2"; }
expect() { # status, path, body, python check on the JSON body (var b)
  local status; status=$(post "$2" "$3")
  [ "$status" = "$1" ] || { echo "status $status, expected $1: $(cat /tmp/fintalk_smoke_body)"; return 1; }
  python3 -c "import json,sys; b=json.load(open('/tmp/fintalk_smoke_body')); assert $4, b" 
}

check "models list" bash -c "curl -sSf ${AUTH[*]:+-H 'Authorization: Bearer $API_KEY'} '$BASE_URL/api/models' | python3 -c 'import json,sys; b=json.load(sys.stdin); assert b[\"object\"]==\"list\" and b[\"data\"], b'"
check "non-streaming completion" expect 200 /api/chat/completions \
  '{"stream": false, "messages": [{"role": "user", "content": "What loans do you offer?"}]}' \
  'b["object"]=="chat.completion" and b["choices"][0]["message"]["content"].strip() and b["usage"]["total_tokens"]>0'
check "streaming completion (default) ends with [DONE]" bash -c "
  curl -sSN ${AUTH[*]:+-H 'Authorization: Bearer $API_KEY'} -H 'Content-Type: application/json' '$BASE_URL/v1/chat/completions' \
    -d '{\"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}], \"stream_options\": {\"include_usage\": true}}' > /tmp/fintalk_smoke_sse
  grep -q '\"role\":\"assistant\"' /tmp/fintalk_smoke_sse && grep -q '\"finish_reason\":\"stop\"' /tmp/fintalk_smoke_sse &&
  grep -q '\"choices\":\[\],\"usage\"' /tmp/fintalk_smoke_sse && [ \"\$(grep -v '^$' /tmp/fintalk_smoke_sse | tail -1)\" = 'data: [DONE]' ]"
check "phone tag is accepted" expect 200 /api/chat/completions \
  '{"stream": false, "messages": [{"role": "user", "content": "Which cards do I have? [phone: +15550100001]"}]}' \
  'b["choices"][0]["message"]["content"].strip()'
check "native agent endpoint" expect 200 /api/agent/query/ '{"query": "What loans do you have?"}' 'b["response"].strip()'
check "temperature 3 is a 400 naming the param" expect 400 /api/chat/completions \
  '{"temperature": 3, "messages": [{"role": "user", "content": "hi"}]}' 'b["error"]["param"]=="temperature"'
check "malformed JSON is a 400" expect 400 /api/chat/completions '{"messages": [' 'b["error"]["type"]=="invalid_request_error"'
check "unknown route is a JSON 404" bash -c "[ \"\$(curl -sS -o /dev/null -w '%{http_code}' '$BASE_URL/api/nope')\" = 404 ]"
if [ -n "$API_KEY" ]; then
  check "wrong key is a 401" bash -c "curl -sS -H 'Authorization: Bearer wrong' -H 'Content-Type: application/json' '$BASE_URL/api/chat/completions' -d '{}' | grep -q invalid_api_key"
fi
if grep -q fintalk-demo <<<"$(curl -sS "${AUTH[@]}" "$BASE_URL/api/models")"; then
  check "demo: block a card, asked for last4 first" expect 200 /api/chat/completions \
    '{"stream": false, "messages": [{"role": "user", "content": "Block my credit card [phone: +15550100001]"}]}' \
    '"last four digits" in b["choices"][0]["message"]["content"]'
  check "demo: 4242 blocks (or was blocked)" expect 200 /api/chat/completions \
    '{"stream": false, "messages": [{"role": "user", "content": "Block my credit card [phone: +15550100001]"}, {"role": "assistant", "content": "What are the last four digits of the card?"}, {"role": "user", "content": "4242"}]}' \
    '"blocked" in b["choices"][0]["message"]["content"]'
fi
echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
