"""Paying a card bill: a quote read back to the caller, then one payment on the caller's word.

`payment_prepare` checks a payment and keeps it as the conversation's quote, bound to the caller's
turn that heard it read back. `payment_confirm` pays it once, only in a later caller turn, with
conditional updates that re-check the account's funds and what is owed (never below zero), so a
retried request, a repeated turn, two workers or a stale quote never pay twice or overpay.
"""
import enum
import logging
import secrets
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.cache import caches
from django.db import IntegrityError
from django.db import transaction as db_transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from bank.models import Account, Card, CardPayment, Transaction
from bank.services import reference
from bank.speech import digits
from bank.verification import VERIFIED, CallSession, Denied, Reason, parse_amount, require

logger = logging.getLogger("fintalk.bank")


class PaymentOutcome(str, enum.Enum):
    QUOTED = "quoted"  # read it back and ask for a clear yes
    PAID = "paid"
    ALREADY_PAID = "already_paid"  # this confirmation was paid before (a retry, a repeated turn)
    NO_QUOTE = "no_quote"  # nothing to confirm: prepare the payment first
    NOT_CONFIRMED = "not_confirmed"  # the quote was read back in this very turn: the caller has not answered yet
    QUOTE_CHANGED = "quote_changed"  # what is owed or the account's funds changed since the read-back: nothing paid
    CARD_NOT_FOUND = "card_not_found"
    ACCOUNT_NOT_FOUND = "account_not_found"
    ACCOUNT_AMBIGUOUS = "account_ambiguous"  # several accounts: which one pays
    INVALID_AMOUNT = "invalid_amount"  # not a sum of money, zero or less
    NOTHING_DUE = "nothing_due"
    MORE_THAN_OWED = "more_than_owed"
    OVER_LIMIT = "over_limit"  # above FINTALK_PAYMENT_MAX_AMOUNT by phone
    INSUFFICIENT_FUNDS = "insufficient_funds"


@dataclass(frozen=True)
class PaymentResult:
    outcome: PaymentOutcome
    amount: Decimal | None = None
    currency: str = "USD"
    card: Card | None = None
    account: Account | None = None
    reference: str = ""
    accounts: tuple[Account, ...] = ()


def _quote_key(session: CallSession) -> str:
    return f"fintalk:payment-quote:{session.key}"


def _payment_amount(card: Card, amount: str) -> Decimal | None:
    words = (amount or "").strip().lower()
    if "minimum" in words:
        return card.minimum_due
    if "statement" in words:
        return card.statement_balance
    if words in {"full", "full balance", "current balance", "everything", "all", "balance"}:
        return card.current_balance
    value = parse_amount(words)
    return value.quantize(Decimal("0.01")) if value is not None and value == value.quantize(Decimal("0.01")) else None


def payment_prepare(*, session: CallSession, card_last4: str, amount: str,
                    from_account_last4: str | None = None) -> PaymentResult:
    """Check a card bill payment and keep it as this call's quote (not paid yet). `amount`:
    "minimum", "statement balance", "full balance" or a sum. Raises `Denied` below level 1."""
    customer = require(session, VERIFIED)
    card = customer.cards.filter(last4=digits(card_last4)).first()
    if card is None:
        return PaymentResult(PaymentOutcome.CARD_NOT_FOUND)
    value = _payment_amount(card, amount)
    accounts = list(customer.accounts.filter(currency=card.currency).order_by("id"))
    if from_account_last4:
        account = next((a for a in accounts if a.last4 == digits(from_account_last4)), None)
        if account is None:
            return PaymentResult(PaymentOutcome.ACCOUNT_NOT_FOUND, card=card, accounts=tuple(accounts))
    else:
        checking = [a for a in accounts if a.kind == Account.Kind.CHECKING]
        account = (checking or accounts)[0] if len(checking or accounts) == 1 else None
        if account is None:
            outcome = PaymentOutcome.ACCOUNT_AMBIGUOUS if accounts else PaymentOutcome.ACCOUNT_NOT_FOUND
            return PaymentResult(outcome, card=card, accounts=tuple(accounts))
    result = dict(amount=value, currency=card.currency, card=card, account=account)
    if value is None or value <= 0:
        nothing = value is not None and card.current_balance <= 0
        return PaymentResult(PaymentOutcome.NOTHING_DUE if nothing else PaymentOutcome.INVALID_AMOUNT, **result)
    if value > card.current_balance:
        return PaymentResult(PaymentOutcome.MORE_THAN_OWED, **result)
    if value > settings.FINTALK_PAYMENT_MAX_AMOUNT:
        return PaymentResult(PaymentOutcome.OVER_LIMIT, **result)
    if value > account.balance:
        return PaymentResult(PaymentOutcome.INSUFFICIENT_FUNDS, **result)
    # Bound to the conversation (the key) and to the caller's turn that heard it read back.
    quote = {"card": card.pk, "account": account.pk, "amount": str(value), "key": secrets.token_hex(16),
             "turn": session.turn}
    try:
        caches["default"].set(_quote_key(session), quote, settings.FINTALK_PAYMENT_QUOTE_SECONDS)
    except Exception as exc:
        raise Denied(Reason.SECURITY_UNAVAILABLE) from exc
    return PaymentResult(PaymentOutcome.QUOTED, **result)


