"""The demo bank's data: customers, their cards, loan products, and an audit trail of card actions."""
from django.core.exceptions import ValidationError
from django.db import models


class Customer(models.Model):
    name = models.CharField(max_length=200)
    phone = models.CharField(max_length=20, unique=True, help_text="E.164, e.g. +15550100001")

    def __str__(self):
        return self.name

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name else ""


class Card(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        BLOCKED = "blocked"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="cards")
    network = models.CharField(max_length=30)
    last4 = models.CharField(max_length=4)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    blocked_at = models.DateTimeField(null=True, blank=True)
    block_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "last4"], name="card_unique_last4_per_customer")]

    def __str__(self):
        return f"{self.network} ending {self.last4}"


class LoanProduct(models.Model):
    class Kind(models.TextChoices):
        PERSONAL = "personal"
        HOME = "home"
        AUTO = "auto"
        STUDENT = "student"
        BUSINESS = "business"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=100, unique=True)
    apr_min = models.DecimalField(max_digits=5, decimal_places=2)
    apr_max = models.DecimalField(max_digits=5, decimal_places=2)
    term_min_months = models.PositiveIntegerField()
    term_max_months = models.PositiveIntegerField()
    amount_min = models.PositiveIntegerField()
    amount_max = models.PositiveIntegerField()
    description = models.CharField(max_length=300)

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self):
        return self.name

    def clean(self):
        """The agent reads these ranges aloud: an edit in the admin must not make them say "from 9% to 5%"."""
        errors = {}
        for low, high in (("apr_min", "apr_max"), ("term_min_months", "term_max_months"),
                          ("amount_min", "amount_max")):
            low_value, high_value = getattr(self, low), getattr(self, high)
            if low_value is not None and high_value is not None and low_value > high_value:
                errors[high] = f"Must be at least {low.replace('_', ' ')} ({low_value})."
        if errors:
            raise ValidationError(errors)


class AuditEvent(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    request_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=50)
    masked_phone = models.CharField(max_length=20)
    card_last4 = models.CharField(max_length=4, blank=True)
    outcome = models.CharField(max_length=50)
    actor = models.CharField(max_length=150, blank=True,
                             help_text="The staff user who made the change; empty when the caller did, through the agent.")

    class Meta:
        ordering = ["created_at", "id"]
