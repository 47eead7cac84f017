"""Request validation for the OpenAI-compatible and native endpoints (DRF serializers).

Unknown top-level fields (Vapi's `call`, `customer`, `phoneNumber`, `metadata`, ...) are accepted
and left alone: DRF serializers ignore fields they do not declare. An absent (or null) `stream`
takes the default the view negotiated from the Accept header (context `stream_default`).
Fields that take several shapes carry their JSON schema for the OpenAPI document.
"""
import json
import re

from drf_spectacular.drainage import set_override
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

ROLES = ("system", "developer", "user", "assistant", "tool")


TEXT_PART_SCHEMA = {"type": "object", "required": ["type", "text"],
                    "properties": {"type": {"type": "string", "enum": ["text"]}, "text": {"type": "string"}}}


def stream_default(serializer, attrs: dict, default: bool) -> None:
    if attrs.get("stream") is None:
        attrs["stream"] = serializer.context.get("stream_default", default)


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
            parsed = json.loads(value or "{}")
        except ValueError:
            raise serializers.ValidationError("Must be a JSON object encoded as a string.") from None
        if not isinstance(parsed, dict):
            raise serializers.ValidationError("Must be a JSON object encoded as a string.")
        return value or "{}"


class ToolCallSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=128)
    type = serializers.ChoiceField(choices=["function"], required=False, default="function")
    function = ToolCallFunctionSerializer()


class OpenAIMessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ROLES)
    content = MessageContentField()
    name = serializers.CharField(required=False, allow_blank=True)
    tool_calls = ToolCallSerializer(many=True, required=False, allow_null=True)
    tool_call_id = serializers.CharField(required=False, allow_null=True, max_length=128)

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


class StreamOptionsSerializer(serializers.Serializer):
    include_usage = serializers.BooleanField(required=False, default=False)


@extend_schema_field({"anyOf": [
    {"type": "string", "minLength": 1},
    {"type": "array", "maxItems": 4, "items": {"type": "string", "minLength": 1}}]})
class StopField(serializers.Field):
    """`stop`: a string or up to four strings; returns a list."""

    def to_internal_value(self, data):
        if data is None:
            return []
        items = [data] if isinstance(data, str) else data
        if not isinstance(items, list) or not all(isinstance(item, str) and item for item in items):
            raise serializers.ValidationError("Expected a non-empty string or a list of non-empty strings.")
        if len(items) > 4:
            raise serializers.ValidationError("At most 4 stop sequences are supported.")
        return items

    def to_representation(self, value):
        return value


@extend_schema_serializer(component_name="ChatCompletionRequest")
class OpenAIQuerySerializer(serializers.Serializer):
    messages = OpenAIMessageSerializer(many=True, allow_empty=False)
    model = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    temperature = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=2)
    top_p = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)
    max_tokens = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    max_completion_tokens = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    stream = serializers.BooleanField(required=False, allow_null=True, default=None, help_text=(
        "Absent: streamed, unless the Accept header names application/json and not text/event-stream."))
    stream_options = StreamOptionsSerializer(required=False, allow_null=True)
    stop = StopField(required=False, allow_null=True)
    user = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    n = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1,
                                 error_messages={"max_value": "Only n=1 is supported."})
    tools = ToolSerializer(many=True, required=False, allow_null=True)
    tool_choice = ToolChoiceField(required=False, allow_null=True)
    parallel_tool_calls = serializers.BooleanField(required=False, allow_null=True)
    functions = FunctionDefinitionSerializer(many=True, required=False, allow_null=True)  # legacy tools
    function_call = FunctionCallField(required=False, allow_null=True)  # legacy tool_choice
    response_format = ResponseFormatSerializer(required=False, allow_null=True)

    def validate(self, attrs):
        stream_default(self, attrs, True)
        limit = self.context.get("max_output_tokens")
        for field in ("max_tokens", "max_completion_tokens"):
            value = attrs.get(field)
            if limit and value and value > limit:
                raise serializers.ValidationError({field: [f"Ensure this value is less than or equal to {limit}."]})
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


