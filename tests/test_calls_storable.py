"""Each call record stands alone, through the real server: a caller's lone surrogate (JSON allows
"\\ud800", UTF-8 cannot encode it) or NUL is answered and recorded storable, and the other callers'
turns sent just before and after it, in the same batch of the recorder, are all kept."""
import json

import httpx

from tests.conftest import API_KEY
from tests.support.wait import wait_until


def post_turn(server, call_id: str, content_json: str) -> httpx.Response:
    """A Vapi-shaped turn whose user content is raw JSON text (so that escapes reach the server as sent)."""
    body = ('{"model": "fintalk-demo", "stream": false, "call": {"id": "%s", "type": "webCall"}, '
            '"messages": [{"role": "user", "content": %s}]}' % (call_id, content_json))
    return httpx.post(server.url + "/api/chat/completions", content=body.encode(), timeout=30,
                      headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"})


def test_one_unstorable_turn_loses_nobody_elses_record(demo_server):
    bad = ['"hi \\ud800 there"', '"hi \\u0000 there"', '"a pair \\ud83d\\ude00 and a lone \\udfff"']
    calls = []
    for index, content in enumerate(bad):
        before, odd, after = f"call-store-{index}-before", f"call-store-{index}-odd", f"call-store-{index}-after"
        assert post_turn(demo_server, before, json.dumps("What loans do you offer?")).status_code == 200
        assert post_turn(demo_server, odd, content).status_code == 200
        assert post_turn(demo_server, after, json.dumps("What are your opening hours?")).status_code == 200
        calls += [before, odd, after]

    def recorded():
        marks = ",".join("?" * len(calls))
        rows = demo_server.sql(f"SELECT c.call_id, t.caller_text FROM calls_turn t JOIN calls_call c "
                               f"ON c.id = t.call_id WHERE c.call_id IN ({marks})", *calls)
        return dict(rows) if len(rows) == len(calls) else None

    texts = wait_until(recorded, 15, message="every turn recorded")
    assert texts["call-store-0-odd"] == "hi \ufffd there"
    assert texts["call-store-1-odd"] == "hi  there"
    assert texts["call-store-2-odd"] == "a pair \U0001F600 and a lone \ufffd"
    assert texts["call-store-0-before"] == "What loans do you offer?"
    assert "call records dropped" not in demo_server.logs() and "call record dropped" not in demo_server.logs()


def test_asking_for_a_person_without_a_transfer_is_no_handover(demo_server):
    """The caller heard a phone number (no transferCall offered): the call is not handed over. With Vapi's
    transferCall in the request the same words are a handover."""
    transfer = [{"type": "function", "function": {"name": "transferCall", "description": "Transfer the caller.",
                                                  "parameters": {"type": "object", "properties": {}}}}]
    with demo_server.http() as http:
        for call_id, tools in (("call-person-no-transfer", None), ("call-person-transfer", transfer)):
            body = {"model": "fintalk-demo", "stream": False, "call": {"id": call_id, "type": "webCall"},
                    "messages": [{"role": "user", "content": "Can I talk to a person?"}]}
            if tools:
                body["tools"] = tools
            assert http.post("/api/chat/completions", json=body).status_code == 200

    def outcomes():
        rows = dict(demo_server.sql("SELECT call_id, outcome FROM calls_call WHERE call_id LIKE 'call-person-%'"))
        return rows if len(rows) == 2 else None

    assert wait_until(outcomes, 15) == {"call-person-no-transfer": "resolved", "call-person-transfer": "handed_over"}
    [reason] = demo_server.sql("SELECT t.handoff_reason FROM calls_turn t JOIN calls_call c ON c.id = t.call_id "
                               "WHERE c.call_id = 'call-person-no-transfer'")
    assert reason == ("",)
