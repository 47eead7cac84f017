"""Vapi's reports about outbound calls, received from the calls app's signal (POST /api/vapi/events,
authenticated and parsed there): a call's end decides the request's next step (outbound.services)."""
import logging

from django.dispatch import receiver

from calls.signals import vapi_event
from outbound import services

logger = logging.getLogger("fintalk.outbound")


def _ended_reason(message: dict) -> str | None:
    """The call's endedReason when this report says the call is over, else None."""
    kind = message.get("type")
    if kind == "status-update" and message.get("status") != "ended":
        return None
    if kind not in ("status-update", "end-of-call-report"):
        return None
    call = message.get("call") if isinstance(message.get("call"), dict) else {}
    reason = message.get("endedReason") or call.get("endedReason") or "unknown"
    return reason if isinstance(reason, str) else "unknown"


@receiver(vapi_event, dispatch_uid="outbound.call_ended")
def on_vapi_event(sender, *, event_type: str, message: dict, call_id: str | None, **kwargs):
    if not call_id or not isinstance(message, dict):
        return
    reason = _ended_reason({**message, "type": event_type})
    if reason is None:
        return
    services.call_ended(vapi_call_id=call_id[:64], ended_reason=reason)
