"""Authenticator-app codes (TOTP, RFC 6238, 30-second steps, six digits, SHA-1: what authenticator
apps use), with `pyotp`.

- Enrolment is done by staff in the admin (`enrol`): a new random secret, sealed (bank.sealing),
  shown once to the staff member as an otpauth:// URI for the customer's app, never again.
- A code is read back or typed on the keypad; it reaches no log line, audit event or model (the
  action declares it a secret). Codes of FINTALK_TOTP_DRIFT_STEPS steps either side of now are
  accepted (clocks drift); the step of the code accepted is kept, and only a later step is accepted
  after it (one conditional UPDATE: a replay, on any worker, fails).
- A wrong or replayed code counts towards `lockouts.VERIFICATION`, like a wrong one-time code.
- At level 1 a right code gives level 2. At level 0 (when a text can't be used: a SIM swap, an
  unattested line) it gives level 1, and then a second factor of another kind is needed for level 2.
"""
import enum
import hmac
import logging
import re
import time

import pyotp
from django.conf import settings
from django.core.cache import caches
from django.db import transaction

from bank.audit import audit
from bank.models import Authenticator, Customer
from bank.refusals import Denied, Reason
from bank.sealing import SealingUnavailable, seal, unseal
from bank.verification import STEP_UP, VERIFIED, CallSession, current_level, identify, not_locked, raise_level, wrong

logger = logging.getLogger("fintalk.bank")


class TotpOutcome(str, enum.Enum):
    VERIFIED = "verified"  # level 1 from level 0
    STEPPED_UP = "stepped_up"  # level 2 from level 1
    ALREADY = "already_stepped_up"
    WRONG = "wrong"
    REPLAYED = "replayed"  # a code already accepted (or an older one): counted like a wrong code
    INVALID = "invalid"  # not six digits
    NOT_ENROLLED = "not_enrolled"
    OTHER_FACTOR = "other_factor"  # level 1 came from the authenticator: level 2 needs another kind of proof
    UNAVAILABLE = "unavailable"  # the sealing key is missing or changed: staff must fix it
    NOT_OFFERED = "not_offered"  # FINTALK_STEP_UP_FACTORS leaves it out


def enrol(customer: Customer, *, actor: str, secret: str | None = None) -> tuple[Authenticator, str]:
    """Give the customer a (new) authenticator: the secret, to show once, and its record. `secret` is
    for the demo's documented one only."""
    secret = secret or pyotp.random_base32()
    with transaction.atomic():
        found, _ = Authenticator.objects.update_or_create(
            customer=customer, defaults={"sealed_secret": seal(secret), "enrolled_by": actor[:150], "last_step": 0})
        audit("authenticator_enrol", "enrolled", phone=customer.phone, actor=actor)
    return found, secret


def provisioning_uri(customer: Customer, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=customer.name, issuer_name=settings.FINTALK_TOTP_ISSUER)


def _used_key(session: CallSession) -> str:
    return f"fintalk:totp-level1:{session.key}"


def _matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step whose code this is, within the drift window; every candidate compared in full."""
    totp, matched = pyotp.TOTP(secret), None
    step = totp.timecode(now)
    for offset in range(-settings.FINTALK_TOTP_DRIFT_STEPS, settings.FINTALK_TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(now, counter_offset=offset), code):
            matched = step + offset
    return matched


def _refused(session: CallSession, outcome: TotpOutcome) -> TotpOutcome:
    if wrong(session):
        raise Denied(Reason.LOCKED_OUT)
    session.audit("authenticator", outcome.value)
    return outcome


def check(session: CallSession, code: str, *, now: float | None = None) -> TotpOutcome:
    """Check an authenticator code the caller read back or typed, and raise the call's level."""
    customer = identify(session)
    not_locked(session)
    if "totp" not in settings.FINTALK_STEP_UP_FACTORS:
        return TotpOutcome.NOT_OFFERED
    level = current_level(session)
    if level >= STEP_UP:
        return TotpOutcome.ALREADY
    try:
        if level >= VERIFIED and caches["default"].get(_used_key(session)):
            return TotpOutcome.OTHER_FACTOR
    except Exception as exc:
        raise Denied(Reason.SECURITY_UNAVAILABLE) from exc
    code = re.sub(r"[\s-]", "", code or "")
    if not re.fullmatch(r"\d{6}", code):
        return TotpOutcome.INVALID
    found = Authenticator.objects.filter(customer=customer).first()
    if found is None:
        return TotpOutcome.NOT_ENROLLED
    try:
        secret = unseal(found.sealed_secret)
    except SealingUnavailable as exc:
        logger.error("authenticator secret unavailable", extra={"error": str(exc)})
        return TotpOutcome.UNAVAILABLE
    step = _matching_step(secret, code, time.time() if now is None else now)
    if step is None:
        return _refused(session, TotpOutcome.WRONG)
    if not Authenticator.objects.filter(pk=found.pk, last_step__lt=step).update(last_step=step):
        return _refused(session, TotpOutcome.REPLAYED)
    if level < VERIFIED:
        raise_level(session, VERIFIED, "authenticator")
        try:
            caches["default"].set(_used_key(session), True, settings.FINTALK_VERIFICATION_SECONDS)
        except Exception as exc:
            raise Denied(Reason.SECURITY_UNAVAILABLE) from exc
        return TotpOutcome.VERIFIED
    raise_level(session, STEP_UP, "authenticator")
    return TotpOutcome.STEPPED_UP
