"""Every call on the record, through the real server: Vapi-shaped turns with the openai client make
one Call with its Turns (masked, with TTFT), and Vapi's signed reports complete it; a refused report
changes nothing. The database is read with SQL, over every column, as an auditor would."""
import hashlib
import hmac
import json
import time

import httpx
import pytest

from tests.bedrock_standin import Reply, ToolUse
from tests.conftest import API_KEY, LiveServer
from tests.support.metrics import metric

SECRET = "vapi-webhook-test-secret"
MODEL = "amazon.nova-lite-v1:0"
JANE = "+15550100001"
# What must never be stored whole: the caller's phone, a card number, an account number, a one-time code.
SENSITIVE = ("15550100001", "4242424242424242", "98765432109", "482913", "5550100001")
VAPI_TOOLS = [{"type": "function", "function": {"name": "transferCall", "description": "Transfer the caller.",
                                                "parameters": {"type": "object", "properties": {}}}}]


@pytest.fixture(scope="module")
def calls_server(tmp_path_factory, standin_server):
    server = LiveServer(tmp_path_factory.mktemp("calls"), {
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin_server.url,
        "FINTALK_LLM": "bedrock",
        "FINTALK_VAPI_WEBHOOK_SECRET": SECRET,
    }).start()
    yield server
    server.stop()


@pytest.fixture
def openai_client(calls_server):
    return calls_server.openai("/api")


def vapi_body(call_id: str, call_type: str = "inboundPhoneCall", number: str | None = JANE) -> dict:
    customer = {"number": number} if number else {}
    return {"call": {"id": call_id, "type": call_type, "customer": customer}, "customer": customer,
            "phoneNumber": {"id": "pn-test"}, "metadata": {}}


def say(client, history: list[dict], text: str, extra: dict, **kwargs) -> str:
    history.append({"role": "user", "content": text})
    chunks = client.chat.completions.create(model=MODEL, messages=history, stream=True, extra_body=extra, **kwargs)
    reply = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    history.append({"role": "assistant", "content": reply})
    return reply


def wait_until(condition, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.05)


def turns_of(server, call_id: str) -> list[tuple]:
    """The call's turns; `tools` as JSON text on either database (PostgreSQL's driver decodes jsonb)."""
    rows = server.sql("SELECT t.caller_text, t.agent_text, t.tools, t.ttft_ms, t.duration_ms, t.request_id, t.model, "
                      "t.tokens_in, t.tokens_out FROM calls_turn t JOIN calls_call c ON c.id = t.call_id "
                      "WHERE c.call_id = ? ORDER BY t.started_at, t.id", call_id)
    return [(*row[:2], row[2] if isinstance(row[2], str) else json.dumps(row[2]), *row[3:]) for row in rows]


def call_row(server, call_id: str) -> dict:
    columns = [row[1] for row in server.sql("PRAGMA table_info(calls_call)")] if not server.pg_database else [
        row[0] for row in server.sql("SELECT column_name FROM information_schema.columns "
                                     "WHERE table_name = 'calls_call' ORDER BY ordinal_position")]
    rows = server.sql(f"SELECT {', '.join(columns)} FROM calls_call WHERE call_id = ?", call_id)
    return dict(zip(columns, rows[0])) if rows else {}


def signed(body: bytes, timestamp: int | None = None, secret: str = SECRET) -> dict:
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    signature = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"x-timestamp": stamp, "x-signature": signature, "content-type": "application/json"}


def end_of_call_report(call_id: str, reason: str = "customer-ended-call", **extra) -> bytes:
    message = {"type": "end-of-call-report", "endedReason": reason, "call": {"id": call_id, "type": "inboundPhoneCall"},
               "startedAt": "2026-11-22T10:00:00.000Z", "endedAt": "2026-11-22T10:01:35.500Z", "cost": 0.1234,
               "artifact": {"recordingUrl": "https://storage.vapi.ai/rec-1.wav", "transcript": "AI: Hello"},
               "analysis": {"summary": "Jane (+15550100001) asked about her cards."}, **extra}
    return json.dumps({"message": message}).encode()


def post_event(server, body: bytes, headers: dict) -> httpx.Response:
    return httpx.post(server.url + "/api/vapi/events", content=body, headers=headers, timeout=10)


