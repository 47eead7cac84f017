"""What the customer answers on the bank's call: a fraud alert's yes or no (a state machine whose first
definite answer is final) and a payment reminder's promise to pay, each kept on its request in one
transaction. The outbound call's actions (outbound/actions.py) call these."""
import datetime
import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from bank import services as bank_services
from bank.models import Dispute
from outbound.models import OutboundRequest

logger = logging.getLogger("fintalk.outbound")
Status, Outcome = OutboundRequest.Status, OutboundRequest.Outcome


class NoOutboundRequest(Exception):
    """The call has no outbound request of the kind the tool needs."""


def outcome_record(*, request_id: int, outcome: str, promised_date: datetime.date | None = None) -> None:
    """The conversation's result: kept on the request, which is done (a live call still holds its line
    until Vapi reports its end)."""
    now = timezone.now()
    OutboundRequest.objects.filter(pk=request_id).update(outcome=outcome, outcome_at=now, promised_date=promised_date,
                                                         updated_at=now)
    OutboundRequest.objects.filter(pk=request_id, status__in=OutboundRequest.ACTIVE).update(
        status=Status.DONE, next_attempt_at=None)
    logger.info("outbound outcome", extra={"outbound_request": request_id, "outcome": outcome})


@dataclass(frozen=True)
class FraudAnswer:
    outcome: str  # confirmed_genuine, fraud_reported, already_answered (the same answer) or contradicted
    card_network: str
    card_last4: str
    block: str = ""  # a BlockOutcome value after a "no": blocked, already_blocked, or why not (locked_out)
    dispute_reference: str = ""
    previous: str = ""  # the answer that stands, when this one came after it


def fraud_answer_record(*, request_id: int, made_by_customer: bool, call_id: str = "",
                        turn_request_id: str = "") -> FraudAnswer:
    """The customer's answer to a fraud alert: a state machine whose first definite answer is final.
    Yes: the transaction is genuine. No: the card is blocked and one dispute is opened. Each answer's
    writes are one transaction, audited with the call id. A later answer changes nothing: the same one
    is `already_answered`, the other `contradicted` (nothing is ever unblocked by voice)."""
    with transaction.atomic():
        # Only the request's row: PostgreSQL locks no nullable side of an outer join (its transaction).
        request = (OutboundRequest.objects.select_for_update(of=("self",))
                   .select_related("customer", "transaction__card")
                   .filter(pk=request_id, purpose=OutboundRequest.Purpose.FRAUD_ALERT).first())
        if request is None:
            raise NoOutboundRequest(request_id)
        spent, card = request.transaction, request.transaction.card
        answer = Outcome.CONFIRMED_GENUINE if made_by_customer else Outcome.FRAUD_REPORTED
        if request.outcome in (Outcome.CONFIRMED_GENUINE, Outcome.FRAUD_REPORTED):
            dispute = Dispute.objects.filter(transaction=spent).first()
            return FraudAnswer("already_answered" if request.outcome == answer else "contradicted", card.network,
                               card.last4, dispute_reference=dispute.reference if dispute else "",
                               previous=request.outcome)
        if made_by_customer:
            bank_services.transaction_mark_genuine(transaction=spent, call_id=call_id, request_id=turn_request_id)
            outcome_record(request_id=request.pk, outcome=answer)
            return FraudAnswer(answer, card.network, card.last4)
        block = bank_services.card_block(phone=request.customer.phone, last4=card.last4,
                                         reason="fraud alert: transaction not recognised", request_id=turn_request_id,
                                         call_id=call_id)
        dispute, _ = bank_services.dispute_create(transaction=spent, reason=Dispute.Reason.NOT_RECOGNISED,
                                                  call_id=call_id, request_id=turn_request_id)
        outcome_record(request_id=request.pk, outcome=answer)
    return FraudAnswer(answer, card.network, card.last4, block=block.outcome.value,
                       dispute_reference=dispute.reference)


def promise_to_pay_record(*, request_id: int, date: datetime.date) -> OutboundRequest:
    request = (OutboundRequest.objects.select_related("customer")
               .filter(pk=request_id, purpose=OutboundRequest.Purpose.PAYMENT_REMINDER).first())
    if request is None:
        raise NoOutboundRequest(request_id)
    outcome_record(request_id=request.pk, outcome=Outcome.PROMISE_TO_PAY, promised_date=date)
    request.refresh_from_db()
    return request
