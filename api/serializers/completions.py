"""Legacy `POST /completions`: each prompt is one agent turn."""
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from api.serializers import base


@extend_schema_serializer(component_name="CompletionRequest")
class CompletionsRequestSerializer(base.RequestSerializer):
    """Legacy `POST /completions`: each prompt is one agent turn."""

    streams_by_default = False
    output_limit_fields = ("max_tokens",)

    model = base.optional_text_field()
    prompt = base.StringListField(max_items=16)
    max_tokens = base.output_tokens_field()
    temperature = base.temperature_field()
    top_p = base.top_p_field()
    stream = base.stream_field(base.NOT_STREAMED_UNLESS_ASKED)
    stream_options = base.StreamOptionsSerializer(required=False, allow_null=True)
    stop = base.StopField(required=False, allow_null=True)
    n = base.only_one_field("n")
    best_of = base.only_one_field("best_of")
    echo = serializers.BooleanField(required=False, default=False)
    logprobs = serializers.IntegerField(required=False, allow_null=True)
    suffix = base.optional_text_field()
    user = base.optional_text_field()

    def validate(self, attrs):
        for field, unsupported in (("echo", attrs.get("echo")), ("logprobs", attrs.get("logprobs") is not None),
                                   ("suffix", bool(attrs.get("suffix")))):
            if unsupported:
                raise serializers.ValidationError({field: [f"{field} is not supported by this server."]})
        return super().validate(attrs)
