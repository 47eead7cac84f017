"""Reads of the outbound app: what a chat request of an outbound call is about, the lines in use,
the requests that are due.

`outbound_context` is what the agent may know about the outbound call it is in: the purpose, the
customer's first name, the merchant, amount and date of a fraud alert's transaction, the amounts and
due date of a reminder's bill, and a card as its network and last four digits. Never a full number:
the bank does not hold one, and nothing else about the customer is put in it.
"""
import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from bank.dates import local_date
from outbound.hours import open_zones
from outbound.models import OutboundAttempt, OutboundRequest

OUTBOUND_CALL_TYPE = "outboundPhoneCall"
ID_KEY = "fintalkOutboundRequestId"  # the key outbound.vapi puts in metadata and variableValues


@dataclass(frozen=True)
class OutboundContext:
    purpose: str  # OutboundRequest.Purpose: "fraud_alert" or "payment_reminder"
    request_id: int
    customer_first_name: str
    card_network: str = ""
    card_last4: str = ""
    # A fraud alert's transaction:
    merchant: str = ""
    amount: Decimal | None = None
    currency: str = ""
    transaction_date: datetime.date | None = None  # in the customer's time zone
    # A payment reminder's bill:
    amount_due: Decimal | None = None  # the statement balance
    minimum_due: Decimal | None = None
    due_date: datetime.date | None = None


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _request_id(body: dict, call: dict) -> int | None:
    """The first request id found where Vapi may put it: the customer's externalId, the metadata
    (top level, destructured, or the call's assistant overrides), the variable values."""
    overrides = _dict(call.get("assistantOverrides"))
    candidates = [
        _dict(body.get("customer")).get("externalId"), _dict(call.get("customer")).get("externalId"),
        _dict(body.get("metadata")).get(ID_KEY), body.get(ID_KEY), _dict(call.get("metadata")).get(ID_KEY),
        _dict(overrides.get("metadata")).get(ID_KEY), _dict(overrides.get("variableValues")).get(ID_KEY),
        _dict(body.get("variableValues")).get(ID_KEY),
    ]
    for candidate in candidates:
        text = str(candidate).strip() if isinstance(candidate, (str, int)) and not isinstance(candidate, bool) else ""
        if text.isdigit() and 0 < int(text) < 2 ** 63:
            return int(text)
    return None


def _dialled_number(body: dict, call: dict) -> str | None:
    number = _dict(body.get("customer")).get("number") or _dict(call.get("customer")).get("number")
    return number if isinstance(number, str) and number else None


def outbound_context(body: dict) -> OutboundContext | None:
    """The outbound request a chat request of a Vapi outbound call is about, in one query: the request
    whose live attempt is this very Vapi call (its id recorded when the bank placed it), while that
    request is calling or reached its outcome on this call. None for any other request: no call id,
    a call the bank did not place or that has ended, a cancelled or finished request, metadata naming
    another request, or a number Vapi dialled that is not the request's customer's."""
    if not isinstance(body, dict):
        return None
    call = _dict(body.get("call"))
    call_id = call.get("id")
    if call.get("type") != OUTBOUND_CALL_TYPE or not isinstance(call_id, str) or not call_id:
        return None
    request = (OutboundRequest.objects.select_related("customer", "card", "transaction__card")
               .filter(call_attempts__vapi_call_id=call_id[:64], call_attempts__status=OutboundAttempt.Status.PLACED,
                       status__in=(OutboundRequest.Status.CALLING, OutboundRequest.Status.DONE)).first())
    if request is None:
        return None
    named = _request_id(body, call)
    if named is not None and named != request.pk:
        return None
    number = _dialled_number(body, call)
    if number is not None and number != request.customer.phone:
        return None
    return _context(request)


def _context(request: OutboundRequest) -> OutboundContext:
    customer = request.customer
    common = {"purpose": request.purpose, "request_id": request.pk, "customer_first_name": customer.first_name}
    if request.purpose == OutboundRequest.Purpose.FRAUD_ALERT:
        spent, card = request.transaction, request.transaction.card
        return OutboundContext(
            **common, card_network=card.network if card else "", card_last4=card.last4 if card else "",
            merchant=spent.merchant, amount=spent.amount, currency=spent.currency,
            transaction_date=local_date(spent.posted_at, customer))
    card = request.card
    return OutboundContext(**common, card_network=card.network, card_last4=card.last4, currency=card.currency,
                           amount_due=card.statement_balance, minimum_due=card.minimum_due, due_date=request.due_date)


def request_of_call(vapi_call_id: str) -> OutboundRequest | None:
    """The outbound request a Vapi call was placed for (the console's call page), or None."""
    if not vapi_call_id:
        return None
    return OutboundRequest.objects.filter(call_attempts__vapi_call_id=vapi_call_id[:64]).first()


def live_call_count(*, now: datetime.datetime | None = None) -> int:
    """Calls in flight: attempts claimed and not reported ended, younger than the call timeout."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=settings.FINTALK_OUTBOUND_CALL_TIMEOUT)
    return OutboundAttempt.objects.filter(ended_at__isnull=True, started_at__gte=cutoff).count()


def due_request_ids(*, limit: int, now: datetime.datetime | None = None) -> list[int]:
    """Requests a worker may try now, oldest first: pending ones, scheduled ones whose time came, and
    those waiting for the calling hours whose customers' hours (as configured now) allow a call."""
    now = now or timezone.now()
    Status = OutboundRequest.Status
    waiting = OutboundRequest.objects.filter(status=Status.SCHEDULED, waits_for_hours=True)
    zones = open_zones(set(waiting.values_list("customer__time_zone", flat=True)), now)
    due = (Q(status=Status.PENDING) | Q(status=Status.SCHEDULED, waits_for_hours=False, next_attempt_at__lte=now)
           | Q(status=Status.SCHEDULED, waits_for_hours=True, customer__time_zone__in=zones))
    return list(OutboundRequest.objects.filter(due).order_by("next_attempt_at", "created_at", "id")
                .values_list("pk", flat=True)[:limit])
