"""Vapi's `assistant-request`: which assistant takes an inbound call, and the first words the caller hears.

Vapi waits at most 7.5 s for this answer, and the caller hears nothing until it comes, so it costs
two indexed reads (is the number flagged, whose is it) and no model call: the greeting is the
assistant's `firstMessage`, spoken by Vapi's voice (`firstMessageMode: assistant-speaks-first`).

- A number the bank flagged (bank.FlaggedNumber) goes straight to a person: `destination`, the
  fraud team's number, no assistant at all.
- A known caller hears their first name, and nothing else about the account: caller ID can be
  spoofed, so the greeting says only what a wrong number could hear.
- Anyone else (unknown number, withheld, a web call) gets the generic greeting.

The answer names the assistant configured in Vapi (FINTALK_VAPI_INBOUND_ASSISTANT_ID) with
`assistantOverrides`, or, without one, a transient assistant whose model is this server's custom-LLM
endpoint and whose server URL is this endpoint (VAPI_INTEGRATION.md shows both).
"""
from django.conf import settings
from django.db import Error as DatabaseError

from bank.models import Customer, FlaggedNumber
from calls.messages import caller_number
from core.degraded import degraded

FIRST_MESSAGE_MODE = "assistant-speaks-first"
# What the assistant's server URL receives (Vapi sends only the messages listed here).
SERVER_MESSAGES = ["status-update", "hang", "user-interrupted", "speech-update", "conversation-update",
                   "transfer-destination-request", "end-of-call-report"]
FLAGGED_TEAM = "fraud"
FLAGGED_MESSAGE = "Please hold while I connect you with a member of our team."


def greeting(first_name: str = "") -> str:
    """The first message: the caller's first name when the bank knows the number, else nobody's."""
    bank = settings.FINTALK_BANK_NAME
    if first_name:
        return f"Hello {first_name}, thank you for calling {bank}. How can I help you today?"
    return f"Hello, thank you for calling {bank}. How can I help you today?"


def monitor_plan() -> dict:
    """Listen and control URLs on every call (the console's live control and listen link)."""
    return {"listenEnabled": True, "controlEnabled": True}


def transient_assistant(first_message: str, base_url: str) -> dict:
    return {
        "name": "Fintalk",
        "firstMessage": first_message,
        "firstMessageMode": FIRST_MESSAGE_MODE,
        "model": {"provider": "custom-llm", "url": f"{base_url}/api", "model": settings.FINTALK_VAPI_LLM_MODEL,
                  "metadataSendMode": "variable"},
        "server": {"url": f"{base_url}/api/vapi/events"},
        "serverMessages": SERVER_MESSAGES,
        "monitorPlan": monitor_plan(),
    }


def _number_destination(team: str, message: str) -> dict:
    return {"type": "number", "number": settings.FINTALK_TRANSFER_NUMBERS[team], "message": message}


def choose(phone: str | None) -> tuple[str, str]:
    """(kind, first name): kind is "flagged", "known" or "unknown"; the first name only for "known"."""
    if not phone:
        return "unknown", ""
    if FlaggedNumber.objects.filter(phone=phone).exists():
        return "flagged", ""
    name = Customer.objects.filter(phone=phone).values_list("name", flat=True).first()
    return ("known", name.split()[0]) if name and name.split() else ("unknown", "")


def assistant_answer(message: dict, *, base_url: str) -> dict:
    """The answer to one assistant-request, in Vapi's shape (ServerMessageResponseAssistantRequest).
    With the database down every caller gets the generic assistant (a call answered, nobody named)."""
    try:
        kind, first_name = choose(caller_number(message))
    except DatabaseError as exc:
        degraded("database", "generic_assistant", exc)
        kind, first_name = "unknown", ""
    if kind == "flagged" and FLAGGED_TEAM in settings.FINTALK_TRANSFER_NUMBERS:
        return {"destination": _number_destination(FLAGGED_TEAM, FLAGGED_MESSAGE)}
    first_message = greeting(first_name)
    if settings.FINTALK_VAPI_INBOUND_ASSISTANT_ID:
        return {"assistantId": settings.FINTALK_VAPI_INBOUND_ASSISTANT_ID,
                "assistantOverrides": {"firstMessage": first_message, "firstMessageMode": FIRST_MESSAGE_MODE}}
    return {"assistant": transient_assistant(first_message, base_url)}


def answer_kind(answer: dict) -> str:
    """What an answer did, in words for the call's lifecycle (never the name or the number)."""
    if "destination" in answer:
        return "flagged number: straight to a person"
    overrides = answer.get("assistantOverrides") or answer.get("assistant") or {}
    if overrides.get("firstMessage") != greeting():
        return "known caller: greeted by first name"
    return "generic assistant"
