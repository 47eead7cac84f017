"""Changes to who the customer is, by phone: the postal address, the email, the registered phone, and
a replacement card to an address that is not the one on file. Each needs level 2 (bank.verification
STEP_UP: level 1 plus an authenticator code or an app approval), because with level 1 alone a
SIM-swapped phone would be enough to take the account over. Each is one audit event, and each is told
to the customer at their *old* phone and email (bank.notices).

The registered phone is where one-time codes go, so it changes only once the caller has read back a
code sent to the new number (`phone_change_start`, then `phone_change_confirm`; a wrong code counts
towards `lockouts.VERIFICATION`). The code is kept in the shared cache only as a salted hash.
"""
import enum
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from bank import notices, sms
from bank.models import CardReplacement, Customer
from bank.refusals import Denied, Reason
from bank.services import reference  # the one way a case reference is made
from bank.speech import digits
from bank.verification import STEP_UP, CallSession, not_locked, require, wrong
from core.phones import e164
from core.masking import mask_phone

logger = logging.getLogger("fintalk.bank")


class ChangeOutcome(str, enum.Enum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"  # what the caller gave is what is on file already
    INVALID = "invalid"  # not an address / email / phone number
    CODE_SENT = "code_sent"  # a code went to the new phone: read it back to finish
    SEND_FAILED = "send_failed"
    PHONE_TAKEN = "phone_taken"  # the number can't be used for this account
    WRONG_CODE = "wrong_code"
    NO_CODE = "no_code"  # none sent, expired or already used
    CARD_NOT_FOUND = "card_not_found"
    ORDERED = "ordered"
    ALREADY_EXISTS = "already_exists"


@dataclass(frozen=True)
class ChangeResult:
    outcome: ChangeOutcome
    last4: str = ""  # of the new phone, or of the card
    reference: str = ""


def _address(address_line: str, city: str, postal_code: str) -> dict | None:
    fields = {"address_line": (address_line or "").strip(), "city": (city or "").strip(),
              "postal_code": (postal_code or "").strip().upper()}
    if not fields["address_line"] or not fields["city"] or not re.fullmatch(r"[A-Z0-9][A-Z0-9 -]{1,9}", fields["postal_code"]):
        return None
    if len(fields["address_line"]) > 200 or len(fields["city"]) > 100:
        return None
    return fields


def address_change(*, session: CallSession, address_line: str, city: str, postal_code: str) -> ChangeResult:
    customer = require(session, STEP_UP)
    fields = _address(address_line, city, postal_code)
    if fields is None:
        return ChangeResult(ChangeOutcome.INVALID)
    if all(getattr(customer, name) == value for name, value in fields.items()):
        return ChangeResult(ChangeOutcome.UNCHANGED)
    with transaction.atomic():
        Customer.objects.filter(pk=customer.pk).update(**fields)
        session.audit("address_change", ChangeOutcome.CHANGED.value)
    notices.notify(session, old_phone=customer.phone, old_email=customer.email,
                   what="The postal address on your account was changed on a phone call with us.")
    return ChangeResult(ChangeOutcome.CHANGED)


def email_change(*, session: CallSession, email: str) -> ChangeResult:
    customer = require(session, STEP_UP)
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        return ChangeResult(ChangeOutcome.INVALID)
    if email == customer.email.lower():
        return ChangeResult(ChangeOutcome.UNCHANGED)
    with transaction.atomic():
        Customer.objects.filter(pk=customer.pk).update(email=email)
        session.audit("email_change", ChangeOutcome.CHANGED.value)
    notices.notify(session, old_phone=customer.phone, old_email=customer.email,
                   what="The email address on your account was changed on a phone call with us.")
    return ChangeResult(ChangeOutcome.CHANGED)


def _e164(text: str) -> str | None:
    return e164(re.sub(r"[^\d+]", "", text or ""), region=None)


def _pending_key(session: CallSession) -> str:
    return f"fintalk:phone-change:{session.key}"


def _digest(session: CallSession, phone: str, code: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{session.key}:{phone}:{code}".encode()).hexdigest()


def phone_change_start(*, session: CallSession, new_phone: str) -> ChangeResult:
    """Send a code to the new number; the registered phone changes when it is read back."""
    customer = require(session, STEP_UP)
    phone = _e164(new_phone)
    if phone is None:
        return ChangeResult(ChangeOutcome.INVALID)
    if phone == customer.phone:
        return ChangeResult(ChangeOutcome.UNCHANGED)
    if Customer.objects.filter(phone=phone).exists():
        return ChangeResult(ChangeOutcome.PHONE_TAKEN)
    code, salt = f"{secrets.randbelow(10 ** 6):06d}", secrets.token_hex(8)
    try:
        caches["default"].set(_pending_key(session), {"phone": phone, "salt": salt,
                                                      "digest": _digest(session, phone, code, salt)},
                              settings.FINTALK_CODE_TTL_SECONDS)
    except Exception as exc:
        raise Denied(Reason.SECURITY_UNAVAILABLE) from exc
    try:
        sms.send(phone, f"Your {settings.FINTALK_BANK_NAME} code to make this your registered phone is {code}. "
                        "Read it to us only on the call you are in.")
    except Exception as exc:
        caches["default"].delete(_pending_key(session))
        logger.warning("phone change code not sent", extra={"phone": mask_phone(phone), "error": type(exc).__name__})
        return ChangeResult(ChangeOutcome.SEND_FAILED, last4=phone[-4:])
    session.audit("phone_change", ChangeOutcome.CODE_SENT.value)
    return ChangeResult(ChangeOutcome.CODE_SENT, last4=phone[-4:])


def phone_change_confirm(*, session: CallSession, code: str) -> ChangeResult:
    customer = require(session, STEP_UP)
    not_locked(session)
    code = re.sub(r"[\s-]", "", code or "")
    try:
        pending = caches["default"].get(_pending_key(session))
    except Exception as exc:
        raise Denied(Reason.SECURITY_UNAVAILABLE) from exc
    if not pending:
        return ChangeResult(ChangeOutcome.NO_CODE)
    phone = pending["phone"]
    if not re.fullmatch(r"\d{6}", code) or not hmac.compare_digest(
            pending["digest"], _digest(session, phone, code, pending["salt"])):
        if wrong(session):
            raise Denied(Reason.LOCKED_OUT)
        session.audit("phone_change", ChangeOutcome.WRONG_CODE.value)
        return ChangeResult(ChangeOutcome.WRONG_CODE)
    if not caches["default"].delete(_pending_key(session)):  # single use, whichever worker comes first
        return ChangeResult(ChangeOutcome.NO_CODE)
    try:
        with transaction.atomic():
            if not Customer.objects.filter(pk=customer.pk, phone=customer.phone).update(phone=phone):
                return ChangeResult(ChangeOutcome.NO_CODE)
            session.audit("phone_change", ChangeOutcome.CHANGED.value, detail=f"new phone {mask_phone(phone)}")
    except IntegrityError:
        return ChangeResult(ChangeOutcome.PHONE_TAKEN)
    notices.notify(session, old_phone=customer.phone, old_email=customer.email,
                   what=f"The registered phone on your account was changed to a number ending in {phone[-4:]}.")
    return ChangeResult(ChangeOutcome.CHANGED, last4=phone[-4:])


def replacement_to_new_address(*, session: CallSession, card_last4: str, address_line: str, city: str,
                               postal_code: str) -> ChangeResult:
    """A replacement card sent to an address that is not the one on file (one per card)."""
    customer = require(session, STEP_UP)
    card = customer.cards.filter(last4=digits(card_last4)).first()
    if card is None:
        return ChangeResult(ChangeOutcome.CARD_NOT_FOUND, last4=digits(card_last4))
    fields = _address(address_line, city, postal_code)
    if fields is None:
        return ChangeResult(ChangeOutcome.INVALID, last4=card.last4)
    try:
        with transaction.atomic():
            replacement = CardReplacement.objects.create(reference=reference("R"), card=card,
                                                         call_id=(session.call_id or "")[:128], **fields)
            session.audit("card_replacement", ChangeOutcome.ORDERED.value, card_last4=card.last4,
                          detail=f"{replacement.reference} to an address not on file")
    except IntegrityError:
        return ChangeResult(ChangeOutcome.ALREADY_EXISTS, last4=card.last4,
                            reference=CardReplacement.objects.get(card=card).reference)
    notices.notify(session, old_phone=customer.phone, old_email=customer.email,
                   what=f"A replacement for your card ending in {card.last4} is being sent to an address that is "
                        "not the one on file.")
    return ChangeResult(ChangeOutcome.ORDERED, last4=card.last4, reference=replacement.reference)