@extend_schema_serializer(component_name="AgentQueryRequest")
class AgentQuerySerializer(serializers.Serializer):
    query = serializers.CharField(max_length=8000, trim_whitespace=True)
    phone_number = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=32)


@extend_schema_field({"anyOf": [
    {"type": "string", "minLength": 1},
    {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["role", "content"], "properties": {
        "type": {"type": "string", "enum": ["message"]},
        "role": {"type": "string", "enum": ["system", "developer", "user", "assistant"]},
        "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": {
            "type": "object", "required": ["type", "text"], "properties": {
                "type": {"type": "string", "enum": ["input_text", "output_text", "text"]},
                "text": {"type": "string"}}}}]}}}}]})
class ResponsesInputField(serializers.Field):
    """Responses API `input`: a string, or a list of messages whose content is text or text parts."""

    ROLES = ("system", "developer", "user", "assistant")
    TEXT_PARTS = ("input_text", "output_text", "text")

    def to_internal_value(self, data):
        if isinstance(data, str):
            if not data.strip():
                raise serializers.ValidationError("The input is empty.")
            return [{"role": "user", "content": data}]
        if not isinstance(data, list) or not data:
            raise serializers.ValidationError("Expected a string or a non-empty list of messages.")
        messages, errors = [], {}
        for index, item in enumerate(data):
            if not isinstance(item, dict) or item.get("type", "message") != "message":
                kind = item.get("type") if isinstance(item, dict) else type(item).__name__
                errors[index] = {"type": [f"Input items of type {kind!r} are not supported; send messages."]}
                continue
            if item.get("role") not in self.ROLES:
                errors[index] = {"role": [f"Use one of {', '.join(self.ROLES)}."]}
                continue
            content = item.get("content")
            if isinstance(content, list):
                bad = [i for i, part in enumerate(content)
                       if not isinstance(part, dict) or part.get("type") not in self.TEXT_PARTS]
                if bad:
                    errors[index] = {"content": {bad[0]: {"type": ["Only text content parts are supported."]}}}
                    continue
                untexted = [i for i, part in enumerate(content) if not isinstance(part.get("text"), str)]
                if untexted:
                    errors[index] = {"content": {untexted[0]: {"text": ["A text part needs a string 'text'."]}}}
                    continue
                content = "\n".join(part["text"] for part in content)
            if not isinstance(content, str):
                errors[index] = {"content": ["Expected a string or a list of text parts."]}
                continue
            messages.append({"role": item["role"], "content": content})
        if errors:
            raise serializers.ValidationError(errors)
        return messages

    def to_representation(self, value):
        return value


@extend_schema_serializer(component_name="ResponseRequest")
class ResponsesRequestSerializer(serializers.Serializer):
    """`POST /responses`. Stateless: nothing is stored, so earlier responses cannot be referenced."""

    model = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    input = ResponsesInputField()
    instructions = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    stream = serializers.BooleanField(required=False, allow_null=True, default=None, help_text=(
        "Absent: not streamed, unless the Accept header accepts only text/event-stream."))
    temperature = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=2)
    top_p = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)
    max_output_tokens = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    previous_response_id = serializers.CharField(required=False, allow_null=True)
    store = serializers.BooleanField(required=False, allow_null=True)
    tools = serializers.ListField(required=False, allow_null=True)
    metadata = serializers.DictField(required=False, allow_null=True)
    user = serializers.CharField(required=False, allow_null=True, allow_blank=True)

    def validate(self, attrs):
        stream_default(self, attrs, False)
        if attrs.get("previous_response_id"):
            raise serializers.ValidationError({"previous_response_id": [
                "Fintalk keeps no responses (it is stateless): send the whole conversation in input."]})
        if attrs.get("store"):
            raise serializers.ValidationError({"store": [
                "Fintalk keeps no responses (it is stateless): leave store unset or false."]})
        if attrs.get("tools"):
            raise serializers.ValidationError({"tools": [
                "Client tools are supported on /chat/completions; the Responses API here runs the bank's agent only."]})
        limit = self.context.get("max_output_tokens")
        if limit and (attrs.get("max_output_tokens") or 0) > limit:
            raise serializers.ValidationError({"max_output_tokens": [f"Ensure this value is less than or equal to {limit}."]})
        messages = [{"role": "system", "content": attrs["instructions"]}] if attrs.get("instructions") else []
        attrs["chat"] = {"messages": messages + attrs["input"], "temperature": attrs.get("temperature"),
                         "top_p": attrs.get("top_p"), "max_tokens": attrs.get("max_output_tokens")}
        return attrs


