"""Request validation: what OpenAI clients and Vapi send is accepted, the rest is a precise 400."""
import pytest
from rest_framework.exceptions import ValidationError

from api.errors import exception_handler
from api.serializers import (
    AgentQuerySerializer,
    ChatCompletionRequestSerializer,
    CompletionsRequestSerializer,
    ResponsesRequestSerializer,
)


def validate(data, **context):
    serializer = ChatCompletionRequestSerializer(data=data, context=context)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def error_of(data, **context):
    with pytest.raises(ValidationError) as info:
        validate(data, **context)
    return exception_handler(info.value, {}).data["error"]


USER = [{"role": "user", "content": "hi"}]


def test_minimal_request_defaults_to_streaming():
    data = validate({"messages": USER})
    assert data["stream"] is True
    assert validate({"messages": USER}, stream_default=False)["stream"] is False  # the client asked for JSON
    assert validate({"messages": USER, "stream": None}, stream_default=False)["stream"] is False
    assert validate({"messages": USER, "stream": True}, stream_default=False)["stream"] is True
    assert data["messages"][0] == {"role": "user", "content": "hi"}


def test_unknown_top_level_fields_are_accepted():
    data = validate({"messages": USER, "call": {"id": "x"}, "customer": {"number": "+1"}, "phoneNumber": {},
                     "metadata": {"k": "v"}, "functions": [{"name": "endCall"}], "seed": 3})
    assert "call" not in data


