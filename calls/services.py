"""Writes to the calls' tables: a batch of finished turns (from the recorder's thread) and what
Vapi's server messages say about a call (from the webhook). Rules only; no HTTP here.

Two workers may record turns of the same Vapi call at once, and Vapi's report may arrive before a
call's last turn is written: every write is an insert that ignores an existing row plus updates
that combine with what is there (highest verification level, earliest start, a handover kept).

A conversation without a Vapi call (the console's playground, a client sending
`metadata.conversation_id`) is one call too: its turns combine the same way, and since nobody
reports its end, it ends (as far as anyone knows) with its latest turn.

Why one module of ~300 lines: every write of the call record (turns, Vapi's reports, retention)
in one place, so that their combining rules cannot drift apart.
"""
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

from django.db import connection, transaction

from core.masking import mask_phone
from bank.models import Customer
from calls import messages
from calls.masking import mask_json, mask_transcript, storable
from calls.metrics import CALLS_ENDED
from calls.models import Call, Turn

logger = logging.getLogger("fintalk.calls")

VAPI_CALL_TYPES = {"inboundPhoneCall": Call.Type.INBOUND, "outboundPhoneCall": Call.Type.OUTBOUND,
                   "webCall": Call.Type.WEB}
HANDOFF_TOOLS = frozenset({"transferCall"})  # Vapi's transfer tool, called by the model as a client tool
# Vapi endedReasons where nobody (or nothing) was really talked to.
ABANDONED_REASONS = frozenset({
    "customer-did-not-answer", "customer-busy", "voicemail", "silence-timed-out", "manually-canceled",
    "customer-did-not-give-microphone-permission", "assistant-did-not-receive-customer-audio",
})


def call_type(vapi_call: dict | None, phone: str | None) -> str:
    if vapi_call is None:
        return Call.Type.API
    kind = vapi_call.get("type")
    if kind in VAPI_CALL_TYPES:
        return VAPI_CALL_TYPES[kind]
    return Call.Type.INBOUND if phone else Call.Type.WEB


@dataclass
class TurnRow:
    """One finished request's turn, masked, with what its Call needs."""

    call_key: str
    type: str
    masked_phone: str
    phone: str | None  # kept in memory only, to find the customer; never written
    customer_id: int | None
    outcome: str
    turn: Turn
    ended: bool = False  # a request without a call id is a whole call
    extra: dict = field(default_factory=dict)
    conversation: bool = False  # a client's conversation (a call id, no Vapi call): ends with its latest turn


def turn_row(record) -> TurnRow:
    """A finished api.observability.RequestRecord as a row to write (masking happens here, off the hot path)."""
    turn_input, end = record.turn_input, record.end
    started = datetime.fromtimestamp(record.started_at, tz=timezone.utc)
    tools = [{"tool": name, "outcome": outcome} for name, outcome in record.tool_calls]
    client_calls = getattr(end, "client_tool_calls", ()) if end else ()
    tools += [{"tool": call.name, "outcome": "called", "client": True, "arguments": mask_json(call.arguments)}
              for call in client_calls]
    # Handed over only when the transfer was offered to Vapi (its transferCall): a caller who asked for a
    # person on a line without it heard a phone number, and the call is not a handover.
    transferred = any(call.name in HANDOFF_TOOLS for call in client_calls)
    handoff = storable((getattr(end, "handoff_reason", None) or "transferCall") if transferred else "")
    verification = int(getattr(end, "verification_level", 0) or 0) if end else 0
    spoken = "".join(record.spoken)
    error = storable(record.error or ("" if record.status < 400 else f"http_{record.status}"))
    outcome = Call.Outcome.HANDED_OVER if handoff else Call.Outcome.FAILED if error else Call.Outcome.RESOLVED
    turn = Turn(
        request_id=record.request_id, started_at=started, endpoint=record.endpoint[:40], status=record.status,
        caller_text=mask_transcript(turn_input.query), agent_text=mask_transcript(spoken), tools=tools,
        model=storable((getattr(end, "model_id", None) if end else None) or record.model or "")[:200],
        tokens_in=record.tokens_in, tokens_out=record.tokens_out,
        cache_read_tokens=int(getattr(end, "cache_read_tokens", 0) or 0),
        cache_write_tokens=int(getattr(end, "cache_write_tokens", 0) or 0),
        cost_usd=getattr(end, "cost_usd", None), ttft_ms=None if record.ttft is None else round(record.ttft * 1000, 2),
        duration_ms=round(record.duration * 1000, 2), verification_level=verification, handoff_reason=handoff[:200],
        error=error[:100],
    )
    vapi_call = record.vapi_call
    key = storable(turn_input.call_id or "") or f"api-{uuid.uuid4().hex}"
    return TurnRow(call_key=key, type=call_type(vapi_call, turn_input.phone), masked_phone=mask_phone(turn_input.phone),
                   phone=turn_input.phone, customer_id=getattr(end, "customer_id", None), outcome=outcome, turn=turn,
                   ended=not turn_input.call_id, conversation=vapi_call is None and bool(turn_input.call_id))


