"""Request validation for the OpenAI-compatible and native endpoints (DRF serializers).

Unknown top-level fields (Vapi's `call`, `customer`, `phoneNumber`, `metadata`, `functions`, ...)
are accepted and left alone: DRF serializers ignore fields they do not declare.
"""
from rest_framework import serializers

ROLES = ("system", "developer", "user", "assistant", "tool")


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


class OpenAIMessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ROLES)
    content = MessageContentField()
    name = serializers.CharField(required=False, allow_blank=True)
    tool_calls = serializers.ListField(child=serializers.DictField(), required=False, allow_null=True)
    tool_call_id = serializers.CharField(required=False, allow_null=True)

    def validate(self, attrs):
        if attrs.get("content") is None and attrs["role"] != "assistant":
            raise serializers.ValidationError({"content": [f"A {attrs['role']} message needs content."]})
        if attrs.get("content") is None and not attrs.get("tool_calls"):
            raise serializers.ValidationError({"content": ["An assistant message needs content or tool_calls."]})
        return attrs


class StreamOptionsSerializer(serializers.Serializer):
    include_usage = serializers.BooleanField(required=False, default=False)


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


class OpenAIQuerySerializer(serializers.Serializer):
    messages = OpenAIMessageSerializer(many=True, allow_empty=False)
    model = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    temperature = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=2)
    top_p = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)
    max_tokens = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    max_completion_tokens = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    stream = serializers.BooleanField(required=False, default=True)
    stream_options = StreamOptionsSerializer(required=False, allow_null=True)
    stop = StopField(required=False, allow_null=True)
    user = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    n = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1,
                                 error_messages={"max_value": "Only n=1 is supported."})
    # Accepted and ignored for now: the bank's own tools are the agent's tools.
    tools = serializers.JSONField(required=False)
    tool_choice = serializers.JSONField(required=False)

    def validate(self, attrs):
        limit = self.context.get("max_output_tokens")
        for field in ("max_tokens", "max_completion_tokens"):
            value = attrs.get(field)
            if limit and value and value > limit:
                raise serializers.ValidationError({field: [f"Ensure this value is less than or equal to {limit}."]})
        return attrs


class AgentQuerySerializer(serializers.Serializer):
    query = serializers.CharField(max_length=8000, trim_whitespace=True)
    phone_number = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=32)
