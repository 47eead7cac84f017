"""`python manage.py seed_demo`: load the demo bank (its data: bank/demo_data.py). Idempotent: running
it twice leaves the same rows.

Transactions are dated relative to today (so "recent" stays recent) and a card's payment is due in
ten days (so a payment reminder has something to remind of). `--reset` first deletes the demo
customers' data (their accounts, cards, transactions, payments and cases, authenticators and app approvals, the outbound requests about
them, and the audit events of their phones, unless another customer's phone masks the same) and puts
their profiles back, and nothing else: other
customers, their audit trail, loan products a bank added, and the call records (which stay linked to
the demo customers) are left as they are.
"""
import datetime
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.conf import settings
from django.utils import timezone

from bank.demo_data import CUSTOMERS, DEMO_AUTHENTICATORS, LOANS
from core.masking import mask_phone
from bank.models import (Account, AppApproval, AuditEvent, Authenticator, Card, CardPayment, Customer, Dispute,
                         LoanProduct, Transaction)
from bank.sealing import seal

PAYMENT_DUE_IN_DAYS = 10


class Command(BaseCommand):
    help = "Load the demo bank (customers, accounts, cards, transactions, loan products). Safe to run more than once."
    requires_system_checks = []  # a data command: no need to import the URLconf (and the agent stack)

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true",
                            help="Reset the demo customers' data and audit events first (unblocks the demo cards); "
                                 "nothing else is touched.")

    @transaction.atomic
    def handle(self, *args, **options):
        if options["reset"]:
            reset_demo_customers()
        now = timezone.now().replace(microsecond=0)
        for name, phone, profile, cards, accounts, transactions in CUSTOMERS:
            customer, _ = Customer.objects.update_or_create(phone=phone, defaults={"name": name, **profile})
            if settings.FINTALK_SEALING_KEY and phone in DEMO_AUTHENTICATORS:  # the demo's published secrets
                Authenticator.objects.get_or_create(customer=customer, defaults={
                    "sealed_secret": seal(DEMO_AUTHENTICATORS[phone]), "enrolled_by": "seed_demo"})
            places = {}
            for network, last4, bill in cards:
                due = timezone.localdate() + datetime.timedelta(days=PAYMENT_DUE_IN_DAYS) if bill else None
                places[last4], _ = Card.objects.get_or_create(
                    customer=customer, last4=last4, defaults={"network": network, "payment_due_date": due, **bill})
            for kind, last4, balance in accounts:
                places[last4], _ = Account.objects.get_or_create(
                    customer=customer, last4=last4, defaults={"kind": kind, "balance": Decimal(balance)})
            for days_ago, where, merchant, amount, direction in transactions:
                place = places[where]
                on = {"card": place} if isinstance(place, Card) else {"account": place}
                Transaction.objects.get_or_create(
                    customer=customer, merchant=merchant, amount=Decimal(amount), **on,
                    defaults={"direction": direction, "posted_at": now - datetime.timedelta(days=days_ago, hours=3)})
        for loan in LOANS:
            LoanProduct.objects.update_or_create(name=loan["name"], defaults=loan)
        self.stdout.write(self.style.SUCCESS(
            f"Demo bank ready: {Customer.objects.count()} customers, {Account.objects.count()} accounts, "
            f"{Card.objects.count()} cards, {Transaction.objects.count()} transactions, "
            f"{LoanProduct.objects.count()} loan products, {Authenticator.objects.count()} authenticators"
            + ("." if settings.FINTALK_SEALING_KEY else " (set FINTALK_SEALING_KEY to enrol the demo's).")
        ))


def reset_demo_customers() -> None:
    """Delete what the demo customers have (not the customers: their calls stay linked to them). The
    outbound requests about their transactions and cards go with those (on delete: cascade)."""
    phones = [phone for _, phone, *_ in CUSTOMERS]
    demo = Customer.objects.filter(phone__in=phones)
    CardPayment.objects.filter(card__customer__in=demo).delete()  # payments protect their card and account
    Dispute.objects.filter(customer__in=demo).delete()
    for model in (Transaction, Card, Account, Authenticator, AppApproval):  # authenticators re-enrolled, unused
        model.objects.filter(customer__in=demo).delete()
    AuditEvent.objects.filter(masked_phone__in=_demo_masks(phones)).delete()


def _demo_masks(phones: list[str]) -> list[str]:
    """The demo phones' masks (what an audit event keeps of a phone) that no other customer's phone has:
    an event under a mask another customer shares could be that customer's, and stays."""
    masks = []
    for phone in phones:
        shared = (Customer.objects.exclude(phone__in=phones).filter(phone__startswith=phone[:2], phone__endswith=phone[-4:])
                  .values_list("phone", flat=True))
        if not any(mask_phone(other) == mask_phone(phone) for other in shared):
            masks.append(mask_phone(phone))
    return masks
