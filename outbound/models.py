"""An outbound request (why the bank rings a customer, and how that ended) and its attempts (each
one call placed with Vapi).

A request moves pending -> calling -> done | failed, or pending/calling -> scheduled -> calling ...
when a call was not answered or had to wait for the calling hours; cancelled stops it anywhere.
A request waiting for the calling hours (`waits_for_hours`) is due whenever the hours, as configured
when a worker looks, allow a call: changing FINTALK_CALLING_HOURS releases it at the next sweep. A
call Vapi did not place because Vapi was down or busy (`OutboundAttempt.outage`) does not use up one
of the customer's attempts. A failed or cancelled request is history: the same alert or reminder
can be asked for again (a new request; the admin's "Retry" does that).
A request carries its own timing (`max_attempts`, fixed when it is created; `retry_seconds`, written
by the worker at each claim), so that every process deciding about it (a worker placing a call, the
web process taking Vapi's report) decides the same, the worker's way.
Every transition is a conditional UPDATE in `outbound.services`, so two workers never both place a
call. An attempt is live from the moment a worker claims it until Vapi reports the call ended (or
FINTALK_OUTBOUND_CALL_TIMEOUT passes): live attempts are what FINTALK_OUTBOUND_CONCURRENCY counts.
"""
from django.db import models
from django.db.models import Q

from bank.models import Card, Customer, Transaction


class OutboundRequest(models.Model):
    class Purpose(models.TextChoices):
        FRAUD_ALERT = "fraud_alert"
        PAYMENT_REMINDER = "payment_reminder"

    class Status(models.TextChoices):
        PENDING = "pending"  # to be called as soon as a worker, a line and the calling hours allow
        SCHEDULED = "scheduled"  # to be called at next_attempt_at (calling hours, or a retry's backoff)
        CALLING = "calling"  # an attempt is live
        DONE = "done"  # the conversation reached an outcome
        FAILED = "failed"  # the last attempt was not answered, or no call could be placed
        CANCELLED = "cancelled"

    class Outcome(models.TextChoices):
        CONFIRMED_GENUINE = "confirmed_genuine"  # "yes, that was me"
        FRAUD_REPORTED = "fraud_reported"  # "no": card blocked, dispute opened
        PAID = "paid"  # the card was paid during the call
        PROMISE_TO_PAY = "promise_to_pay"
        NO_ANSWER = "no_answer"  # no answer, busy or voicemail on the last attempt
        UNRESOLVED = "unresolved"  # answered, but the conversation reached no outcome
        NOT_PLACED = "not_placed"  # Vapi would not place the call

    ACTIVE = (Status.PENDING, Status.SCHEDULED, Status.CALLING)
    ENDED_WITHOUT_OUTCOME = (Status.FAILED, Status.CANCELLED)  # may be asked for again

    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="outbound_requests")
    transaction = models.ForeignKey(Transaction, null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="outbound_requests", help_text="The transaction a fraud alert is about.")
    card = models.ForeignKey(Card, null=True, blank=True, on_delete=models.CASCADE, related_name="outbound_requests",
                             help_text="The card a payment reminder is about.")
    due_date = models.DateField(null=True, blank=True, help_text="The payment due date a reminder is about.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)
    promised_date = models.DateField(null=True, blank=True, help_text="The day the customer promised to pay.")
    attempts = models.PositiveIntegerField(default=0)
    voicemails = models.PositiveIntegerField(default=0, help_text="Calls a machine answered (the voicemail was left).")
    voicemail_left_at = models.DateTimeField(null=True, blank=True, help_text="When the last voicemail was left.")
    max_attempts = models.PositiveIntegerField()
    retry_seconds = models.FloatField(default=900.0, help_text="The pause before the second attempt, doubled for "
                                                                "each one after (FINTALK_OUTBOUND_RETRY_SECONDS).")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    waits_for_hours = models.BooleanField(default=False, help_text="Scheduled only because it was outside the calling "
                                                                   "hours: due as soon as the current hours allow.")
    created_by = models.CharField(max_length=150, help_text="The staff user, API key or job that asked for the call.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbound_due")]
        constraints = [
            models.CheckConstraint(
                condition=(Q(purpose="fraud_alert", transaction__isnull=False)
                           | Q(purpose="payment_reminder", card__isnull=False, due_date__isnull=False)),
                name="outbound_request_has_its_record"),
            # One live (or done) fraud alert per transaction and one reminder per bill: a repeated
            # request (the fraud system retrying, the reminder job running again) finds the first one.
            # A failed or cancelled one does not count: the call can be asked for again.
            models.UniqueConstraint(fields=["transaction"],
                                    condition=Q(purpose="fraud_alert") & ~Q(status__in=["cancelled", "failed"]),
                                    name="outbound_one_fraud_alert_per_transaction"),
            models.UniqueConstraint(fields=["card", "due_date"],
                                    condition=Q(purpose="payment_reminder") & ~Q(status__in=["cancelled", "failed"]),
                                    name="outbound_one_reminder_per_bill"),
        ]

    def __str__(self):
        return f"{self.get_purpose_display()} #{self.pk} ({self.status})"


class OutboundAttempt(models.Model):
    class Status(models.TextChoices):
        DIALING = "dialing"  # claimed by a worker, POST /call under way
        PLACED = "placed"  # Vapi accepted the call
        ENDED = "ended"  # Vapi reported the end (ended_reason says how)
        NOT_PLACED = "not_placed"  # Vapi refused or could not be reached
        LOST = "lost"  # no end report within FINTALK_OUTBOUND_CALL_TIMEOUT

    request = models.ForeignKey(OutboundRequest, on_delete=models.CASCADE, related_name="call_attempts")
    number = models.PositiveIntegerField()
    vapi_call_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DIALING)
    ended_reason = models.CharField(max_length=100, blank=True)
    error = models.CharField(max_length=200, blank=True, help_text="Why the call was not placed (never a number).")
    outage = models.BooleanField(default=False, help_text="Not placed because Vapi was unreachable or failing: "
                                                          "not counted as one of the customer's attempts.")
    started_at = models.DateTimeField(auto_now_add=True)
    placed_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["request", "number"]
        constraints = [
            models.UniqueConstraint(fields=["request", "number"], name="outbound_attempt_number"),
            models.UniqueConstraint(fields=["vapi_call_id"], condition=~Q(vapi_call_id=""),
                                    name="outbound_attempt_unique_vapi_call"),
            # Never two live calls for one request: at most one attempt without an end.
            models.UniqueConstraint(fields=["request"], condition=Q(ended_at__isnull=True),
                                    name="outbound_one_live_attempt"),
        ]
        indexes = [models.Index(fields=["ended_at", "started_at"], name="outbound_attempt_live")]

    def __str__(self):
        return f"attempt {self.number} of #{self.request_id}"
