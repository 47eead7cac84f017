"""The call record's parts in process, on the real ORM: the recorder's queue (drops and counts rather
than waits), masking, the webhook's authentication rules and its signal, and `purge_calls`."""
import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.utils import timezone

from agent.client_tools import ClientToolCall
from agent.turn import TurnEnd, TurnInput
from api.observability import RequestRecord
from bank.models import AuditEvent
from calls import webhooks
from calls.masking import mask_transcript
from calls.metrics import RECORDS_DROPPED, RECORDS_WRITTEN
from calls.models import Call, Turn
from calls.recorder import Recorder
from calls.signals import vapi_event

SECRET = "in-process-secret"


def finished_record(query: str = "hello", call_id: str | None = "call-unit", spoken=("Hi ", "there."), end=None):
    record = RequestRecord(RequestFactory().post("/api/chat/completions"))
    record.endpoint, record.status, record.model = "chat-completions", 200, "amazon.nova-lite-v1:0"
    record.requested({"call": {"id": call_id, "type": "webCall"}} if call_id else {})
    record.turn_started(TurnInput(query=query, call_id=call_id))
    for piece in spoken:
        record.said(piece)
    record.turn_ended(end or TurnEnd("end_turn", 10, 4, (("get_loan_products", "ok"),)))
    record.duration = record.elapsed()
    return record


def counter(metric, **labels) -> float:
    return (metric.labels(**labels) if labels else metric)._value.get()


@pytest.mark.parametrize(("text", "masked"), [
    ("card 4242 4242 4242 4242", "card ***42"),
    ("call me on +1 (555) 010-0001", "call me on ***01"),
    ("account 12345678", "account ***78"),
    ("my code is 123456", "my code is ******"),
    ("the code is 123 456", "the code is ******"),
    ("User's Keypad Entry: 654321", "User's Keypad Entry: ******"),
    ("it's one two three four five six", "it's ******"),
    ("the card ending in 4242", "the card ending in 4242"),
    ("from 5,000 dollars at 6.5 percent", "from 5,000 dollars at 6.5 percent"),
])
def test_transcripts_are_masked(text, masked):
    assert mask_transcript(text) == masked


def test_a_full_queue_drops_and_counts_instead_of_waiting(db):
    release, written = threading.Event(), []

    def slow_write(rows):  # a database that lags
        release.wait(10)
        written.extend(rows)

    recorder = Recorder(capacity=2, write=slow_write, batch_size=1, linger=0)
    dropped = counter(RECORDS_DROPPED, reason="queue_full")
    started = time.perf_counter()
    for _ in range(8):
        recorder.submit(finished_record())
    assert time.perf_counter() - started < 0.05  # never waits for the database
    # The writer holds one batch; the queue two more; the rest were dropped and counted.
    assert counter(RECORDS_DROPPED, reason="queue_full") - dropped >= 8 - 1 - 2 - 1
    release.set()
    recorder.stop()
    assert 2 <= len(written) <= 3  # what was taken or queued is written once the database answers


def test_a_failed_write_is_dropped_counted_and_the_writer_goes_on(db):
    batches = []

    def flaky(rows):
        batches.append(len(rows))
        if len(batches) == 1:
            raise RuntimeError("database unavailable")

    recorder = Recorder(capacity=10, write=flaky)
    dropped = counter(RECORDS_DROPPED, reason="database_error")
    recorder.submit(finished_record())
    deadline = time.monotonic() + 5
    while not batches and time.monotonic() < deadline:
        time.sleep(0.01)
    recorder.submit(finished_record())
    recorder.stop()
    assert counter(RECORDS_DROPPED, reason="database_error") - dropped == 1 and len(batches) == 2


