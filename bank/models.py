"""The bank's data: customers, their accounts and cards, transactions, the cases a call opens
(disputes, card replacements, card payments), loan products, and an audit trail.

Money is `Decimal` with a currency, never a float. Account and card numbers are kept only as their
last four digits: nothing here can leak a full number to the agent.
"""
from django.core.exceptions import ValidationError
from django.db import models

from bank import dates

CURRENCY_MAX_LENGTH = 3  # ISO 4217


def _money(**kwargs):
    return models.DecimalField(max_digits=12, decimal_places=2, **kwargs)


class CustomerManager(models.Manager):
    def for_phone(self, phone: str | None) -> "Customer | None":
        """The customer behind a phone (E.164), or None: the one way from a phone to a customer."""
        return self.filter(phone=phone).first() if phone else None


class Customer(models.Model):
    objects = CustomerManager()
    name = models.CharField(max_length=200)
    phone = models.CharField(max_length=20, unique=True, help_text="E.164, e.g. +15550100001")
    # Security questions, when a one-time code cannot be used (bank.verification).
    date_of_birth = models.DateField(null=True, blank=True)
    # The address on file: replacement cards go here; the agent confirms it by city or ZIP, never reads it out.
    address_line = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    # Where notices of changes to the customer's details go, with the registered phone (bank.notices).
    email = models.EmailField(blank=True)
    time_zone = models.CharField(max_length=64, default="America/New_York",
                                 help_text="IANA zone, for the calling hours of outbound calls.")

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
    # The card's bill: what is owed now, the last statement, the minimum payment and its due date.
    currency = models.CharField(max_length=CURRENCY_MAX_LENGTH, default="USD")
    current_balance = _money(default=0, help_text="What the customer owes on the card now.")
    statement_balance = _money(default=0)
    minimum_due = _money(default=0)
    payment_due_date = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "last4"], name="card_unique_last4_per_customer")]

    def __str__(self):
        return f"{self.network} ending {self.last4}"


class Account(models.Model):
    class Kind(models.TextChoices):
        CHECKING = "checking"
        SAVINGS = "savings"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="accounts")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    last4 = models.CharField(max_length=4)
    currency = models.CharField(max_length=CURRENCY_MAX_LENGTH, default="USD")
    balance = _money(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "last4"], name="account_unique_last4_per_customer"),
            models.CheckConstraint(condition=models.Q(balance__gte=0), name="account_balance_not_negative"),
        ]
        ordering = ["id"]

    def __str__(self):
        return f"{self.kind} account ending {self.last4}"


class Transaction(models.Model):
    """A posted transaction on an account or a card. `amount` is positive; `direction` says which way."""

    class Direction(models.TextChoices):
        DEBIT = "debit"  # money out of an account, a purchase on a card
        CREDIT = "credit"  # money in, a payment or refund to a card

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="transactions")
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="transactions")
    card = models.ForeignKey(Card, null=True, blank=True, on_delete=models.CASCADE, related_name="transactions")
    posted_at = models.DateTimeField()
    merchant = models.CharField(max_length=100)
    amount = _money()
    currency = models.CharField(max_length=CURRENCY_MAX_LENGTH, default="USD")
    direction = models.CharField(max_length=10, choices=Direction.choices, default=Direction.DEBIT)
    # Set when the customer said "yes, that was me" to a fraud alert (outbound calls).
    confirmed_genuine_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-posted_at", "-id"]
        indexes = [models.Index(fields=["customer", "-posted_at"], name="transaction_customer_recent")]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="transaction_amount_positive"),
            models.CheckConstraint(condition=models.Q(account__isnull=False) | models.Q(card__isnull=False),
                                   name="transaction_on_account_or_card"),
        ]

    def __str__(self):  # the customer's day (bank.dates), as every page shows it
        return f"{dates.local_date(self.posted_at, self.customer):%Y-%m-%d} {self.merchant} {self.amount} {self.currency}"


