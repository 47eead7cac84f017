"""`python manage.py seed_demo`: load the demo bank. Idempotent: running it twice leaves the same rows.

`--reset` first deletes every customer, card, loan product and audit event (demo machines only).
"""
from django.core.management.base import BaseCommand
from django.db import transaction

from bank.models import AuditEvent, Card, Customer, LoanProduct

CUSTOMERS = [
    ("Jane Doe", "+15550100001", [("Visa", "4242")]),
    ("John Smith", "+15550100002", [("Mastercard", "5454"), ("Visa", "1881")]),
]

LOANS = [
    dict(kind="personal", name="Everyday Personal Loan", apr_min="7.99", apr_max="18.99", term_min_months=12,
         term_max_months=60, amount_min=1000, amount_max=40000,
         description="A fixed-rate loan for anything from repairs to a wedding."),
    dict(kind="home", name="Fixed Rate Home Loan", apr_min="5.49", apr_max="6.99", term_min_months=120,
         term_max_months=360, amount_min=50000, amount_max=1500000,
         description="A mortgage with a rate that stays the same for the whole term."),
    dict(kind="auto", name="New and Used Car Loan", apr_min="4.99", apr_max="11.49", term_min_months=24,
         term_max_months=84, amount_min=5000, amount_max=100000,
         description="Finance a new or used car, with no early repayment fee."),
]


class Command(BaseCommand):
    help = "Load the demo bank (customers, cards, loan products). Safe to run more than once."
    requires_system_checks = []  # a data command: no need to import the URLconf (and the agent stack)

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true",
                            help="Delete all bank data and audit events first (unblocks the demo cards).")

    @transaction.atomic
    def handle(self, *args, **options):
        if options["reset"]:
            for model in (AuditEvent, Card, Customer, LoanProduct):
                model.objects.all().delete()
        for name, phone, cards in CUSTOMERS:
            customer, _ = Customer.objects.update_or_create(phone=phone, defaults={"name": name})
            for network, last4 in cards:
                Card.objects.get_or_create(customer=customer, last4=last4, defaults={"network": network})
        for loan in LOANS:
            LoanProduct.objects.update_or_create(name=loan["name"], defaults=loan)
        self.stdout.write(self.style.SUCCESS(
            f"Demo bank ready: {Customer.objects.count()} customers, {Card.objects.count()} cards, "
            f"{LoanProduct.objects.count()} loan products."
        ))