def _customers_by_phone(rows: list[TurnRow]) -> dict[str, int]:
    phones = {row.phone for row in rows if row.phone and not row.customer_id}
    if not phones:
        return {}
    return dict(Customer.objects.filter(phone__in=phones).values_list("phone", "id"))


def record_turns(rows: list[TurnRow]) -> None:
    """Write a batch of turns and create or update their calls, in one transaction: one insert of the
    calls (existing ones ignored), one select of their ids, one UPDATE statement run for every Vapi
    call in the batch (executemany), one insert of the turns."""
    by_call: dict[str, list[TurnRow]] = {}
    for row in rows:
        by_call.setdefault(row.call_key, []).append(row)
    customers = _customers_by_phone(rows)
    summaries = {key: _summary(group, customers) for key, group in by_call.items()}
    with transaction.atomic():
        Call.objects.bulk_create([_new_call(key, summary) for key, summary in summaries.items()], ignore_conflicts=True)
        ids = dict(Call.objects.filter(call_id__in=by_call).values_list("call_id", "id"))
        for key, group in by_call.items():
            for row in group:
                row.turn.call_id = ids[key]
        # A request without a Vapi call made its call just now, complete; a Vapi call may have turns
        # from other workers and Vapi's report already: combine with what is there.
        _update_calls([(ids[key], summary) for key, summary in summaries.items() if not summary.ended])
        _end_conversations([(ids[key], summary) for key, summary in summaries.items() if summary.conversation])
        Turn.objects.bulk_create([row.turn for row in rows])
    for summary in summaries.values():
        if summary.ended:
            CALLS_ENDED.labels(type=summary.type, outcome=summary.outcome).inc()


@dataclass
class _CallSummary:
    """What one batch's turns say about their call."""

    type: str
    masked_phone: str
    customer_id: int | None
    verification_level: int
    started_at: datetime
    outcome: str
    handoff: str
    ended: bool
    ended_at: datetime | None
    duration_seconds: float | None
    conversation: bool = False
    last_turn_end: datetime | None = None


def _summary(group: list[TurnRow], customers: dict[str, int]) -> _CallSummary:
    last = group[-1]
    handoff = next((row.turn.handoff_reason for row in reversed(group) if row.turn.handoff_reason), "")
    start = min(row.turn.started_at for row in group)
    end = last.turn.started_at + timedelta(milliseconds=last.turn.duration_ms) if last.ended else None
    return _CallSummary(
        type=last.type, masked_phone=next((row.masked_phone for row in reversed(group) if row.masked_phone), ""),
        customer_id=next((row.customer_id or customers.get(row.phone) for row in reversed(group)
                          if row.customer_id or customers.get(row.phone)), None),
        verification_level=max(row.turn.verification_level for row in group), started_at=start,
        outcome=Call.Outcome.HANDED_OVER if handoff else last.outcome, handoff=handoff, ended=last.ended,
        ended_at=end, duration_seconds=(end - start).total_seconds() if end else None, conversation=last.conversation,
        last_turn_end=last.turn.started_at + timedelta(milliseconds=last.turn.duration_ms))


