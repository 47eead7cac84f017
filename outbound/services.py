"""Every write of the outbound app: creating requests, claiming and placing calls, what Vapi's
reports and the conversation's outcomes do to a request, cancelling.

Two workers never place one call: a worker claims a request in one transaction (PostgreSQL: an
advisory lock that serialises claims, then the request's row locked; SQLite: the IMMEDIATE
transaction is the lock) that checks the calling hours and the lines in use and moves the request
pending/scheduled -> calling with a conditional UPDATE; the database also allows one live attempt
per request. The HTTP call to Vapi happens after that transaction, never inside it.

The timing is the workers': a claim writes the worker's FINTALK_OUTBOUND_RETRY_SECONDS on the request,
and the pause after a call is computed from that (`retry_seconds`), also when the web process takes
Vapi's report. The calling hours are read (FINTALK_CALLING_HOURS) each time a request is due.

Why one module of ~300 lines: the outbound request's state machine (create, claim, report,
answer, cancel) in one place; each transition is a short transaction.
"""
import datetime
import logging
from dataclasses import dataclass

from celery import current_app
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from bank.dates import local_date
from core.masking import mask_phone
from bank.models import Card, Transaction
from core.exceptions import InvalidRequest
from outbound import hours, selectors, vapi
from outbound.models import OutboundAttempt, OutboundRequest

logger = logging.getLogger("fintalk.outbound")

Status, Outcome = OutboundRequest.Status, OutboundRequest.Outcome
CLAIM_LOCK = 2121_0001  # pg_advisory_xact_lock key: claims (count of live calls, then the claim) one at a time
# Vapi's endedReason values that mean nobody (or a machine) answered: try again later.
NO_CONTACT = frozenset({"customer-did-not-answer", "customer-busy", "voicemail", "customer-did-not-give-microphone-permission"})


class OutboundInputError(InvalidRequest):
    """A request for a call that cannot be made as asked (400, with the field at fault)."""

    def __init__(self, message: str, *, param: str, code: str = "invalid_value"):
        super().__init__(message, param=param)
        self.code = code


class OutboundNotFound(InvalidRequest):
    status_code = 404
    code = "not_found"


def calling_hours() -> hours.CallingHours:
    return hours.configured()


# --- creating and cancelling ---------------------------------------------------------------------

def fraud_alert_create(*, customer_id: int, transaction_id: int, created_by: str) -> tuple[OutboundRequest, bool]:
    """A fraud alert on one of the customer's card purchases; (the request, False) when one is already live."""
    found = Transaction.objects.select_related("card").filter(pk=transaction_id).first()
    if found is None or found.customer_id != customer_id:
        # Another customer's transaction is answered like an unknown one: the id says nothing.
        raise OutboundInputError(f"The customer has no transaction {transaction_id}.", param="transaction",
                                 code="transaction_not_found")
    if found.card_id is None or found.direction != Transaction.Direction.DEBIT:
        raise OutboundInputError("A fraud alert is about a purchase on a card; this transaction is not one.",
                                 param="transaction", code="not_a_card_purchase")
    if found.confirmed_genuine_at is not None:
        raise OutboundInputError("The customer already confirmed this transaction as genuine.",
                                 param="transaction", code="already_confirmed")
    return _create(purpose=OutboundRequest.Purpose.FRAUD_ALERT, customer_id=customer_id, spent=found,
                   created_by=created_by)


def payment_reminder_create(*, customer_id: int, card_id: int, created_by: str) -> tuple[OutboundRequest, bool]:
    """A reminder that the card's payment is due; (the request, False) when one exists for this bill."""
    card = Card.objects.filter(pk=card_id).first()
    if card is None or card.customer_id != customer_id:
        raise OutboundInputError(f"The customer has no card {card_id}.", param="card", code="card_not_found")
    if card.payment_due_date is None or card.minimum_due <= 0:
        raise OutboundInputError(f"Nothing is due on the card ending {card.last4}: no reminder to make.",
                                 param="card", code="nothing_due")
    return _create(purpose=OutboundRequest.Purpose.PAYMENT_REMINDER, customer_id=customer_id, card=card,
                   due_date=card.payment_due_date, created_by=created_by)


