"""Guessing by phone stops after a few tries: wrong answers are counted per phone in the shared cache.

Two kinds today: wrong last-four digits lock a phone's card actions (`CARD`), wrong one-time codes
or security answers lock its verification (`VERIFICATION`). The count runs from the first wrong
attempt for `seconds`; at `attempts` the phone is locked for `seconds` (one audit event, whichever
worker gets there first: `add` is atomic in Redis). The cache is Redis with FINTALK_CACHE_URL, so
every worker and replica counts the same. Key names hold a digest, never a phone number.

When the cache cannot be reached, both raise `Denied(SECURITY_UNAVAILABLE)` (bank.refusals): callers
fail closed, and the agent says why.
"""
import hashlib
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches

from bank.audit import audit
from bank.refusals import Denied, Reason
from core.masking import mask_phone

logger = logging.getLogger("fintalk.bank")


def phone_key(kind: str, phone: str) -> str:
    return f"fintalk:{kind}:{hashlib.sha256(phone.encode()).hexdigest()[:32]}"


def counted(key: str, window: int) -> int:
    """Count one more under `key` in the shared cache, for `window` seconds from the first; the count.
    Atomic across workers (Redis INCR). Raises Denied(SECURITY_UNAVAILABLE) when the cache is down."""
    cache = caches["default"]
    try:
        cache.add(key, 0, window)
        try:
            return cache.incr(key)
        except ValueError:  # the count expired between add and incr: this one starts a new one
            cache.set(key, 1, window)
            return 1
    except Exception as exc:
        raise Denied(Reason.SECURITY_UNAVAILABLE) from exc


@dataclass(frozen=True)
class Lockout:
    name: str  # the audit action is f"{name}_lockout"
    counter: str  # cache key kind for the wrong attempts
    lock: str  # cache key kind for the lock
    attempts_setting: str
    seconds_setting: str

    @property
    def attempts(self) -> int:
        return getattr(settings, self.attempts_setting)

    @property
    def seconds(self) -> int:
        return getattr(settings, self.seconds_setting)

    def counter_key(self, phone: str) -> str:
        return phone_key(self.counter, phone)

    def lock_key(self, phone: str) -> str:
        return phone_key(self.lock, phone)

    def locked(self, phone: str) -> bool:
        try:
            return caches["default"].get(self.lock_key(phone)) is not None
        except Exception as exc:
            raise Denied(Reason.SECURITY_UNAVAILABLE) from exc

    def fail(self, phone: str, *, request_id: str = "", call_id: str = "", actor: str = "") -> bool:
        """Count one wrong attempt; True when this one locked the phone."""
        cache, window = caches["default"], self.seconds
        key = self.counter_key(phone)
        count = counted(key, window)  # the window starts at the first wrong attempt
        try:
            if count < self.attempts or not cache.add(self.lock_key(phone), True, window):
                return False
            cache.delete(key)  # counting starts afresh once the lock ends
        except Exception as exc:
            raise Denied(Reason.SECURITY_UNAVAILABLE) from exc
        audit(f"{self.name}_lockout", "locked_out", phone=phone, call_id=call_id, request_id=request_id, actor=actor)
        logger.warning("%s locked", self.name, extra={"phone": mask_phone(phone), "wrong_attempts": count,
                                                      "seconds": window})
        return True


CARD = Lockout("card", "wrong-last4", "card-lockout", "FINTALK_CARD_LOCKOUT_ATTEMPTS", "FINTALK_CARD_LOCKOUT_SECONDS")
VERIFICATION = Lockout("verification", "wrong-code", "verification-lockout",
                       "FINTALK_CODE_LOCKOUT_ATTEMPTS", "FINTALK_CODE_LOCKOUT_SECONDS")
