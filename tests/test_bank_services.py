"""Bank rules through the Django ORM: blocking needs the right customer and card, once, even under races."""
import threading

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from bank import selectors
from bank.models import AuditEvent, Card, Customer, LoanProduct
from bank.services import BlockOutcome, UnblockOutcome, card_block, card_unblock
from tests.support.bank import JANE, JOHN


@pytest.fixture
def bank(db):
    call_command("seed_demo", verbosity=0)


def test_seed_demo_is_idempotent(bank):
    counts = (Customer.objects.count(), Card.objects.count(), LoanProduct.objects.count())
    call_command("seed_demo", verbosity=0)
    assert (Customer.objects.count(), Card.objects.count(), LoanProduct.objects.count()) == counts == (2, 3, 3)
    jane = Customer.objects.get(phone=JANE)
    assert jane.name == "Jane Doe" and [(c.network, c.last4, c.status) for c in jane.cards.all()] == [("Visa", "4242", "active")]
    assert Customer.objects.get(phone=JOHN).cards.count() == 2
    assert set(LoanProduct.objects.values_list("kind", flat=True)) >= {"personal", "home", "auto"}


def test_selectors(bank):
    assert [p.kind for p in selectors.loan_product_list(kind="home")] == ["home"]
    assert len(selectors.loan_product_list()) == 3
    assert selectors.customer_get_by_phone(phone="+15550109999") is None


def test_block_then_already_blocked_with_one_audit_event(bank):
    first = card_block(phone=JANE, last4="4242", reason="lost", request_id="req-1")
    assert first.outcome is BlockOutcome.BLOCKED
    card = Card.objects.get(last4="4242")
    assert card.status == "blocked" and card.blocked_at is not None and card.block_reason == "lost"
    second = card_block(phone=JANE, last4="4242", reason="lost")
    assert second.outcome is BlockOutcome.ALREADY_BLOCKED
    events = list(AuditEvent.objects.values("action", "masked_phone", "card_last4", "outcome", "request_id"))
    assert events == [{"action": "card_block", "masked_phone": "+1******0001", "card_last4": "4242",
                       "outcome": "blocked", "request_id": "req-1"}]


def test_wrong_last4_or_another_customers_card_changes_nothing(bank):
    assert card_block(phone=JANE, last4="1111", reason="lost").outcome is BlockOutcome.CARD_NOT_FOUND
    # 5454 is John's card: Jane's phone cannot block it.
    assert card_block(phone=JANE, last4="5454", reason="lost").outcome is BlockOutcome.CARD_NOT_FOUND
    assert card_block(phone="+15550109999", last4="4242", reason="lost").outcome is BlockOutcome.CUSTOMER_NOT_FOUND
    assert not Card.objects.filter(status="blocked").exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_blocks_make_exactly_one_transition():
    call_command("seed_demo", verbosity=0)
    barrier = threading.Barrier(4)
    outcomes = []

    def block():
        try:
            barrier.wait()
            outcomes.append(card_block(phone=JOHN, last4="5454", reason="stolen").outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=block) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(o.value for o in outcomes) == ["already_blocked"] * 3 + ["blocked"]
    assert AuditEvent.objects.filter(card_last4="5454").count() == 1
    assert Card.objects.get(last4="1881").status == "active"


def test_staff_block_and_unblock_record_the_actor_once_each(bank):
    assert card_block(phone=JANE, last4="4242", reason="fraud check", actor="alice").outcome is BlockOutcome.BLOCKED
    unblocked = card_unblock(phone=JANE, last4="4242", actor="alice", request_id="req-2")
    assert unblocked.outcome is UnblockOutcome.UNBLOCKED
    assert (unblocked.card.status, unblocked.card.blocked_at, unblocked.card.block_reason) == ("active", None, "")
    assert card_unblock(phone=JANE, last4="4242", actor="alice").outcome is UnblockOutcome.ALREADY_ACTIVE
    assert card_unblock(phone=JANE, last4="5454", actor="alice").outcome is UnblockOutcome.CARD_NOT_FOUND
    assert card_unblock(phone="+15550109999", last4="4242", actor="alice").outcome is UnblockOutcome.CUSTOMER_NOT_FOUND
    assert list(AuditEvent.objects.values_list("action", "actor", "outcome", "request_id")) == [
        ("card_block", "alice", "blocked", ""), ("card_unblock", "alice", "unblocked", "req-2")]


def test_a_block_by_the_caller_has_no_staff_actor(bank):
    card_block(phone=JANE, last4="4242", reason="lost")
    assert AuditEvent.objects.get().actor == ""


def test_loan_product_ranges_must_be_ordered(bank):
    product = LoanProduct.objects.get(kind="auto")
    product.apr_min, product.term_min_months = product.apr_max + 1, product.term_max_months + 1
    with pytest.raises(ValidationError) as error:
        product.full_clean()
    assert set(error.value.message_dict) == {"apr_max", "term_max_months"}