def one_turn_call(client, call_id: str) -> None:
    say(client, [], "Hello", vapi_body(call_id))


def test_a_five_turn_vapi_call_is_one_call_with_five_masked_turns(calls_server, openai_client, standin):
    call_id = "call-five-turns"
    standin.script(
        Reply(text="Hello Jane, how can I help?"),
        Reply(tool_uses=[ToolUse("list_credit_cards", {})]),
        Reply(text="You have a Visa card ending in 4242, which is active."),
        Reply(text="I heard account 98765432109; I can't read account numbers back."),
        Reply(text="Thanks, the code 482913 is noted."),
        Reply(text="Goodbye, Jane."),
    )
    history, extra = [], vapi_body(call_id)
    replies = [
        say(openai_client, history, "Hi, my card number is 4242 4242 4242 4242 and my phone is +1 555 010 0001.", extra),
        say(openai_client, history, "Which cards do I have?", extra),
        say(openai_client, history, "My account number is 98765432109.", extra),
        say(openai_client, history, "The code is 482 913.", extra),
        say(openai_client, history, "Bye", extra),
    ]
    assert "Visa card ending in 4242" in replies[1]

    turns = wait_until(lambda: len(turns_of(calls_server, call_id)) == 5 and turns_of(calls_server, call_id))
    assert calls_server.sql("SELECT COUNT(*) FROM calls_call WHERE call_id = ?", call_id) == [(1,)]
    call = call_row(calls_server, call_id)
    (jane,) = calls_server.sql("SELECT id FROM bank_customer WHERE phone = ?", JANE)[0]
    assert call["type"] == "inbound" and call["customer_id"] == jane and call["masked_phone"] == "+1******0001"
    assert call["outcome"] == "resolved" and call["ended_at"] is None  # provisional until Vapi reports the end

    for caller, agent, tools, ttft, duration, request_id, model, tokens_in, tokens_out in turns:
        assert ttft is not None and 0 < ttft <= duration
        assert request_id and model == MODEL and tokens_in > 0 and tokens_out > 0
        assert agent
    assert [turn[0] for turn in turns] == [
        "Hi, my card number is ***42 and my phone is ***01.", "Which cards do I have?",
        "My account number is ***09.", "The code is ******.", "Bye"]
    assert json.loads(turns[1][2]) == [{"tool": "list_credit_cards", "outcome": "ok"}]
    assert turns[1][1].endswith("You have a Visa card ending in 4242, which is active.")  # the filler, then the answer
    assert turns[3][1] == "Thanks, the code ****** is noted."
    assert all(json.loads(turn[2]) == [] for turn in turns if turn is not turns[1])

    # No full phone, card, account number or code anywhere in the calls' tables, whatever the column.
    for table in ("calls_call", "calls_turn"):
        for row in calls_server.sql(f"SELECT * FROM {table}"):
            for cell in row:
                text = str(cell)
                digits = "".join(ch for ch in text if ch.isdigit())
                for secret in SENSITIVE:
                    assert secret not in text and secret not in digits, (table, text)


def test_a_signed_end_of_call_report_completes_the_call(calls_server, openai_client, standin):
    call_id = "call-report-hmac"
    one_turn_call(openai_client, call_id)
    wait_until(lambda: turns_of(calls_server, call_id))
    body = end_of_call_report(call_id)
    reply = post_event(calls_server, body, signed(body))
    assert reply.status_code == 200 and reply.json() == {"received": True, "type": "end-of-call-report", "handled": True}
    call = call_row(calls_server, call_id)
    assert call["ended_reason"] == "customer-ended-call"
    assert call["duration_seconds"] == 95.5  # endedAt - startedAt: the report has no durationSeconds
    assert call["outcome"] == "resolved" and call["ended_at"] is not None
    assert float(call["cost_usd"]) == 0.1234 and call["recording_url"] == "https://storage.vapi.ai/rec-1.wav"
    assert call["summary"] == "Jane (***01) asked about her cards."
    # Vapi retries (signed afresh, here with a millisecond timestamp): the same report again changes nothing.
    assert post_event(calls_server, body, signed(body, timestamp=int(time.time() * 1000))).status_code == 200
    assert call_row(calls_server, call_id) | {"updated_at": None} == call | {"updated_at": None}


