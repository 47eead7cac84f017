"""Level-1 reads and cases: balances, recent transactions, disputes, replacement cards."""
from bank import selectors, services
from bank.dates import local
from bank.actions.declare import Outcome, action, result
from bank.models import Dispute, Transaction
from bank.services import CaseOutcome
from bank.speech import day, digits, money, plural
from bank.verification import VERIFIED


@action(level=VERIFIED, reads=True, outcomes={
    "ok": Outcome("{listed}."),
    "none": Outcome("You don't have a checking or savings account with us."),
    "not_found": Outcome("I couldn't find an account ending in {last4}. Could you check the last four digits?"),
})
def get_account_balances(session, account_last4: str | None = None):
    """The balances of the caller's checking and savings accounts (needs verification).

    account_last4: optional last four digits of one account; leave out for all of them.
    """
    accounts = selectors.account_list(session=session)
    if account_last4:
        accounts = [a for a in accounts if a.last4 == digits(account_last4)]
        if not accounts:
            return result("not_found", last4=digits(account_last4) or account_last4)
    if not accounts:
        return result("none")
    listed = "; ".join(f"your {a.kind} account ending in {a.last4} has {money(a.balance, a.currency)}"
                       for a in accounts)
    return result("ok", listed=listed[0].upper() + listed[1:])


def spoken_transaction(item: Transaction) -> str:
    when = day(local(item.posted_at, item.customer))  # the customer's day, as the fraud call says it
    if item.merchant.startswith("Payment to") or item.direction == Transaction.Direction.CREDIT:
        return f"on {when}, {item.merchant}, {money(item.amount, item.currency)}"
    return f"on {when}, a charge of {money(item.amount, item.currency)} at {item.merchant}"


@action(level=VERIFIED, reads=True, outcomes={
    "ok": Outcome("Your last {count}{where}: {listed}."),
    "none": Outcome("There are no recent transactions."),
    "not_found": Outcome("I couldn't find an account or card ending in {last4}. Could you check the last four digits?"),
})
def get_recent_transactions(session, last4: str | None = None, count: int = 5):
    """The caller's most recent transactions, newest first, with date, merchant and amount (needs verification).

    last4: optional last four digits of one account or card; leave out for all of them.
    count: how many transactions, 5 unless the caller asks for more (at most 20).
    """
    try:
        count = int(count or 5)
    except (TypeError, ValueError):
        count = 5
    found = selectors.transaction_list(session=session, last4=digits(last4) or None, count=count)
    if found.not_found:
        return result("not_found", last4=digits(last4) or last4)
    if not found.transactions:
        return result("none")
    return result("ok", count=plural(len(found.transactions), "transaction"),
                  where=f" on your {found.place}" if found.place is not None else "",
                  listed="; ".join(spoken_transaction(item) for item in found.transactions))


_CASE = "the {amount} charge at {merchant} on {day}"


@action(level=VERIFIED, audit="dispute_open", outcomes={
    CaseOutcome.CREATED.value: Outcome("I've opened a dispute for " + _CASE + ". Your case reference is "
                                       "{reference}.{offer}", commits=True),
    CaseOutcome.ALREADY_EXISTS.value: Outcome("There is already a dispute open for " + _CASE + ". Its reference "
                                              "is {reference}."),
    CaseOutcome.INVALID.value: Outcome("I need the merchant and why you dispute it: not recognised, wrong amount, "
                                       "duplicate, or not received."),
    CaseOutcome.NOT_FOUND.value: Outcome("I couldn't find a charge like that on your account. Could you tell me the "
                                         "merchant and the amount?"),
    CaseOutcome.AMBIGUOUS.value: Outcome("I found more than one: {listed}. Which one is it?"),
})
def open_dispute(session, merchant: str, reason: str, amount: str | None = None, date: str | None = None):
    """Dispute one of the caller's transactions and open a case with a reference (needs verification).

    merchant: the merchant of the transaction, as in the recent transactions.
    reason: not_recognised, wrong_amount, duplicate or not_received.
    amount: the transaction's amount, e.g. 45.10, when the caller said it.
    date: the transaction's date as YYYY-MM-DD, when the caller said it.
    """
    reason = (reason or "").strip().lower()
    done = services.dispute_open(session=session, merchant=merchant or "", reason=reason, amount=amount,
                                 date=date or None)
    if done.outcome is CaseOutcome.AMBIGUOUS:
        return result(done.outcome, listed="; ".join(spoken_transaction(item) for item in done.candidates))
    if done.outcome not in (CaseOutcome.CREATED, CaseOutcome.ALREADY_EXISTS):
        return result(done.outcome)
    item, card = done.transaction, done.card
    offer = (f" Since you don't recognise it, would you like me to block your card ending in {card.last4}?"
             if reason == Dispute.Reason.NOT_RECOGNISED and card is not None and card.status == "active" else "")
    return result(done.outcome, amount=money(item.amount, item.currency), merchant=item.merchant,
                  day=day(local(item.posted_at, item.customer)), reference=" ".join(done.reference), offer=offer)


@action(level=VERIFIED, audit="card_replacement", outcomes={
    CaseOutcome.CREATED.value: Outcome("Done. A replacement for your card ending in {last4} will arrive at your "
                                       "address on file in five to seven working days. Your reference is "
                                       "{reference}.", commits=True),
    CaseOutcome.ALREADY_EXISTS.value: Outcome("A replacement for your card ending in {last4} is already on its way. "
                                              "The reference is {reference}."),
    CaseOutcome.NOT_FOUND.value: Outcome("I couldn't find a card ending in {last4}. Could you check the last four "
                                         "digits?"),
    CaseOutcome.ADDRESS_MISMATCH.value: Outcome("That doesn't match the address we have on file, so I can't send it "
                                                "there by phone. You can update your address in a branch, or I can "
                                                "put you through to a person."),
})
def order_replacement_card(session, card_last4: str, address_confirmation: str):
    """Send a replacement card to the address on file (needs verification). Never read the address out:
    ask the caller to confirm the city or ZIP code it should go to.

    card_last4: the last four digits of the card to replace.
    address_confirmation: the city or ZIP code the caller says the card should go to.
    """
    done = services.replacement_order(session=session, card_last4=card_last4 or "",
                                      address_confirmation=address_confirmation or "")
    last4 = done.card.last4 if done.card else (digits(card_last4) or card_last4)
    return result(done.outcome, last4=last4, reference=" ".join(done.reference))
