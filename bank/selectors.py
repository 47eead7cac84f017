"""Reads of the bank's data (HackSoft style: selectors read, services write). Agent tools call these.

Reads of account data (balances, transactions) take the call's `CallSession` and start with
`verification.require`, so they return nothing to a call that has not reached the level they need.
"""
import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Q

from bank import lockouts
from bank.models import Account, Card, Customer, LoanProduct, Transaction
from bank.verification import VERIFIED, CallSession, require

logger = logging.getLogger("fintalk.bank")

_loans_seen: dict[str | None, tuple[float, list[LoanProduct]]] = {}
_loans_lock = threading.Lock()


def loan_product_list(*, kind: str | None = None) -> list[LoanProduct]:
    """The loan products; while the database is unreachable, what was read in the last
    FINTALK_LOAN_CACHE_SECONDS (per process), so a caller still hears them."""
    try:
        products = LoanProduct.objects.all()
        if kind:
            products = products.filter(kind=kind)
        products = list(products)
    except DatabaseError:
        with _loans_lock:
            seen = _loans_seen.get(kind)
        if seen is None or time.monotonic() - seen[0] > settings.FINTALK_LOAN_CACHE_SECONDS:
            raise
        logger.warning("database unavailable: loan products from the short-lived cache", extra={"kind": kind})
        return seen[1]
    with _loans_lock:
        _loans_seen[kind] = (time.monotonic(), products)
    return products


def customer_get_by_phone(*, phone: str) -> Customer | None:
    return Customer.objects.for_phone(phone)


def card_list(*, customer: Customer) -> list[Card]:
    return list(customer.cards.order_by("id"))


def caller_summary(*, phone: str) -> tuple[str, int, int, int] | None:
    """(first name, cards held, cards blocked, customer id) of the customer with this phone, in one indexed query."""
    row = (Customer.objects.filter(phone=phone)
           .annotate(cards_held=Count("cards"), cards_blocked=Count("cards", filter=Q(cards__status=Card.Status.BLOCKED)))
           .values_list("name", "cards_held", "cards_blocked", "id").first())
    if row is None:
        return None
    name, held, blocked, customer_id = row
    return (name.split()[0] if name else ""), held, blocked, customer_id


def wrong_last4_key(phone: str) -> str:
    return lockouts.CARD.counter_key(phone)


def card_lockout_key(phone: str) -> str:
    return lockouts.CARD.lock_key(phone)


def card_actions_locked(*, phone: str) -> bool:
    """Card actions by phone are locked for this phone after too many wrong last-four digits
    (`bank.services.card_block` counts them in the shared cache, so every worker agrees).
    Raises `Denied(SECURITY_UNAVAILABLE)` when the cache is down (callers fail closed)."""
    return lockouts.CARD.locked(phone)


def card_get(*, session: CallSession, last4: str) -> Card | None:
    """One of the caller's cards by its last four digits (level 1), or None."""
    customer = require(session, VERIFIED)
    return customer.cards.filter(last4=last4).first() if last4 else None


def account_list(*, session: CallSession) -> list[Account]:
    """The caller's checking and savings accounts (level 1)."""
    customer = require(session, VERIFIED)
    return list(customer.accounts.order_by("id"))


@dataclass(frozen=True)
class TransactionsFound:
    transactions: list[Transaction]
    place: Account | Card | None = None  # the account or card asked about; None: all of them
    not_found: bool = False  # no account or card of the caller's ends with the digits asked about


def transaction_list(*, session: CallSession, last4: str | None = None, count: int = 5) -> TransactionsFound:
    """The caller's most recent transactions (level 1), on the account or card ending `last4` or on all."""
    customer = require(session, VERIFIED)
    transactions = Transaction.objects.filter(customer=customer).select_related("account", "card", "customer")
    place = None
    if last4:
        place = customer.accounts.filter(last4=last4).first() or customer.cards.filter(last4=last4).first()
        if place is None:
            return TransactionsFound([], not_found=True)
        transactions = transactions.filter(**{"account" if isinstance(place, Account) else "card": place})
    return TransactionsFound(list(transactions.order_by("-posted_at", "-id")[:max(1, min(count, 20))]), place)
