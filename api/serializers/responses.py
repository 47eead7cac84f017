"""`POST /responses`: OpenAI's Responses API over the same agent turn, stateless."""
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from api.serializers import base


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
class ResponsesRequestSerializer(base.RequestSerializer):
    """`POST /responses`. Stateless: nothing is stored, so earlier responses cannot be referenced."""

    streams_by_default = False
    output_limit_fields = ("max_output_tokens",)

    model = base.optional_text_field()
    input = ResponsesInputField()
    instructions = base.optional_text_field()
    stream = base.stream_field(base.NOT_STREAMED_UNLESS_ASKED)
    temperature = base.temperature_field()
    top_p = base.top_p_field()
    max_output_tokens = base.output_tokens_field()
    previous_response_id = serializers.CharField(required=False, allow_null=True)
    store = serializers.BooleanField(required=False, allow_null=True)
    tools = serializers.ListField(required=False, allow_null=True)
    metadata = serializers.DictField(required=False, allow_null=True)
    user = base.optional_text_field()

    def validate(self, attrs):
        if attrs.get("previous_response_id"):
            raise serializers.ValidationError({"previous_response_id": [
                "Fintalk keeps no responses (it is stateless): send the whole conversation in input."]})
        if attrs.get("store"):
            raise serializers.ValidationError({"store": [
                "Fintalk keeps no responses (it is stateless): leave store unset or false."]})
        if attrs.get("tools"):
            raise serializers.ValidationError({"tools": [
                "Client tools are supported on /chat/completions; the Responses API here runs the bank's agent only."]})
        attrs = super().validate(attrs)
        messages = [{"role": "system", "content": attrs["instructions"]}] if attrs.get("instructions") else []
        attrs["chat"] = {"messages": messages + attrs["input"], "temperature": attrs.get("temperature"),
                         "top_p": attrs.get("top_p"), "max_tokens": attrs.get("max_output_tokens")}
        return attrs
