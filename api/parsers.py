"""The JSON parser of every DRF endpoint (settings' DEFAULT_PARSER_CLASSES): DRF's own, with a limit
on how deeply a body may nest.

Python's json module parses recursively, and so does much of what reads a body after it (serializers,
masking, copies): a 2 KB body of ~1,000 nested brackets raised RecursionError, a 500 with a traceback.
No request this API takes needs more than a few levels (a tool's JSON schema is the deepest, ~10), so
a body nested more than MAX_JSON_DEPTH arrays or objects deep is refused as 400 `invalid_json`
before anything else reads it. `loads` gives the same rule to code that parses JSON text itself (a
tool call's `arguments`, a webhook that reads its raw body).
"""
import io
import re

import orjson
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import get_encoding

from core.json_limits import MAX_JSON_DEPTH, TooDeep, check_depth, loads  # noqa: F401 (the API's names for them)

_UTF8 = frozenset({"utf-8", "utf8"})
_LONG_NUMBER = re.compile(rb"\d{19}")  # orjson reads an integer beyond 64 bits as a float; json keeps it whole


class JSONParser(parsers.JSONParser):
    """DRF's JSONParser, refusing bodies nested more than MAX_JSON_DEPTH deep (ParseError: 400 invalid_json).

    A UTF-8 body is read by orjson (already a dependency): a voice call's body with its history was 1%
    of the worker's CPU in the stdlib's decoder (BENCHMARKS.md, #32). orjson is strict JSON, as DRF's
    STRICT_JSON is; what it refuses (bad JSON, a lone surrogate) is parsed again by DRF's own parser,
    as is a body with a number of 19 digits or more (orjson would make an integer beyond 64 bits a
    float), so that what is accepted, its values and every error message stay DRF's."""

    def parse(self, stream, media_type=None, parser_context=None):
        if self.strict and get_encoding(parser_context or {}).lower() in _UTF8:
            raw = stream.read()
            if not _LONG_NUMBER.search(raw):
                try:
                    return self._checked(orjson.loads(raw))
                except orjson.JSONDecodeError:
                    pass
            stream = io.BytesIO(raw)
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - {TooDeep()}") from None
        return self._checked(data)

    @staticmethod
    def _checked(data):
        try:
            check_depth(data)
        except TooDeep as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        return data
