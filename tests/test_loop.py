"""The agent loop, fed scripted model events (the seam between the loop and any model).

The end-to-end tests drive the same loop through the real server and the Bedrock stand-in; here
the rounds, tool execution, failures and limits are shown one by one, without HTTP.
"""
import asyncio
import time
from decimal import Decimal

import pytest

from agent import loop, tools
from agent.client_tools import ClientTool, ClientToolCall, StructuredOutputTool
from agent.context import InferenceSettings, ToolPolicy
from agent.converse import Stop, Text, ToolUse, Usage
from agent.turn import StructuredAnswer, TextDelta, ToolStarted, TurnEnd, TurnInput
from tests.faq_tools import FAQ_ANSWER


class ScriptedModel:
    """Answers each model call with the next scripted list of events; keeps every request."""

    def __init__(self, *rounds):
        self.rounds = list(rounds)
        self.requests = []

    async def stream(self, request):
        self.requests.append(request)
        for event in self.rounds.pop(0):
            yield event


def run(model: ScriptedModel, turn_input: TurnInput, monkeypatch) -> list:
    monkeypatch.setattr(loop, "model_stream", lambda: model.stream)

    async def collect():
        return [event async for event in loop.run_turn(turn_input)]

    return asyncio.run(collect())


def spoken(events) -> str:
    return "".join(event.text for event in events if isinstance(event, TextDelta))


@pytest.fixture
def extra_tools(settings):
    """The agent with a non-bank LlamaIndex tool added through FINTALK_EXTRA_TOOLS (no loop change)."""
    settings.FINTALK_EXTRA_TOOLS = ["tests.faq_tools:faq_tool", "tests.faq_tools:slow_tools"]
    tools.agent_tool_specs.cache_clear()
    yield
    tools.agent_tool_specs.cache_clear()


def test_text_is_spoken_as_it_streams_without_thinking_or_markdown(monkeypatch):
    model = ScriptedModel([Text("<thin"), Text("king>plan</thinking>**Hello** "), Text("there."),
                           Stop("end_turn"), Usage(12, 3)])
    events = run(model, TurnInput(query="hi"), monkeypatch)
    assert spoken(events) == "Hello there."
    assert len([e for e in events if isinstance(e, TextDelta)]) == 2
    assert events[-1] == TurnEnd("end_turn", 12, 3, (), model_id="amazon.nova-lite-v1:0",
                                 cost_usd=Decimal("0.00000144"))  # 12 x $0.06 + 3 x $0.24 per million
    request = model.requests[0]
    assert request["modelId"] == "amazon.nova-lite-v1:0" and request["messages"][-1]["content"] == [{"text": "hi"}]
    assert "Fin" in request["system"][0]["text"]
    assert {spec["toolSpec"]["name"] for spec in request["toolConfig"]["tools"]} >= {"get_loan_products"}


def test_any_llamaindex_tool_runs_in_the_loop(monkeypatch, extra_tools):
    model = ScriptedModel(
        [ToolUse("t1", "bank_faq", {"input": "opening hours"}), Stop("tool_use"), Usage(10, 5)],
        [Text("We open at nine."), Stop("end_turn"), Usage(30, 4)],
    )
    events = run(model, TurnInput(query="When do you open?", tool_filler="One moment."), monkeypatch)
    assert ToolStarted("bank_faq") in events
    assert spoken(events) == "One moment. We open at nine."
    assert events[-1].input_tokens == 40 and events[-1].output_tokens == 9
    assert events[-1].tool_calls == (("bank_faq", "ok"),)
    second = model.requests[1]["messages"]
    assert second[-2] == {"role": "assistant", "content": [
        {"toolUse": {"toolUseId": "t1", "name": "bank_faq", "input": {"input": "opening hours"}}}]}
    result = second[-1]["content"][0]["toolResult"]
    assert result["toolUseId"] == "t1" and result["content"] == [{"text": FAQ_ANSWER}] and "status" not in result


