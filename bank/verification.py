"""Who is calling, and how sure the bank is: verification levels per call, enforced by the bank.

- Level 0: the call's phone line is registered to a customer (caller ID). Enough to greet them and
  to *protect* an account (block a card). Caller ID can be spoofed, so nothing is read at level 0.
- Level 1: the caller read back (or typed) a one-time code sent to the registered phone, or
  answered the security questions. Needed to read balances and transactions, open disputes,
  order replacements and pay a card bill.
- Level 2 (`STEP_UP`): level 1 plus a second factor, a code from an authenticator app (bank.totp)
  or an approval in the bank's app (bank.push). Needed to change who the customer is: their
  address, phone or email, or where a card goes (bank.changes).

A line the carrier did not fully attest (bank.line) counts for nothing: level 0 then needs level 1.

Every guarded read or write starts with `require(session, level)`, which raises `Denied` with a
reason the agent can say, whatever the model asked for. The level lives with the call (Vapi's
`call.id`, else the phone) in the shared cache, so every worker and replica sees it for the rest of
that call and no other. Codes are 6 digits, single use, expire after FINTALK_CODE_TTL_SECONDS,
are stored as a salted hash (never in clear) and go only to the registered phone; wrong codes and wrong
security answers count towards `lockouts.VERIFICATION`. No code reaches a log line, an audit
event or a metric. When the shared cache is down, verification fails closed (`Denied`).
"""
import datetime
import enum
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.cache import caches

from prometheus_client import Counter

from bank import line, lockouts, sms
from bank.lockouts import counted, phone_key
from bank.refusals import Denied, Reason  # noqa: F401 (re-exported: the tools import them from here)
from core.masking import mask_phone
from bank.audit import audit
from bank.models import Customer
from bank.speech import digits

logger = logging.getLogger("fintalk.bank")

PHONE_LINE, VERIFIED, STEP_UP = 0, 1, 2
CODE_DIGITS = 6


@dataclass(frozen=True)
class CallSession:
    """Whose call this is, as the voice platform (never the model) says: its phone and conversation.

    `call_id` is Vapi's `call.id` or a client's conversation id (README "The bank's guarantees");
    without one, what the caller proves lasts for this request alone (`key`). `turn` counts the
    caller's turns in the conversation, so a confirmation can be told from the read-back it answers.
    `actor` is a staff user acting from the console (audited as them), `outbound` the bank's request
    an outbound call is about, `can_transfer` whether the platform can transfer the call."""

    phone: str | None
    call_id: str | None = None
    request_id: str = ""
    turn: int = 0
    actor: str = ""
    outbound: object | None = None
    can_transfer: bool = False
    verstat: str | None = None  # the carrier's STIR/SHAKEN verdict on the caller ID, when the platform passes it

    def audit(self, action: str, outcome: str, *, card_last4: str = "", detail: str = "") -> None:
        """One audit event for this call (masked phone, call and request ids); never a secret in `detail`."""
        audit(action, outcome, phone=self.phone, call_id=self.call_id or "", request_id=self.request_id,
              actor=self.actor, card_last4=card_last4, detail=detail)

    @property
    def key(self) -> str:
        """What verification state is kept under: the conversation; without one, this request alone."""
        scope = f"call:{self.call_id}" if self.call_id else f"request:{self.request_id or secrets.token_hex(8)}"
        return hashlib.sha256(f"{scope}|{self.phone or ''}".encode()).hexdigest()[:32]


def _cache():
    return caches["default"]


def _level_key(session: CallSession) -> str:
    return f"fintalk:verified:{session.key}"


def _code_key(session: CallSession) -> str:
    return f"fintalk:otp:{session.key}"


def _digest(session: CallSession, code: str, salt: str) -> str:
    """What is stored of a code: a salted hash bound to the call. (Not keyed by SECRET_KEY, which
    differs per worker when unset; whoever can read the shared cache can change it anyway.)"""
    return salt + "$" + hashlib.sha256(f"{salt}:{session.key}:{code}".encode()).hexdigest()


def current_level(session: CallSession) -> int:
    """The call's level (0 until verified). Raises Denied(SECURITY_UNAVAILABLE) if the cache is down."""
    try:
        return int(_cache().get(_level_key(session)) or PHONE_LINE)
    except Exception as exc:
        raise Denied(Reason.SECURITY_UNAVAILABLE) from exc


