"""The demo model's rules for level 2 (bank.actions.step_up): changing the address, the email or the
registered phone, a replacement card to another address, and the second proof they need (a code from
the authenticator app, or an approval in the bank's app). `demo.rules` asks these first; they read
the caller's words and what the agent said last (by the actions' declarations), like the rest."""
import re

ASK_NEW_ADDRESS = "What's the new address: the street, the city and the ZIP code?"
ASK_EMAIL = "What's the new email address?"
ASK_NUMBER = "What's the new phone number, with its country code?"
QUESTIONS = (ASK_NEW_ADDRESS, ASK_EMAIL, ASK_NUMBER)

_ADDRESS = re.compile(r"(\d+ [A-Za-z0-9 .'#-]+?),\s*([A-Za-z][A-Za-z .'-]*?),?\s+(\d{5})\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_NUMBER = re.compile(r"\+?\d[\d\s().-]{8,}\d")
_APP = re.compile(r"\b(app|approv\w*|push|notification)\b")
_DONE = re.compile(r"\b(approved|done|did it|i have|yes|ok(ay)?)\b")

# Level-2 intents, recognised before the others (a replacement to a full address before a replacement).
INTENTS = (
    ("order_replacement_card_to_new_address",
     re.compile(r"(?=.*\b(replacement|replace|new card)\b)(?=.*\d+ [a-z0-9 .'#-]+,.*\d{5})")),
    ("change_postal_address", re.compile(r"\b(change|update|new|moved)\b.*\baddress\b|\bi('ve| have)? moved\b")),
    ("change_email", re.compile(r"\b(change|update|new)\b.*\be-?mail\b")),
    ("start_phone_change", re.compile(r"\b(change|update|new)\b.*\b(phone|mobile|cell)( number)?\b")),
)
STEPS = {intent for intent, _ in INTENTS}
# The outcomes after which a held-up request goes on: the call reached level 2. (Level 1 from an authenticator
# code says what a text code's level 1 says, and goes on as that does: demo.rules.)
RAISED = (("verify_authenticator_code", "stepped_up"),
          ("verify_authenticator_code", "already_stepped_up"), ("check_app_approval", "approved"),
          ("check_app_approval", "already_stepped_up"), ("request_app_approval", "already_stepped_up"))
# What the agent said last that asks for a second proof (or another way in, when no text can be sent).
_ASKED_PROOF = ((None, "needs_second_factor"), ("verify_authenticator_code", "wrong"),
                ("verify_authenticator_code", "replayed"), ("verify_authenticator_code", "invalid"),
                ("send_verification_code", "sim_swapped"), ("request_app_approval", "send_failed"),
                ("check_app_approval", "expired"), ("check_app_approval", "no_request"))


def _address(text: str) -> dict | None:
    match = _ADDRESS.search(text)
    return dict(zip(("address_line", "city", "postal_code"), match.groups())) if match else None


def step(intent: str, details: str):
    """The call for a level-2 intent, or the question for what is missing."""
    from demo.rules import ASK_CARD

    if intent == "change_email":
        found = _EMAIL.search(details)
        return (intent, {"email": found.group(0)}) if found else ASK_EMAIL
    if intent == "start_phone_change":
        found = _NUMBER.search(details)
        return (intent, {"new_number": found.group(0).strip()}) if found else ASK_NUMBER
    address = _address(details)
    if address is None:
        return ASK_NEW_ADDRESS
    if intent == "change_postal_address":
        return intent, address
    card = re.search(r"\b(?:card|ending in|ends in)\D{0,12}(\d{4})\b", details)
    return (intent, {"card_last4": card.group(1), **address}) if card else ASK_CARD


def answer(user: str, digits: str | None, said_before: dict):
    """A caller's answer to what level 2 asked: the new phone's code, an authenticator code, the app."""
    if digits and any(key in said_before for key in (("start_phone_change", "code_sent"),
                                                     ("confirm_phone_change", "wrong_code"))):
        return "confirm_phone_change", {"code": digits}
    asked = any(key in said_before for key in _ASKED_PROOF)
    if digits and (asked or "authenticator" in user):
        return "verify_authenticator_code", {"code": digits}
    if asked and _APP.search(user):
        return "request_app_approval", {}
    if ("check_app_approval", "waiting") in said_before and _DONE.search(user):
        return "check_app_approval", {}
    return None


def after_tool(outcomes: dict, result: str, pending):
    """What follows a level-2 tool's result: wait for the app's answer once the request is shown, or
    go on with the request a second proof held up (`pending`: its step, or None), saying the result first."""
    if ("request_app_approval", "sent") in outcomes:
        return "check_app_approval", {}, result
    if any(key in outcomes for key in RAISED) and pending is not None:
        return (*pending, result) if not isinstance(pending, str) else f"{result} {pending}"
    return None