@pytest.mark.django_db(transaction=True)
def test_the_writer_thread_writes_a_batch_to_the_database():
    written = counter(RECORDS_WRITTEN)
    recorder = Recorder(capacity=100)
    end = TurnEnd("tool_use", 12, 3, (), client_tool_calls=(ClientToolCall("c1", "transferCall", "{}"),))
    for i in range(5):
        recorder.submit(finished_record(query=f"turn {i}: code 123456", end=end if i == 4 else None))
    recorder.stop()
    call = Call.objects.get(call_id="call-unit")
    assert call.type == Call.Type.WEB and call.turns.count() == 5 and counter(RECORDS_WRITTEN) - written == 5
    assert call.outcome == Call.Outcome.HANDED_OVER and call.handoff_reason == "transferCall"
    assert list(call.turns.values_list("caller_text", flat=True)) == [f"turn {i}: code ******" for i in range(5)]
    assert set(call.turns.values_list("agent_text", flat=True)) == {"Hi there."}


def test_authentication_without_a_secret_is_refused_unless_auth_is_disabled():
    refusal = webhooks.authenticate({"X-Vapi-Secret": "anything"}, b"{}", "", auth_disabled=False)
    assert refusal.status == 403 and refusal.code == "webhook_not_configured"
    assert webhooks.authenticate({}, b"{}", "", auth_disabled=True) is None
    # With a secret set, FINTALK_AUTH=disabled opens nothing here.
    assert webhooks.authenticate({}, b"{}", SECRET, auth_disabled=True).code == "missing_signature"


def test_hmac_timestamps_in_milliseconds_and_the_sha256_prefix():
    body, now = b'{"message": {"type": "hang"}}', time.time()
    stamp = str(int(now * 1000))
    signature = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {"x-timestamp": stamp, "x-signature": "sha256=" + signature}
    assert webhooks.authenticate(headers, body, SECRET, False, now=now) is None
    assert webhooks.authenticate(headers, body, SECRET, False, now=now + 301).code == "stale_timestamp"
    assert webhooks.authenticate({**headers, "x-timestamp": "soon"}, body, SECRET, False).code == "invalid_signature"


def test_the_signal_goes_out_after_authentication_and_parsing(db, settings):
    settings.FINTALK_VAPI_WEBHOOK_SECRET = SECRET
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    vapi_event.connect(receiver)
    try:
        http = Client()
        message = {"type": "status-update", "status": "ended", "endedReason": "voicemail",
                   "call": {"id": "call-signal", "type": "outboundPhoneCall"}}
        refused = http.post("/api/vapi/events", {"message": message}, content_type="application/json")
        assert refused.status_code == 401 and received == []
        reply = http.post("/api/vapi/events", {"message": message}, content_type="application/json",
                          headers={"X-Vapi-Secret": SECRET})
        assert reply.status_code == 200
    finally:
        vapi_event.disconnect(receiver)
    assert len(received) == 1
    assert {key: received[0][key] for key in ("event_type", "message", "call_id")} == {
        "event_type": "status-update", "message": message, "call_id": "call-signal"}
    assert Call.objects.get(call_id="call-signal").outcome == Call.Outcome.ABANDONED


def _call(call_id: str, age_days: float) -> Call:
    call = Call.objects.create(call_id=call_id, started_at=timezone.now() - timedelta(days=age_days))
    for _ in range(3):
        Turn.objects.create(call=call, started_at=call.started_at, caller_text="hi")
    return call


def test_purge_calls_removes_only_expired_calls_in_batches_idempotently_and_audited(db, settings, capsys):
    settings.FINTALK_CALL_RETENTION_DAYS = 90
    for i in range(5):
        _call(f"old-{i}", 91 + i)
    kept = [_call("recent", 89), _call("today", 0)]
    call_command("purge_calls", "--dry-run")
    assert Call.objects.count() == 7 and "would delete 5 calls and 15 turns" in capsys.readouterr().out
    call_command("purge_calls", "--batch-size", "2")
    assert "deleted 5 calls and 15 turns older than 90 days" in capsys.readouterr().out
    assert sorted(Call.objects.values_list("call_id", flat=True)) == sorted(call.call_id for call in kept)
    assert Turn.objects.count() == 6
    event = AuditEvent.objects.get(action="calls_purge")
    assert event.actor == "purge_calls" and event.outcome == "deleted 5 calls, 15 turns"
    call_command("purge_calls")  # nothing left to do: no deletion, no second audit event
    assert Call.objects.count() == 2 and AuditEvent.objects.filter(action="calls_purge").count() == 1
    call_command("purge_calls", "--days", "30")
    assert list(Call.objects.values_list("call_id", flat=True)) == ["today"]