def identify(session: CallSession) -> Customer:
    """The customer whose registered phone the call comes from (no level: how verification starts)."""
    if not session.phone:
        raise Denied(Reason.NOT_IDENTIFIED)
    customer = Customer.objects.for_phone(session.phone)
    if customer is None:
        raise Denied(Reason.CUSTOMER_NOT_FOUND)
    return customer


def require(session: CallSession, level: int) -> Customer:
    """The caller's customer if the call has reached `level`; else Denied with the reason. On a line
    the carrier did not fully attest (bank.line), level 0 needs level 1."""
    customer = identify(session)
    if level == PHONE_LINE and not line.trusted(session):
        level = VERIFIED
    if level > PHONE_LINE and (current := current_level(session)) < level:
        raise Denied(Reason.NEEDS_SECOND_FACTOR if current >= VERIFIED else Reason.NOT_VERIFIED)
    return customer


def raise_level(session: CallSession, level: int, method: str) -> int:
    """The call reaches `level` (never lowered) for FINTALK_VERIFICATION_SECONDS; audited. The new level."""
    try:
        level = max(level, current_level(session))
        _cache().set(_level_key(session), level, settings.FINTALK_VERIFICATION_SECONDS)
    except Denied:
        raise
    except Exception as exc:
        raise Denied(Reason.SECURITY_UNAVAILABLE) from exc
    session.audit("verification", "verified" if level == VERIFIED else f"level_{level}", detail=method)
    logger.info("caller verified", extra={"phone": mask_phone(session.phone), "method": method, "verification_level": level})
    return level


def _verified(session: CallSession, method: str) -> None:
    raise_level(session, VERIFIED, method)


def not_locked(session: CallSession) -> None:
    if lockouts.VERIFICATION.locked(session.phone):
        raise Denied(Reason.LOCKED_OUT)


def wrong(session: CallSession) -> Reason | None:
    """Count a wrong code or answer; LOCKED_OUT when it was the last one allowed."""
    locked = lockouts.VERIFICATION.fail(session.phone, request_id=session.request_id, call_id=session.call_id or "",
                                        actor=session.actor)
    return Reason.LOCKED_OUT if locked else None


class CodeOutcome(str, enum.Enum):
    SENT = "sent"
    TOO_SOON = "too_soon"  # a code was sent less than FINTALK_CODE_RESEND_SECONDS ago: wait for it
    LIMIT_REACHED = "limit_reached"  # FINTALK_CODE_MAX_PER_CALL or _PER_PHONE_DAY codes already sent: none more
    SEND_FAILED = "send_failed"  # the SMS sender is down: offer the security questions or a person
    SIM_SWAPPED = "sim_swapped"  # the phone's SIM changed recently (bank.line): no SMS; the other ways in
    ALREADY_VERIFIED = "already_verified"
    VERIFIED = "verified"
    WRONG = "wrong"
    INVALID = "invalid"  # not six digits
    NO_CODE = "no_code"  # none sent, expired, or already used