def payment_confirm(*, session: CallSession) -> PaymentResult:
    """Pay this call's quote, once, and only on the caller's word: in a later caller turn than the one
    that heard it read back (`NOT_CONFIRMED` otherwise). The payment's unique idempotency key is the
    quote's, so a retried request, a repeated turn or two workers confirming at once make one payment.
    The account is debited and the card credited by conditional updates that re-check the funds and
    what is owed, so a stale quote (another call paid meanwhile) pays nothing (`QUOTE_CHANGED`) and a
    card's balance never goes below zero. Raises `Denied` below level 1."""
    customer = require(session, VERIFIED)
    try:
        quote = caches["default"].get(_quote_key(session))
    except Exception as exc:
        raise Denied(Reason.SECURITY_UNAVAILABLE) from exc
    if not quote:
        return PaymentResult(PaymentOutcome.NO_QUOTE)
    card = customer.cards.filter(pk=quote["card"]).first()
    account = customer.accounts.filter(pk=quote["account"]).first()
    amount = Decimal(quote["amount"])
    if card is None or account is None:
        return PaymentResult(PaymentOutcome.NO_QUOTE)
    paid = dict(amount=amount, currency=card.currency, card=card, account=account)
    if session.turn <= quote.get("turn", 0):
        return PaymentResult(PaymentOutcome.NOT_CONFIRMED, **paid)
    try:
        with db_transaction.atomic():
            # The insert comes first: the unique key decides which confirmation pays.
            payment = CardPayment.objects.create(reference=reference("P"), idempotency_key=quote["key"], card=card,
                                                 from_account=account, amount=amount, currency=card.currency,
                                                 call_id=(session.call_id or "")[:128])
            if not Account.objects.filter(pk=account.pk, balance__gte=amount).update(balance=F("balance") - amount):
                raise _Stale(PaymentOutcome.INSUFFICIENT_FUNDS)
            if not Card.objects.filter(pk=card.pk, current_balance__gte=amount).update(
                    current_balance=F("current_balance") - amount,
                    statement_balance=Greatest(F("statement_balance") - amount, Decimal("0")),
                    minimum_due=Greatest(F("minimum_due") - amount, Decimal("0"))):
                raise _Stale(PaymentOutcome.QUOTE_CHANGED)
            now = timezone.now()
            Transaction.objects.bulk_create([
                Transaction(customer=customer, account=account, posted_at=now, amount=amount, currency=card.currency,
                            merchant=f"Payment to {card.network} card {card.last4}"),
                Transaction(customer=customer, card=card, posted_at=now, amount=amount, currency=card.currency,
                            merchant="Payment, thank you", direction=Transaction.Direction.CREDIT),
            ])
            session.audit("card_payment", PaymentOutcome.PAID.value, card_last4=card.last4,
                          detail=f"{payment.reference} {amount} {card.currency}")
    except IntegrityError:
        existing = CardPayment.objects.get(idempotency_key=quote["key"])
        return PaymentResult(PaymentOutcome.ALREADY_PAID, reference=existing.reference, **paid)
    except _Stale as stale:
        caches["default"].delete(_quote_key(session))  # a fresh read-back, never a payment, follows
        card.refresh_from_db()
        return PaymentResult(stale.outcome, **paid)
    logger.info("card payment made", extra={"reference": payment.reference, "card_last4": card.last4})
    return PaymentResult(PaymentOutcome.PAID, reference=payment.reference, **paid)


class _Stale(Exception):
    """The quote no longer holds: the transaction is rolled back and the caller told why."""

    def __init__(self, outcome: PaymentOutcome):
        super().__init__(outcome.value)
        self.outcome = outcome
