"""What a caller hears, through the real server: clean speech, fillers, keep-alives, apologies."""
import json
import time

import openai

from tests.bedrock_standin import Reply, ToolUse
from tests.conftest import API_KEY
from tests.support.wait import wait_until

VAPI = {"call": {"id": "call-1", "customer": {"number": "+15550100001"}}, "customer": {"number": "+15550100001"}}


def sse(http, body, path="/api/chat/completions"):
    """All SSE lines of a streamed response (comments included), and the decoded data events."""
    with http.stream("POST", path, json=body) as response:
        assert response.status_code == 200, response.read()
        lines = [line for line in response.iter_lines() if line]
    events = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
    return lines, events


def spoken(events):
    return [e["choices"][0]["delta"]["content"] for e in events if e.get("choices") and e["choices"][0]["delta"].get("content")]


def test_thinking_and_markdown_never_reach_the_caller(http, standin):
    standin.script(Reply(text=["<thin", "king>The user wants", " loans.</thi", "nking>", "## Our", " loans\n",
                               "- **Home", "** loan\n", "- `Car` loan"]))
    _, events = sse(http, {"messages": [{"role": "user", "content": "loans?"}]})
    deltas = spoken(events)
    assert "".join(deltas) == "Our loans\nHome loan\nCar loan"
    assert all(delta for delta in deltas)  # no empty content deltas besides the role chunk
    assert not any(c in "".join(deltas) for c in "*#`<>")


def test_non_streaming_content_is_clean_too(client, standin):
    standin.script(Reply(text="<thinking>hmm</thinking>**Yes**, we do."))
    reply = client.chat.completions.create(model="amazon.nova-lite-v1:0", stream=False,
                                           messages=[{"role": "user", "content": "do you?"}])
    assert reply.choices[0].message.content == "Yes, we do."


def test_a_turn_of_only_thinking_is_never_silent(http, standin):
    standin.script(Reply(text="<thinking>nothing to say</thinking>"))
    _, events = sse(http, {"messages": [{"role": "user", "content": "hm"}]})
    assert "".join(spoken(events)).strip()


def test_vapi_hears_a_filler_while_a_tool_runs(http, standin):
    standin.script(Reply(text="<thinking>check loans</thinking>", tool_uses=[ToolUse("get_loan_products", {})]),
                   Reply(text="We have three loans."))
    _, events = sse(http, {"messages": [{"role": "user", "content": "loans?"}], **VAPI})
    assert "".join(spoken(events)) == "One moment while I check that. We have three loans."
    standin.script(Reply(tool_uses=[ToolUse("get_loan_products", {})]), Reply(text="We have three loans."))
    _, events = sse(http, {"messages": [{"role": "user", "content": "loans?"}]})
    assert "".join(spoken(events)) == "We have three loans."  # not a voice call: no filler by default


def test_keepalives_while_waiting_for_the_first_token(voice_http, voice_server, standin):
    standin.script(Reply(text="Finally here.", first_token_delay=1.0))
    lines, events = sse(voice_http, {"messages": [{"role": "user", "content": "slow"}]})
    first_content = next(i for i, line in enumerate(lines) if '"content":"Finally' in line)
    assert lines.count(": ping") >= 2 and lines.index(": ping") < first_content
    assert "".join(spoken(events)) == "Finally here." and lines[-1] == "data: [DONE]"
    standin.script(Reply(text="Finally here.", first_token_delay=0.8))
    client = openai.OpenAI(base_url=voice_server.url + "/v1", api_key=API_KEY, max_retries=0)
    chunks = list(client.chat.completions.create(model="amazon.nova-lite-v1:0", stream=True,
                                                 messages=[{"role": "user", "content": "slow"}]))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Finally here."


def test_failure_after_the_stream_began_is_an_apology_on_a_voice_call(voice_http, standin):
    standin.script(Reply(text="Let me see what", stream_error_after=2))
    lines, events = sse(voice_http, {"messages": [{"role": "user", "content": "hi"}], **VAPI})
    assert not any("error" in event for event in events)
    assert "".join(spoken(events)).endswith("I'm sorry, something went wrong on my side. Could you say that again?")
    assert events[-1]["choices"][0]["finish_reason"] == "stop" and lines[-1] == "data: [DONE]"


def test_no_first_token_before_the_deadline(voice_http, standin):
    standin.script(Reply(text="Too late.", first_token_delay=4.0))
    started = time.monotonic()
    lines, events = sse(voice_http, {"messages": [{"role": "user", "content": "hi"}], **VAPI})
    assert time.monotonic() - started < 3.8
    assert "sorry" in "".join(spoken(events)) and lines[-1] == "data: [DONE]"
    standin.script(Reply(text="Too late.", first_token_delay=4.0))
    _, events = sse(voice_http, {"messages": [{"role": "user", "content": "hi"}]})
    assert events[-1]["error"]["code"] == "upstream_timeout"


def test_disconnect_during_the_first_token_wait_stops_bedrock(voice_server, standin):
    import httpx

    standin.script(Reply(text="never heard", first_token_delay=5.0))
    with httpx.Client(base_url=voice_server.url, headers={"Authorization": f"Bearer {API_KEY}"}) as http:
        with http.stream("POST", "/api/chat/completions",
                         json={"messages": [{"role": "user", "content": "hi"}]}) as response:
            for line in response.iter_lines():
                if line == ": ping":
                    break
    wait_until(lambda: standin.requests[-1].outcome != "open", timeout=2)
    assert standin.requests[-1].outcome == "client_disconnected"


def test_hang_up_after_a_block_keeps_the_block_and_its_audit(voice_server, standin, fresh_bank):
    """The caller hangs up while the model phrases its answer: the committed block stays, audited once."""
    import httpx

    standin.script(Reply(tool_uses=[ToolUse("block_credit_card", {"card_last4": "4242", "reason": "lost"})]),
                   Reply(text="Your card is blocked.", first_token_delay=5.0))
    with httpx.Client(base_url=voice_server.url, headers={"Authorization": f"Bearer {API_KEY}"}) as http:
        with http.stream("POST", "/api/chat/completions", json={
                "messages": [{"role": "user", "content": "Block card 4242"}],
                "customer": {"number": "+15550100001"}}) as response:
            deadline = time.monotonic() + 3
            for line in response.iter_lines():
                blocked = voice_server.sql("SELECT status FROM bank_card WHERE last4 = ?", "4242")[0][0] == "blocked"
                if blocked or time.monotonic() > deadline:
                    break
    wait_until(lambda: all(r.outcome != "open" for r in standin.requests), timeout=2)
    # The tool call's model call finished; the answer's, if it had begun, was abandoned.
    assert [r.outcome for r in standin.requests] in (["completed"], ["completed", "client_disconnected"])
    assert voice_server.sql("SELECT status FROM bank_card WHERE last4 = ?", "4242") == [("blocked",)]
    assert voice_server.sql("SELECT action, card_last4, outcome FROM bank_auditevent") == [
        ("card_block", "4242", "blocked")]


def test_keepalives_go_on_while_a_tool_runs_and_the_answer_is_awaited(voice_http, standin):
    standin.script(Reply(tool_uses=[ToolUse("get_loan_products", {})]),
                   Reply(text="We have three loans.", first_token_delay=1.0))
    lines, events = sse(voice_http, {"messages": [{"role": "user", "content": "loans?"}]})
    answer = next(i for i, line in enumerate(lines) if '"content":"We' in line)
    assert lines[:answer].count(": ping") >= 2
    assert "".join(spoken(events)) == "We have three loans."
