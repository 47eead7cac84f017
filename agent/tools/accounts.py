"""Level-1 reads and cases: balances, recent transactions, disputes, replacement cards."""
import re

from asgiref.sync import sync_to_async

from agent.tools.base import bank_tool, day, money, plural, record, session, verified_now
from bank import selectors, services
from bank.models import Dispute, Transaction
from bank.services import CaseOutcome
from bank.verification import VERIFIED


@bank_tool(VERIFIED)
async def get_account_balances(account_last4: str | None = None) -> str:
    """The balances of the caller's checking and savings accounts (needs verification).

    account_last4: optional last four digits of one account; leave out for all of them.
    """
    accounts = await sync_to_async(selectors.account_list)(session=session())
    if account_last4:
        accounts = [a for a in accounts if a.last4 == re.sub(r"\D", "", account_last4)]
        if not accounts:
            record("get_account_balances", "not_found")
            return f"I couldn't find an account ending in {account_last4}. Could you check the last four digits?"
    verified_now()
    record("get_account_balances", "ok")
    if not accounts:
        return "You don't have a checking or savings account with us."
    listed = "; ".join(f"your {a.kind} account ending in {a.last4} has {money(a.balance, a.currency)}"
                       for a in accounts)
    return listed[0].upper() + listed[1:] + "."


def _speak_transaction(item: Transaction) -> str:
    what = "a payment of" if item.direction == Transaction.Direction.CREDIT else "a charge of"
    if item.merchant.startswith("Payment to") or item.direction == Transaction.Direction.CREDIT:
        return f"on {day(item.posted_at)}, {item.merchant}, {money(item.amount, item.currency)}"
    return f"on {day(item.posted_at)}, {what} {money(item.amount, item.currency)} at {item.merchant}"


@bank_tool(VERIFIED)
async def get_recent_transactions(last4: str | None = None, count: int = 5) -> str:
    """The caller's most recent transactions, newest first, with date, merchant and amount (needs verification).

    last4: optional last four digits of one account or card; leave out for all of them.
    count: how many transactions, 5 unless the caller asks for more (at most 20).
    """
    found = await sync_to_async(selectors.transaction_list)(
        session=session(), last4=re.sub(r"\D", "", last4 or "") or None, count=int(count or 5))
    if found.not_found:
        record("get_recent_transactions", "not_found")
        return f"I couldn't find an account or card ending in {last4}. Could you check the last four digits?"
    verified_now()
    record("get_recent_transactions", "ok")
    if not found.transactions:
        return "There are no recent transactions."
    where = f" on your {found.place}" if found.place is not None else ""
    return f"Your last {plural(len(found.transactions), 'transaction')}{where}: " + "; ".join(
        _speak_transaction(item) for item in found.transactions) + "."


@bank_tool(VERIFIED)
async def open_dispute(merchant: str, reason: str, amount: str | None = None, date: str | None = None) -> str:
    """Dispute one of the caller's transactions and open a case with a reference (needs verification).

    merchant: the merchant of the transaction, as in the recent transactions.
    reason: not_recognised, wrong_amount, duplicate or not_received.
    amount: the transaction's amount, e.g. 45.10, when the caller said it.
    date: the transaction's date as YYYY-MM-DD, when the caller said it.
    """
    result = await sync_to_async(services.dispute_open)(session=session(), merchant=merchant or "",
                                                        reason=(reason or "").strip().lower(), amount=amount,
                                                        date=date or None)
    if result.outcome is not CaseOutcome.INVALID:
        verified_now()
    record("open_dispute", result.outcome.value)
    if result.outcome is CaseOutcome.INVALID:
        return ("I need the merchant and why you dispute it: not recognised, wrong amount, duplicate, or "
                "not received.")
    if result.outcome is CaseOutcome.NOT_FOUND:
        return "I couldn't find a charge like that on your account. Could you tell me the merchant and the amount?"
    if result.outcome is CaseOutcome.AMBIGUOUS:
        listed = "; ".join(_speak_transaction(item) for item in result.candidates)
        return f"I found more than one: {listed}. Which one is it?"
    reference = " ".join(result.reference)
    item = result.transaction
    said = (f"the {money(item.amount, item.currency)} charge at {item.merchant} on {day(item.posted_at)}")
    if result.outcome is CaseOutcome.ALREADY_EXISTS:
        return f"There is already a dispute open for {said}. Its reference is {reference}."
    text = f"I've opened a dispute for {said}. Your case reference is {reference}."
    if reason == Dispute.Reason.NOT_RECOGNISED and result.card is not None and result.card.status == "active":
        text += f" Since you don't recognise it, would you like me to block your card ending in {result.card.last4}?"
    return text


@bank_tool(VERIFIED)
async def order_replacement_card(card_last4: str, address_confirmation: str) -> str:
    """Send a replacement card to the address on file (needs verification). Never read the address out:
    ask the caller to confirm the city or ZIP code it should go to.

    card_last4: the last four digits of the card to replace.
    address_confirmation: the city or ZIP code the caller says the card should go to.
    """
    result = await sync_to_async(services.replacement_order)(session=session(), card_last4=card_last4 or "",
                                                             address_confirmation=address_confirmation or "")
    verified_now()
    record("order_replacement_card", result.outcome.value)
    if result.outcome is CaseOutcome.NOT_FOUND:
        return f"I couldn't find a card ending in {card_last4}. Could you check the last four digits?"
    if result.outcome is CaseOutcome.ADDRESS_MISMATCH:
        return ("That doesn't match the address we have on file, so I can't send it there by phone. "
                "You can update your address in a branch, or I can put you through to a person.")
    reference = " ".join(result.reference)
    if result.outcome is CaseOutcome.ALREADY_EXISTS:
        return (f"A replacement for your card ending in {result.card.last4} is already on its way. "
                f"The reference is {reference}.")
    return (f"Done. A replacement for your card ending in {result.card.last4} will arrive at your address on file "
            f"in five to seven working days. Your reference is {reference}.")