def _create(*, purpose, customer_id, created_by, spent=None, card=None, due_date=None):
    same = OutboundRequest.objects.filter(purpose=purpose).exclude(status__in=OutboundRequest.ENDED_WITHOUT_OUTCOME)
    same = same.filter(transaction=spent) if spent else same.filter(card=card, due_date=due_date)
    existing = same.first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            request = OutboundRequest.objects.create(
                purpose=purpose, customer_id=customer_id, transaction=spent, card=card, due_date=due_date,
                max_attempts=settings.FINTALK_OUTBOUND_MAX_ATTEMPTS,
                retry_seconds=settings.FINTALK_OUTBOUND_RETRY_SECONDS, created_by=created_by[:150])
    except IntegrityError:  # the same request, created a moment ago by another process
        return same.get(), False
    logger.info("outbound request created", extra={"outbound_request": request.pk, "purpose": purpose,
                                                   "created_by": created_by})
    # A worker gets it once it is committed (and the sweep finds it if the broker was unreachable).
    transaction.on_commit(lambda: enqueue(request.pk))
    return request, True


def enqueue(request_id: int) -> None:
    """Queue `outbound.place_call` by its name (outbound/tasks.py calls these services, not the reverse)."""
    try:
        current_app.send_task("outbound.place_call", (request_id,), retry=False)
    except Exception as error:  # the broker is down: the request is saved, the next sweep places it
        logger.warning("outbound request not queued; the sweep will place it",
                       extra={"outbound_request": request_id, "error": type(error).__name__})


def request_cancel(*, request_id: int, actor: str) -> tuple[OutboundRequest, bool]:
    """Stop a request's calls (a live call goes on, but nothing follows it); (request, changed)."""
    changed = OutboundRequest.objects.filter(pk=request_id, status__in=OutboundRequest.ACTIVE).update(
        status=Status.CANCELLED, next_attempt_at=None, updated_at=timezone.now())
    request = OutboundRequest.objects.filter(pk=request_id).first()
    if request is None:
        raise OutboundNotFound(f"No outbound request {request_id}.", param="id")
    if changed:
        logger.info("outbound request cancelled", extra={"outbound_request": request_id, "actor": actor})
    return request, bool(changed)


def request_retry(*, request_id: int, actor: str) -> tuple[OutboundRequest, bool]:
    """Ask again for the call of a failed or cancelled request (the admin's "Retry"): a new request for
    the same transaction or bill, under the same rules as the first; (the live one, False) if there is one
    already. Raises OutboundInputError when that call can no longer be asked for (e.g. already confirmed)."""
    request = OutboundRequest.objects.filter(pk=request_id).first()
    if request is None:
        raise OutboundNotFound(f"No outbound request {request_id}.", param="id")
    if request.status not in OutboundRequest.ENDED_WITHOUT_OUTCOME:
        raise OutboundInputError(f"Request {request_id} is {request.status}: only a failed or cancelled request is "
                                 "retried.", param="id", code="not_retryable")
    if request.purpose == OutboundRequest.Purpose.FRAUD_ALERT:
        return fraud_alert_create(customer_id=request.customer_id, transaction_id=request.transaction_id,
                                  created_by=actor)
    return payment_reminder_create(customer_id=request.customer_id, card_id=request.card_id, created_by=actor)


# --- placing calls -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    attempt: OutboundAttempt | None
    reason: str  # "claimed", "not_due", "outside_hours", "busy"


def _lock_claims() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_LOCK])


def claim(request_id: int) -> Claim:
    """Move a due request to `calling` and open its next attempt, if the hours and the lines allow."""
    with transaction.atomic():
        _lock_claims()
        request = (OutboundRequest.objects.select_for_update(of=("self",)).select_related("customer")
                   .filter(pk=request_id).first())
        now = timezone.now()
        # A request waiting for the calling hours is due whenever the hours, read now, allow a call.
        if request is None or request.status not in (Status.PENDING, Status.SCHEDULED) or \
                (request.next_attempt_at and request.next_attempt_at > now and not request.waits_for_hours):
            return Claim(None, "not_due")
        opening = calling_hours().next_opening(now, request.customer.time_zone)
        if opening is not None:
            OutboundRequest.objects.filter(pk=request.pk, status=request.status).update(
                status=Status.SCHEDULED, next_attempt_at=opening, waits_for_hours=True, updated_at=now)
            logger.info("outbound call waits for calling hours", extra={"outbound_request": request.pk,
                                                                        "next_attempt_at": opening.isoformat()})
            return Claim(None, "outside_hours")
        if selectors.live_call_count(now=now) >= settings.FINTALK_OUTBOUND_CONCURRENCY:
            return Claim(None, "busy")
        moved = OutboundRequest.objects.filter(pk=request.pk, status=request.status).update(
            status=Status.CALLING, attempts=F("attempts") + 1, next_attempt_at=None, waits_for_hours=False,
            retry_seconds=settings.FINTALK_OUTBOUND_RETRY_SECONDS, updated_at=now)
        if not moved:
            return Claim(None, "not_due")
        # Numbered by the calls made, outages included (those do not count in `attempts`).
        number = (request.call_attempts.aggregate(last=Max("number"))["last"] or 0) + 1
        attempt = OutboundAttempt.objects.create(request=request, number=number)
    return Claim(attempt, "claimed")


