"""Legacy `POST /completions`: each prompt is one agent turn."""
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from api.serializers.base import (
    NOT_STREAMED_UNLESS_ASKED,
    RequestSerializer,
    StopField,
    StreamOptionsSerializer,
    StringListField,
    optional_text_field,
    only_one_field,
    output_tokens_field,
    stream_field,
    temperature_field,
    top_p_field,
)


@extend_schema_serializer(component_name="CompletionRequest")
class CompletionsRequestSerializer(RequestSerializer):
    """Legacy `POST /completions`: each prompt is one agent turn."""

    streams_by_default = False
    output_limit_fields = ("max_tokens",)

    model = optional_text_field()
    prompt = StringListField(max_items=16)
    max_tokens = output_tokens_field()
    temperature = temperature_field()
    top_p = top_p_field()
    stream = stream_field(NOT_STREAMED_UNLESS_ASKED)
    stream_options = StreamOptionsSerializer(required=False, allow_null=True)
    stop = StopField(required=False, allow_null=True)
    n = only_one_field("n")
    best_of = only_one_field("best_of")
    echo = serializers.BooleanField(required=False, default=False)
    logprobs = serializers.IntegerField(required=False, allow_null=True)
    suffix = optional_text_field()
    user = optional_text_field()

    def validate(self, attrs):
        for field, unsupported in (("echo", attrs.get("echo")), ("logprobs", attrs.get("logprobs") is not None),
                                   ("suffix", bool(attrs.get("suffix")))):
            if unsupported:
                raise serializers.ValidationError({field: [f"{field} is not supported by this server."]})
        return super().validate(attrs)