def test_the_records_setting_turns_recording_off(db, settings):
    settings.FINTALK_CALL_RECORDS = False
    record = finished_record(call_id="call-off")
    record.finish()
    assert not Call.objects.filter(call_id="call-off").exists()
    assert json.dumps(record.spoken) == '["Hi ", "there."]'


@pytest.mark.django_db(transaction=True)
def test_a_report_that_overtakes_the_last_turn_does_not_leave_the_call_abandoned():
    from calls.services import apply_vapi_event

    report = {"type": "end-of-call-report", "endedReason": "customer-ended-call", "call": {"id": "call-unit"}}
    assert apply_vapi_event("end-of-call-report", report).outcome == Call.Outcome.ABANDONED  # no turn yet
    recorder = Recorder(capacity=10)
    recorder.submit(finished_record())
    recorder.stop()
    call = Call.objects.get(call_id="call-unit")
    assert call.outcome == Call.Outcome.RESOLVED and call.ended_reason == "customer-ended-call"


def conversation_record(query: str, end: TurnEnd) -> RequestRecord:
    """A turn of a client's conversation: a conversation id (here the playground's), no Vapi call."""
    record = RequestRecord(RequestFactory().post("/playground/chat/completions"))
    record.endpoint, record.status, record.model = "chat-completions", 200, "fintalk-demo"
    record.requested({"metadata": {"conversation_id": "c0ffee00c0ffee00"}})
    record.turn_started(TurnInput(query=query, call_id="playground-7-c0ffee00c0ffee00"))
    record.said("OK.")
    record.turn_ended(end)
    record.duration = record.elapsed()
    return record


@pytest.mark.django_db(transaction=True)
def test_a_conversation_without_a_vapi_call_is_one_call_that_ends_with_its_latest_turn():
    """Each turn written in its own batch (as the playground's turns are): the later ones update the
    call (it used to keep its first turn's outcome, level and end)."""
    for query, end in (("hello", TurnEnd("end_turn", 5, 2, ())),
                       ("my code is 123456", TurnEnd("end_turn", 5, 2, (), verification_level=1)),
                       ("a person please", TurnEnd("end_turn", 5, 2, (), handoff_reason="wants a person",
                                                   client_tool_calls=(ClientToolCall("c1", "transferCall", "{}"),)))):
        recorder = Recorder(capacity=10)
        recorder.submit(conversation_record(query, end))
        recorder.stop()
        first_end = first_end if query != "hello" else Call.objects.get().ended_at
    call = Call.objects.get()
    assert call.call_id == "playground-7-c0ffee00c0ffee00" and call.turns.count() == 3
    assert call.outcome == Call.Outcome.HANDED_OVER and call.verification_level == 1
    last = call.turns.order_by("-started_at").first()
    assert call.ended_at == last.started_at + timedelta(milliseconds=last.duration_ms) and call.ended_at > first_end
    assert call.duration_seconds == round((call.ended_at - call.started_at).total_seconds(), 3)


@pytest.mark.django_db(transaction=True)
def test_a_record_the_database_refuses_is_dropped_alone_and_logged_with_its_call_id(caplog):
    from calls.services import record_turns

    def refuses_one(rows):  # a database that cannot keep one record: the batch fails, that record alone too
        if any(row.call_key == "call-refused" for row in rows):
            raise ValueError("cannot store this record")
        record_turns(rows)

    recorder = Recorder(capacity=10, write=refuses_one, linger=0.5)
    dropped, written = counter(RECORDS_DROPPED, reason="database_error"), counter(RECORDS_WRITTEN)
    for call_id in ("call-kept-1", "call-refused", "call-kept-2"):
        recorder.submit(finished_record(call_id=call_id))
    recorder.stop()
    assert sorted(Call.objects.values_list("call_id", flat=True)) == ["call-kept-1", "call-kept-2"]
    assert counter(RECORDS_DROPPED, reason="database_error") - dropped == 1
    assert counter(RECORDS_WRITTEN) - written == 2
    [line] = [record for record in caplog.records if record.getMessage().startswith("call record")]
    assert line.call_id == "call-refused" and line.error == "ValueError"