def _new_call(key: str, summary: _CallSummary) -> Call:
    return Call(call_id=key, type=summary.type, masked_phone=summary.masked_phone, customer_id=summary.customer_id,
                verification_level=summary.verification_level, started_at=summary.started_at,
                outcome=summary.outcome, handoff_reason=summary.handoff, ended_at=summary.ended_at,
                duration_seconds=summary.duration_seconds)


_ABANDONED_SQL = ", ".join(f"'{reason}'" for reason in sorted(ABANDONED_REASONS))  # constants, no quotes inside
# The highest verification level, the earliest start, the first phone and customer known. The outcome
# is provisional until Vapi reports the end; a handover stays a handover, and one written after the
# report (the report can overtake a call's last turn) still counts. A report that found no turn yet
# said "abandoned" only for that reason: the turns' outcome replaces it. Plain SQL, run with
# executemany: building the same UPDATE through the ORM cost ~6 ms of CPU per call.
_UPDATE_CALL = """UPDATE calls_call SET
    verification_level = CASE WHEN verification_level < %s THEN %s ELSE verification_level END,
    started_at = CASE WHEN started_at > %s THEN %s ELSE started_at END,
    customer_id = COALESCE(customer_id, %s),
    masked_phone = CASE WHEN masked_phone = '' THEN %s ELSE masked_phone END,
    {outcome},
    updated_at = %s
    WHERE id = %s"""
_UPDATE_TURNS_OUTCOME = _UPDATE_CALL.format(outcome=f"""outcome = CASE
        WHEN outcome = 'handed_over' THEN outcome
        WHEN ended_at IS NULL THEN %s
        WHEN outcome = 'abandoned' AND ended_reason NOT IN ({_ABANDONED_SQL}) THEN %s
        ELSE outcome END""")
_UPDATE_HANDOVER = _UPDATE_CALL.format(outcome="outcome = 'handed_over', handoff_reason = %s")


def _update_calls(updates: list[tuple[int, _CallSummary]]) -> None:
    if not updates:
        return
    adapt = connection.ops.adapt_datetimefield_value
    now = adapt(datetime.now(timezone.utc))
    plain, handover = [], []
    for pk, summary in updates:
        start = adapt(summary.started_at)
        common = [summary.verification_level, summary.verification_level, start, start, summary.customer_id,
                  summary.masked_phone]
        if summary.handoff:
            handover.append(common + [summary.handoff, now, pk])
        else:
            plain.append(common + [summary.outcome, summary.outcome, now, pk])
    with connection.cursor() as cursor:
        for sql, params in ((_UPDATE_TURNS_OUTCOME, plain), (_UPDATE_HANDOVER, handover)):
            if params:
                cursor.executemany(sql, params)


def _end_conversations(updates: list[tuple[int, _CallSummary]]) -> None:
    """A client's conversation ends with its latest turn (nobody reports its end): its end, its
    duration, and the outcome of that turn unless it was handed over. Rare (the playground, clients
    with a conversation id), so a read and a write per call, under the batch's transaction."""
    for pk, summary in updates:
        call = Call.objects.select_for_update().only("started_at", "ended_at", "outcome").get(pk=pk)
        end = max(summary.last_turn_end, call.ended_at or summary.last_turn_end)
        outcome = Call.Outcome.HANDED_OVER if call.outcome == Call.Outcome.HANDED_OVER else summary.outcome
        Call.objects.filter(pk=pk).update(ended_at=end, outcome=outcome,
                                          duration_seconds=round((end - call.started_at).total_seconds(), 3))


# --- Vapi's server messages ---------------------------------------------------------------------

