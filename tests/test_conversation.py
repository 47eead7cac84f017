"""Turning OpenAI messages (and Vapi's extras) into an agent turn."""
import pytest

from agent.converse import converse_messages
from agent.prompts import CALL_CONNECTED, CALL_OPENING_QUERY
from agent.turn import HistoryMessage, ToolCallRecord
from api.conversation import build_native_turn, build_turn, normalize_phone
from core.exceptions import InvalidRequest


def turn_of(messages, body=None, **data):
    return build_turn({"messages": messages, **data}, body or {})[0]


@pytest.mark.parametrize("raw", ["+15550100001", "+1 555 010 0001", "(555) 010-0001", "555.010.0001",
                                 "+1-555-010-0001", "15550100001"])
def test_phone_formats_normalise_to_e164(raw):
    assert normalize_phone(raw) == "+15550100001"


@pytest.mark.parametrize("raw", ["12", "not a phone", "+999999", ""])
def test_invalid_phones_are_none(raw):
    assert normalize_phone(raw) is None


def test_phone_tag_is_extracted_and_stripped_everywhere():
    turn = turn_of([
        {"role": "system", "content": "Caller [phone: +1 555 010 0001] is verified."},
        {"role": "user", "content": "Block my credit card [phone: +15550100001]"},
    ])
    assert turn.phone == "+15550100001"
    assert turn.query == "Block my credit card"
    assert "phone" not in turn.instructions and "555" not in turn.instructions


def test_invalid_phone_tag_is_a_clear_400():
    with pytest.raises(InvalidRequest) as info:
        turn_of([{"role": "user", "content": "hi [phone: banana]"}])
    assert info.value.status_code == 400 and "E.164" in info.value.message


def test_vapi_customer_numbers_are_read_first():
    assert turn_of([{"role": "user", "content": "hi"}], {"customer": {"number": "+15550100002"}}).phone == "+15550100002"
    assert turn_of([{"role": "user", "content": "hi"}],
                   {"call": {"customer": {"number": "+15550100002"}}}).phone == "+15550100002"
    turn = turn_of([{"role": "user", "content": "hi [phone: +15550100001]"}], {"customer": {"number": "+15550100002"}})
    assert turn.phone == "+15550100002" and turn.query == "hi"


def test_web_call_without_number_has_no_phone():
    assert turn_of([{"role": "user", "content": "hi"}], {"call": {"type": "webCall"}, "customer": {}}).phone is None


def test_history_is_structured_and_system_becomes_instructions():
    turn = turn_of([
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": "Speak English."},
        {"role": "user", "content": "I lost my card"},
        {"role": "assistant", "content": "Which card?"},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "t1", "function": {"name": "lookup", "arguments": '{"q": 1}'}}]},
        {"role": "tool", "tool_call_id": "t1", "content": "found"},
        {"role": "user", "content": "The Visa"},
    ])
    assert turn.query == "The Visa"
    assert turn.instructions == "Be brief.\n\nSpeak English."
    assert turn.history == (
        HistoryMessage("user", "I lost my card"), HistoryMessage("assistant", "Which card?"),
        HistoryMessage("assistant", tool_calls=(ToolCallRecord("t1", "lookup", '{"q": 1}'),)),
        HistoryMessage("tool", "found", tool_call_id="t1"))


def test_the_history_becomes_converse_messages_in_one_place():
    """agent.converse builds the model's messages: the instructions join the agent's prompt, a tool
    call's JSON arguments are parsed, tool results are the user's, consecutive roles are merged."""
    turn = turn_of([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "I lost my card"},
        {"role": "assistant", "content": "Let me look.",
         "tool_calls": [{"id": "t1", "function": {"name": "lookup", "arguments": '{"q": 1}'}},
                        {"id": "t2", "function": {"name": "lookup", "arguments": "not json"}}]},
        {"role": "tool", "tool_call_id": "t1", "content": "found"},
        {"role": "tool", "tool_call_id": "t2", "content": ""},
        {"role": "user", "content": "The Visa"},
    ])
    messages, system = converse_messages("You are Fintalk.", turn.instructions, turn.history, turn.query)
    assert system == [{"text": "You are Fintalk.\nBe brief."}]
    assert messages == [
        {"role": "user", "content": [{"text": "I lost my card"}]},
        {"role": "assistant", "content": [{"text": "Let me look."},
                                          {"toolUse": {"toolUseId": "t1", "name": "lookup", "input": {"q": 1}}},
                                          {"toolUse": {"toolUseId": "t2", "name": "lookup", "input": {}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "found"}]}},
                                     {"toolResult": {"toolUseId": "t2", "content": []}},
                                     {"text": "The Visa"}]},
    ]


def test_tool_results_last_means_no_new_query():
    turn = turn_of([
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "t1", "function": {"name": "w", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "t1", "content": "sunny"},
    ])
    assert turn.query is None and turn.history[-1].role == "tool"


def test_greeting_first_history_gets_a_user_turn_before_it():
    turn = turn_of([{"role": "assistant", "content": "Hello, Fintalk Bank."}, {"role": "user", "content": "Hi"}])
    assert [m.text for m in turn.history] == [CALL_CONNECTED, "Hello, Fintalk Bank."]


def test_only_system_message_becomes_an_opening_query():
    turn = turn_of([{"role": "system", "content": "You are on a call."}])
    assert turn.query == CALL_OPENING_QUERY


def test_inference_settings_prefer_max_completion_tokens():
    turn = turn_of([{"role": "user", "content": "hi"}], temperature=0.3, top_p=0.9, max_tokens=50,
                   max_completion_tokens=70, stop=["X"])
    assert (turn.inference.temperature, turn.inference.top_p, turn.inference.max_tokens, turn.inference.stop) == \
        (0.3, 0.9, 70, ("X",))


def test_native_turn():
    turn, _ = build_native_turn("What loans? [phone: +15550100001]", None)
    assert (turn.query, turn.phone) == ("What loans?", "+15550100001")
    assert build_native_turn("hi", "(555) 010-0002")[0].phone == "+15550100002"
    with pytest.raises(InvalidRequest) as info:
        build_native_turn("hi", "nope")
    assert info.value.param == "phone_number"