def test_text_parts_are_joined_and_other_parts_name_their_param():
    data = validate({"messages": [{"role": "user", "content": [{"type": "text", "text": "a"},
                                                               {"type": "text", "text": "b"}]}]})
    assert data["messages"][0]["content"] == "a\nb"
    error = error_of({"messages": [
        {"role": "system", "content": "s"}, {"role": "user", "content": "u"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x"}}]},
    ]})
    assert error["param"] == "messages[2].content[0].type"
    assert "image_url" in error["message"] and error["type"] == "invalid_request_error"


def test_assistant_may_have_null_content_with_tool_calls_but_user_may_not():
    call = {"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    validate({"messages": [{"role": "assistant", "content": None, "tool_calls": [call]}, *USER]})
    assert error_of({"messages": [{"role": "user", "content": None}]})["param"] == "messages[0].content"
    bad = {**call, "function": {"name": "f", "arguments": "not json"}}
    assert error_of({"messages": [{"role": "assistant", "content": None, "tool_calls": [bad]}]})["param"] == \
        "messages[0].tool_calls[0].function.arguments"
    assert error_of({"messages": [{"role": "tool", "content": "x"}]})["param"] == "messages[0].tool_call_id"


@pytest.mark.parametrize("field,value,param", [
    ("temperature", 3, "temperature"), ("temperature", -0.1, "temperature"), ("top_p", 1.5, "top_p"),
    ("max_tokens", 0, "max_tokens"), ("max_completion_tokens", 0, "max_completion_tokens"), ("n", 2, "n"),
    ("stop", ["a", "b", "c", "d", "e"], "stop"), ("stream", "maybe", "stream"),
])
def test_out_of_range_values_name_the_param(field, value, param):
    assert error_of({"messages": USER, field: value})["param"] == param


def test_n_message_says_only_one_is_supported():
    assert "Only n=1" in error_of({"messages": USER, "n": 2})["message"]


def test_max_tokens_bounded_by_the_model_limit():
    assert validate({"messages": USER, "max_tokens": 100}, max_output_tokens=1000)["max_tokens"] == 100
    assert error_of({"messages": USER, "max_completion_tokens": 1001}, max_output_tokens=1000)["param"] == \
        "max_completion_tokens"


def test_empty_or_missing_messages_and_bad_roles():
    assert error_of({"messages": []})["param"] == "messages"
    assert error_of({})["param"] == "messages"
    assert error_of({"messages": [{"role": "robot", "content": "x"}]})["param"] == "messages[0].role"


def test_stop_accepts_a_string_and_tools_are_accepted():
    data = validate({"messages": USER, "stop": "END", "tools": [{"type": "function", "function": {"name": "f"}}],
                     "tool_choice": "auto", "stream_options": {"include_usage": True}, "user": "u1"})
    assert data["stop"] == ["END"] and data["stream_options"]["include_usage"] is True
    assert data["tools"][0]["function"]["parameters"] == {"type": "object", "properties": {}}


def test_legacy_functions_become_tools():
    data = validate({"messages": USER, "functions": [{"name": "endCall"}], "function_call": {"name": "endCall"}})
    assert [t["function"]["name"] for t in data["tools"]] == ["endCall"] and data["tool_choice"] == {"name": "endCall"}


def test_response_format_validation():
    assert validate({"messages": USER, "response_format": {"type": "json_object"}})["response_format"]["type"] == \
        "json_object"
    assert error_of({"messages": USER, "response_format": {"type": "json_schema"}})["param"] == \
        "response_format.json_schema"
    assert error_of({"messages": USER, "response_format": {"type": "yaml"}})["param"] == "response_format.type"


def test_agent_query_serializer():
    serializer = AgentQuerySerializer(data={"query": " hello ", "phone_number": "+15550100001"})
    assert serializer.is_valid() and serializer.validated_data["query"] == "hello"
    assert not AgentQuerySerializer(data={"query": ""}).is_valid()


@pytest.mark.parametrize("serializer, body, limit_field, streams", [
    (ChatCompletionRequestSerializer, {"messages": USER}, "max_tokens", True),
    (ChatCompletionRequestSerializer, {"messages": USER}, "max_completion_tokens", True),
    (ResponsesRequestSerializer, {"input": "hi"}, "max_output_tokens", False),
    (CompletionsRequestSerializer, {"prompt": "hi"}, "max_tokens", False),
])
def test_every_endpoint_applies_the_shared_stream_default_and_output_limit(serializer, body, limit_field, streams):
    """The two rules RequestSerializer decides once: the endpoint's own stream default unless the
    view negotiated one, and no output limit above the answering model's."""
    def check(data, **context):
        instance = serializer(data=data, context=context)
        valid = instance.is_valid()
        return instance.validated_data if valid else instance.errors

    assert check(body)["stream"] is streams
    assert check(body, stream_default=not streams)["stream"] is (not streams)
    assert check({**body, limit_field: 8192}, max_output_tokens=8192)[limit_field] == 8192
    assert check({**body, limit_field: 8193}, max_output_tokens=8192) == {
        limit_field: ["Ensure this value is less than or equal to 8192."]}


def test_request_fields_are_copied_once_per_thread_and_bound_to_each_new_serializer():
    """#32: DRF's per-request deep copy of every field is made once per thread; each serializer that
    reuses the copy is its fields' root (its own context), and another thread gets its own copy."""
    import threading

    first = ChatCompletionRequestSerializer(data={"messages": USER}, context={"max_output_tokens": 10})
    assert first.is_valid()
    second = ChatCompletionRequestSerializer(data={"messages": USER, "max_tokens": 20},
                                             context={"max_output_tokens": 30})
    assert second.is_valid(), second.errors
    assert second.fields["messages"] is first.fields["messages"]  # the same copy, not a new deep copy
    assert second.fields["messages"].child.root is second and second.fields["messages"].child.context["max_output_tokens"] == 30
    assert error_of({"messages": USER, "max_tokens": 20}, max_output_tokens=10)["param"] == "max_tokens"
    assert validate({"messages": USER, "max_tokens": 20}, max_output_tokens=30)["max_tokens"] == 20

    other = {}
    thread = threading.Thread(target=lambda: other.update(
        fields=ChatCompletionRequestSerializer(data={"messages": USER}).fields["messages"]))
    thread.start()
    thread.join()
    assert other["fields"] is not second.fields["messages"]


PLAIN_AND_NOT = [
    {"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}, {"role": "system", "content": "  spaced  "},
    {"role": "developer", "content": "Ünïcode — “quotes”"},
    # not plain: DRF's fields decide (a list content, another key, the tool role, null content, a bad role)
    {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
    {"role": "user", "content": "hi", "name": "caller"},
    {"role": "tool", "content": "42", "tool_call_id": "call_1"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
]


@pytest.mark.parametrize("message", PLAIN_AND_NOT)
def test_a_plain_message_is_what_drfs_fields_make_of_it(message):
    """OpenAIMessageSerializer's short cut for {"role", "content": text} returns what the fields return."""
    from api.serializers.chat import OpenAIMessageSerializer
    from rest_framework import serializers

    shortcut = validate({"messages": [message]})["messages"][0]
    by_the_fields = serializers.Serializer.run_validation(OpenAIMessageSerializer(), message)
    assert dict(shortcut) == dict(by_the_fields)


@pytest.mark.parametrize("message, param", [
    ({"role": "caller", "content": "hi"}, "messages[0].role"),
    ({"role": "user", "content": 7}, "messages[0].content"),
    ({"role": "tool", "content": "42"}, "messages[0].tool_call_id"),
])
def test_what_is_not_a_plain_message_is_still_refused_by_the_fields(message, param):
    assert error_of({"messages": [message]})["param"] == param