def test_several_tool_calls_run_in_parallel(monkeypatch, extra_tools):
    calls = [ToolUse(f"t{i}", "slow_lookup", {"seconds": 0.3}) for i in range(3)]
    model = ScriptedModel([*calls, Stop("tool_use")], [Text("Done."), Stop("end_turn")])
    started = time.perf_counter()
    events = run(model, TurnInput(query="look up three things"), monkeypatch)
    assert time.perf_counter() - started < 0.8  # three 0.3 s tools, not one after another
    results = model.requests[1]["messages"][-1]["content"]
    assert [r["toolResult"]["toolUseId"] for r in results] == ["t0", "t1", "t2"]
    assert spoken(events) == "Done."


@pytest.mark.django_db(transaction=True)
def test_a_tool_that_raises_gives_the_model_an_error_result(monkeypatch, extra_tools, caplog):
    model = ScriptedModel([ToolUse("t1", "broken_lookup", {}), Stop("tool_use")],
                          [Text("Sorry, that system is down."), Stop("end_turn")])
    events = run(model, TurnInput(query="check my card", phone="+15550100001", request_id="req-broken"), monkeypatch)
    result = model.requests[1]["messages"][-1]["content"][0]["toolResult"]
    assert result["status"] == "error" and "unavailable" in result["content"][0]["text"]
    assert events[-1].tool_calls == (("broken_lookup", "error"),)
    assert spoken(events) == "Sorry, that system is down."
    record = next(r for r in caplog.records if r.name == "fintalk.agent" and r.levelname == "ERROR")
    assert record.request_id == "req-broken" and record.tool == "broken_lookup"
    assert "ConnectionError" in record.exc_text and "+15550100001" not in record.exc_text  # masked once
    assert "***01" in record.exc_text


def test_a_tool_past_the_timeout_is_cut(monkeypatch, extra_tools, settings):
    settings.FINTALK_TOOL_TIMEOUT = 0.2
    model = ScriptedModel([ToolUse("t1", "slow_lookup", {"seconds": 5}), Stop("tool_use")],
                          [Text("Our system is slow today."), Stop("end_turn")])
    started = time.perf_counter()
    events = run(model, TurnInput(query="look it up"), monkeypatch)
    assert time.perf_counter() - started < 2
    assert model.requests[1]["messages"][-1]["content"][0]["toolResult"]["status"] == "error"
    assert events[-1].tool_calls == (("slow_lookup", "error"),)


def test_rounds_are_bounded(monkeypatch, extra_tools):
    rounds = [[ToolUse(f"t{i}", "bank_faq", {"input": "again"}), Stop("tool_use")] for i in range(loop.MAX_ROUNDS)]
    model = ScriptedModel(*rounds)
    events = run(model, TurnInput(query="loop forever"), monkeypatch)
    assert len(model.requests) == loop.MAX_ROUNDS
    assert spoken(events) == loop.TOO_MANY_ROUNDS


def test_a_client_tool_ends_the_turn_with_the_call(monkeypatch):
    end_call = ClientTool("endCall", "End the call.", {"type": "object", "properties": {}})
    model = ScriptedModel([ToolUse("c1", "endCall", {}), Stop("tool_use")])
    events = run(model, TurnInput(query="bye", tools=ToolPolicy(extra_tools=(end_call,))), monkeypatch)
    assert ClientToolCall("c1", "endCall", "{}") in events
    assert events[-1].stop_reason == "tool_use" and len(model.requests) == 1
    assert model.requests[0]["toolConfig"]["tools"][-1]["toolSpec"]["name"] == "endCall"


def test_tool_choice_applies_to_the_first_call_only(monkeypatch, extra_tools):
    policy = ToolPolicy(choice={"tool": {"name": "bank_faq"}})
    model = ScriptedModel([ToolUse("t1", "bank_faq", {"input": "x"}), Stop("tool_use")], [Text("ok"), Stop("end_turn")])
    run(model, TurnInput(query="hi", tools=policy), monkeypatch)
    assert model.requests[0]["toolConfig"]["toolChoice"] == {"tool": {"name": "bank_faq"}}
    assert model.requests[1]["toolConfig"]["toolChoice"] == {"auto": {}}


