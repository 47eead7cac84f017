"""Real clients on their defaults, through the real server: any model name, streaming by what the
client accepts, no 406, no throttle unless one is set, and objects the strict openai client parses."""
import asyncio
import json

import httpx
import openai
import pytest

from tests.bedrock_standin import Reply
from tests.conftest import API_KEY, RATE_KEY, LiveServer

NOVA = "amazon.nova-lite-v1:0"
CLAUDE = "anthropic.claude-3-5-haiku-20241022-v1:0"
TITAN = "amazon.titan-embed-text-v2:0"
HI = [{"role": "user", "content": "hi"}]


def sse_events(response) -> list[dict]:
    lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line[6:]) for line in lines[:-1]]


# --- 1. Any model name is answered, and the answer names the model used ----------------------------

def test_openai_client_without_stream_gets_a_chat_completion(client, standin):
    standin.script(Reply(text="Hello there."))
    completion = client.chat.completions.create(model=NOVA, messages=HI)  # stream omitted, as the SDK does
    assert isinstance(completion, openai.types.chat.ChatCompletion)
    assert completion.choices[0].message.content == "Hello there."


@pytest.mark.parametrize("name", ["gpt-4o", "gpt-3.5-turbo"])
def test_unknown_chat_model_is_answered_by_the_default_bedrock_model(client, standin, server, name):
    standin.script(Reply(text="From Nova."), Reply(text="Streamed from Nova."))
    completion = client.chat.completions.create(model=name, messages=HI)
    assert completion.model == NOVA and completion.choices[0].message.content == "From Nova."
    chunks = list(client.chat.completions.create(model=name, messages=HI, stream=True,
                                                 stream_options={"include_usage": True}))
    assert {chunk.model for chunk in chunks} == {NOVA}
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0
    assert [r.path for r in standin.requests] == [f"/model/{NOVA}/converse-stream"] * 2
    # One warning per unknown name per worker, not one per request.
    warnings = [line for line in server.logs().splitlines() if f'"requested_model": "{name}"' in line]
    assert len(warnings) == 1 and "unknown chat model" in warnings[0]


def test_unknown_model_on_responses_completions_and_embeddings(client, standin):
    standin.script(Reply(text="Responses answer."), Reply(text="Completion answer."))
    response = client.responses.create(model="gpt-4o-mini", input="hi")
    assert response.model == NOVA and response.output_text == "Responses answer."
    completion = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="hi")
    assert completion.model == NOVA and completion.choices[0].text == "Completion answer."
    embedding = client.embeddings.create(model="text-embedding-3-small", input="hello")
    assert embedding.model == TITAN and len(embedding.data[0].embedding) == 1024
    assert standin.requests[-1].path == f"/model/{TITAN}/invoke"


