"""The agent's instructions: the bank's prompt template, rendered for who is calling.

The template (`agent/system_prompt.txt`, or the file FINTALK_SYSTEM_PROMPT_FILE names) is plain
text with Django template tags, so a bank edits wording and sections without touching code. It
is compiled once per process; a rendering is kept per kind of caller (a few dozen at most), so
a turn pays a dictionary lookup, not a template render.
"""
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.template import Context, Engine

from bank.speech import money, weekday

# Sent as the user's turn when a voice platform calls with only a system message (no first message).
CALL_OPENING_QUERY = "(The call has just connected. Greet the caller briefly and ask how you can help.)"

# Stands before a history that opens with the assistant's greeting (Bedrock wants a user turn first).
CALL_CONNECTED = "(The call connected.)"


@dataclass(frozen=True)
class Caller:
    """What the instructions may say about the caller: never a phone or a card number."""

    known: bool = False
    first_name: str = ""
    cards: int = 0
    blocked: int = 0
    customer_id: int | None = field(default=None, compare=False)  # for call records; never in the prompt
    phone_given: bool = False
    unattested: bool = False  # the carrier did not fully attest the caller ID (bank.line): nobody is named


@dataclass(frozen=True)
class OutboundBrief:
    """Why the bank rang this customer, as the instructions say it: amounts as "$899.00", dates as
    words, a card as its network and last four digits. Never a full card number."""

    purpose: str  # "fraud_alert" or "payment_reminder"
    first_name: str
    card: str = ""  # "Visa card ending in 4242"
    merchant: str = ""
    amount: str = ""
    date: str = ""
    amount_due: str = ""
    minimum_due: str = ""
    due_date: str = ""


def outbound_brief(context) -> OutboundBrief | None:
    """The brief for an outbound call's context (outbound.selectors.OutboundContext), or None."""
    if context is None:
        return None
    def spoken(amount) -> str:
        return money(amount, context.currency or "USD") if amount is not None else ""

    def spoken_day(value) -> str:
        return weekday(value) if value else ""

    card = f"{context.card_network} card ending in {context.card_last4}" if context.card_last4 else "card"
    return OutboundBrief(context.purpose, context.customer_first_name, card, context.merchant, spoken(context.amount),
                         spoken_day(context.transaction_date), spoken(context.amount_due), spoken(context.minimum_due),
                         spoken_day(context.due_date))


@lru_cache(maxsize=1)
def _template():
    path = Path(settings.FINTALK_SYSTEM_PROMPT_FILE)
    return Engine(autoescape=False).from_string(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=256)
def system_prompt(caller: Caller = Caller(), outbound: OutboundBrief | None = None) -> str:
    text = _template().render(Context({"caller": caller, "outbound": outbound}))
    return "\n".join(line.rstrip() for line in text.strip().splitlines())
