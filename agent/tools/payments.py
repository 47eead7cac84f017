"""Paying a card bill (level 1: read back, then one payment per yes) and handing the caller to a person."""
from asgiref.sync import sync_to_async
from django.conf import settings

from agent.context import current_turn_context
from agent.tools.base import bank_tool, money, record, session, verified_now
from bank import services
from bank.services import PaymentOutcome
from bank.verification import VERIFIED

# Vapi's tool that transfers the call (an assistant's client tool, streamed back to Vapi).
TRANSFER_CALL = "transferCall"

_PAYMENT_REFUSALS = {
    PaymentOutcome.CARD_NOT_FOUND: "I couldn't find that card. Which card would you like to pay, by its last four digits?",
    PaymentOutcome.ACCOUNT_NOT_FOUND: "I couldn't find that account of yours to pay from. Which account should I use?",
    PaymentOutcome.INVALID_AMOUNT: ("I need an amount above zero: the minimum payment, the statement balance, "
                                    "or a sum in dollars and cents."),
    PaymentOutcome.NOTHING_DUE: "There's nothing to pay on that card right now.",
    PaymentOutcome.NO_QUOTE: "There's no payment waiting for your yes. What would you like to pay?",
}


def _payment_text(result) -> str:
    card, amount = result.card, result.amount
    if result.outcome in _PAYMENT_REFUSALS:
        return _PAYMENT_REFUSALS[result.outcome]
    if result.outcome is PaymentOutcome.ACCOUNT_AMBIGUOUS:
        listed = " or ".join(f"your {a.kind} account ending in {a.last4}" for a in result.accounts)
        return f"Which account should the payment come from: {listed}?"
    spoken = money(amount, result.currency)
    if result.outcome is PaymentOutcome.MORE_THAN_OWED:
        return f"That's more than you owe on that card, which is {money(card.current_balance, card.currency)}."
    if result.outcome is PaymentOutcome.OVER_LIMIT:
        return (f"I can't make a payment of {spoken} by phone; the most is "
                f"{money(settings.FINTALK_PAYMENT_MAX_AMOUNT, result.currency)}. You can pay more in the app.")
    if result.outcome is PaymentOutcome.INSUFFICIENT_FUNDS:
        return (f"Your {result.account.kind} account ending in {result.account.last4} doesn't have enough for "
                f"{spoken}, so nothing was paid.")
    if result.outcome is PaymentOutcome.QUOTED:
        return (f"To confirm: pay {spoken} to your {card.network} card ending in {card.last4} from your "
                f"{result.account.kind} account ending in {result.account.last4}, today. Shall I go ahead?")
    reference = " ".join(result.reference)
    if result.outcome is PaymentOutcome.ALREADY_PAID:
        return f"That payment of {spoken} is already made. Its reference is {reference}."
    return f"Done. You've paid {spoken} to your card ending in {card.last4}. Your reference is {reference}."


@bank_tool(VERIFIED)
async def prepare_card_payment(card_last4: str, amount: str, from_account_last4: str | None = None) -> str:
    """Prepare a payment of the caller's card bill from their own account and read it back (needs
    verification). Nothing is paid until the caller says a clear yes and you call confirm_card_payment.

    card_last4: the last four digits of the card to pay.
    amount: "minimum", "statement balance", "full balance", or a sum such as 150.00.
    from_account_last4: the last four digits of the caller's account to pay from, if they said.
    """
    result = await sync_to_async(services.payment_prepare)(session=session(), card_last4=card_last4 or "",
                                                           amount=str(amount or ""),
                                                           from_account_last4=from_account_last4 or None)
    verified_now()
    record("prepare_card_payment", result.outcome.value)
    return _payment_text(result)


@bank_tool(VERIFIED)
async def confirm_card_payment() -> str:
    """Make the card payment just read back, after the caller said a clear yes (needs verification).
    Safe to call again: a payment is made once."""
    result = await sync_to_async(services.payment_confirm)(session=session())
    verified_now()
    record("confirm_card_payment", result.outcome.value)
    return _payment_text(result)


@bank_tool(None)
async def transfer_to_human(reason: str) -> str:
    """Hand the caller to a person: when they ask for one, when verification fails, or when you can't help.
    If it says you are putting them through and you have the transferCall tool, call transferCall next.

    reason: a few words for the person taking over, e.g. "caller asked for a person" or "verification failed".
    """
    context = current_turn_context()
    reason = (reason or "caller asked for a person").strip()[:200]
    await sync_to_async(services.handoff_record)(session=session(), reason=reason)
    context.facts.handoff_reason = reason
    record("transfer_to_human", "recorded")
    if TRANSFER_CALL in context.client_tools:  # the model (and the demo) then calls transferCall
        return "I'm putting you through to a person now."
    return f"To speak with a person, please {settings.FINTALK_HUMAN_CONTACT}."


