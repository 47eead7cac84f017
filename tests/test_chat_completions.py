"""End to end: the official openai client against gunicorn+uvicorn, Bedrock played by the stand-in."""
import json

import httpx
import openai
import pytest

from tests.bedrock_standin import Reply, ToolUse
from tests.conftest import API_KEY
from tests.support.wait import wait_until

MODEL = "amazon.nova-lite-v1:0"


def test_streaming_chunks_follow_the_openai_contract(client, standin):
    standin.script(Reply(text="Our rates start low. Anything else?", input_tokens=40, output_tokens=9))
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Tell me about rates"}],
        stream=True, stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == "Our rates start low. Anything else?"
    assert len({chunk.id for chunk in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")
    assert len({chunk.created for chunk in chunks}) == 1
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) == 6  # one chunk per streamed Bedrock delta, not one buffered blob
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finish] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == 40
    assert chunks[-1].usage.completion_tokens == 9 and chunks[-1].usage.total_tokens == 49


def test_stream_is_the_default_and_sends_sse_headers(http, standin):
    with http.stream("POST", "/api/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-cache"
        assert r.headers["x-accel-buffering"] == "no"
        lines = [line for line in r.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith("data: ") for line in lines)
    # Without stream_options.include_usage there is no usage chunk: the finish is the last chunk.
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert all(chunk["choices"] and chunk["usage"] is None for chunk in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_non_streaming_completion(client, v1_client, standin):
    standin.script(Reply(text="Hello there.", input_tokens=12, output_tokens=3))
    completion = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}],
                                                stream=False)
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == "Hello there."
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].finish_reason == "stop"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (12, 3)
    standin.script(Reply(text="Via v1."))
    assert v1_client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=False
    ).choices[0].message.content == "Via v1."


def test_max_tokens_stop_reason_becomes_length(client, standin):
    standin.script(Reply(text="This is cut", stop_reason="max_tokens"))
    completion = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}],
                                                stream=False, max_tokens=3)
    assert completion.choices[0].finish_reason == "length"
    assert standin.requests[-1].body["inferenceConfig"]["maxTokens"] == 3


def test_history_system_and_settings_reach_bedrock_structured(client, standin):
    standin.script(Reply(text="Sure."))
    client.chat.completions.create(
        model=MODEL, stream=False, temperature=1.7, top_p=0.5, stop=["END"],
        messages=[
            {"role": "system", "content": "The caller's name is Ada."},
            {"role": "assistant", "content": "Hello, this is Fintalk Bank."},
            {"role": "user", "content": [{"type": "text", "text": "I need a loan"}]},
            {"role": "assistant", "content": "What kind of loan?"},
            {"role": "user", "content": "A car loan please"},
        ],
    )
    body = standin.requests[-1].body
    system = " ".join(block["text"] for block in body["system"] if "text" in block)
    assert "Fintalk Bank" in system and "The caller's name is Ada." in system
    roles = [message["role"] for message in body["messages"]]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    texts = [block["text"] for message in body["messages"] for block in message["content"] if "text" in block]
    assert texts[1:] == ["Hello, this is Fintalk Bank.", "I need a loan", "What kind of loan?", "A car loan please"]
    assert body["inferenceConfig"]["temperature"] == 1.0  # Nova takes 0..1: OpenAI's 1.7 is clamped
    assert body["inferenceConfig"]["topP"] == 0.5
    assert body["inferenceConfig"]["stopSequences"] == ["END"]
    assert [tool["toolSpec"]["name"] for tool in body["toolConfig"]["tools"]][:1] == ["get_loan_products"]


def test_tool_call_turn_streams_answer_and_sums_usage(client, standin, server):
    standin.script(
        Reply(tool_uses=[ToolUse("get_loan_products", {"kind": "auto"})], input_tokens=100, output_tokens=20),
        Reply(text="Our car loan starts at 4.99 percent.", input_tokens=180, output_tokens=10),
    )
    chunks = list(client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "What car loans do you have?"}],
        stream=True, stream_options={"include_usage": True},
    ))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Our car loan starts at 4.99 percent."
    assert chunks[-1].usage.prompt_tokens == 280 and chunks[-1].usage.completion_tokens == 30
    second = standin.requests[-1].body["messages"]
    tool_result = second[-1]["content"][0]["toolResult"]
    result_text = json.dumps(tool_result)
    assert "New and Used Car Loan" in result_text and "Home Loan" not in result_text
    assert chunks[-2].choices[0].finish_reason == "stop"


