"""The phone line's cases in bank.services: disputes, replacements and card payments, each refused
plainly on bad input with nothing written, and made once however often it is asked."""
from decimal import Decimal

import dataclasses

import pytest
from django.core.cache import caches
from django.core.management import call_command

from bank import payments, services
from bank.models import Account, AuditEvent, Card, CardPayment, Dispute, Transaction
from bank.payments import PaymentOutcome
from bank.services import CaseOutcome
from bank.verification import VERIFIED, CallSession, Denied, Reason
from tests.support.bank import JANE, JOHN


@pytest.fixture
def bank(db):
    call_command("seed_demo", verbosity=0)
    caches["default"].clear()
    yield
    caches["default"].clear()


def verified(phone=JANE, call_id="call-cases") -> CallSession:
    session = CallSession(phone, call_id)
    caches["default"].set(f"fintalk:verified:{session.key}", VERIFIED)
    return session


def later(session: CallSession) -> CallSession:
    """The same call, the caller's next turn (a payment is confirmed only after its read-back's turn)."""
    return dataclasses.replace(session, turn=session.turn + 1)


def _every_case_refused():
    session = CallSession(JANE, "not-verified")
    for case in (lambda: services.dispute_open(session=session, merchant="Shell", reason="not_recognised"),
                 lambda: services.replacement_order(session=session, card_last4="4242", address_confirmation="62701"),
                 lambda: payments.payment_prepare(session=session, card_last4="4242", amount="minimum"),
                 lambda: payments.payment_confirm(session=session)):
        with pytest.raises(Denied) as denied:
            case()
        assert denied.value.reason is Reason.NOT_VERIFIED


def test_every_case_needs_level_one(bank):
    _every_case_refused()
    assert not Dispute.objects.exists() and not CardPayment.objects.exists()


def test_a_dispute_picks_one_of_the_callers_own_transactions(bank):
    session = verified()
    assert services.dispute_open(session=session, merchant="City Parking", reason="not_recognised").outcome \
        is CaseOutcome.NOT_FOUND  # John's transaction, not Jane's
    assert services.dispute_open(session=session, merchant="Shell", reason="because").outcome is CaseOutcome.INVALID
    Transaction.objects.create(customer_id=Transaction.objects.get(merchant="Shell").customer_id,
                               card=Card.objects.get(last4="4242"), merchant="Shell", amount=Decimal("20.00"),
                               posted_at=Transaction.objects.get(merchant="Shell").posted_at)
    ambiguous = services.dispute_open(session=session, merchant="shell", reason="duplicate")
    assert ambiguous.outcome is CaseOutcome.AMBIGUOUS and len(ambiguous.candidates) == 2
    one = services.dispute_open(session=session, merchant="shell", reason="duplicate", amount="$45.10")
    assert one.outcome is CaseOutcome.CREATED and len(one.reference) == 8 and one.reference.startswith("D-")
    again = services.dispute_open(session=session, merchant="Shell", reason="duplicate", amount="45.10")
    assert again.outcome is CaseOutcome.ALREADY_EXISTS and again.reference == one.reference
    assert Dispute.objects.count() == 1 and AuditEvent.objects.filter(action="dispute_open").count() == 1
    assert AuditEvent.objects.get(action="dispute_open").call_id == "call-cases"


def test_a_replacement_goes_only_to_the_confirmed_address_once(bank):
    session = verified()
    assert services.replacement_order(session=session, card_last4="4242", address_confirmation="Portland").outcome \
        is CaseOutcome.ADDRESS_MISMATCH
    assert services.replacement_order(session=session, card_last4="5454", address_confirmation="62701").outcome \
        is CaseOutcome.NOT_FOUND  # John's card
    made = services.replacement_order(session=session, card_last4="4242", address_confirmation="62701-1234")
    assert made.outcome is CaseOutcome.CREATED
    assert services.replacement_order(session=session, card_last4="4242", address_confirmation="springfield").outcome \
        is CaseOutcome.ALREADY_EXISTS
    assert AuditEvent.objects.filter(action="card_replacement").count() == 1


@pytest.mark.parametrize("amount,outcome", [
    ("0", PaymentOutcome.INVALID_AMOUNT), ("-5", PaymentOutcome.INVALID_AMOUNT),
    ("ten dollars", PaymentOutcome.INVALID_AMOUNT), ("12.345", PaymentOutcome.INVALID_AMOUNT),
    ("NaN", PaymentOutcome.INVALID_AMOUNT), ("900.00", PaymentOutcome.MORE_THAN_OWED),
    ("minimum", PaymentOutcome.QUOTED), ("$100.00", PaymentOutcome.QUOTED),
])
def test_payment_amounts(bank, amount, outcome):
    result = payments.payment_prepare(session=verified(), card_last4="4242", amount=amount)
    assert result.outcome is outcome
    if outcome is PaymentOutcome.QUOTED:
        assert isinstance(result.amount, Decimal) and result.account.last4 == "1234"  # checking by default


