"""Request bodies nested too deeply are 400 `invalid_json` on every endpoint, through the real server,
with no traceback logged: ~1,000 levels in 2 KB were a RecursionError and a 500. The limit
(api.parsers.MAX_JSON_DEPTH) is generous for what a real body nests: a deep tool schema passes."""
import json

import pytest

from tests.conftest import API_KEY

from api.parsers import MAX_JSON_DEPTH, TooDeep, check_depth, loads

DEEP = "[" * 1000 + "]" * 1000  # ~2 KB


def deep_body(fields: dict, depth: int = 1000) -> bytes:
    """`fields` plus a `metadata` nested `depth` levels deep, as raw JSON text."""
    text = json.dumps(fields)[:-1]
    return (text + ', "metadata": ' + '{"a": ' * (depth - 1) + "{}" + "}" * (depth - 1) + "}").encode()


ENDPOINTS = [
    ("/api/chat/completions", {"model": "fintalk-demo", "messages": [{"role": "user", "content": "hi"}]}),
    ("/v1/chat/completions", {"model": "fintalk-demo", "messages": [{"role": "user", "content": "hi"}]}),
    ("/api/responses", {"model": "fintalk-demo", "input": "hi"}),
    ("/api/completions", {"model": "fintalk-demo", "prompt": "hi"}),
    ("/api/embeddings", {"model": "fintalk-embed", "input": "hi"}),
    ("/api/agent/query", {"query": "hi"}),
    ("/api/outbound/requests", {"kind": "fraud_alert"}),
]


def test_the_depth_check_is_iterative_and_counts_levels():
    check_depth(json.loads("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH))
    with pytest.raises(TooDeep):
        check_depth(json.loads("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)))
    with pytest.raises(ValueError):
        loads(DEEP * 20)  # deeper than json's own recursion: still a ValueError, not a RecursionError


@pytest.mark.parametrize(("path", "fields"), ENDPOINTS)
def test_a_deeply_nested_body_is_400_invalid_json_with_no_traceback(demo_server, path, fields):
    key = demo_server.outbound_key() if path.startswith("/api/outbound/") else API_KEY  # the bank's systems' scope
    with demo_server.http() as http:
        http.headers["Authorization"] = f"Bearer {key}"
        for body in (deep_body(fields), deep_body(fields, depth=MAX_JSON_DEPTH + 1), DEEP.encode()):
            reply = http.post(path, content=body, headers={"Content-Type": "application/json"})
            assert reply.status_code == 400, (path, reply.text[:300])
            error = reply.json()["error"]
            assert error["code"] == "invalid_json" and error["type"] == "invalid_request_error"
            assert f"more than {MAX_JSON_DEPTH} levels" in error["message"]
        shallow = http.post(path, content=deep_body(fields, depth=8), headers={"Content-Type": "application/json"})
        assert shallow.status_code != 400 or shallow.json()["error"]["code"] != "invalid_json"
    logs = demo_server.logs()
    assert "RecursionError" not in logs and "Traceback" not in logs


def test_deep_tool_call_arguments_are_a_400_naming_the_field(demo_server):
    arguments = "[" * 2000 + "]" * 2000
    messages = [{"role": "user", "content": "hi"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": arguments}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "ok"}]
    with demo_server.http() as http:
        reply = http.post("/api/chat/completions", json={"model": "fintalk-demo", "messages": messages})
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "invalid_value", reply.text[:300]
    assert "arguments" in reply.json()["error"]["param"]
    assert "RecursionError" not in demo_server.logs()


def test_a_deeply_nested_vapi_event_is_400_invalid_json(db, settings):
    from django.test import Client

    settings.FINTALK_VAPI_WEBHOOK_SECRET = "webhook-secret"
    reply = Client().post("/api/vapi/events", deep_body({"message": {"type": "status-update"}}),
                          content_type="application/json", headers={"X-Vapi-Secret": "webhook-secret"})
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("raw", [
    b'{"a": "caf\\u00e9 \xe2\x80\x94", "n": 1.5, "big": 123456789012345678901234567890}',  # an int beyond 64 bits
    b'{"lone": "\\ud800"}',  # a lone surrogate: json keeps it, orjson refuses it
    b'{"bad": NaN}', b'{"a": 1,}', b"[1, 2", b'\xef\xbb\xbf{"bom": 1}',
    b'{"twice": 1, "twice": 2, "huge": 1e400, "tiny": -0.0, "e": 1E-7}',
])
def test_the_parser_accepts_and_refuses_what_drfs_own_does_with_its_messages(raw):
    """api.parsers.JSONParser reads UTF-8 with orjson; whatever orjson refuses goes to DRF's parser."""
    import io

    from rest_framework import parsers
    from rest_framework.exceptions import ParseError

    from api.parsers import JSONParser

    def parsed(parser):
        try:
            return "ok", parser.parse(io.BytesIO(raw), "application/json", {})
        except ParseError as exc:
            return "refused", str(exc.detail)

    assert parsed(JSONParser()) == parsed(parsers.JSONParser())