def code_send(session: CallSession) -> CodeOutcome:
    """Send a new one-time code to the customer's registered phone (never elsewhere), unless its SIM
    was swapped recently."""
    customer = identify(session)
    not_locked(session)
    if current_level(session) >= VERIFIED:
        return CodeOutcome.ALREADY_VERIFIED
    if line.sim_swapped(session):
        session.audit("verification", CodeOutcome.SIM_SWAPPED.value)
        return CodeOutcome.SIM_SWAPPED
    if refused := _code_limits(session):
        return refused
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    try:
        _cache().set(_code_key(session), _digest(session, code, secrets.token_hex(8)), settings.FINTALK_CODE_TTL_SECONDS)
    except Exception as exc:
        raise Denied(Reason.SECURITY_UNAVAILABLE) from exc
    minutes = max(1, settings.FINTALK_CODE_TTL_SECONDS // 60)
    try:
        sms.send(customer.phone, f"Your {settings.FINTALK_BANK_NAME} code is {code}. It expires in {minutes} "
                                 "minutes. We will never ask you for it except on a call you are in.")
    except Exception as exc:  # any sender failure: the caller gets another way in, not an error
        _cache().delete(_code_key(session))
        logger.warning("verification code not sent", extra={"phone": mask_phone(customer.phone),
                                                            "error": type(exc).__name__})
        session.audit("verification", CodeOutcome.SEND_FAILED.value)
        return CodeOutcome.SEND_FAILED
    session.audit("verification", CodeOutcome.SENT.value)
    return CodeOutcome.SENT


CODES_REFUSED = Counter("fintalk_verification_codes_refused",
                        "One-time codes not sent: too soon after the last one, or past a cap (per call, per phone a day).",
                        ["reason"])


def _code_limits(session: CallSession) -> CodeOutcome | None:
    """Codes cost the bank a text each and reach the real customer's phone, whoever is calling: a pause
    before a resend, a cap per call and one per phone a day (SMS pumping, harassment). A refusal is
    audited and counted; the caller is offered the security questions or a person."""
    if not _cache().add(f"fintalk:otp-pause:{session.key}", 1, settings.FINTALK_CODE_RESEND_SECONDS):
        refused = CodeOutcome.TOO_SOON
    elif counted(f"fintalk:otp-sent:{session.key}", settings.FINTALK_VERIFICATION_SECONDS) \
            > settings.FINTALK_CODE_MAX_PER_CALL:
        refused = CodeOutcome.LIMIT_REACHED
    elif counted(phone_key("otp-day", session.phone), 86400) > settings.FINTALK_CODE_MAX_PER_PHONE_DAY:
        refused = CodeOutcome.LIMIT_REACHED
    else:
        return None
    CODES_REFUSED.labels(reason=refused.value).inc()
    session.audit("verification", refused.value)
    logger.warning("verification code refused", extra={"phone": mask_phone(session.phone), "reason": refused.value})
    return refused


def code_check(session: CallSession, code: str) -> CodeOutcome:
    """Check a code the caller read back or typed. Single use; wrong ones count towards the lockout."""
    identify(session)
    not_locked(session)
    if current_level(session) >= VERIFIED:
        return CodeOutcome.ALREADY_VERIFIED
    code = re.sub(r"[\s-]", "", code or "")
    if not re.fullmatch(rf"\d{{{CODE_DIGITS}}}", code):
        return CodeOutcome.INVALID
    try:
        stored = _cache().get(_code_key(session))
    except Exception as exc:
        raise Denied(Reason.SECURITY_UNAVAILABLE) from exc
    if stored is None:
        return CodeOutcome.NO_CODE
    if not hmac.compare_digest(stored, _digest(session, code, stored.partition("$")[0])):
        if wrong(session):
            raise Denied(Reason.LOCKED_OUT)
        session.audit("verification", CodeOutcome.WRONG.value)
        return CodeOutcome.WRONG
    if not _cache().delete(_code_key(session)):  # another worker used it first: single use
        return CodeOutcome.NO_CODE
    _verified(session, "one_time_code")
    return CodeOutcome.VERIFIED


def _parse_date(text: str) -> datetime.date | None:
    text = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", (text or "").strip())
    for pattern in ("%Y-%m-%d", "%m/%d/%Y", "%B %d %Y", "%B %d, %Y", "%d %B %Y", "%d %B, %Y", "%b %d %Y", "%b %d, %Y",
                    "%d %b %Y", "%d %b, %Y"):
        try:
            return datetime.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def parse_amount(text) -> Decimal | None:
    """A sum of money as a caller says it ("$1,200.50", "45.10"): a Decimal, or None."""
    cleaned = re.sub(r"[,$\s]|dollars?|usd", "", str(text or "").lower())
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def security_answers_check(session: CallSession, *, date_of_birth: str, postal_code: str,
                           account_last4: str) -> bool:
    """Level 1 without a code: date of birth, the ZIP code of the address on file and the last four
    digits of one of their checking or savings accounts, all three right. None of them is ever said at
    level 0, inbound or outbound (a card's digits and a purchase's amount are: a fraud alert names them),
    so no answer is a fact the caller heard on this call. A miss counts like a wrong code."""
    customer = identify(session)
    not_locked(session)
    if current_level(session) >= VERIFIED:
        return True
    zip_code = digits(postal_code)[:5]
    right = (customer.date_of_birth is not None and _parse_date(date_of_birth) == customer.date_of_birth
             and bool(zip_code) and zip_code == digits(customer.postal_code)[:5]
             and customer.accounts.filter(last4=digits(account_last4)).exists())
    if not right:
        if wrong(session):
            raise Denied(Reason.LOCKED_OUT)
        session.audit("verification", "wrong_answers")
        return False
    _verified(session, "security_questions")
    return True
