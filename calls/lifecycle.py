"""A call's lifecycle as Vapi reports it, kept on the call (CallEvent rows and a few Call fields) for
the console's call page: status changes, the assistant chosen, interruptions with the words the
caller heard, hangs (the assistant went silent: a latency alert), the transfer and its summary.

- `status-update` and `end-of-call-report` also complete the call's record (calls/services.py).
- `user-interrupted`: the caller spoke over the assistant. What they heard of its answer is the
  last assistant message Vapi reports (the message's `artifact.messages`, else the last
  conversation-update kept on the call): Vapi's transcript of what was spoken, not what was sent.
- `speech-update`: who started or stopped speaking, per turn.
- `conversation-update`: the conversation so far replaces the call's `conversation` (masked); it is
  not an event, since each update repeats all the earlier ones.
- `hang`: counted in `fintalk_vapi_hangs_total` and logged as a warning.
Every text is masked (calls/masking.py) before it is stored.
"""
import logging
from datetime import datetime, timezone

from django.conf import settings
from django.db import transaction
from prometheus_client import Counter

from calls import assistant, messages, services
from calls.masking import mask_transcript
from calls.models import Call, CallEvent

logger = logging.getLogger("fintalk.calls")

HANGS = Counter("fintalk_vapi_hangs", "Vapi's hang messages: the assistant was silent too long.")
ASSISTANT_ROLES = ("assistant", "bot")
CONVERSATION_LIMIT = 200  # messages kept from a conversation-update (the last ones)


def _at(message: dict) -> datetime:
    return services.parse_time(message.get("timestamp")) or datetime.now(timezone.utc)


def _event(call: Call, message: dict, kind: str, detail: str = "", **data) -> CallEvent:
    return CallEvent.objects.create(call=call, at=_at(message), kind=kind, detail=detail[:2000], data=data)


def _conversation(message: dict) -> list[dict]:
    return [{"role": item["role"], "text": mask_transcript(item["text"])[:2000]}
            for item in messages.spoken_messages(message)[-CONVERSATION_LIMIT:]]


def _heard(message: dict, call: Call) -> str:
    """The last thing the assistant said, as Vapi transcribed it (masked)."""
    for source in (_conversation(message), call.conversation or []):
        for item in reversed(source):
            if item.get("role") in ASSISTANT_ROLES:
                return item.get("text", "")
    return ""


def record(event_type: str, message: dict) -> bool:
    """Keep what a notification says on its call; False when it names no call or is not kept."""
    if event_type in ("status-update", "end-of-call-report"):
        call = services.apply_vapi_event(event_type, message)
        if call is not None and event_type == "status-update":
            status = message.get("status") if isinstance(message.get("status"), str) else "unknown"
            reason = message.get("endedReason") if isinstance(message.get("endedReason"), str) else ""
            _event(call, message, CallEvent.Kind.STATUS, f"{status} ({reason})" if reason else status, status=status)
        return call is not None
    if event_type not in ("hang", "user-interrupted", "speech-update", "conversation-update"):
        return False
    with transaction.atomic():
        call = services.call_for(message, lock=True)
        if call is None:
            return False
        if event_type == "conversation-update":
            Call.objects.filter(pk=call.pk).update(conversation=_conversation(message))
        elif event_type == "user-interrupted":
            _event(call, message, CallEvent.Kind.INTERRUPTED, _heard(message, call))
        elif event_type == "speech-update":
            role, status = str(message.get("role", ""))[:20], str(message.get("status", ""))[:20]
            turn = message.get("turn") if isinstance(message.get("turn"), (int, float)) else None
            _event(call, message, CallEvent.Kind.SPEECH, f"{role} {status}", role=role, status=status, turn=turn)
        else:
            HANGS.inc()
            logger.warning("vapi hang: the assistant was silent too long", extra={"call_id": call.call_id})
            _event(call, message, CallEvent.Kind.HANG, "The assistant was silent too long.")
    return True


@transaction.atomic  # one commit: the call (created if new) and its event
def record_answer(event_type: str, message: dict, answer: dict) -> None:
    """Keep what the bank answered to an assistant-request or a transfer-destination-request."""
    call = services.call_for(message)
    if call is None:
        return
    if event_type == "assistant-request":
        _event(call, message, CallEvent.Kind.ASSISTANT, assistant.answer_kind(answer))
        return
    if "error" in answer:
        _event(call, message, CallEvent.Kind.TRANSFER_REFUSED, answer["error"])
        return
    destination = answer["destination"]
    teams = {number: team for team, number in settings.FINTALK_TRANSFER_NUMBERS.items()}
    team = teams.get(destination["number"], "other")
    summary = destination.get("transferPlan", {}).get("message", "")
    Call.objects.filter(pk=call.pk).update(transfer_destination=team, transfer_summary=summary)
    _event(call, message, CallEvent.Kind.TRANSFER, f"to the {team} team: {summary}", team=team)


def lifecycle(call: Call, *, with_speech: bool = False) -> list[CallEvent]:
    """The call's events for its page (speech-updates only when asked: there are many)."""
    events = call.events.all()
    return list(events if with_speech else events.exclude(kind=CallEvent.Kind.SPEECH))