class StringListField(serializers.Field):
    """A string or a non-empty list of non-empty strings; returns a list. (Token arrays are not supported.)"""

    def __init__(self, *, max_items: int, **kwargs):
        self.max_items = max_items
        super().__init__(**kwargs)
        string = {"type": "string", "pattern": r"\S"}  # not blank
        set_override(self, "field", {"anyOf": [string, {"type": "array", "minItems": 1, "maxItems": max_items,
                                                        "items": string}]})

    def to_internal_value(self, data):
        items = [data] if isinstance(data, str) else data
        if not isinstance(items, list) or not items:
            raise serializers.ValidationError("Expected a string or a non-empty list of strings.")
        if len(items) > self.max_items:
            raise serializers.ValidationError(f"At most {self.max_items} items.")
        for item in items:
            if not isinstance(item, str):
                raise serializers.ValidationError("Only text is supported (not token arrays).")
            if not item.strip():
                raise serializers.ValidationError("Empty strings are not accepted.")
        return items

    def to_representation(self, value):
        return value


@extend_schema_serializer(component_name="CompletionRequest")
class CompletionsRequestSerializer(serializers.Serializer):
    """Legacy `POST /completions`: each prompt is one agent turn."""

    model = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    prompt = StringListField(max_items=16)
    max_tokens = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    temperature = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=2)
    top_p = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)
    stream = serializers.BooleanField(required=False, allow_null=True, default=None, help_text=(
        "Absent: not streamed, unless the Accept header accepts only text/event-stream."))
    stream_options = StreamOptionsSerializer(required=False, allow_null=True)
    stop = StopField(required=False, allow_null=True)
    n = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1,
                                 error_messages={"max_value": "Only n=1 is supported."})
    best_of = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1,
                                       error_messages={"max_value": "Only best_of=1 is supported."})
    echo = serializers.BooleanField(required=False, default=False)
    logprobs = serializers.IntegerField(required=False, allow_null=True)
    suffix = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    user = serializers.CharField(required=False, allow_null=True, allow_blank=True)

    def validate(self, attrs):
        stream_default(self, attrs, False)
        for field, unsupported in (("echo", attrs.get("echo")), ("logprobs", attrs.get("logprobs") is not None),
                                   ("suffix", bool(attrs.get("suffix")))):
            if unsupported:
                raise serializers.ValidationError({field: [f"{field} is not supported by this server."]})
        limit = self.context.get("max_output_tokens")
        if limit and (attrs.get("max_tokens") or 0) > limit:
            raise serializers.ValidationError({"max_tokens": [f"Ensure this value is less than or equal to {limit}."]})
        return attrs


@extend_schema_serializer(component_name="EmbeddingRequest")
class EmbeddingsRequestSerializer(serializers.Serializer):
    model = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    input = StringListField(max_items=256)
    encoding_format = serializers.ChoiceField(choices=["float", "base64"], required=False, default="float")
    dimensions = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    user = serializers.CharField(required=False, allow_null=True, allow_blank=True)

    def validate_dimensions(self, value):
        allowed = self.context.get("dimensions") or ()
        if value is not None and allowed and value not in allowed:
            raise serializers.ValidationError(f"This model supports dimensions {', '.join(map(str, allowed))}.")
        return value
