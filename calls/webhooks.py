"""Vapi's server messages: who may send them, and what a well-formed one is.

Vapi authenticates its server URL with a credential, sent in one of three ways; each is checked in
constant time against FINTALK_VAPI_WEBHOOK_SECRET:
- `X-Vapi-Secret: <secret>` (the legacy server URL secret);
- `Authorization: Bearer <secret>` (a bearer credential);
- `x-signature: <hex HMAC-SHA256 of "{x-timestamp}.{raw body}">` with `x-timestamp` (an HMAC
  credential; a `sha256=` prefix is accepted). A timestamp more than MAX_SKEW_SECONDS away from
  now (seconds or milliseconds since the epoch) is refused, so a captured request cannot be replayed later;
  within that window each signed request is accepted once: its timestamp and body hash are remembered
  in the shared cache (Redis, so every worker and replica agrees) for the window, and a second copy is
  refused (`replayed`). With the cache down a signed request is accepted unchecked and counted as a
  degraded mode: every message Fintalk handles is idempotent, and refusing Vapi's reports would lose
  the call records.
Every credential a request presents must be right; a request that presents none is refused. With no
secret configured every event is refused (secure by default), unless FINTALK_AUTH=disabled, the
local-development switch that also opens the API.
"""
import hashlib
import hmac
import time
from dataclasses import dataclass

from django.core.cache import caches

from core.json_limits import TooDeep, loads
from core.degraded import CACHE_ERRORS, degraded

MAX_SKEW_SECONDS = 300


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str
    code: str
    error_type: str = "authentication_error"
    param: str | None = None


def _same(given: str, secret: str) -> bool:
    return hmac.compare_digest(given.strip().encode(), secret.encode())


def _timestamp(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value / 1000 if value > 1e11 else value


def authenticate(headers, body: bytes, secret: str, auth_disabled: bool, now: float | None = None) -> Refusal | None:
    """None when the request carries the secret as Vapi sends it; else why it is refused."""
    if not secret:
        if auth_disabled:
            return None
        return Refusal(403, "Vapi events are refused: FINTALK_VAPI_WEBHOOK_SECRET is not set. Set it to the "
                            "secret of the Vapi server credential that points here.", "webhook_not_configured")
    presented = 0
    signature = headers.get("x-signature")
    if signature is not None:
        presented += 1
        stamp = headers.get("x-timestamp") or ""
        when = _timestamp(stamp)
        if when is None:
            return Refusal(401, "x-signature needs an x-timestamp header (seconds or milliseconds since the epoch).",
                           "invalid_signature")
        if abs((now or time.time()) - when) > MAX_SKEW_SECONDS:
            return Refusal(401, f"x-timestamp is more than {MAX_SKEW_SECONDS} s away from the server's clock.",
                           "stale_timestamp")
        expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        given = signature.strip().removeprefix("sha256=").lower()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return Refusal(401, "The x-signature does not match the body.", "invalid_signature")
        if not first_use(stamp, body):
            return Refusal(401, "This signed request was already received: a replay is refused.", "replayed")
    vapi_secret = headers.get("x-vapi-secret")
    if vapi_secret is not None:
        presented += 1
        if not _same(vapi_secret, secret):
            return Refusal(401, "The X-Vapi-Secret header is wrong.", "invalid_signature")
    authorization = headers.get("authorization")
    if authorization is not None:
        presented += 1
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not _same(token, secret):
            return Refusal(401, "The Authorization bearer secret is wrong.", "invalid_signature")
    if not presented:
        return Refusal(401, "Vapi events must be signed: X-Vapi-Secret, Authorization: Bearer, or x-signature "
                            "with x-timestamp.", "missing_signature")
    return None


def first_use(stamp: str, body: bytes) -> bool:
    """True the first time this timestamp and body are seen within the window (cache.add is atomic)."""
    key = "fintalk:vapi-signed:" + hashlib.sha256(stamp.encode() + b"." + body).hexdigest()
    try:
        return caches["default"].add(key, 1, timeout=2 * MAX_SKEW_SECONDS + 1)
    except CACHE_ERRORS as exc:
        degraded("cache", "webhook_replay_unchecked", exc)
        return True


def parse(body: bytes) -> tuple[str, dict] | Refusal:
    """The message's type and the message, from `{"message": {"type": ..., ...}}`."""
    try:
        envelope = loads(body)
    except TooDeep as deep:
        return Refusal(400, str(deep), "invalid_json", "invalid_request_error")
    except (ValueError, UnicodeDecodeError):
        return Refusal(400, "The body is not valid JSON.", "invalid_json", "invalid_request_error")
    message = envelope.get("message") if isinstance(envelope, dict) else None
    if not isinstance(message, dict):
        return Refusal(400, "The body must be a JSON object with a `message` object, as Vapi sends it.",
                       "invalid_value", "invalid_request_error", "message")
    event_type = message.get("type")
    if not isinstance(event_type, str) or not event_type:
        return Refusal(400, "message.type must be a non-empty string.", "invalid_value", "invalid_request_error",
                       "message.type")
    return event_type, message
