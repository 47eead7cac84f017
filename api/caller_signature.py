"""The signed caller contract: how a voice stack other than Vapi (Pipecat, LiveKit Agents, a bank's
own telephony) tells Fintalk who is calling and which call a request belongs to.

Those stacks call /chat/completions as any OpenAI client does and send no Vapi `call` body. They add
four headers, computed by the bank's voice server (never by the caller's device):

    X-Fintalk-Caller:     +15550100001          the caller's number as the telephony network gave it
    X-Fintalk-Call-Id:    lk-room-42            the stack's id of the call (room, session, SIP call)
    X-Fintalk-Timestamp:  1796287489            when the call was signed, seconds since the epoch
    X-Fintalk-Signature:  hex(HMAC-SHA256(key=<the API key of the request>,
                                           msg="{timestamp}.{call id}.{caller}"))

The key that signs is the API key the request authenticates with, so only its holder can sign, and
a signature is bound to its number, its call id and its time. The headers are usually set once per
call (the openai client's `default_headers`), so a signature stays good for
FINTALK_CALLER_SIGNATURE_SECONDS (3600: one call) after its timestamp; older, more than 300 s in
the future, unsigned, or signed with another key: not trusted, and the request is served as if no
caller were named (the log line says why: `caller_signature`). A trusted signature makes the
request a voice call: the caller is the structured caller (api/conversation.py), the call id keys
the call's verification and record, and `[phone: ...]` tags in user messages are never trusted.
"""
import hashlib
import hmac
import time
from dataclasses import dataclass

from django.conf import settings

CALLER, CALL_ID, TIMESTAMP, SIGNATURE = ("X-Fintalk-Caller", "X-Fintalk-Call-Id", "X-Fintalk-Timestamp",
                                         "X-Fintalk-Signature")
MAX_FUTURE_SECONDS = 300


@dataclass(frozen=True)
class SignedCaller:
    phone: str  # as sent; api/conversation.py normalises it like Vapi's customer.number
    call_id: str


def signature(key: str, timestamp: str, call_id: str, caller: str) -> str:
    return hmac.new(key.encode(), f"{timestamp}.{call_id}.{caller}".encode(), hashlib.sha256).hexdigest()


def sign(key: str, caller: str, call_id: str, timestamp: int | None = None) -> dict[str, str]:
    """The four headers for one call (what a voice stack's server sends with every turn)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {CALLER: caller, CALL_ID: call_id, TIMESTAMP: stamp, SIGNATURE: signature(key, stamp, call_id, caller)}


def verify(headers, key: str | None, now: float | None = None) -> tuple[SignedCaller | None, str]:
    """(the signed caller, "trusted"), or (None, why not): "absent", "unsigned", "no_key", "stale",
    "future", "invalid"."""
    caller, call_id = headers.get(CALLER), headers.get(CALL_ID)
    if caller is None and call_id is None:
        return None, "absent"
    stamp, given = headers.get(TIMESTAMP) or "", headers.get(SIGNATURE) or ""
    if not given or not stamp or not caller or not call_id:
        return None, "unsigned"
    if not key or settings.FINTALK_AUTH == "disabled":
        return None, "no_key"  # nothing to check the signature with
    try:
        when = float(stamp)
    except ValueError:
        return None, "invalid"
    age = (time.time() if now is None else now) - when
    if age > settings.FINTALK_CALLER_SIGNATURE_SECONDS:
        return None, "stale"
    if age < -MAX_FUTURE_SECONDS:
        return None, "future"
    expected = signature(key, stamp, call_id, caller)
    if not hmac.compare_digest(given.strip().lower().encode(), expected.encode()):
        return None, "invalid"
    return SignedCaller(caller.strip(), call_id.strip()[:128]), "trusted"
