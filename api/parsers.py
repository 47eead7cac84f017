"""The JSON parser of every DRF endpoint (settings' DEFAULT_PARSER_CLASSES): DRF's own, with a limit
on how deeply a body may nest.

Python's json module parses recursively, and so does much of what reads a body after it (serializers,
masking, copies): a 2 KB body of ~1,000 nested brackets raised RecursionError, a 500 with a traceback.
No request this API takes needs more than a few levels (a tool's JSON schema is the deepest, ~10), so
a body nested more than MAX_JSON_DEPTH arrays or objects deep is refused as 400 `invalid_json`
before anything else reads it. `loads` gives the same rule to code that parses JSON text itself (a
tool call's `arguments`, a webhook that reads its raw body).
"""
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from core.json_limits import MAX_JSON_DEPTH, TooDeep, check_depth, loads  # noqa: F401 (the API's names for them)


class JSONParser(parsers.JSONParser):
    """DRF's JSONParser, refusing bodies nested more than MAX_JSON_DEPTH deep (ParseError: 400 invalid_json)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - {TooDeep()}") from None
        try:
            check_depth(data)
        except TooDeep as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        return data