def test_a_captured_signed_request_is_refused_when_replayed_within_its_window(calls_server):
    """#27: the signature's 300 s window is no replay window. The first copy is accepted, the same
    timestamp and body again are refused (remembered in the shared cache), a fresh signature is not."""
    body = json.dumps({"message": {"type": "status-update", "status": "in-progress",
                                   "call": {"id": "call-replayed", "type": "inboundPhoneCall"}}}).encode()
    captured = signed(body)
    assert post_event(calls_server, body, captured).status_code == 200
    replay = post_event(calls_server, body, captured)
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "replayed"
    events = calls_server.sql("SELECT e.kind, e.detail FROM calls_callevent e JOIN calls_call c ON c.id = e.call_id "
                              "WHERE c.call_id = ?", "call-replayed")
    assert events == [("status", "in-progress")]
    assert post_event(calls_server, body, signed(body, timestamp=int(time.time() * 1000))).status_code == 200


def test_unsigned_tampered_stale_or_wrong_reports_are_refused_and_change_nothing(calls_server, openai_client, standin):
    call_id = "call-report-refused"
    one_turn_call(openai_client, call_id)
    wait_until(lambda: turns_of(calls_server, call_id))
    before = call_row(calls_server, call_id)
    body = end_of_call_report(call_id, reason="assistant-error")
    tampered = body.replace(b"assistant-error", b"customer-ended-call")
    attempts = {
        "unsigned": (body, {"content-type": "application/json"}),
        "tampered": (tampered, signed(body)),
        "stale": (body, signed(body, timestamp=int(time.time()) - 3600)),
        "wrong hmac key": (body, signed(body, secret="not-the-secret")),
        "wrong X-Vapi-Secret": (body, {"X-Vapi-Secret": "guess"}),
        "wrong bearer": (body, {"Authorization": "Bearer guess"}),
        "right secret, tampered signature": (body, {**signed(tampered), "X-Vapi-Secret": SECRET}),
    }
    for name, (content, headers) in attempts.items():
        reply = post_event(calls_server, content, headers)
        assert reply.status_code == 401, name
        error = reply.json()["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["type"] == "authentication_error", name
    assert call_row(calls_server, call_id) == before
    # Authenticated but malformed: a 400, nothing changes either.
    for content in (b"{not json", b"[]", b'{"message": {"type": 5}}', b'{"type": "end-of-call-report"}'):
        reply = post_event(calls_server, content, {"X-Vapi-Secret": SECRET})
        assert reply.status_code == 400 and reply.json()["error"]["type"] == "invalid_request_error", content
    assert call_row(calls_server, call_id) == before
    assert httpx.get(calls_server.url + "/api/vapi/events").status_code == 405


def test_the_other_ways_vapi_sends_the_secret_and_unknown_types(calls_server):
    call_id = "call-status-only"
    status = json.dumps({"message": {"type": "status-update", "status": "in-progress",
                                     "call": {"id": call_id, "type": "outboundPhoneCall",
                                              "customer": {"number": "+15550100002"}}}}).encode()
    reply = post_event(calls_server, status, {"X-Vapi-Secret": SECRET})
    assert reply.status_code == 200 and reply.json()["handled"] is True
    call = call_row(calls_server, call_id)
    assert call["type"] == "outbound" and call["masked_phone"] == "+1******0002" and call["ended_at"] is None
    # Nobody answered: the status update that ends it, with a bearer credential.
    ended = json.dumps({"message": {"type": "status-update", "status": "ended", "endedReason": "customer-did-not-answer",
                                    "call": {"id": call_id, "type": "outboundPhoneCall"}}}).encode()
    assert post_event(calls_server, ended, {"Authorization": f"Bearer {SECRET}"}).status_code == 200
    call = call_row(calls_server, call_id)
    assert call["outcome"] == "abandoned" and call["ended_reason"] == "customer-did-not-answer"
    # Types we do not keep are accepted (Vapi sends many) and change nothing (hang and speech-update
    # are kept on the call's lifecycle since #30: tests/test_vapi_server.py).
    for kind in ("transcript", "model-output", "a-type-from-the-future"):
        body = json.dumps({"message": {"type": kind, "call": {"id": call_id}}}).encode()
        reply = post_event(calls_server, body, signed(body))
        assert reply.status_code == 200 and reply.json() == {"received": True, "type": kind, "handled": False}
    assert call_row(calls_server, call_id)["outcome"] == "abandoned"


def test_a_transfer_is_a_handover_on_the_record_and_in_the_metrics(calls_server, openai_client, standin):
    call_id = "call-handover"
    standin.script(Reply(tool_uses=[ToolUse("transferCall", {})]))
    history = []
    history.append({"role": "user", "content": "Let me talk to a person"})
    chunks = list(openai_client.chat.completions.create(model=MODEL, messages=history, stream=True, tools=VAPI_TOOLS,
                                                        extra_body=vapi_body(call_id)))
    assert any(chunk.choices and chunk.choices[0].delta.tool_calls for chunk in chunks)
    turns = wait_until(lambda: turns_of(calls_server, call_id))
    assert json.loads(turns[0][2]) == [{"tool": "transferCall", "outcome": "called", "client": True, "arguments": "{}"}]
    call = call_row(calls_server, call_id)
    assert call["outcome"] == "handed_over" and call["handoff_reason"] == "transferred to a person"
    body = end_of_call_report(call_id, reason="assistant-forwarded-call")
    assert post_event(calls_server, body, signed(body)).status_code == 200
    assert call_row(calls_server, call_id)["outcome"] == "handed_over"

    metrics = httpx.get(calls_server.url + "/metrics", headers={"Authorization": f"Bearer {API_KEY}"}).text
    assert 'fintalk_handoffs_total{reason="caller_asked"}' in metrics
    assert 'fintalk_calls_ended_total{outcome="handed_over",type="inbound"}' in metrics
    assert "fintalk_call_records_written_total" in metrics
    assert 'fintalk_call_records_dropped_total{reason="queue_full"} 0.0' in metrics
    for name in ("fintalk_call_records_dropped", "fintalk_verification_failures"):
        assert f"# TYPE {name}_total counter" in metrics


def test_requests_without_a_vapi_call_are_one_call_each(calls_server, openai_client, standin):
    before = calls_server.sql("SELECT COUNT(*) FROM calls_call WHERE type = 'api'")[0][0]
    for _ in range(2):
        openai_client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    rows = wait_until(lambda: len(calls_server.sql("SELECT id FROM calls_call WHERE type = 'api'")) == before + 2
                      and calls_server.sql("SELECT call_id, outcome, ended_at, duration_seconds FROM calls_call "
                                           "WHERE type = 'api' ORDER BY id DESC LIMIT 2"))
    for call_id, outcome, ended_at, duration in rows:
        assert call_id.startswith("api-") and outcome == "resolved" and ended_at is not None and duration > 0


def test_a_person_only_named_is_no_handover(calls_server, openai_client, standin):
    """#28: without Vapi's transferCall the caller only heard how to reach a person: the record keeps the
    tool's outcome ("contact"), but the call is not handed over and no handoff is counted."""
    call_id = "call-no-transfer"
    before = metric(httpx.get(calls_server.url + "/metrics", headers={"Authorization": f"Bearer {API_KEY}"}).text,
                    "fintalk_handoffs_total")
    standin.script(Reply(tool_uses=[ToolUse("transfer_to_human", {"reason": "caller asked for a person"})]),
                   Reply(text="To speak with a person, please call us."))
    openai_client.chat.completions.create(model=MODEL, stream=False, extra_body=vapi_body(call_id),
                                          messages=[{"role": "user", "content": "Let me talk to a person"}])
    turns = wait_until(lambda: turns_of(calls_server, call_id))
    assert {"tool": "transfer_to_human", "outcome": "contact"} in json.loads(turns[0][2])
    call = call_row(calls_server, call_id)
    assert call["outcome"] != "handed_over" and call["handoff_reason"] == ""
    after = metric(httpx.get(calls_server.url + "/metrics", headers={"Authorization": f"Bearer {API_KEY}"}).text,
                   "fintalk_handoffs_total")
    assert after == before
