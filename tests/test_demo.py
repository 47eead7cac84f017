"""The demo model's decisions (which tool, when to ask, what to say) and the events it streams."""
import asyncio

import pytest

from bank.actions import REGISTRY, result

from agent.converse import Stop, Text, ToolUse, Usage
from demo.model import ASK_LAST4, CAPABILITIES, GREETING, REDIRECT, decide, stream
from demo.rules import ASK_ADDRESS, ASK_AMOUNT, ASK_CARD, ASK_CODE
from agent.prompts import CALL_OPENING_QUERY


def says(action, outcome, **facts):
    """What the agent says for an action's outcome, from its declaration (bank.actions)."""
    return REGISTRY[action].says(result(outcome, **facts))


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
    ("What's my balance?", ("get_account_balances", {})),
    ("Show me my recent transactions", ("get_recent_transactions", {})),
    ("I don't recognise the Electronics Hub charge", ("open_dispute", {"merchant": "Electronics Hub",
                                                                       "reason": "not_recognised"})),
    ("I was charged twice at Netflix, $15.49", ("open_dispute", {"merchant": "Netflix", "reason": "duplicate",
                                                                  "amount": "15.49"})),
    ("Pay the minimum on my card 4242", ("prepare_card_payment", {"card_last4": "4242", "amount": "minimum"})),
    ("I want to pay my card bill", ASK_CARD),
    ("Can I send money to my brother?", REDIRECT),
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


def test_demo_hands_over_with_the_bank_tool_then_vapis_transfer_call():
    asked = [user("Can I talk to a person?")]
    assert decide(asked, {"transferCall"}) == ("transfer_to_human", {"reason": "caller asked for a person"})
    put_through = "I'm putting you through to a person now."
    assert decide(asked + [tool_result(put_through)], {"transferCall"}) == ("transferCall", {}, put_through)
    assert decide(asked + [tool_result(put_through)]) == put_through  # no transferCall offered: just say it
    assert decide([user("That's all, bye")], {"endCall"}) == ("endCall", {})


def test_verification_then_the_request_it_held_up():
    balance = [user("What's my balance?"), tool_result("Before I can do that I need to make sure it's you. "
                                                       "I can text a six-digit code to your registered phone. "
                                                       "Shall I send it?")]
    said_yes = balance + [assistant(balance[-1]["content"][0]["toolResult"]["content"][0]["text"]), user("Yes please")]
    assert decide(said_yes) == ("send_verification_code", {})
    typed = said_yes + [assistant(ASK_CODE), user("User's Keypad Entry: 123456")]
    assert decide(typed) == ("verify_code", {"code": "123456"})
    spoken = said_yes + [assistant(ASK_CODE), user("one two three four five six")]
    assert decide(spoken) == ("verify_code", {"code": "123456"})
    verified = typed + [tool_result("Thank you, you're verified. What would you like to do?")]
    assert decide(verified) == ("get_account_balances", {})


def test_payment_asks_for_what_is_missing_then_confirms():
    asked = [user("I want to pay my card bill"), assistant(ASK_CARD), user("4242")]
    assert decide(asked) == ASK_AMOUNT
    amount = asked + [assistant(ASK_AMOUNT), user("The statement balance")]
    assert decide(amount) == ("prepare_card_payment", {"card_last4": "4242", "amount": "statement balance"})
    quoted = amount + [assistant(says("prepare_card_payment", "quoted", amount="$812.40", card="Visa card",
                                      last4="4242", account="checking account ending in 1234")),
                       user("Yes, go ahead")]
    assert decide(quoted) == ("confirm_card_payment", {})


def test_replacement_confirms_the_address_by_city():
    blocked = [user("My card 4242 was stolen"),
               assistant(says("block_credit_card", "blocked", card="Visa card", last4="4242")),
               user("Yes")]
    assert decide(blocked) == ASK_ADDRESS
    assert decide(blocked + [assistant(ASK_ADDRESS), user("Springfield")]) == (
        "order_replacement_card", {"card_last4": "4242", "address_confirmation": "Springfield"})


def test_greets_a_known_caller_by_first_name_from_the_instructions():
    from demo.rules import greeting

    system = "# Who is calling\nThe caller is Jane, calling from their registered phone line. Greet them by name."
    assert greeting(system).startswith("Hello Jane, this is Fin")
    assert greeting("The call came without a phone number") == GREETING


def test_schema_instances_are_valid():
    import jsonschema

    from demo.model import instance_of

    schema = {"type": "object", "required": ["name", "count", "tags", "kind"], "properties": {
        "name": {"type": "string"}, "count": {"type": "integer", "minimum": 1},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "kind": {"enum": ["a", "b"]}, "extra": {"type": "boolean"}}}
    value = instance_of(schema, "hello", answer=True)  # the structured answer carries the reply
    jsonschema.validate(value, schema)
    assert value["name"] == "hello" and instance_of({"type": "object"}, "hi", answer=True) == {"reply": "hi"}
    arguments = instance_of(schema, "What's the weather in Paris?")  # a client tool's arguments
    jsonschema.validate(arguments, schema)
    assert arguments == {"name": "Paris", "count": 1, "tags": ["Paris"], "kind": "a"}


def test_client_tool_arguments_fit_the_schema_not_the_reply():
    schema = {"type": "object", "required": ["destination", "unit"], "properties": {
        "destination": {"type": "string", "enum": ["+15550100099", "+15550100098"]},
        "unit": {"type": "string", "default": "celsius"}}}
    events = _events({"messages": [user("hello")], "toolConfig": {
        "tools": [_spec("transferCall", schema)], "toolChoice": {"tool": {"name": "transferCall"}}}})
    assert events[0].input == {"destination": "+15550100099", "unit": "celsius"}


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
    forced = {"messages": [user("What's the weather in Paris?")], "toolConfig": {
        "tools": [_spec("get_loan_products"), _spec("weather", schema)], "toolChoice": {"tool": {"name": "weather"}}}}
    call = _events(forced)[0]
    assert call.name == "weather" and call.input == {"city": "Paris"}
    anyone = {"messages": [user("hello")], "toolConfig": {"tools": [_spec("answer", schema)], "toolChoice": {"any": {}}}}
    call = _events(anyone)[0]
    assert call.name == "answer" and call.input == {"city": GREETING}


@pytest.mark.parametrize("words", ["Born 1985-04-12, ZIP 62701, account 1234",
                                   "April 12 1985, 62701, and my checking ends in one two three four",
                                   "12th April, 1985. My zip is 62701 and the account is 1234."])
def test_security_answers_in_a_callers_own_words(words):
    """#29/#27: dates in words and any order; a card's digits and an amount are no security answers."""
    step = decide([user("What's my balance?"), assistant(says("send_verification_code", "send_failed")), user(words)])
    assert step[0] == "verify_security_answers"
    assert step[1]["postal_code"] == "62701" and step[1]["account_last4"] == "1234"


def test_a_cards_digits_and_an_amount_never_block_or_verify():
    step = decide([user("Can you verify me?"), assistant(says("send_verification_code", "send_failed")),
                   user("1985-04-12, card 4242, $4.75")])
    assert step == CAPABILITIES or step[0] not in ("block_credit_card", "verify_security_answers")
