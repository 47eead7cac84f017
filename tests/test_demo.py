"""The demo model's decisions (which tool, when to ask, what to say) and the events it streams."""
import asyncio

import pytest

from agent.converse import Stop, Text, ToolUse, Usage
from agent.demo import ASK_LAST4, CAPABILITIES, GREETING, REDIRECT, decide, stream
from agent.prompts import CALL_OPENING_QUERY


def user(text):
    return {"role": "user", "content": [{"text": text}]}


def assistant(text):
    return {"role": "assistant", "content": [{"text": text}]}


def tool_result(text):
    return {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": text}]}}]}


@pytest.mark.parametrize("text,step", [
    ("What loans do you have?", ("get_loan_products", {})),
    ("I want a mortgage", ("get_loan_products", {"kind": "home"})),
    ("Any car loans?", ("get_loan_products", {"kind": "auto"})),
    ("Which cards do I have?", ("list_credit_cards", {})),
    ("Who am I?", ("get_customer_profile", {})),
    ("Block my credit card", ASK_LAST4),
    ("My card ending 4242 was stolen", ("block_credit_card", {"card_last4": "4242", "reason": "stolen"})),
    ("Please unblock my card", REDIRECT),
    ("What's my balance?", REDIRECT),
    ("Tell me a joke", CAPABILITIES),
    ("hello", GREETING),
    (CALL_OPENING_QUERY, GREETING),
])
def test_intents(text, step):
    assert decide([user(text)]) == step


@pytest.mark.parametrize("answer", ["4242", "It's 4 2 4 2", "four two four two", "42-42"])
def test_last4_in_the_next_turn_blocks(answer):
    step = decide([user("I lost my credit card"), assistant(ASK_LAST4), user(answer)])
    assert step == ("block_credit_card", {"card_last4": "4242", "reason": "lost"})


def test_tool_result_is_spoken():
    messages = [user("cards?"), tool_result("You have a Visa card ending in 4242.")]
    assert decide(messages) == "You have a Visa card ending in 4242."


def test_a_question_after_a_tool_result_is_answered():
    merged = {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "Handed over."}]}},
                                          {"text": "Which cards do I have?"}]}
    assert decide([user("bye"), merged]) == ("list_credit_cards", {})


def test_demo_uses_vapi_call_tools_when_offered():
    assert decide([user("Can I talk to a person?")], {"transferCall"}) == ("transferCall", {})
    assert decide([user("That's all, bye")], {"endCall"}) == ("endCall", {})
    assert decide([user("Can I talk to a person?")]) == CAPABILITIES  # not offered: no such tool


def test_schema_instances_are_valid():
    import jsonschema

    from agent.demo import instance_of

    schema = {"type": "object", "required": ["name", "count", "tags", "kind"], "properties": {
        "name": {"type": "string"}, "count": {"type": "integer", "minimum": 1},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "kind": {"enum": ["a", "b"]}, "extra": {"type": "boolean"}}}
    value = instance_of(schema, "hello")
    jsonschema.validate(value, schema)
    assert value["name"] == "hello" and instance_of({"type": "object"}, "hi") == {"reply": "hi"}


def _events(request):
    async def collect():
        return [event async for event in stream(request)]

    return asyncio.run(collect())


def _spec(name, schema=None):
    return {"toolSpec": {"name": name, "description": name,
                         "inputSchema": {"json": schema or {"type": "object", "properties": {}}}}}


def test_stream_speaks_words_then_stop_and_usage():
    events = _events({"messages": [user("hello")], "system": [{"text": "sys"}]})
    assert "".join(e.text for e in events if isinstance(e, Text)) == GREETING
    assert len([e for e in events if isinstance(e, Text)]) > 5  # word by word
    assert events[-2] == Stop("end_turn") and isinstance(events[-1], Usage) and events[-1].output_tokens > 0


def test_stream_calls_an_offered_tool_and_never_an_absent_one():
    offered = {"messages": [user("What loans do you have?")], "toolConfig": {"tools": [_spec("get_loan_products")]}}
    events = _events(offered)
    assert isinstance(events[0], ToolUse) and events[0].name == "get_loan_products" and events[1] == Stop("tool_use")
    events = _events({"messages": [user("What loans do you have?")]})  # tool_choice "none": no tools offered
    assert "".join(e.text for e in events if isinstance(e, Text)) == CAPABILITIES


def test_stream_obeys_tool_choice():
    schema = {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}
    forced = {"messages": [user("hello")], "toolConfig": {
        "tools": [_spec("get_loan_products"), _spec("weather", schema)], "toolChoice": {"tool": {"name": "weather"}}}}
    call = _events(forced)[0]
    assert call.name == "weather" and call.input == {"city": ""}
    anyone = {"messages": [user("hello")], "toolConfig": {"tools": [_spec("answer", schema)], "toolChoice": {"any": {}}}}
    call = _events(anyone)[0]
    assert call.name == "answer" and call.input == {"city": GREETING}