def test_model_lookup_stays_a_404(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("gpt-4o")
    assert info.value.body["code"] == "model_not_found"


@pytest.fixture(scope="module")
def two_models(tmp_path_factory, standin_server):
    server = LiveServer(tmp_path_factory.mktemp("two-models"), {
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin_server.url, "BEDROCK_MODEL_IDS": f"{NOVA},{CLAUDE}",
        "FINTALK_UNKNOWN_MODEL": "reject"}).start()
    yield server
    server.stop()


def test_several_bedrock_models_each_request_gets_the_one_it_names(two_models, standin):
    client = openai.OpenAI(base_url=two_models.url + "/v1", api_key=API_KEY, max_retries=0)
    assert [m.id for m in client.models.list()] == [NOVA, CLAUDE, TITAN]
    assert client.models.retrieve(CLAUDE).owned_by == "anthropic"
    for name in (CLAUDE, NOVA, CLAUDE):
        assert client.chat.completions.create(model=name, messages=HI, temperature=1.7).model == name
    unnamed = httpx.post(two_models.url + "/api/chat/completions", headers={"Authorization": f"Bearer {API_KEY}"},
                         json={"messages": HI, "stream": False, "temperature": 1.7})
    assert unnamed.json()["model"] == NOVA  # no model: the first of BEDROCK_MODEL_IDS
    assert [r.path for r in standin.requests] == [f"/model/{m}/converse-stream" for m in (CLAUDE, NOVA, CLAUDE, NOVA)]
    # Both families take 0..1: OpenAI's 1.7 is clamped for each.
    assert {r.body["inferenceConfig"]["temperature"] for r in standin.requests} == {1.0}


def test_output_limit_is_the_named_models(two_models, standin):
    client = openai.OpenAI(base_url=two_models.url + "/api", api_key=API_KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=CLAUDE, messages=HI, max_tokens=9000)  # 3.5 Haiku: 8192
    assert info.value.body["param"] == "max_tokens" and "8192" in info.value.body["message"]
    client.chat.completions.create(model=NOVA, messages=HI, max_tokens=9000)  # Nova: 10000
    assert standin.requests[-1].body["inferenceConfig"]["maxTokens"] == 9000


def test_unknown_model_reject_restores_the_404(two_models, standin):
    client = openai.OpenAI(base_url=two_models.url + "/api", api_key=API_KEY, max_retries=0)
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-4o", messages=HI)
    assert info.value.body["code"] == "model_not_found" and info.value.body["param"] == "model"
    assert standin.requests == []


# --- 2 and 3. `stream` absent follows Accept; no Accept value makes a 406 ------------------------

def chat(http, accept: str | None, **body):
    request = http.build_request("POST", "/api/chat/completions", json={"messages": HI, **body})
    if accept is None:
        del request.headers["accept"]
    else:
        request.headers["accept"] = accept
    return http.send(request, stream=True)


@pytest.mark.parametrize("accept", ["text/event-stream", None, "*/*", "application/json, text/event-stream",
                                    "text/html", "application/json;q=0, */*"])
def test_stream_absent_streams_unless_json_is_asked_for(http, standin, accept):
    response = chat(http, accept)
    try:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    finally:
        response.close()
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"]) == \
        "Hello from the Bedrock stand-in."


@pytest.mark.parametrize("accept", ["application/json", "application/json, text/plain, */*"])
def test_stream_absent_with_accept_json_is_a_json_completion(http, standin, accept):
    response = chat(http, accept)
    response.read()
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.json()["object"] == "chat.completion"


def test_explicit_stream_wins_over_accept(http, standin):
    response = chat(http, "text/event-stream", stream=False)
    response.read()
    assert response.status_code == 200 and response.json()["object"] == "chat.completion"
    response = chat(http, "application/json", stream=True)
    assert response.headers["content-type"].startswith("text/event-stream") and sse_events(response)


@pytest.mark.parametrize("accept", ["text/event-stream", "text/html", "application/xml", "image/png;q=1"])
def test_no_accept_value_is_a_406(server, accept):
    with httpx.Client(base_url=server.url, headers={"Accept": accept}) as anonymous:
        models = anonymous.get("/api/models", headers={"Authorization": f"Bearer {API_KEY}"})
        assert models.status_code == 200 and models.json()["object"] == "list"
        refused = anonymous.get("/api/models")
        assert refused.status_code == 401 and refused.headers["content-type"] == "application/json"
        bad = anonymous.post("/api/chat/completions?format=xml", json={"messages": []},
                             headers={"Authorization": f"Bearer {API_KEY}"})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "messages"


def test_responses_stream_with_accept_event_stream(http, standin):
    standin.script(Reply(text="Streamed response."), Reply(text="Also streamed."), Reply(text="As JSON."))
    for body in ({"input": "hi", "stream": True}, {"input": "hi"}):  # explicit, then absent
        with http.stream("POST", "/v1/responses", json=body, headers={"Accept": "text/event-stream"}) as response:
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
            events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]
        assert events[-1]["type"] == "response.completed"
        assert events[-1]["response"]["output"][0]["content"][0]["text"] in ("Streamed response.", "Also streamed.")
    plain = http.post("/v1/responses", json={"input": "hi"})  # httpx sends */*: OpenAI's default, JSON
    assert plain.json()["object"] == "response" and plain.json()["output"][0]["content"][0]["text"] == "As JSON."


def test_completions_stream_only_when_only_event_stream_is_accepted(http, standin):
    with http.stream("POST", "/v1/completions", json={"prompt": "hi"}, headers={"Accept": "text/event-stream"}) as r:
        assert r.headers["content-type"].startswith("text/event-stream") and sse_events(r)
    assert http.post("/v1/completions", json={"prompt": "hi"}).json()["object"] == "text_completion"