def parse_time(value) -> datetime | None:
    """An ISO 8601 string (Vapi's startedAt/endedAt) or epoch milliseconds (its timestamp)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=timezone.utc)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return None


def _number(value) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _decimal(value) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.0001"))
    except InvalidOperation:
        return None


def final_outcome(reason: str, call: Call, turns: int) -> str:
    """The outcome once a call ended: a handover (ours or Vapi's forward), a failure (a pipeline or
    assistant error, or a last turn that failed), abandoned (nobody answered, or no turn at all)."""
    reason = reason.lower()
    if call.outcome == Call.Outcome.HANDED_OVER or "forward" in reason or "transfer" in reason:
        return Call.Outcome.HANDED_OVER
    if "error" in reason or "failed" in reason or call.outcome == Call.Outcome.FAILED and turns:
        return Call.Outcome.FAILED
    if reason in ABANDONED_REASONS or not turns:
        return Call.Outcome.ABANDONED
    return Call.Outcome.RESOLVED


def _text(value, limit: int) -> str:
    return storable(value)[:limit] if isinstance(value, str) else ""


def call_for(message: dict, *, lock: bool = False) -> Call | None:
    """The Call a Vapi message is about, created if no turn came yet (None: the message names no call).
    Its monitor URLs (live control, listen) are kept the first time a message carries them. With
    `lock`, the row is locked for the caller's transaction."""
    call_id = messages.call_id(message)
    if call_id is None:
        return None
    vapi_call, number = messages.vapi_call(message), messages.caller_number(message)
    control_url, listen_url = messages.monitor_urls(message)
    call, _ = Call.objects.get_or_create(call_id=storable(call_id)[:128], defaults={
        "type": call_type(vapi_call, number), "masked_phone": mask_phone(number),
        "control_url": control_url, "listen_url": listen_url,
        "started_at": parse_time(message.get("startedAt")) or parse_time(vapi_call.get("startedAt"))
        or parse_time(vapi_call.get("createdAt")) or parse_time(message.get("timestamp")) or datetime.now(timezone.utc)})
    if lock:
        call = Call.objects.select_for_update().get(pk=call.pk)
    if (control_url and not call.control_url) or (listen_url and not call.listen_url):
        call.control_url, call.listen_url = call.control_url or control_url, call.listen_url or listen_url
        Call.objects.filter(pk=call.pk).update(control_url=call.control_url, listen_url=call.listen_url)
    return call


def apply_vapi_event(event_type: str, message: dict) -> Call | None:
    """What a status-update or end-of-call-report says, onto its Call (created if no turn came yet).
    Other types, and messages without a call id, change nothing."""
    if event_type not in ("status-update", "end-of-call-report"):
        return None
    started = parse_time(message.get("startedAt")) or parse_time(messages.vapi_call(message).get("startedAt"))
    ends = event_type == "end-of-call-report" or message.get("status") == "ended"
    first_end = False
    with transaction.atomic():
        call = call_for(message, lock=True)
        if call is None:
            return None
        vapi_call, number = messages.vapi_call(message), messages.caller_number(message)
        if vapi_call.get("type") in VAPI_CALL_TYPES:
            call.type = VAPI_CALL_TYPES[vapi_call["type"]]
        if number and not call.masked_phone:
            call.masked_phone = mask_phone(number)
        if started and started < call.started_at:
            call.started_at = started
        if event_type == "status-update" and isinstance(message.get("status"), str):
            call.status = message["status"][:20]
        if ends:
            first_end = call.ended_at is None
            _apply_end(call, message, started)
        call.save()
    if first_end:
        CALLS_ENDED.labels(type=call.type, outcome=call.outcome).inc()
    return call


def _apply_end(call: Call, message: dict, started: datetime | None) -> None:
    artifact = message.get("artifact") if isinstance(message.get("artifact"), dict) else {}
    analysis = message.get("analysis") if isinstance(message.get("analysis"), dict) else {}
    reason = _text(message.get("endedReason"), 100)
    ended = parse_time(message.get("endedAt")) or call.ended_at or parse_time(message.get("timestamp")) \
        or datetime.now(timezone.utc)
    call.ended_at = ended
    if reason:
        call.ended_reason = reason
    duration = _number(message.get("durationSeconds"))
    if duration is None and started and parse_time(message.get("endedAt")):
        duration = (ended - started).total_seconds()
    if duration is not None:
        call.duration_seconds = round(max(duration, 0.0), 3)
    cost = _decimal(message.get("cost"))
    if cost is not None:
        call.cost_usd = cost
    summary = _text(analysis.get("summary") or message.get("summary"), 10_000)
    if summary:
        call.summary = mask_transcript(summary)
    recording = artifact.get("recordingUrl") or message.get("recordingUrl")
    if isinstance(recording, str) and recording.startswith(("https://", "http://")):
        call.recording_url = recording[:1000]
    call.outcome = final_outcome(call.ended_reason, call, call.turns.count())
