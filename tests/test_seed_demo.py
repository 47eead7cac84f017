"""`seed_demo --reset` resets the demo customers' data and nothing else: another customer, the audit
trail of other phones, a bank's own loan product and the call records linked to the demo customers
are left as they were (it used to delete every customer and audit event, unlinking every call)."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from bank import services
from bank.models import AuditEvent, Card, Customer, LoanProduct, Transaction
from calls.models import Call

JANE = "+15550100001"


@pytest.mark.django_db
def test_reset_touches_only_the_demo_customers():
    call_command("seed_demo", verbosity=0)
    jane = Customer.objects.get(phone=JANE)
    real = Customer.objects.create(name="Real Person", phone="+15559990002", time_zone="Europe/Paris")
    card = Card.objects.create(customer=real, network="Visa", last4="9999")
    Transaction.objects.create(customer=real, card=card, merchant="Bakery", amount=Decimal("3.20"),
                               posted_at=timezone.now() - timedelta(days=1), direction=Transaction.Direction.DEBIT)
    LoanProduct.objects.create(name="The bank's own loan", kind=LoanProduct.objects.first().kind, apr_min=1, apr_max=2,
                               term_min_months=1, term_max_months=2, amount_min=1, amount_max=2, description="ours")
    services.card_block(phone=JANE, last4="4242", reason="lost", actor="staff")
    services.card_block(phone=real.phone, last4="9999", reason="lost", actor="staff")
    jane.time_zone = "Asia/Tokyo"
    jane.save()
    call = Call.objects.create(call_id="call-of-jane", customer=jane, started_at=timezone.now())
    assert AuditEvent.objects.count() == 2

    call_command("seed_demo", "--reset", verbosity=0)

    jane = Customer.objects.get(phone=JANE)
    assert Card.objects.get(customer=jane, last4="4242").status == Card.Status.ACTIVE  # the demo is fresh again
    assert jane.time_zone == "America/Chicago"
    [kept] = AuditEvent.objects.all()  # Jane's block is gone; the real customer's trail stays
    assert (kept.card_last4, kept.masked_phone) == ("9999", "+1******0002")
    real.refresh_from_db()
    assert Card.objects.get(customer=real).status == Card.Status.BLOCKED and real.transactions.count() == 1
    assert LoanProduct.objects.filter(name="The bank's own loan").exists()
    call.refresh_from_db()
    assert call.customer_id == jane.pk


@pytest.mark.django_db
def test_reset_keeps_the_audit_events_of_a_mask_another_customer_shares():
    call_command("seed_demo", verbosity=0)
    Customer.objects.create(name="Same Ending", phone="+15559990001")  # masked like Jane: +1******0001
    services.card_block(phone=JANE, last4="4242", reason="lost", actor="staff")
    call_command("seed_demo", "--reset", verbosity=0)
    assert AuditEvent.objects.filter(card_last4="4242").count() == 1  # it could be the other customer's: kept
    assert Card.objects.get(customer__phone=JANE, last4="4242").status == Card.Status.ACTIVE