# --- 4. No per-key limit unless one is set; a voice call over a set limit hears "busy" -----------

@pytest.fixture(scope="module")
def default_server(tmp_path_factory, standin_server):
    server = LiveServer(tmp_path_factory.mktemp("defaults"), {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin_server.url})
    server.env.pop("FINTALK_RATE_LIMIT")  # LiveServer turns the limit off; this server keeps the default
    server.start()
    yield server
    server.stop()


def test_300_simultaneous_streams_with_default_settings_get_no_429(default_server, standin):
    async def one(http):
        async with http.stream("POST", "/api/chat/completions", json={"messages": HI}) as response:
            body = await response.aread()
            return response.status_code, body

    async def all_at_once():
        limits = httpx.Limits(max_connections=300, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=default_server.url, limits=limits, timeout=60,
                                     headers={"Authorization": f"Bearer {API_KEY}"}) as http:
            return await asyncio.gather(*(one(http) for _ in range(300)))

    results = asyncio.run(all_at_once())
    assert [status for status, _ in results] == [200] * 300
    assert all(body.endswith(b"data: [DONE]\n\n") and b'"error"' not in body for _, body in results)


def test_voice_call_over_the_limit_hears_busy_and_others_get_429(voice_server, standin):
    headers = {"Authorization": f"Bearer {RATE_KEY}"}
    voice = {"messages": HI, "stream": True, "model": "gpt-4o", "call": {"id": "call-busy"},
             "stream_options": {"include_usage": True}}
    with httpx.Client(base_url=voice_server.url, headers=headers, timeout=30) as http:
        for _ in range(20):  # use up this second's quota (5/s)
            if http.get("/api/models").status_code == 429:
                break
        with http.stream("POST", "/api/chat/completions", json=voice) as response:
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
            events = sse_events(response)
        other = http.post("/api/chat/completions", json={"messages": HI})
    assert other.status_code == 429 and int(other.headers["retry-after"]) >= 1
    assert other.json()["error"]["code"] == "rate_limit_exceeded"
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert text == "We're very busy right now, please try again in a moment."
    assert [e["choices"][0]["finish_reason"] for e in events if e["choices"]][-1] == "stop"
    assert events[-1]["choices"] == [] and events[-1]["usage"] is not None
    assert {e["model"] for e in events} == {NOVA} and len({e["id"] for e in events}) == 1
    assert standin.requests == []  # no turn ran


# --- The strict openai client parses every object ------------------------------------------------

@pytest.fixture
def strict(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0, timeout=30,
                         _strict_response_validation=True)


def test_strict_client_parses_chat_chunks_responses_models_and_errors(strict, standin):
    standin.script(*[Reply(text="Strictly speaking.")] * 5)
    assert strict.chat.completions.create(model=NOVA, messages=HI).choices[0].message.content == "Strictly speaking."
    chunks = list(strict.chat.completions.create(model="gpt-4o", messages=HI, stream=True,
                                                 stream_options={"include_usage": True}))
    assert chunks[-1].usage.completion_tokens > 0
    response = strict.responses.create(model=NOVA, input="hi")
    assert response.usage.input_tokens_details.cache_write_tokens == 0 and response.output_text
    events = list(strict.responses.create(model=NOVA, input="hi", stream=True))
    assert events[-1].type == "response.completed"
    assert strict.completions.create(model=NOVA, prompt="hi").choices[0].text
    assert [m.id for m in strict.models.list()] == [NOVA, TITAN] and strict.models.retrieve(NOVA).id == NOVA
    # encoding_format given: without it the SDK asks for base64 and validates the string against its
    # float-list type before decoding it (true against OpenAI's own API too).
    assert len(strict.embeddings.create(model=TITAN, input="hi", encoding_format="float").data[0].embedding) == 1024
    with pytest.raises(openai.BadRequestError) as info:
        strict.chat.completions.create(model=NOVA, messages=HI, temperature=3)
    assert (info.value.type, info.value.param, info.value.code) == ("invalid_request_error", "temperature",
                                                                    "invalid_value")
    with pytest.raises(openai.NotFoundError) as info:
        strict.models.retrieve("nope")
    assert info.value.code == "model_not_found"

