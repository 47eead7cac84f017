"""Writes to the bank's data, with the bank's rules enforced here, not in prompts.

`card_block` is the only way a card changes state by voice: it needs the caller's phone (from the
call, never from the model) and the last four digits of one of that caller's cards. The state
change is a conditional UPDATE, so two concurrent requests make exactly one transition and one
audit event; a second request finds the card already blocked. `card_unblock` is the reverse, for
the bank's staff only (the admin's action; no agent tool calls it). Both record who acted: the
staff user's name as `actor`, or nothing when the caller acted through the agent.

Last-four digits cannot be guessed by phone: a caller's wrong digits are counted per phone in the
shared cache (Redis with FINTALK_CACHE_URL, so every worker and replica counts the same), and after
FINTALK_CARD_LOCKOUT_ATTEMPTS of them within FINTALK_CARD_LOCKOUT_SECONDS the phone's card actions
are locked for FINTALK_CARD_LOCKOUT_SECONDS (`locked_out`; one audit event records the lock). The
count runs from the first wrong attempt; right digits neither count nor reset it. Staff (`actor`)
are never locked out.
"""
import enum
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.db import transaction
from django.utils import timezone

from bank.masking import mask_phone
from bank.models import AuditEvent, Card
from bank.selectors import card_actions_locked, card_lockout_key, customer_get_by_phone, wrong_last4_key

logger = logging.getLogger("fintalk.bank")


class BlockOutcome(str, enum.Enum):
    BLOCKED = "blocked"
    ALREADY_BLOCKED = "already_blocked"
    CARD_NOT_FOUND = "card_not_found"
    CUSTOMER_NOT_FOUND = "customer_not_found"
    LOCKED_OUT = "locked_out"  # too many wrong last-four digits for this phone: card actions refused


@dataclass(frozen=True)
class BlockResult:
    outcome: BlockOutcome
    card: Card | None = None


class UnblockOutcome(str, enum.Enum):
    UNBLOCKED = "unblocked"
    ALREADY_ACTIVE = "already_active"
    CARD_NOT_FOUND = "card_not_found"
    CUSTOMER_NOT_FOUND = "customer_not_found"


@dataclass(frozen=True)
class UnblockResult:
    outcome: UnblockOutcome
    card: Card | None = None


def _find_card(phone: str, last4: str) -> Card | str:
    """The customer's card, or which of the two lookups failed ("customer_not_found", "card_not_found")."""
    customer = customer_get_by_phone(phone=phone)
    if customer is None:
        return "customer_not_found"
    card = customer.cards.filter(last4=last4).first()
    return card if card is not None else "card_not_found"


def card_block(*, phone: str, last4: str, reason: str, request_id: str = "", actor: str = "") -> BlockResult:
    by_caller = not actor
    if by_caller and card_actions_locked(phone=phone):
        outcome = BlockResult(BlockOutcome.LOCKED_OUT)
        logger.info("card block refused", extra={"outcome": outcome.outcome.value, "phone": mask_phone(phone)})
        return outcome
    found = _find_card(phone, last4)
    if isinstance(found, str):
        outcome = BlockResult(BlockOutcome(found))
        if by_caller and outcome.outcome is BlockOutcome.CARD_NOT_FOUND:
            _count_wrong_last4(phone, request_id)
    else:
        outcome = _transition_to_blocked(found, reason=reason, phone=phone, request_id=request_id, actor=actor)
    if outcome.outcome is not BlockOutcome.BLOCKED:
        logger.info("card block refused", extra={"outcome": outcome.outcome.value, "phone": mask_phone(phone)})
    return outcome


def _count_wrong_last4(phone: str, request_id: str) -> None:
    """One more wrong attempt for this phone; at the limit, lock its card actions (once, whichever
    worker gets there first: `add` is atomic in Redis) and record the lock in the audit trail."""
    cache, window = caches["default"], settings.FINTALK_CARD_LOCKOUT_SECONDS
    key = wrong_last4_key(phone)
    cache.add(key, 0, window)  # the window starts at the first wrong attempt
    try:
        count = cache.incr(key)
    except ValueError:  # the count expired between add and incr: this attempt starts a new one
        cache.set(key, 1, window)
        count = 1
    if count < settings.FINTALK_CARD_LOCKOUT_ATTEMPTS or not cache.add(card_lockout_key(phone), True, window):
        return
    cache.delete(key)  # counting starts afresh once the lock ends
    AuditEvent.objects.create(request_id=request_id[:64], action="card_lockout", masked_phone=mask_phone(phone),
                              outcome=BlockOutcome.LOCKED_OUT.value)
    logger.warning("card actions locked", extra={"phone": mask_phone(phone), "wrong_attempts": count,
                                                 "seconds": window})


def _transition_to_blocked(card: Card, *, reason: str, phone: str, request_id: str, actor: str) -> BlockResult:
    with transaction.atomic():
        changed = Card.objects.filter(pk=card.pk, status=Card.Status.ACTIVE).update(
            status=Card.Status.BLOCKED, blocked_at=timezone.now(), block_reason=reason[:200]
        )
        if not changed:
            card.refresh_from_db()
            return BlockResult(BlockOutcome.ALREADY_BLOCKED, card)
        AuditEvent.objects.create(
            request_id=request_id[:64], action="card_block", masked_phone=mask_phone(phone),
            card_last4=card.last4, outcome=BlockOutcome.BLOCKED.value, actor=actor[:150],
        )
    card.refresh_from_db()
    logger.info("card blocked", extra={"card_last4": card.last4, "phone": mask_phone(phone), "actor": actor})
    return BlockResult(BlockOutcome.BLOCKED, card)


def card_unblock(*, phone: str, last4: str, actor: str, request_id: str = "") -> UnblockResult:
    """Reactivate a blocked card (staff only): one conditional UPDATE and one audit event, like a block."""
    found = _find_card(phone, last4)
    if isinstance(found, str):
        return UnblockResult(UnblockOutcome(found))
    with transaction.atomic():
        changed = Card.objects.filter(pk=found.pk, status=Card.Status.BLOCKED).update(
            status=Card.Status.ACTIVE, blocked_at=None, block_reason=""
        )
        if changed:
            AuditEvent.objects.create(
                request_id=request_id[:64], action="card_unblock", masked_phone=mask_phone(phone),
                card_last4=found.last4, outcome=UnblockOutcome.UNBLOCKED.value, actor=actor[:150],
            )
    found.refresh_from_db()
    if not changed:
        return UnblockResult(UnblockOutcome.ALREADY_ACTIVE, found)
    logger.info("card unblocked", extra={"card_last4": found.last4, "phone": mask_phone(phone), "actor": actor})
    return UnblockResult(UnblockOutcome.UNBLOCKED, found)
