"""Handing the caller to a person: recorded by the bank, then Vapi's transferCall where the call has it."""
from django.conf import settings

from bank import services
from bank.actions.declare import Outcome, action, result


@action(level=None, audit="handoff", hands_over=True, outcomes={
    "transferring": Outcome("I'm putting you through to a person now."),
    "contact": Outcome("To speak with a person, please {contact}."),
})
def transfer_to_human(session, reason: str):
    """Hand the caller to a person: when they ask for one, when verification fails, or when you can't help.
    If it says you are putting them through and you have the transferCall tool, call transferCall next.

    reason: a few words for the person taking over, e.g. "caller asked for a person" or "verification failed".
    """
    reason = services.handoff_record(session=session, reason=(reason or "caller asked for a person").strip()[:200])
    if session.can_transfer:  # the model (and the demo) then calls transferCall
        return result("transferring", reason=reason)
    return result("contact", contact=settings.FINTALK_HUMAN_CONTACT, reason=reason)


def handoff_category(reason: str) -> str:
    """A handoff's reason as a short category (the metric's label; the record keeps the words)."""
    words = reason.lower()
    if "verif" in words:
        return "verification_failed"
    if any(word in words for word in ("ask", "person", "human", "transfer", "agent", "someone")):
        return "caller_asked"
    return "cannot_help"
