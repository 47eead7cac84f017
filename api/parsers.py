"""The JSON parser of every DRF endpoint (settings' DEFAULT_PARSER_CLASSES): DRF's own, with a limit
on how deeply a body may nest.

Python's json module parses recursively, and so does much of what reads a body after it (serializers,
masking, copies): a 2 KB body of ~1,000 nested brackets raised RecursionError, a 500 with a traceback.
No request this API takes needs more than a few levels (a tool's JSON schema is the deepest, ~10), so
a body nested more than MAX_JSON_DEPTH arrays or objects deep is refused as 400 `invalid_json`
before anything else reads it. `loads` gives the same rule to code that parses JSON text itself (a
tool call's `arguments`, a webhook that reads its raw body).
"""
import json

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_JSON_DEPTH = 64


class TooDeep(ValueError):
    """JSON nested more deeply than MAX_JSON_DEPTH (a ValueError, as json's own errors are)."""

    def __init__(self, limit: int = MAX_JSON_DEPTH):
        super().__init__(f"JSON nested more than {limit} levels deep is not accepted.")


def check_depth(value, limit: int = MAX_JSON_DEPTH) -> None:
    """Raises TooDeep if `value` (parsed JSON) nests arrays or objects more than `limit` deep. Iterative:
    walking a deep value must not itself recurse."""
    pending = [(value, 1)] if isinstance(value, (dict, list)) else []
    while pending:
        node, depth = pending.pop()
        if depth > limit:
            raise TooDeep(limit)
        children = node.values() if isinstance(node, dict) else node
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def loads(text: str | bytes, limit: int = MAX_JSON_DEPTH):
    """json.loads with the depth limit: raises ValueError (TooDeep, or json's own) for what it refuses."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise TooDeep(limit) from None
    check_depth(value, limit)
    return value


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
