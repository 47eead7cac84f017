"""Tools that fail, through the real server: the caller hears an answer, the operator sees an error."""
import json

import httpx
import pytest

from tests.bedrock_standin import Reply, ToolUse
from tests.conftest import LiveServer
from tests.support.metrics import metric


@pytest.fixture(scope="module")
def tools_server(tmp_path_factory, standin_server):
    """A bank that added slow and broken LlamaIndex tools, with a short tool timeout."""
    server = LiveServer(tmp_path_factory.mktemp("tools"), {
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin_server.url,
        "FINTALK_EXTRA_TOOLS": "tests.faq_tools:faq_tool,tests.faq_tools:slow_tools",
        "FINTALK_TOOL_TIMEOUT": "0.5",
        "FINTALK_APP_WAIT_SECONDS": "0.2",  # an app approval's wait stays under the tool timeout (settings check)
        "FINTALK_METRICS_AUTH": "disabled",
    }).start()
    yield server
    server.stop()


def vapi_turn(server, text: str) -> tuple[str, list[dict]]:
    body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": text}],
            "call": {"id": "call-tools"}, "customer": {"number": "+15550100001"}}
    with server.http() as http:
        with http.stream("POST", "/api/chat/completions", json=body) as response:
            assert response.status_code == 200
            events = [json.loads(line[6:]) for line in response.iter_lines()
                      if line.startswith("data: {")]
    spoken = "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in events if chunk.get("choices"))
    return spoken, events


@pytest.mark.parametrize("tool,arguments", [("broken_lookup", {}), ("slow_lookup", {"seconds": 3})])
def test_a_failing_tool_still_gets_a_spoken_answer(tools_server, standin, tool, arguments):
    before = httpx.get(tools_server.url + "/metrics").text
    standin.script(Reply(tool_uses=[ToolUse(tool, arguments)]),
                   Reply(text="I'm sorry, that system is down right now. Can I help with anything else?"))
    spoken, events = vapi_turn(tools_server, "Look that up for me")
    assert spoken.endswith("Can I help with anything else?")
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
    result = standin.requests[1].body["messages"][-1]["content"][0]["toolResult"]
    assert result["status"] == "error" and "unavailable" in result["content"][0]["text"]
    after = httpx.get(tools_server.url + "/metrics").text
    assert metric(after, "fintalk_tool_calls_total", tool=tool, outcome="error") == \
        metric(before, "fintalk_tool_calls_total", tool=tool, outcome="error") + 1
    request_id = next(json.loads(line)["request_id"] for line in reversed(tools_server.logs().splitlines())
                      if '"fintalk.request"' in line and '"chat-completions"' in line)
    errors = [json.loads(line) for line in tools_server.logs().splitlines()
              if '"fintalk.agent"' in line and f'"tool": "{tool}"' in line]
    assert errors and errors[-1]["request_id"] == request_id
    if tool == "broken_lookup":  # the traceback is logged once, with the phone masked
        assert errors[-1]["exc_info"].count("Traceback") == 1
        assert "5550100001" not in tools_server.logs() and "***01" in errors[-1]["exc_info"]


def test_a_committed_block_is_never_reported_as_failed(tools_server, standin):
    tools_server.manage("seed_demo", "--reset")
    standin.script(Reply(tool_uses=[ToolUse("block_credit_card", {"card_last4": "4242", "reason": "lost"})]),
                   Reply(error_status=400, error_code="ValidationException"))  # not retried
    spoken, events = vapi_turn(tools_server, "I lost my card ending 4242, block it")
    assert "is now blocked" in spoken and "had a problem after that" in spoken
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
    assert tools_server.sql("SELECT status FROM bank_card WHERE last4 = '4242'") == [("blocked",)]
