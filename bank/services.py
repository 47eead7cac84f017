"""Writes to the bank's data, with the bank's rules enforced here, not in prompts.

`card_block` is the only way a card changes state by voice: it needs the caller's phone (from the
call, never from the model) and the last four digits of one of that caller's cards. The state
change is a conditional UPDATE, so two concurrent requests make exactly one transition and one
audit event; a second request finds the card already blocked.
"""
import enum
import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from bank.masking import mask_phone
from bank.models import AuditEvent, Card
from bank.selectors import customer_get_by_phone

logger = logging.getLogger("fintalk.bank")


class BlockOutcome(str, enum.Enum):
    BLOCKED = "blocked"
    ALREADY_BLOCKED = "already_blocked"
    CARD_NOT_FOUND = "card_not_found"
    CUSTOMER_NOT_FOUND = "customer_not_found"


@dataclass(frozen=True)
class BlockResult:
    outcome: BlockOutcome
    card: Card | None = None


def card_block(*, phone: str, last4: str, reason: str, request_id: str = "") -> BlockResult:
    customer = customer_get_by_phone(phone=phone)
    if customer is None:
        outcome = BlockResult(BlockOutcome.CUSTOMER_NOT_FOUND)
    else:
        card = customer.cards.filter(last4=last4).first()
        if card is None:
            outcome = BlockResult(BlockOutcome.CARD_NOT_FOUND)
        else:
            outcome = _transition_to_blocked(card, reason=reason, phone=phone, request_id=request_id)
    if outcome.outcome is not BlockOutcome.BLOCKED:
        logger.info("card block refused", extra={"outcome": outcome.outcome.value, "phone": mask_phone(phone)})
    return outcome


def _transition_to_blocked(card: Card, *, reason: str, phone: str, request_id: str) -> BlockResult:
    with transaction.atomic():
        changed = Card.objects.filter(pk=card.pk, status=Card.Status.ACTIVE).update(
            status=Card.Status.BLOCKED, blocked_at=timezone.now(), block_reason=reason[:200]
        )
        if not changed:
            card.refresh_from_db()
            return BlockResult(BlockOutcome.ALREADY_BLOCKED, card)
        AuditEvent.objects.create(
            request_id=request_id[:64], action="card_block", masked_phone=mask_phone(phone),
            card_last4=card.last4, outcome=BlockOutcome.BLOCKED.value,
        )
    card.refresh_from_db()
    logger.info("card blocked", extra={"card_last4": card.last4, "phone": mask_phone(phone)})
    return BlockResult(BlockOutcome.BLOCKED, card)
