"""What every OpenAI-style request shares: its common fields, and the rules decided once for all.

The fields every endpoint family takes (`model`, `temperature`, `top_p`, `stream`, `user`, an
output limit) are made by the functions below, so each endpoint declares them in the order its
OpenAI reference lists them (that order is the OpenAPI document's, and decides which error a
request with several is answered with). The rules are `RequestSerializer.validate`'s: an absent
(or null) `stream` takes the default the view negotiated from the Accept header (context
`stream_default`), and an output limit above the model's (context `max_output_tokens`) is a 400.

A request serializer's fields are copied once per thread, not per request (`RequestSerializer.fields`).
"""
import threading

from django.utils.functional import cached_property
from drf_spectacular.drainage import set_override
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.utils.serializer_helpers import BindingDict

STREAMED_UNLESS_JSON = "Absent: streamed, unless the Accept header names application/json and not text/event-stream."
NOT_STREAMED_UNLESS_ASKED = "Absent: not streamed, unless the Accept header accepts only text/event-stream."


def optional_text_field():
    """`model`, `user` and other free text a client may leave out, send as null or send empty."""
    return serializers.CharField(required=False, allow_null=True, allow_blank=True)


def temperature_field():
    return serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=2)


def top_p_field():
    return serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)


def output_tokens_field():
    return serializers.IntegerField(required=False, allow_null=True, min_value=1)


def stream_field(help_text: str):
    return serializers.BooleanField(required=False, allow_null=True, default=None, help_text=help_text)


def only_one_field(name: str):
    """`n` or `best_of`: OpenAI's several choices per request, of which this server makes one."""
    return serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1,
                                    error_messages={"max_value": f"Only {name}=1 is supported."})


_THREAD_FIELDS = threading.local()


class RequestSerializer(serializers.Serializer):
    """A request to one of the OpenAI-style endpoints.

    `streams_by_default`: the endpoint's `stream` when neither the body nor the view says
    (None: the endpoint never streams). `output_limit_fields`: the fields that ask for at most
    that many output tokens, checked against the model that will answer.
    """

    streams_by_default: bool | None = None
    output_limit_fields: tuple[str, ...] = ()

    @cached_property
    def fields(self):
        """DRF's fields, deep-copied once per thread and class instead of once per request.

        DRF deep-copies every declared field (and every nested serializer's) for each new serializer,
        so that one instance may change its fields without touching the others: ~0.5 ms of CPU per
        chat request, a tenth of a turn's (BENCHMARKS.md, #32). No request serializer changes its
        fields, and validation is synchronous, so a thread reuses its copy: each new serializer
        becomes the copy's parent (its `context` is this request's) and validates at once.
        """
        cache = _THREAD_FIELDS.__dict__.setdefault("by_class", {})
        fields = cache.get(type(self))
        if fields is None:
            fields = cache[type(self)] = BindingDict(self)
            for key, value in self.get_fields().items():
                fields[key] = value
            return fields
        fields.serializer = self
        for field in fields.values():
            field.parent = self
        return fields

    def validate(self, attrs):
        if self.streams_by_default is not None and attrs.get("stream") is None:
            attrs["stream"] = self.context.get("stream_default", self.streams_by_default)
        limit = self.context.get("max_output_tokens")
        for field in self.output_limit_fields:
            if limit and (attrs.get(field) or 0) > limit:
                raise serializers.ValidationError({field: [f"Ensure this value is less than or equal to {limit}."]})
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
