"""Long voice turns, through the real server: an 8 KB utterance on a Vapi call is answered (the default
FINTALK_MAX_INPUT_TOKENS fits the instructions plus a realistic call), a long call's history is trimmed
rather than the turn refused, and an utterance too long on its own gets a spoken answer and a normal
finish on a voice call (Vapi ends the call on an error) while an API client still gets the 400."""
import json

from api.views import TOO_LONG_REPLY

LONG = ("I am calling because I would like to understand every option for my savings and my loans, "
        "and I want to explain my whole situation first. ") * 62  # ~8 KB, about 2,000 tokens
TOO_LONG = LONG * 8  # ~64 KB, about 16,000 tokens: more than the whole budget


def vapi(call_id: str, messages: list[dict], stream: bool = True) -> dict:
    return {"model": "fintalk-demo", "stream": stream, "messages": messages,
            "call": {"id": call_id, "type": "webCall"}}


def spoken(reply) -> str:
    text = []
    for line in reply.text.splitlines():
        if line.startswith("data: {"):
            event = json.loads(line[6:])
            assert "error" not in event, event
            text += [choice["delta"].get("content") or "" for choice in event["choices"]]
    assert reply.text.rstrip().endswith("data: [DONE]")
    return "".join(text)


def log_line(server, request_id: str) -> dict:
    return next(json.loads(line) for line in reversed(server.logs().splitlines())
                if line.startswith("{") and f'"request_id": "{request_id}"' in line and '"message": "request"' in line)


def test_an_8_kb_utterance_on_a_call_is_answered(demo_server):
    with demo_server.http() as http:
        reply = http.post("/api/chat/completions", json=vapi("call-long-8kb", [
            {"role": "system", "content": "You are Fin, Fintalk Bank's assistant. " * 100},  # a Vapi prompt, ~1,000 tokens
            {"role": "user", "content": LONG}]))
    assert reply.status_code == 200
    said = spoken(reply)
    assert said and said != TOO_LONG_REPLY


def test_a_long_calls_history_is_trimmed_not_refused(demo_server):
    history = []
    for index in range(40):
        history += [{"role": "user", "content": f"Question {index}: " + LONG[:1000]},
                    {"role": "assistant", "content": "Here is what I found. " * 20}]
    history.append({"role": "user", "content": "What loans do you offer?"})
    with demo_server.http() as http:
        reply = http.post("/api/chat/completions", json=vapi("call-long-history", history),
                          headers={"X-Request-ID": "long-history-1"})
    assert reply.status_code == 200 and spoken(reply)
    assert log_line(demo_server, "long-history-1")["history_trimmed"] > 0


def test_an_utterance_too_long_alone_is_a_spoken_answer_on_a_call_and_a_400_off_one(demo_server):
    with demo_server.http() as http:
        streamed = http.post("/api/chat/completions", headers={"X-Request-ID": "too-long-1"},
                             json=vapi("call-too-long", [{"role": "user", "content": "Hi"},
                                                         {"role": "assistant", "content": "Hello, how can I help?"},
                                                         {"role": "user", "content": TOO_LONG}]))
        whole = http.post("/api/chat/completions", json=vapi("call-too-long-2", [{"role": "user", "content": TOO_LONG}],
                                                             stream=False))
        api = http.post("/api/chat/completions", json={"model": "fintalk-demo",
                                                        "messages": [{"role": "user", "content": TOO_LONG}]})
    assert streamed.status_code == 200 and spoken(streamed) == TOO_LONG_REPLY
    assert '"finish_reason": "stop"' in streamed.text or '"finish_reason":"stop"' in streamed.text
    assert whole.status_code == 200 and whole.json()["choices"][0]["message"]["content"] == TOO_LONG_REPLY
    assert api.status_code == 400 and api.json()["error"]["code"] == "context_length_exceeded"
    assert log_line(demo_server, "too-long-1")["error"] == "context_length_exceeded"