def test_limits_and_funds_are_refused_and_nothing_is_paid(bank, settings):
    session = verified()
    settings.FINTALK_PAYMENT_MAX_AMOUNT = Decimal("50")
    assert payments.payment_prepare(session=session, card_last4="4242", amount="100").outcome is PaymentOutcome.OVER_LIMIT
    settings.FINTALK_PAYMENT_MAX_AMOUNT = Decimal("10000")
    Account.objects.filter(last4="1234").update(balance=Decimal("20.00"))
    assert payments.payment_prepare(session=session, card_last4="4242", amount="minimum").outcome \
        is PaymentOutcome.INSUFFICIENT_FUNDS
    assert payments.payment_prepare(session=session, card_last4="4242", amount="minimum",
                                    from_account_last4="9876").outcome is PaymentOutcome.ACCOUNT_NOT_FOUND  # John's
    assert payments.payment_confirm(session=later(session)).outcome is PaymentOutcome.NO_QUOTE
    assert not CardPayment.objects.exists()


def test_funds_gone_between_the_quote_and_the_yes(bank):
    session = verified()
    assert payments.payment_prepare(session=session, card_last4="4242", amount="minimum").outcome \
        is PaymentOutcome.QUOTED
    Account.objects.filter(last4="1234").update(balance=Decimal("1.00"))
    assert payments.payment_confirm(session=later(session)).outcome is PaymentOutcome.INSUFFICIENT_FUNDS
    assert not CardPayment.objects.exists() and not AuditEvent.objects.filter(action="card_payment").exists()
    assert Account.objects.get(last4="1234").balance == Decimal("1.00")


def test_a_payment_moves_exact_money_once(bank):
    session = verified()
    payments.payment_prepare(session=session, card_last4="4242", amount="35.00")
    paid = payments.payment_confirm(session=later(session))
    assert paid.outcome is PaymentOutcome.PAID
    assert payments.payment_confirm(session=later(session)).outcome is PaymentOutcome.ALREADY_PAID
    card = Card.objects.get(last4="4242")
    assert (card.current_balance, card.minimum_due) == (Decimal("810.20"), Decimal("0.00"))
    assert Account.objects.get(last4="1234").balance == Decimal("1165.50")
    assert CardPayment.objects.get().amount == Decimal("35.00")
    assert Transaction.objects.filter(merchant="Payment, thank you", direction="credit").count() == 1
    other = verified(JOHN, "call-john")
    assert payments.payment_confirm(session=other).outcome is PaymentOutcome.NO_QUOTE  # Jane's quote is hers


def test_a_payment_is_never_confirmed_in_the_turn_that_read_it_back(bank):
    """#27: a model calling prepare and confirm in one turn (or one round) pays nothing."""
    session = verified()
    assert payments.payment_prepare(session=session, card_last4="4242", amount="35.00").outcome \
        is PaymentOutcome.QUOTED
    assert payments.payment_confirm(session=session).outcome is PaymentOutcome.NOT_CONFIRMED
    assert not CardPayment.objects.exists()
    assert payments.payment_confirm(session=later(session)).outcome is PaymentOutcome.PAID


def test_a_stale_quote_gets_a_fresh_read_back_not_a_payment(bank):
    """#27: two calls quote the full balance of one card; the second yes finds it paid and pays nothing."""
    first, second = verified(call_id="call-one"), verified(call_id="call-two")
    for session in (first, second):
        assert payments.payment_prepare(session=session, card_last4="4242", amount="full balance").outcome \
            is PaymentOutcome.QUOTED
    Account.objects.filter(last4="1234").update(balance=Decimal("5000.00"))
    assert payments.payment_confirm(session=later(first)).outcome is PaymentOutcome.PAID
    assert payments.payment_confirm(session=later(second)).outcome is PaymentOutcome.QUOTE_CHANGED
    assert Card.objects.get(last4="4242").current_balance == Decimal("0.00")
    assert CardPayment.objects.count() == 1
    assert payments.payment_confirm(session=later(second)).outcome is PaymentOutcome.NO_QUOTE  # read it back again


def test_a_disputed_charge_is_found_by_the_customers_own_day(bank):
    """#28: a purchase at 02:30 UTC on November 29 is Jane's (Chicago) November 28, as the agent says it."""
    import datetime as dt

    moment = dt.datetime(2026, 11, 29, 2, 30, tzinfo=dt.timezone.utc)
    Transaction.objects.filter(customer__phone=JANE, merchant="Shell").update(posted_at=moment)
    session = verified()
    found = services.dispute_open(session=session, merchant="Shell", reason="not_recognised", date="2026-11-28")
    assert found.outcome is CaseOutcome.CREATED and found.transaction.merchant == "Shell"
    assert services.dispute_open(session=verified(call_id="call-other-day"), merchant="Shell",
                                 reason="not_recognised", date="2026-11-29").outcome is CaseOutcome.NOT_FOUND
    assert services.dispute_open(session=session, merchant="Shell", reason="not_recognised",
                                 date="yesterday").outcome is CaseOutcome.ALREADY_EXISTS  # an unreadable day is no filter