def test_models_list_and_retrieve(client, v1_client):
    assert [m.id for m in client.models.list()] == [MODEL, "amazon.titan-embed-text-v2:0"]
    assert [m.id for m in v1_client.models.list()] == [MODEL, "amazon.titan-embed-text-v2:0"]
    assert client.models.retrieve(MODEL).owned_by == "amazon"
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("gpt-4o")
    assert info.value.body["code"] == "model_not_found"


def test_unknown_model_is_answered_by_the_default_model(client, standin):
    reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert reply.model == MODEL and reply.choices[0].message.content == "Hello from the Bedrock stand-in."
    assert standin.requests[-1].path == f"/model/{MODEL}/converse-stream"


def test_wrong_key_is_authentication_error(server):
    bad = openai.OpenAI(base_url=server.url + "/api", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert info.value.body == {"message": "Incorrect API key provided.", "type": "authentication_error",
                               "param": None, "code": "invalid_api_key"}
    response = httpx.post(server.url + "/api/chat/completions", json={"messages": []})
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"


def test_temperature_3_is_bad_request(client, standin):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], temperature=3)
    assert info.value.body["param"] == "temperature"
    assert info.value.body["type"] == "invalid_request_error"
    assert standin.requests == []


def test_vapi_shaped_request_with_extra_fields_streams(http, standin):
    standin.script(Reply(text="Hi, how can I help?"))
    body = {
        "model": MODEL, "stream": True, "temperature": 0, "max_tokens": 250,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}],
        "call": {"id": "call-1", "customer": {"number": "+15550100001"}},
        "customer": {"number": "+15550100001"}, "phoneNumber": {"id": "pn-1"}, "metadata": {"a": 1},
        "functions": [{"name": "endCall", "parameters": {"type": "object", "properties": {}}}],
    }
    with http.stream("POST", "/api/chat/completions", json=body) as response:
        assert response.status_code == 200
        events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]
    assert all("choices" in event for event in events)
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in events if e["choices"]) == "Hi, how can I help?"


def test_only_a_system_message_gets_a_greeting_turn(http, standin):
    standin.script(Reply(text="Hello! How can I help?"))
    response = http.post("/api/chat/completions", json={
        "stream": False, "messages": [{"role": "system", "content": "You are on a call."}]})
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Hello! How can I help?"
    messages = standin.requests[-1].body["messages"]
    assert messages[0]["role"] == "user" and "call" in messages[0]["content"][0]["text"]


def test_throttling_before_first_token_is_http_429(client, standin):
    standin.script(*[Reply(error_status=429, error_code="ThrottlingException")] * 2)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True)
    assert info.value.body["code"] == "rate_limit_exceeded"
    assert len(standin.requests) == 2  # botocore's own retry made the second attempt


def test_upstream_unavailable_is_503(client, standin):
    standin.script(*[Reply(error_status=503, error_code="ServiceUnavailableException")] * 2)
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=False)
    assert info.value.status_code == 503
    assert info.value.body["type"] == "service_unavailable_error"


def test_mid_stream_failure_is_an_error_event_then_done(http, client, standin):
    standin.script(Reply(text="one two three four", stream_error_after=2))
    with http.stream("POST", "/api/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}) as r:
        lines = [line for line in r.iter_lines() if line]
    assert r.status_code == 200
    error = json.loads(lines[-2][6:])
    assert set(error["error"]) == {"message", "type", "param", "code"}
    assert lines[-1] == "data: [DONE]"
    assert "one " in "".join(lines)
    standin.script(Reply(text="one two three four", stream_error_after=2))
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True))


def test_client_disconnect_stops_the_bedrock_stream(server, standin):
    standin.script(Reply(text=" ".join(["word"] * 200), token_interval=0.05))
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {API_KEY}"}) as http:
        with http.stream("POST", "/api/chat/completions",
                         json={"messages": [{"role": "user", "content": "talk"}]}) as response:
            for line in response.iter_lines():
                if '"content":"word' in line:
                    break
    wait_until(lambda: standin.requests[-1].outcome != "open", timeout=3)
    assert standin.requests[-1].outcome == "client_disconnected"