def place(request_id: int) -> str:
    """Claim the request and ring the customer through Vapi; what happened, in a word."""
    claimed = claim(request_id)
    if claimed.attempt is None:
        return claimed.reason
    request = OutboundRequest.objects.select_related("customer").get(pk=request_id)
    attempt = claimed.attempt
    try:
        call = vapi.place_call(request_id=request.pk, purpose=request.purpose, phone=request.customer.phone,
                               first_name=request.customer.first_name)
    except (vapi.CallNotPlaced, ImproperlyConfigured) as error:
        reason = getattr(error, "reason", str(error))
        # Vapi down, failing or not configured is no answer from the customer: it uses up no attempt.
        outage = getattr(error, "outage", True)
        logger.warning("outbound call not placed", extra={"outbound_request": request.pk, "attempt": attempt.number,
                                                          "reason": reason, "outage": outage,
                                                          "phone": mask_phone(request.customer.phone)})
        OutboundAttempt.objects.filter(pk=attempt.pk).update(status=OutboundAttempt.Status.NOT_PLACED,
                                                             error=reason[:200], outage=outage, ended_at=timezone.now())
        if outage:
            _after_outage(request.pk)
            return "outage"
        _after_attempt(request.pk, ended_reason="not-placed")
        return "not_placed"
    OutboundAttempt.objects.filter(pk=attempt.pk, status=OutboundAttempt.Status.DIALING).update(
        status=OutboundAttempt.Status.PLACED, vapi_call_id=call.call_id, placed_at=timezone.now())
    return "placed"


def call_ended(*, vapi_call_id: str, ended_reason: str) -> bool:
    """Vapi reported the call ended (status-update `ended` or end-of-call-report; either may come
    first, both usually come): end its attempt once and decide what follows. False: not ours, or known."""
    now = timezone.now()
    ended = OutboundAttempt.objects.filter(vapi_call_id=vapi_call_id, ended_at__isnull=True).update(
        status=OutboundAttempt.Status.ENDED, ended_reason=(ended_reason or "unknown")[:100], ended_at=now)
    if not ended:
        return False
    attempt = OutboundAttempt.objects.get(vapi_call_id=vapi_call_id)
    _after_attempt(attempt.request_id, ended_reason=ended_reason)
    return True


