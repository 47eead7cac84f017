"""`POST /chat/completions`: messages, the client's tools and the response format.

Unknown top-level fields (Vapi's `call`, `customer`, `phoneNumber`, `metadata`, ...) are accepted
and left alone: DRF serializers ignore fields they do not declare. Fields that take several
shapes carry their JSON schema for the OpenAPI document.
"""
import re

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from api.parsers import loads
from api.serializers import base

ROLES = ("system", "developer", "user", "assistant", "tool")


TEXT_PART_SCHEMA = {"type": "object", "required": ["type", "text"],
                    "properties": {"type": {"type": "string", "enum": ["text"]}, "text": {"type": "string"}}}


@extend_schema_field({"anyOf": [{"type": "string"}, {"type": "array", "items": TEXT_PART_SCHEMA}]})
class MessageContentField(serializers.Field):
    """A message's content: a string, null, or a list of text parts; returns plain text or None."""

    default_error_messages = {
        "invalid": "Expected a string, null, or a list of content parts.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str):
            return data
        if not isinstance(data, list):
            self.fail("invalid")
        texts, errors = [], {}
        for index, part in enumerate(data):
            if not isinstance(part, dict):
                errors[index] = {"type": ["Each content part must be an object with a 'type'."]}
            elif part.get("type") != "text":
                errors[index] = {"type": [
                    f"Content part type {part.get('type')!r} is not supported; only 'text' parts are."
                ]}
            elif not isinstance(part.get("text"), str):
                errors[index] = {"text": ["A text part needs a string 'text'."]}
            else:
                texts.append(part["text"])
        if errors:
            raise serializers.ValidationError(errors)
        return "\n".join(texts)

    def to_representation(self, value):
        return value


TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # OpenAI's rule, and Bedrock's


class ToolCallFunctionSerializer(serializers.Serializer):
    name = serializers.RegexField(TOOL_NAME)
    arguments = serializers.CharField(allow_blank=True, trim_whitespace=False)

    def validate_arguments(self, value):
        try:
            parsed = loads(value or "{}")
        except ValueError:
            raise serializers.ValidationError("Must be a JSON object encoded as a string.") from None
        if not isinstance(parsed, dict):
            raise serializers.ValidationError("Must be a JSON object encoded as a string.")
        return value or "{}"


class ToolCallSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=128)
    type = serializers.ChoiceField(choices=["function"], required=False, default="function")
    function = ToolCallFunctionSerializer()


PLAIN_ROLES = frozenset(ROLES) - {"tool"}  # a tool message needs its tool_call_id checked


class OpenAIMessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ROLES)
    content = MessageContentField()
    name = serializers.CharField(required=False, allow_blank=True)
    tool_calls = ToolCallSerializer(many=True, required=False, allow_null=True)
    tool_call_id = serializers.CharField(required=False, allow_null=True, max_length=128)

    def run_validation(self, data=serializers.empty):
        """A plain message (`{"role", "content": "text"}`, no other key) is what its fields would make of
        it, as it is: a voice call resends its whole history every turn, and running DRF's fields cost
        ~12 us a message (0.5 ms a turn at 20 turns, BENCHMARKS.md #32). Anything else, DRF validates."""
        if type(data) is dict and len(data) == 2 and type(data.get("content")) is str and data.get("role") in PLAIN_ROLES:
            return {"role": data["role"], "content": data["content"]}
        return super().run_validation(data)

    def validate(self, attrs):
        role = attrs["role"]
        if attrs.get("content") is None and role != "assistant":
            raise serializers.ValidationError({"content": [f"A {role} message needs content."]})
        if attrs.get("content") is None and not attrs.get("tool_calls"):
            raise serializers.ValidationError({"content": ["An assistant message needs content or tool_calls."]})
        if role == "tool" and not attrs.get("tool_call_id"):
            raise serializers.ValidationError({"tool_call_id": ["A tool message needs the tool_call_id it answers."]})
        return attrs


class FunctionDefinitionSerializer(serializers.Serializer):
    name = serializers.RegexField(TOOL_NAME, error_messages={
        "invalid": "Function names are 1-64 letters, digits, underscores or dashes."})
    description = serializers.CharField(required=False, allow_blank=True, default="")
    parameters = serializers.DictField(required=False, default=dict)
    strict = serializers.BooleanField(required=False, allow_null=True)

    def validate_parameters(self, value):
        if value and value.get("type", "object") != "object":
            raise serializers.ValidationError("Function parameters must be a JSON schema of type 'object'.")
        return {"type": "object", "properties": {}, **value}


class ToolSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["function"], error_messages={
        "invalid_choice": "Only function tools are supported."})
    function = FunctionDefinitionSerializer()


