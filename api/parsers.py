"""A JSON parser that refuses oversize bodies with 413 before reading them whole.

DRF reads the request stream directly, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE never applies
to it; this parser enforces the same setting.
"""
from io import BytesIO

from django.conf import settings
from rest_framework.parsers import JSONParser

from api.errors import PayloadTooLarge


class LimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"Request body is larger than {limit} bytes.")
        data = stream.read(limit + 1) if stream is not None else b""
        if len(data) > limit:
            raise PayloadTooLarge(f"Request body is larger than {limit} bytes.")
        return super().parse(BytesIO(data), media_type, parser_context)
