"""Live call control: a supervisor's say, add-message, transfer or end-call, posted to the call's
`monitor.controlUrl` (Vapi's live-control endpoint, given in the call's server messages).

Each use is checked, sent and audited here, whoever asks (the console's view only checks the
permission, `calls.control_call`):
- the call must be live (not reported ended) and have a control URL on a host named in
  FINTALK_VAPI_CONTROL_HOSTS, so a forged or stale URL cannot make the bank post elsewhere;
- the message is Vapi's control shape (`{"type": "say", "content", "endCallAfterSpoken"}`,
  `{"type": "add-message", "message": {"role": "system", ...}, "triggerResponseEnabled"}`,
  `{"type": "transfer", "destination": {...}}`, `{"type": "end-call"}`); a transfer goes to one of
  the bank's teams (FINTALK_TRANSFER_NUMBERS), never to a typed number;
- one audit event (action `call_control`, the staff user as actor, the call id, the type and the
  outcome) and one CallEvent per use, sent or not. What was said is kept masked on the CallEvent.
httpx with short timeouts: a supervisor waits for the answer.
"""
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from bank.models import AuditEvent
from calls.masking import mask_transcript
from calls.models import Call, CallEvent

logger = logging.getLogger("fintalk.calls")

ACTIONS = ("say", "add-message", "transfer", "end-call")
TIMEOUT = httpx.Timeout(5.0, connect=2.0)


@dataclass(frozen=True)
class ControlResult:
    sent: bool
    outcome: str  # "sent", or why not: no_control_url, host_not_allowed, call_ended, bad_request, vapi_<status>, unreachable
    message: str  # for the supervisor


def host_allowed(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    for allowed in settings.FINTALK_VAPI_CONTROL_HOSTS:
        allowed = allowed.lower()
        if host == allowed or (allowed.startswith("*.") and host.endswith(allowed[1:])):
            return True
    return False


def control_message(action: str, content: str = "", team: str = "") -> dict | None:
    """Vapi's control message for one action, or None when the input cannot make one."""
    content = content.strip()
    if action == "say" and content:
        return {"type": "say", "content": content, "endCallAfterSpoken": False}
    if action == "add-message" and content:
        return {"type": "add-message", "message": {"role": "system", "content": content},
                "triggerResponseEnabled": True}
    if action == "transfer" and team in settings.FINTALK_TRANSFER_NUMBERS:
        return {"type": "transfer", "destination": {"type": "number", "number": settings.FINTALK_TRANSFER_NUMBERS[team]},
                "content": content or "I'm transferring you to a colleague now."}
    if action == "end-call":
        return {"type": "end-call"}
    return None


def _refusal(call: Call, message: dict | None) -> ControlResult | None:
    if message is None:
        return ControlResult(False, "bad_request", "Say and add-message need text; a transfer needs one of the teams.")
    if call.ended_at:
        return ControlResult(False, "call_ended", "The call has ended.")
    if not call.control_url:
        return ControlResult(False, "no_control_url", "Vapi gave this call no control URL (monitorPlan.controlEnabled).")
    if not host_allowed(call.control_url):
        return ControlResult(False, "host_not_allowed", "The call's control URL is not on a host in FINTALK_VAPI_CONTROL_HOSTS.")
    return None


def _post(url: str, message: dict) -> ControlResult:
    try:
        response = httpx.post(url, json=message, timeout=TIMEOUT)
    except httpx.HTTPError as error:
        logger.warning("live control not delivered", extra={"error": type(error).__name__})
        return ControlResult(False, "unreachable", "Vapi could not be reached; try again.")
    if response.status_code >= 300:
        return ControlResult(False, f"vapi_{response.status_code}", f"Vapi answered {response.status_code}.")
    return ControlResult(True, "sent", "Sent.")


def send_control(call: Call, *, action: str, actor: str, content: str = "", team: str = "") -> ControlResult:
    """Send one control action to a live call, and audit it whatever happens."""
    message = control_message(action, content, team) if action in ACTIONS else None
    result = _refusal(call, message) or _post(call.control_url, message)
    AuditEvent.objects.create(action="call_control", masked_phone=call.masked_phone[:20], call_id=call.call_id,
                              outcome=result.outcome[:50], actor=actor[:150], detail=f"{action}{' to ' + team if team else ''}"[:200])
    CallEvent.objects.create(call=call, at=datetime.now(timezone.utc), kind=CallEvent.Kind.CONTROL,
                             detail=mask_transcript(f"{action} by {actor}: {content}".strip(": ")),
                             data={"action": action, "outcome": result.outcome, "actor": actor})
    logger.info("live control", extra={"call_id": call.call_id, "action": action, "outcome": result.outcome,
                                       "actor": actor})
    return result
