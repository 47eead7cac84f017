"""`POST /api/agent/query/`: the native endpoint's request, a query and the caller's phone."""
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers


@extend_schema_serializer(component_name="AgentQueryRequest")
class AgentQuerySerializer(serializers.Serializer):
    query = serializers.CharField(max_length=8000, trim_whitespace=True)
    phone_number = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=32)
