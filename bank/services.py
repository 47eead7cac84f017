"""Writes to the bank's data, with the bank's rules enforced here, not in prompts.

`card_block` is the only way a card changes state by voice: it needs the caller's phone (from the
call, never from the model) and the last four digits of one of that caller's cards. The state
change is a conditional UPDATE, so two concurrent requests make exactly one transition and one
audit event; a second request finds the card already blocked. `card_unblock` is the reverse, for
the bank's staff only (the admin's action; no agent tool calls it). Both record who acted: the
staff user's name as `actor`, or nothing when the caller acted through the agent.

Last-four digits cannot be guessed by phone: a caller's wrong digits are counted per phone in the
shared cache (`bank.lockouts.CARD`), and after FINTALK_CARD_LOCKOUT_ATTEMPTS of them within
FINTALK_CARD_LOCKOUT_SECONDS the phone's card actions are locked for FINTALK_CARD_LOCKOUT_SECONDS
(`locked_out`; one audit event records the lock). The count runs from the first wrong attempt;
right digits neither count nor reset it. Staff in the admin (`actor`, no call) are never locked out. With the shared
cache down, a caller's card action is refused (`security_unavailable`): fail closed.

The phone line's cases (`bank.verification` level 1 first): disputes and card replacements (card
bill payments are `bank.payments`'). Each is one transaction with a unique constraint or a conditional update, so a
repeated request, a repeated turn or two workers make one case and one audit event.

The bank's writes in one place (HackSoft's services module), each a short transaction; the actions,
the admin and the outbound calls all call these. Paying a card bill has a module of its own
(`bank.payments`): a quote, then one payment on the caller's word.
"""
import datetime
import enum
import logging
import re
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from bank import dates, lockouts
from bank.audit import audit
from bank.models import Card, CardReplacement, Dispute, Transaction
from bank.speech import digits
from core.log_masking import mask_text
from core.masking import mask_phone
from bank.selectors import card_actions_locked, customer_get_by_phone
from bank.verification import VERIFIED, CallSession, Denied, Reason, parse_amount, require

logger = logging.getLogger("fintalk.bank")
transaction_atomic = transaction.atomic  # `transaction` is also the name of a Transaction argument below


class BlockOutcome(str, enum.Enum):
    BLOCKED = "blocked"
    ALREADY_BLOCKED = "already_blocked"
    CARD_NOT_FOUND = "card_not_found"
    CUSTOMER_NOT_FOUND = "customer_not_found"
    LOCKED_OUT = "locked_out"  # too many wrong last-four digits for this phone: card actions refused
    SECURITY_UNAVAILABLE = "security_unavailable"  # the shared cache is down: refused (fail closed)


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


def card_block(*, phone: str, last4: str, reason: str, request_id: str = "", actor: str = "",
               call_id: str = "") -> BlockResult:
    by_caller = not actor or bool(call_id)  # a call's block, even audited as staff (the playground), is locked out
    try:
        if by_caller and card_actions_locked(phone=phone):
            outcome = BlockResult(BlockOutcome.LOCKED_OUT)
        elif isinstance(found := _find_card(phone, last4), str):
            outcome = BlockResult(BlockOutcome(found))
            if by_caller and outcome.outcome is BlockOutcome.CARD_NOT_FOUND:
                lockouts.CARD.fail(phone, request_id=request_id, call_id=call_id, actor=actor)
        else:
            outcome = _transition_to_blocked(found, reason=reason, phone=phone, request_id=request_id, actor=actor,
                                             call_id=call_id)
    except Denied as denied:  # the shared cache is down: a caller's action fails closed
        if denied.reason is not Reason.SECURITY_UNAVAILABLE:
            raise
        outcome = BlockResult(BlockOutcome.SECURITY_UNAVAILABLE)
    if outcome.outcome is not BlockOutcome.BLOCKED:
        logger.info("card block refused", extra={"outcome": outcome.outcome.value, "phone": mask_phone(phone)})
    return outcome


def _transition_to_blocked(card: Card, *, reason: str, phone: str, request_id: str, actor: str,
                           call_id: str = "") -> BlockResult:
    with transaction.atomic():
        changed = Card.objects.filter(pk=card.pk, status=Card.Status.ACTIVE).update(
            status=Card.Status.BLOCKED, blocked_at=timezone.now(), block_reason=reason[:200]
        )
        if not changed:
            card.refresh_from_db()
            return BlockResult(BlockOutcome.ALREADY_BLOCKED, card)
        audit("card_block", BlockOutcome.BLOCKED.value, phone=phone, call_id=call_id, request_id=request_id,
              actor=actor, card_last4=card.last4)
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
            audit("card_unblock", UnblockOutcome.UNBLOCKED.value, phone=phone, request_id=request_id, actor=actor,
                  card_last4=found.last4)
    found.refresh_from_db()
    if not changed:
        return UnblockResult(UnblockOutcome.ALREADY_ACTIVE, found)
    logger.info("card unblocked", extra={"card_last4": found.last4, "phone": mask_phone(phone), "actor": actor})
    return UnblockResult(UnblockOutcome.UNBLOCKED, found)


# --- The phone line's cases: each needs level 1 (bank.verification) when a caller asks for it ---

def reference(prefix: str) -> str:
    """A short case reference the agent can read out: a letter and six characters, no 0/O or 1/I."""
    return prefix + "-" + "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6))


class CaseOutcome(str, enum.Enum):
    CREATED = "created"
    ALREADY_EXISTS = "already_exists"  # the same case was opened before: its reference, nothing new
    NOT_FOUND = "not_found"  # no such transaction / card of the caller's
    AMBIGUOUS = "ambiguous"  # several of the caller's transactions match: ask for more
    ADDRESS_MISMATCH = "address_mismatch"  # the city/ZIP the caller gave is not the one on file
    INVALID = "invalid"  # e.g. an unknown dispute reason


