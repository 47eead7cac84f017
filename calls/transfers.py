"""Vapi's `transfer-destination-request`: where a call goes when the assistant hands it to a person,
and what that person hears first (a warm transfer).

The bank decides from the call's state, never from the model's words:
- the intent, from what the bank did on this call (its audit events: a card blocked, a dispute
  opened, a payment, a replacement), the handoff's reason, an outbound fraud alert, and as a last
  hint the caller's own words in the last conversation-update;
- the verification level: the live one (the shared cache, bank.verification) or the highest the
  call's record reached.
Fraud goes to the fraud team at any level (protecting an account needs no proof). Card matters go
to the cards team only once the caller is verified (the cards team acts on the account at once);
before that, and for anything else, to the general team, which verifies first.

The summary says who (first name or "an unidentified caller"), how verified, why and what was done,
masked like every call record: no full phone, card or account number, no code. A call that already
ended, or a team with no number configured, is refused with `{"error": ...}`, which Vapi speaks.
"""
import re

from django.conf import settings
from django.db import Error as DatabaseError

from bank.models import AuditEvent, Customer
from bank.refusals import Denied
from bank.verification import CallSession, current_level
from calls.masking import mask_transcript
from calls.messages import call_id as message_call_id, caller_number, vapi_call
from calls.models import Call
from core.degraded import degraded

FRAUD_WORDS = re.compile(r"\b(fraud|stolen|scam|lost|not me|wasn't me|didn't make|don't recognise|don't recognize)\b",
                         re.IGNORECASE)
CARD_WORDS = re.compile(r"\b(card|payment|replacement|statement)\b", re.IGNORECASE)
FRAUD_ACTIONS = {"card_block", "dispute_open"}
CARD_ACTIONS = {"card_replacement", "card_payment"}
DONE = {"card_block": "card ending {last4} blocked", "dispute_open": "dispute opened ({detail})",
        "card_replacement": "replacement card ordered ({detail})", "card_payment": "card payment made ({detail})",
        "transaction_genuine": "transaction confirmed as genuine"}
TEAM_MESSAGES = {"fraud": "I'm connecting you with our fraud team now.",
                 "cards": "I'm connecting you with our cards team now.",
                 "general": "I'm connecting you with a member of our team now."}
ENDED_REFUSAL = "I'm sorry, this call can no longer be transferred."
NO_TEAM_REFUSAL = "I'm sorry, nobody can take your call right now. Please {contact}."


def _level(call: Call | None, phone: str | None, call_id: str | None) -> int:
    recorded = call.verification_level if call else 0
    try:
        live = current_level(CallSession(phone, call_id)) if phone else 0
    except Denied:  # the shared cache is down: the record's level is what the bank knows
        live = 0
    return max(recorded, live)


def _intent(events: list[AuditEvent], call: Call | None, message: dict) -> str:
    actions = {event.action for event in events if event.outcome not in ("refused", "denied")}
    reasons = " ".join(event.detail for event in events if event.action == "handoff")
    if actions & FRAUD_ACTIONS or FRAUD_WORDS.search(reasons) or _is_fraud_alert(message):
        return "fraud"
    if actions & CARD_ACTIONS or CARD_WORDS.search(reasons):
        return "cards"
    said = " ".join(item.get("text", "") for item in (call.conversation if call else []) if item.get("role") == "user")
    if FRAUD_WORDS.search(said):
        return "fraud"
    return "cards" if CARD_WORDS.search(said) else "general"


def _is_fraud_alert(message: dict) -> bool:
    call = vapi_call(message)
    overrides = call.get("assistantOverrides") if isinstance(call.get("assistantOverrides"), dict) else {}
    metadata = overrides.get("metadata") if isinstance(overrides.get("metadata"), dict) else {}
    return call.get("type") == "outboundPhoneCall" and metadata.get("purpose") == "fraud_alert"


def summary(*, first_name: str, level: int, intent: str, events: list[AuditEvent]) -> str:
    who = first_name or "an unidentified caller"
    verified = "verified (one-time code or security questions)" if level >= 1 else "not verified (caller ID only)"
    done = []
    for event in events:
        text = DONE.get(event.action)
        if text and event.outcome not in ("refused", "denied"):
            done.append(text.format(last4=event.card_last4 or "unknown", detail=event.detail or "no reference"))
    reason = next((event.detail for event in reversed(events) if event.action == "handoff" and event.detail), "")
    parts = [f"Transferring {who}, {verified}.", f"Reason: {reason or intent}."]
    parts.append("Done on this call: " + ("; ".join(dict.fromkeys(done)) if done else "nothing yet") + ".")
    return mask_transcript(" ".join(parts))


def decide(message: dict) -> dict:
    """The team, the summary and the level for this call (or a refusal): what the answer is built from."""
    call_id, phone = message_call_id(message), caller_number(message)
    call = Call.objects.filter(call_id=call_id).first() if call_id else None
    if (call and call.ended_at) or vapi_call(message).get("status") == "ended":
        return {"refusal": ENDED_REFUSAL}
    events = list(AuditEvent.objects.filter(call_id=call_id).order_by("created_at", "id")) if call_id else []
    level = _level(call, phone, call_id)
    intent = _intent(events, call, message)
    team = "cards" if intent == "cards" and level >= 1 else intent if intent == "fraud" else "general"
    number = settings.FINTALK_TRANSFER_NUMBERS.get(team)
    if not number:
        return {"refusal": NO_TEAM_REFUSAL.format(contact=settings.FINTALK_HUMAN_CONTACT), "team": team}
    name = Customer.objects.filter(phone=phone).values_list("name", flat=True).first() if phone else None
    first_name = name.split()[0] if name and name.split() else ""
    return {"team": team, "number": number, "level": level, "intent": intent,
            "summary": summary(first_name=first_name, level=level, intent=intent, events=events)}


def transfer_answer(message: dict, *, base_url: str = "") -> dict:
    """The answer in Vapi's shape (ServerMessageResponseTransferDestinationRequest). With the
    database down the call still reaches a person: the general team, told that nothing is known."""
    try:
        decision = decide(message)
    except DatabaseError as exc:
        degraded("database", "transfer_to_general", exc)
        number = settings.FINTALK_TRANSFER_NUMBERS.get("general")
        decision = {"team": "general", "number": number, "summary": "Transferring a caller; the bank's records "
                    "were unavailable, so nothing about the call is known."} if number else {"refusal": NO_TEAM_REFUSAL.format(
                        contact=settings.FINTALK_HUMAN_CONTACT)}
    if "refusal" in decision:
        return {"error": decision["refusal"]}
    return {"destination": {
        "type": "number", "number": decision["number"], "message": TEAM_MESSAGES[decision["team"]],
        "transferPlan": {"mode": "warm-transfer-say-message", "message": decision["summary"]},
    }}
