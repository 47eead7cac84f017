"""`POST /embeddings`: Amazon Titan Text Embeddings V2 behind OpenAI's request."""
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from api.serializers.base import RequestSerializer, StringListField, optional_text_field


@extend_schema_serializer(component_name="EmbeddingRequest")
class EmbeddingsRequestSerializer(RequestSerializer):
    """`POST /embeddings`: text in, Titan's vectors out (never streamed)."""

    model = optional_text_field()
    input = StringListField(max_items=256)
    encoding_format = serializers.ChoiceField(choices=["float", "base64"], required=False, default="float")
    dimensions = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    user = optional_text_field()

    def validate_dimensions(self, value):
        allowed = self.context.get("dimensions") or ()
        if value is not None and allowed and value not in allowed:
            raise serializers.ValidationError(f"This model supports dimensions {', '.join(map(str, allowed))}.")
        return value
