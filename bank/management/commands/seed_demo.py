"""`python manage.py seed_demo`: load the demo bank (its data: bank/demo_data.py). Idempotent: running
it twice leaves the same rows.

Transactions are dated relative to today (so "recent" stays recent) and a card's payment is due in
ten days (so a payment reminder has something to remind of). `--reset` first deletes every
customer (with their accounts, cards, transactions and cases), loan product and audit event (demo
machines only).
"""
import datetime
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from django.conf import settings

from bank.demo_data import CUSTOMERS, DEMO_AUTHENTICATORS, LOANS
from bank.models import Account, AuditEvent, Authenticator, Card, CardPayment, Customer, LoanProduct, Transaction
from bank.sealing import seal

PAYMENT_DUE_IN_DAYS = 10


class Command(BaseCommand):
    help = "Load the demo bank (customers, accounts, cards, transactions, loan products). Safe to run more than once."
    requires_system_checks = []  # a data command: no need to import the URLconf (and the agent stack)

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true",
                            help="Delete all bank data and audit events first (unblocks the demo cards).")

    @transaction.atomic
    def handle(self, *args, **options):
        if options["reset"]:
            for model in (AuditEvent, CardPayment, Customer, LoanProduct):  # payments protect their card
                model.objects.all().delete()
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