def test_the_loop_uses_the_model_settings_the_api_decided(monkeypatch):
    """The API resolves the model and the output limit once (agent.models.for_model); the loop
    sends them as they are, and decides them only for a turn built without them."""
    model = ScriptedModel([Text("Hello."), Stop("end_turn")], [Text("Hello."), Stop("end_turn")])
    decided = InferenceSettings(model_id="anthropic.claude-3-haiku-20240307-v1:0", max_tokens=7, temperature=0.5)
    run(model, TurnInput(query="hi", inference=decided), monkeypatch)
    run(model, TurnInput(query="hi"), monkeypatch)
    assert model.requests[0]["modelId"] == "anthropic.claude-3-haiku-20240307-v1:0"
    assert model.requests[0]["inferenceConfig"] == {"maxTokens": 7, "temperature": 0.5}
    assert model.requests[1]["modelId"] == "amazon.nova-lite-v1:0"
    assert model.requests[1]["inferenceConfig"]["maxTokens"] > 0


def test_tool_choice_none_offers_no_tools(monkeypatch):
    model = ScriptedModel([Text("Hello."), Stop("end_turn")])
    run(model, TurnInput(query="hi", tools=ToolPolicy(offer_tools=False)), monkeypatch)
    assert "toolConfig" not in model.requests[0]


def test_structured_answer_gets_one_retry_on_a_schema_error(monkeypatch):
    schema = {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}
    answer = StructuredOutputTool("weather", schema, strict=True)
    model = ScriptedModel([Text("thinking aloud"), ToolUse("a1", "weather", {"town": "Oslo"}), Stop("tool_use")],
                          [ToolUse("a2", "weather", {"city": "Oslo"}), Stop("tool_use")])
    events = run(model, TurnInput(query="weather?", tools=ToolPolicy(extra_tools=(answer,), force_every_call=True)),
                 monkeypatch)
    assert not [e for e in events if isinstance(e, TextDelta)]  # chatter is not the answer
    assert StructuredAnswer('{"city": "Oslo"}') in events and events[-1].stop_reason == "end_turn"
    retry = model.requests[1]["messages"][-1]["content"][0]["toolResult"]
    assert retry["status"] == "error" and "'city' is a required property" in retry["content"][0]["text"]
    assert all(r["toolConfig"]["toolChoice"] == {"any": {}} for r in model.requests)


def test_an_empty_reply_is_never_silent(monkeypatch):
    model = ScriptedModel([Text("<thinking>nothing to say</thinking>"), Stop("end_turn")])
    events = run(model, TurnInput(query="hm"), monkeypatch)
    assert spoken(events) == "Sorry, I didn't catch that. Could you say it again?"


@pytest.mark.django_db(transaction=True)
def test_tools_see_the_callers_phone_never_the_models(monkeypatch, extra_tools):
    model = ScriptedModel([ToolUse("t1", "whose_phone", {}), Stop("tool_use")], [Text("ok"), Stop("end_turn")])
    run(model, TurnInput(query="who am I", phone="+15550100001"), monkeypatch)
    assert model.requests[1]["messages"][-1]["content"][0]["toolResult"]["content"] == [{"text": "+15550100001"}]


def test_a_committed_change_outlives_an_error_after_it(monkeypatch):
    """#28: a tool that raises after its change was committed keeps its committed outcome, and the caller
    hears it is done, never "unavailable"."""
    import dataclasses

    from bank.actions import REGISTRY, Outcome, result

    def committed_then_lost(session, card_last4: str, reason: str = "lost"):
        return result("blocked", last4=card_last4)  # committed; its words then need a fact it lacks

    broken = dataclasses.replace(REGISTRY["block_credit_card"], run=committed_then_lost, level=None, outcomes={
        **REGISTRY["block_credit_card"].outcomes, "blocked": Outcome("Blocked your {card}.", commits=True)})
    monkeypatch.setitem(REGISTRY, "block_credit_card", broken)
    tools.agent_tool_specs.cache_clear()
    try:
        model = ScriptedModel([ToolUse("t1", "block_credit_card", {"card_last4": "4242"}), Stop("tool_use")],
                              [Text("Done."), Stop("end_turn")])
        events = run(model, TurnInput(query="block 4242"), monkeypatch)
    finally:
        tools.agent_tool_specs.cache_clear()
    assert events[-1].tool_calls == (("block_credit_card", "blocked"),)
    result_block = model.requests[1]["messages"][-1]["content"][0]["toolResult"]
    assert result_block["content"][0]["text"] == loop.DONE_UNREAD and result_block.get("status") != "error"