@extend_schema_field({"anyOf": [
    {"type": "string", "enum": ["none", "auto", "required"]},
    {"type": "object", "required": ["type", "function"], "properties": {
        "type": {"type": "string", "enum": ["function"]},
        "function": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}}]})
class ToolChoiceField(serializers.Field):
    """"none" | "auto" | "required" | {"type": "function", "function": {"name": ...}}; returns that or a name."""

    def to_internal_value(self, data):
        if data in ("none", "auto", "required"):
            return data
        if isinstance(data, dict) and isinstance(data.get("function"), dict) and \
                isinstance(data["function"].get("name"), str):
            return {"name": data["function"]["name"]}
        raise serializers.ValidationError(
            "Use 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}.")

    def to_representation(self, value):
        return value


@extend_schema_field({"anyOf": [
    {"type": "string", "enum": ["none", "auto"]},
    {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}]})
class FunctionCallField(serializers.Field):
    """Legacy `function_call`: "none" | "auto" | {"name": ...}."""

    def to_internal_value(self, data):
        if data in ("none", "auto"):
            return data
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            return {"name": data["name"]}
        raise serializers.ValidationError("Use 'none', 'auto' or {\"name\": ...}.")

    def to_representation(self, value):
        return value


class JSONSchemaFormatSerializer(serializers.Serializer):
    name = serializers.RegexField(TOOL_NAME, required=False, default="response")
    description = serializers.CharField(required=False, allow_blank=True)
    schema = serializers.DictField(required=False, default=dict)
    strict = serializers.BooleanField(required=False, allow_null=True, default=False)


class ResponseFormatSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["text", "json_object", "json_schema"])
    json_schema = JSONSchemaFormatSerializer(required=False)

    def validate(self, attrs):
        if attrs["type"] == "json_schema" and not attrs.get("json_schema"):
            raise serializers.ValidationError({"json_schema": ["Required when type is 'json_schema'."]})
        schema = (attrs.get("json_schema") or {}).get("schema") or {}
        if schema and schema.get("type", "object") != "object":
            raise serializers.ValidationError({"json_schema": {"schema": ["The schema must describe an object."]}})
        return attrs


@extend_schema_serializer(component_name="ChatCompletionRequest")
class ChatCompletionRequestSerializer(base.RequestSerializer):
    """`POST /chat/completions`: the messages, the model's settings, and the client's tools."""

    streams_by_default = True
    output_limit_fields = ("max_tokens", "max_completion_tokens")

    messages = OpenAIMessageSerializer(many=True, allow_empty=False)
    model = base.optional_text_field()
    temperature = base.temperature_field()
    top_p = base.top_p_field()
    max_tokens = base.output_tokens_field()
    max_completion_tokens = base.output_tokens_field()
    stream = base.stream_field(base.STREAMED_UNLESS_JSON)
    stream_options = base.StreamOptionsSerializer(required=False, allow_null=True)
    stop = base.StopField(required=False, allow_null=True)
    user = base.optional_text_field()
    n = base.only_one_field("n")
    tools = ToolSerializer(many=True, required=False, allow_null=True)
    tool_choice = ToolChoiceField(required=False, allow_null=True)
    parallel_tool_calls = serializers.BooleanField(required=False, allow_null=True)
    functions = FunctionDefinitionSerializer(many=True, required=False, allow_null=True)  # legacy tools
    function_call = FunctionCallField(required=False, allow_null=True)  # legacy tool_choice
    response_format = ResponseFormatSerializer(required=False, allow_null=True)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        # Legacy functions/function_call are the same thing as tools/tool_choice.
        functions = [{"type": "function", "function": f} for f in attrs.pop("functions", None) or []]
        attrs["tools"] = (attrs.get("tools") or []) + functions
        choice = attrs.get("tool_choice") or attrs.pop("function_call", None) or "auto"
        attrs["tool_choice"] = choice
        names = [tool["function"]["name"] for tool in attrs["tools"]]
        reserved = set(self.context.get("reserved_tool_names", ()))
        for index, name in enumerate(names):
            if name in reserved:
                raise serializers.ValidationError({"tools": {index: {"function": {"name": [
                    f"'{name}' is the name of one of the bank's own tools; choose another name."]}}}})
            if names.index(name) != index:
                raise serializers.ValidationError({"tools": {index: {"function": {"name": [
                    f"Two tools are named '{name}'."]}}}})
        if isinstance(choice, dict) and choice["name"] not in names:
            raise serializers.ValidationError({"tool_choice": [f"No tool named '{choice['name']}' in tools."]})
        if choice == "required" and not names:
            raise serializers.ValidationError({"tool_choice": ["'required' needs at least one tool in tools."]})
        return attrs
