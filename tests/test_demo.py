"""The demo model's decisions: which tool, when to ask, what to say."""
import pytest
from llama_index.core.llms import ChatMessage, MessageRole

from agent.demo_llm import ASK_LAST4, CAPABILITIES, GREETING, REDIRECT, decide
from agent.prompts import CALL_OPENING_QUERY


def user(text):
    return ChatMessage(role=MessageRole.USER, content=text)


def assistant(text):
    return ChatMessage(role=MessageRole.ASSISTANT, content=text)


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
    assert decide([ChatMessage(role=MessageRole.SYSTEM, content="sys"), user(text)]) == step


@pytest.mark.parametrize("answer", ["4242", "It's 4 2 4 2", "four two four two", "42-42"])
def test_last4_in_the_next_turn_blocks(answer):
    step = decide([user("I lost my credit card"), assistant(ASK_LAST4), user(answer)])
    assert step == ("block_credit_card", {"card_last4": "4242", "reason": "lost"})


def test_tool_result_is_spoken():
    messages = [user("cards?"), ChatMessage(role=MessageRole.TOOL, content="You have a Visa card ending in 4242.")]
    assert decide(messages) == "You have a Visa card ending in 4242."


def test_demo_uses_vapi_call_tools_when_offered():
    assert decide([user("Can I talk to a person?")], {"transferCall"}) == ("transferCall", {})
    assert decide([user("That's all, bye")], {"endCall"}) == ("endCall", {})
    assert decide([user("Can I talk to a person?")]) == CAPABILITIES  # not offered: no such tool


def test_schema_instances_are_valid():
    import jsonschema

    from agent.demo_llm import instance_of

    schema = {"type": "object", "required": ["name", "count", "tags", "kind"], "properties": {
        "name": {"type": "string"}, "count": {"type": "integer", "minimum": 1},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "kind": {"enum": ["a", "b"]}, "extra": {"type": "boolean"}}}
    value = instance_of(schema, "hello")
    jsonschema.validate(value, schema)
    assert value["name"] == "hello" and instance_of({"type": "object"}, "hi") == {"reply": "hi"}
