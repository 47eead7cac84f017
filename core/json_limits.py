"""JSON with a limit on how deeply it may nest: Python's json module parses recursively, and so does
much of what reads a value after it, so a small body of ~1,000 nested brackets raised RecursionError.
`loads` is json.loads with the limit, for every app that parses JSON text itself (api.parsers' DRF
parser, a tool call's arguments, Vapi's webhooks in calls/)."""
import json

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