@dataclass(frozen=True)
class CaseResult:
    outcome: CaseOutcome
    reference: str = ""
    transaction: Transaction | None = None
    card: Card | None = None
    candidates: tuple[Transaction, ...] = ()


def dispute_create(*, transaction: Transaction, reason: str, call_id: str = "", request_id: str = "",
                   actor: str = "") -> tuple[Dispute, bool]:
    """Open the dispute of a transaction (one per transaction), with one audit event. Unchecked:
    the bank's own procedures (a fraud alert) call it; a caller goes through `dispute_open`."""
    try:
        with transaction_atomic():
            dispute = Dispute.objects.create(reference=reference("D"), customer_id=transaction.customer_id,
                                             transaction=transaction, reason=reason, call_id=call_id[:128])
            audit("dispute_open", CaseOutcome.CREATED.value, phone=transaction.customer.phone, call_id=call_id,
                  request_id=request_id, actor=actor, card_last4=transaction.card.last4 if transaction.card_id else "",
                  detail=dispute.reference)
    except IntegrityError:
        return Dispute.objects.get(transaction=transaction), False
    logger.info("dispute opened", extra={"reference": dispute.reference, "reason": reason})
    return dispute, True


def _matching_transactions(customer, *, merchant: str, amount: str | None, date: str | None):
    found = Transaction.objects.filter(customer=customer, merchant__icontains=merchant.strip(),
                                       direction=Transaction.Direction.DEBIT).select_related("card", "customer")
    value = parse_amount(amount) if amount else None
    if value is not None:
        found = found.filter(amount=value)
    try:
        day = datetime.date.fromisoformat(str(date).strip()) if date else None
    except ValueError:  # a day the caller said but the model could not write: match without it
        day = None
    if day is not None:  # the customer's own day (bank.dates), as the agent says it
        start = datetime.datetime.combine(day, datetime.time.min, tzinfo=dates.zone_of(customer))
        found = found.filter(posted_at__gte=start, posted_at__lt=start + datetime.timedelta(days=1))
    return list(found[:5])


def dispute_open(*, session: CallSession, merchant: str, reason: str, amount: str | None = None,
                 date: str | None = None) -> CaseResult:
    """A caller disputes one of their transactions, picked by merchant (and amount and date when
    several match). Raises `Denied` below level 1."""
    customer = require(session, VERIFIED)
    if reason not in Dispute.Reason.values or not (merchant or "").strip():
        return CaseResult(CaseOutcome.INVALID)
    matches = _matching_transactions(customer, merchant=merchant, amount=amount, date=date)
    if not matches:
        return CaseResult(CaseOutcome.NOT_FOUND)
    if len(matches) > 1:
        return CaseResult(CaseOutcome.AMBIGUOUS, candidates=tuple(matches))
    found = matches[0]
    dispute, created = dispute_create(transaction=found, reason=reason, call_id=session.call_id or "",
                                      request_id=session.request_id, actor=session.actor)
    return CaseResult(CaseOutcome.CREATED if created else CaseOutcome.ALREADY_EXISTS, dispute.reference, found,
                      found.card)


def transaction_mark_genuine(*, transaction: Transaction, call_id: str = "", request_id: str = "") -> bool:
    """The customer confirmed a transaction as theirs (a fraud alert's "yes"); True if it changed."""
    with transaction_atomic():
        changed = Transaction.objects.filter(pk=transaction.pk, confirmed_genuine_at__isnull=True).update(
            confirmed_genuine_at=timezone.now())
        if changed:
            audit("transaction_genuine", "confirmed", phone=transaction.customer.phone, call_id=call_id,
                  request_id=request_id, card_last4=transaction.card.last4 if transaction.card_id else "")
    return bool(changed)


def _normal(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", (text or "").lower())


def replacement_order(*, session: CallSession, card_last4: str, address_confirmation: str) -> CaseResult:
    """Order a replacement for the caller's card to the address on file, once the caller has
    confirmed that address by its city or ZIP code (never read out). One per card."""
    customer = require(session, VERIFIED)
    card = customer.cards.filter(last4=digits(card_last4)).first()
    if card is None:
        return CaseResult(CaseOutcome.NOT_FOUND)
    said = _normal(address_confirmation)
    on_file = {_normal(customer.city), _normal(customer.postal_code)} - {""}
    if not said or not any(said == known or (known.isdigit() and said.startswith(known)) for known in on_file):
        return CaseResult(CaseOutcome.ADDRESS_MISMATCH, card=card)
    try:
        with transaction_atomic():
            replacement = CardReplacement.objects.create(reference=reference("R"), card=card,
                                                         call_id=(session.call_id or "")[:128])
            session.audit("card_replacement", CaseOutcome.CREATED.value, card_last4=card.last4,
                   detail=replacement.reference)
    except IntegrityError:
        return CaseResult(CaseOutcome.ALREADY_EXISTS, CardReplacement.objects.get(card=card).reference, card=card)
    logger.info("card replacement ordered", extra={"card_last4": card.last4, "reference": replacement.reference})
    return CaseResult(CaseOutcome.CREATED, replacement.reference, card=card)


def handoff_record(*, session: CallSession, reason: str) -> str:
    """The caller is handed to a person: one audit event with the reason, for the bank's humans. The
    reason is the model's words, so it is masked (phone, card and account numbers, codes) before it
    is kept; the masked reason is returned."""
    reason = mask_text(reason or "caller asked for a person")
    session.audit("handoff", "requested", detail=reason)
    logger.info("handoff", extra={"reason": reason})
    return reason
