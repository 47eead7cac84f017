"""Paying a card bill (level 1): a quote read back, then one payment on the caller's yes, in a later turn."""
from django.conf import settings

from bank import payments
from bank.actions.declare import Outcome, action, result
from bank.payments import PaymentOutcome
from bank.speech import card_name, money
from bank.verification import VERIFIED

_P = PaymentOutcome
_OUTCOMES = {
    _P.QUOTED.value: Outcome("To confirm: pay {amount} to your {card} ending in {last4} from your {account}, today. "
                             "Shall I go ahead?"),
    _P.PAID.value: Outcome("Done. You've paid {amount} to your card ending in {last4}. Your reference is {reference}.",
                           commits=True),
    _P.ALREADY_PAID.value: Outcome("That payment of {amount} is already made. Its reference is {reference}."),
    _P.NO_QUOTE.value: Outcome("There's no payment waiting for your yes. What would you like to pay?"),
    _P.NOT_CONFIRMED.value: Outcome("I'll only pay it once you've heard it and said yes. {quote}"),
    _P.QUOTE_CHANGED.value: Outcome("What you owe or your balance has changed since I read that back, so nothing was "
                                    "paid. Would you like me to prepare the payment again?"),
    _P.CARD_NOT_FOUND.value: Outcome("I couldn't find that card. Which card would you like to pay, by its last four "
                                     "digits?"),
    _P.ACCOUNT_NOT_FOUND.value: Outcome("I couldn't find that account of yours to pay from. Which account should I "
                                        "use?"),
    _P.ACCOUNT_AMBIGUOUS.value: Outcome("Which account should the payment come from: {accounts}?"),
    _P.INVALID_AMOUNT.value: Outcome("I need an amount above zero: the minimum payment, the statement balance, or a "
                                     "sum in dollars and cents."),
    _P.NOTHING_DUE.value: Outcome("There's nothing to pay on that card right now."),
    _P.MORE_THAN_OWED.value: Outcome("That's more than you owe on that card, which is {owed}."),
    _P.OVER_LIMIT.value: Outcome("I can't make a payment of {amount} by phone; the most is {limit}. You can pay more "
                                 "in the app."),
    _P.INSUFFICIENT_FUNDS.value: Outcome("Your {account} doesn't have enough for {amount}, so nothing was paid."),
}


def _said(done) -> dict:
    """The facts of a payment result that its words use."""
    card, account = done.card, done.account
    facts = {"amount": money(done.amount, done.currency), "reference": " ".join(done.reference),
             "limit": money(settings.FINTALK_PAYMENT_MAX_AMOUNT, done.currency),
             "accounts": " or ".join(f"your {a.kind} account ending in {a.last4}" for a in done.accounts)}
    if card is not None:
        facts.update(card=card_name(card.network), last4=card.last4, owed=money(card.current_balance, card.currency))
    if account is not None:
        facts["account"] = f"{account.kind} account ending in {account.last4}"
    if done.outcome is _P.NOT_CONFIRMED and card is not None:
        facts["quote"] = _OUTCOMES[_P.QUOTED.value].says.format(**facts)
    return facts


@action(level=VERIFIED, audit="card_payment", outcomes=_OUTCOMES)
def prepare_card_payment(session, card_last4: str, amount: str, from_account_last4: str | None = None):
    """Prepare a payment of the caller's card bill from their own account and read it back (needs
    verification). Nothing is paid until the caller says a clear yes and you call confirm_card_payment.

    card_last4: the last four digits of the card to pay.
    amount: "minimum", "statement balance", "full balance", or a sum such as 150.00.
    from_account_last4: the last four digits of the caller's account to pay from, if they said.
    """
    done = payments.payment_prepare(session=session, card_last4=card_last4 or "", amount=str(amount or ""),
                                    from_account_last4=from_account_last4 or None)
    return result(done.outcome, **_said(done))


@action(level=VERIFIED, audit="card_payment", confirms="prepare_card_payment", outcomes=_OUTCOMES)
def confirm_card_payment(session):
    """Make the card payment just read back, after the caller said a clear yes to it in their own words
    (needs verification). Never call it in the same turn as prepare_card_payment. Safe to call again:
    a payment is made once."""
    done = payments.payment_confirm(session=session)
    return result(done.outcome, **_said(done))