def lost_calls_end(*, now: datetime.datetime | None = None) -> int:
    """Attempts with no end report long after they started (a lost webhook, a worker that died
    mid-POST) are given up, so they stop holding a line and the request can go on."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=settings.FINTALK_OUTBOUND_CALL_TIMEOUT)
    lost = list(OutboundAttempt.objects.filter(ended_at__isnull=True, started_at__lt=cutoff)
                .values_list("pk", "request_id"))
    for pk, request_id in lost:
        if OutboundAttempt.objects.filter(pk=pk, ended_at__isnull=True).update(
                status=OutboundAttempt.Status.LOST, ended_at=now, ended_reason="no-end-report"):
            _after_attempt(request_id, ended_reason="no-end-report")
    return len(lost)


def _after_attempt(request_id: int, *, ended_reason: str) -> None:
    """A call of a `calling` request is over: done with the outcome the conversation wrote, or the
    next attempt after a backoff, or failed after the last one. A voicemail is counted on the request;
    the next try waits FINTALK_OUTBOUND_VOICEMAIL_RETRY_SECONDS at least, and a second one ends it. Other statuses (cancelled, done by a
    tool during the call) are left as they are."""
    now = timezone.now()
    with transaction.atomic():
        request = OutboundRequest.objects.select_for_update().filter(pk=request_id, status=Status.CALLING).first()
        if request is None:
            return
        if request.outcome:
            request.status = Status.DONE
        elif request.purpose == OutboundRequest.Purpose.PAYMENT_REMINDER and _paid_since(request):
            request.status, request.outcome, request.outcome_at = Status.DONE, Outcome.PAID, now
        elif ended_reason == "voicemail" and request.voicemails >= 1:
            # A second machine: one message is enough, a string of them is a nuisance (and a storm of calls).
            request.status, request.outcome, request.outcome_at = Status.FAILED, Outcome.NO_ANSWER, now
        elif request.attempts >= request.max_attempts:
            request.status, request.outcome_at = Status.FAILED, now
            request.outcome = (Outcome.NO_ANSWER if ended_reason in NO_CONTACT else
                               Outcome.NOT_PLACED if ended_reason == "not-placed" else Outcome.UNRESOLVED)
        else:  # the request's own timing, whichever process decides (the web process, for Vapi's report)
            delay = request.retry_seconds * 2 ** (request.attempts - 1)
            if ended_reason == "voicemail":  # the message was left: give them time to call back first
                delay = max(delay, settings.FINTALK_OUTBOUND_VOICEMAIL_RETRY_SECONDS)
            request.status, request.next_attempt_at = Status.SCHEDULED, now + datetime.timedelta(seconds=delay)
        if ended_reason == "voicemail":
            request.voicemails, request.voicemail_left_at = request.voicemails + 1, now
        request.save(update_fields=["status", "outcome", "outcome_at", "next_attempt_at", "updated_at", "voicemails",
                                    "voicemail_left_at"])
    logger.info("outbound call ended", extra={"outbound_request": request_id, "ended_reason": ended_reason,
                                              "status": request.status, "outcome": request.outcome,
                                              "attempts": request.attempts})


MAX_OUTAGE_PAUSE = 3600.0  # seconds: while Vapi is down, a request is tried again at least hourly


def _after_outage(request_id: int) -> None:
    """The call was not placed because of Vapi: the claim's attempt is given back and the request tried
    again after a pause that grows with the outages in a row (the request's retry_seconds, doubled each
    time, at most MAX_OUTAGE_PAUSE)."""
    now = timezone.now()
    with transaction.atomic():
        request = OutboundRequest.objects.select_for_update().filter(pk=request_id, status=Status.CALLING).first()
        if request is None:
            return
        recent = list(request.call_attempts.order_by("-number").values_list("outage", flat=True)[:12])
        in_a_row = next((index for index, outage in enumerate(recent) if not outage), len(recent))
        delay = min(request.retry_seconds * 2 ** max(in_a_row - 1, 0), MAX_OUTAGE_PAUSE)
        request.status, request.attempts = Status.SCHEDULED, max(request.attempts - 1, 0)
        request.next_attempt_at = now + datetime.timedelta(seconds=delay)
        request.save(update_fields=["status", "attempts", "next_attempt_at", "updated_at"])
    logger.info("outbound call not placed: Vapi unavailable, no attempt used",
                extra={"outbound_request": request_id, "next_attempt_at": request.next_attempt_at.isoformat()})


def _paid_since(request: OutboundRequest) -> bool:
    return request.card.payments.filter(created_at__gte=request.created_at).exists()


def reminders_create_due(*, now: datetime.datetime | None = None) -> int:
    """The periodic job: a payment reminder for every card whose payment is due within
    FINTALK_REMINDER_DAYS_BEFORE days of the customer's own today. Idempotent (one per bill)."""
    now = now or timezone.now()
    days = settings.FINTALK_REMINDER_DAYS_BEFORE
    utc_today = now.date()
    candidates = (Card.objects.select_related("customer")
                  .filter(minimum_due__gt=0, payment_due_date__gte=utc_today - datetime.timedelta(days=1),
                          payment_due_date__lte=utc_today + datetime.timedelta(days=days + 1))
                  .exclude(outbound_requests__purpose=OutboundRequest.Purpose.PAYMENT_REMINDER,
                           outbound_requests__due_date=F("payment_due_date")))
    created = 0
    for card in candidates:
        today = local_date(now, card.customer)
        if today <= card.payment_due_date <= today + datetime.timedelta(days=days):
            created += payment_reminder_create(customer_id=card.customer_id, card_id=card.pk,
                                               created_by="reminder-job")[1]
    return created


# --- outcomes the conversation writes --------------------------------------------------------------