class Dispute(models.Model):
    class Reason(models.TextChoices):
        NOT_RECOGNISED = "not_recognised"
        WRONG_AMOUNT = "wrong_amount"
        DUPLICATE = "duplicate"
        NOT_RECEIVED = "not_received"

    reference = models.CharField(max_length=12, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="disputes")
    # One case per transaction, however often the caller asks.
    transaction = models.OneToOneField(Transaction, on_delete=models.CASCADE, related_name="dispute")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    status = models.CharField(max_length=20, default="open")
    created_at = models.DateTimeField(auto_now_add=True)
    call_id = models.CharField(max_length=128, blank=True)

    def __str__(self):
        return self.reference


class CardReplacement(models.Model):
    reference = models.CharField(max_length=12, unique=True)
    # One replacement per card, however often the caller asks.
    card = models.OneToOneField(Card, on_delete=models.CASCADE, related_name="replacement")
    created_at = models.DateTimeField(auto_now_add=True)
    call_id = models.CharField(max_length=128, blank=True)
    # Empty: the address on file. Set: an address the caller gave at level 2 (bank.changes).
    address_line = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)

    def __str__(self):
        return self.reference


class CardPayment(models.Model):
    """A payment of a card's bill from the customer's own account. `idempotency_key` is unique: a
    retried request, a repeated turn or two workers confirming the same quote pay once."""

    reference = models.CharField(max_length=12, unique=True)
    idempotency_key = models.CharField(max_length=64, unique=True)
    card = models.ForeignKey(Card, on_delete=models.PROTECT, related_name="payments")
    from_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="card_payments")
    amount = _money()
    currency = models.CharField(max_length=CURRENCY_MAX_LENGTH, default="USD")
    created_at = models.DateTimeField(auto_now_add=True)
    call_id = models.CharField(max_length=128, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="card_payment_amount_positive")]

    def __str__(self):
        return self.reference


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


class Authenticator(models.Model):
    """A customer's authenticator app (TOTP, RFC 6238), enrolled by staff in the admin (bank.totp).
    The shared secret is kept sealed (bank.sealing), never in clear; `last_step` is the time step of
    the last code accepted, so the same code (or an older one) is never accepted twice."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="authenticator")
    sealed_secret = models.TextField(editable=False)
    enrolled_at = models.DateTimeField(auto_now_add=True)
    enrolled_by = models.CharField(max_length=150, blank=True)
    last_step = models.BigIntegerField(default=0, editable=False)

    def __str__(self):
        return f"authenticator of {self.customer}"


class AppApproval(models.Model):
    """An approval the bank asked the customer's app to show (bank.push); the app backend answers
    through a signed callback. One decision per approval: pending, then approved, denied or expired."""

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        DENIED = "denied"
        EXPIRED = "expired"

    reference = models.CharField(max_length=40, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="app_approvals")
    call_id = models.CharField(max_length=128, blank=True)
    session_key = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["session_key", "-created_at"], name="approval_session_recent")]

    def __str__(self):
        return self.reference


class AuditEvent(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    request_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=50)
    masked_phone = models.CharField(max_length=20)
    card_last4 = models.CharField(max_length=4, blank=True)
    outcome = models.CharField(max_length=50)
    actor = models.CharField(max_length=150, blank=True,
                             help_text="The staff user who made the change; empty when the caller did, through the agent.")
    call_id = models.CharField(max_length=128, blank=True, help_text="The voice platform's call, when there is one.")
    detail = models.CharField(max_length=200, blank=True,
                              help_text="What the event was about: a case reference, a handoff's reason. Never a secret.")

    class Meta:
        ordering = ["created_at", "id"]


class FlaggedNumber(models.Model):
    """A phone number the bank wants a person to answer (fraud seen from it, a vulnerable customer):
    when Vapi asks which assistant takes a call from it, the call goes straight to the fraud team."""

    phone = models.CharField(max_length=20, unique=True, help_text="E.164, e.g. +15550100001")
    reason = models.CharField(max_length=200, blank=True, help_text="Why, for the staff (never read to the caller).")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True)

    def __str__(self):
        return f"flagged ...{self.phone[-4:]}"
