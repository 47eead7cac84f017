"""Approval in the bank's app (push step-up): level 1 becomes level 2 when the customer approves, in
their own app, a request the bank sent while they are on the call.

1. `request` (a verified caller asks) makes an `AppApproval` and asks the bank's app backend to show
   it, through a pluggable backend chosen by FINTALK_APP_BACKEND, like the SMS senders: `none`
   (push is not offered), `http` (POST FINTALK_APP_BACKEND_URL/approvals with the approval's id, the
   customer's id, the words to show and where to call back; tests/app_standin.py plays the backend),
   `demo` (an app that approves at once, through the same signed callback, in this process) or the
   dotted path of a class with `send(approval, customer, message)`.
2. The backend calls back POST /api/app/approvals/callback (api/app_approvals.py) with
   `{"approval_id", "decision": "approve"|"deny"}`, signed: header `X-Fintalk-Timestamp` (Unix
   seconds) and `X-Fintalk-Signature: sha256=<hex HMAC-SHA256 of "timestamp.body" under
   FINTALK_APP_CALLBACK_SECRET>`. `callback` checks the signature in constant time, refuses a
   timestamp outside FINTALK_APP_CALLBACK_TOLERANCE_SECONDS and a signature seen before (replay),
   and decides a pending approval once (a conditional UPDATE).
3. `wait` (the caller says they approved, or the agent checks) waits up to FINTALK_APP_WAIT_SECONDS
   for the decision: approved raises the call to level 2; denied, or no answer within
   FINTALK_APP_APPROVAL_SECONDS (expired), is said aloud.
"""
import enum
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.core.cache import caches
from django.db import close_old_connections, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from bank.audit import audit
from bank.models import AppApproval, Customer
from bank.verification import STEP_UP, VERIFIED, CallSession, current_level, raise_level, require

logger = logging.getLogger("fintalk.bank")
SHOWN = "{bank}: someone on a call with us is asking to change your details. Was it you? Approve only if you are on that call."


class AppNotReached(Exception):
    pass


class PushOutcome(str, enum.Enum):
    SENT = "sent"
    SEND_FAILED = "send_failed"
    APPROVED = "approved"
    DENIED = "denied"
    WAITING = "waiting"  # no answer yet: the caller hears the bank is waiting
    EXPIRED = "expired"
    NO_REQUEST = "no_request"
    ALREADY = "already_stepped_up"
    NOT_OFFERED = "not_offered"


# --- the backends ---

class HttpApp:
    def send(self, approval: AppApproval, customer: Customer, message: str) -> None:
        import httpx

        body = {"approval_id": approval.reference, "customer_id": str(customer.pk), "message": message,
                "callback_url": settings.FINTALK_APP_CALLBACK_URL, "expires_in": settings.FINTALK_APP_APPROVAL_SECONDS}
        try:
            response = httpx.post(settings.FINTALK_APP_BACKEND_URL + "/approvals", json=body, timeout=3)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise AppNotReached(type(exc).__name__) from exc


class DemoApp:
    """The demo customer's app: approves every request after a moment, through the signed callback."""

    def send(self, approval: AppApproval, customer: Customer, message: str) -> None:
        def approve():
            try:
                body = json.dumps({"approval_id": approval.reference, "decision": "approve"}).encode()
                stamp = str(int(time.time()))
                callback(body, stamp, "sha256=" + sign(stamp, body))
            except Exception:  # the demo's app failing is logged; the caller hears it timed out
                logger.exception("demo app approval failed")
            finally:
                close_old_connections()

        timer = threading.Timer(0.5, approve)
        timer.daemon = True
        timer.start()


BACKENDS = {"http": HttpApp, "demo": DemoApp}


@lru_cache(maxsize=1)
def backend():
    name = settings.FINTALK_APP_BACKEND
    return (BACKENDS.get(name) or import_string(name))()


def offered() -> bool:
    return "push" in settings.FINTALK_STEP_UP_FACTORS and settings.FINTALK_APP_BACKEND != "none"


@lru_cache(maxsize=1)
def _demo_secret() -> str:
    return secrets.token_hex(32)


def _secret() -> str:
    """The callback's secret; the demo app, which calls back in this process, may use a random one."""
    if settings.FINTALK_APP_CALLBACK_SECRET:
        return settings.FINTALK_APP_CALLBACK_SECRET
    return _demo_secret() if settings.FINTALK_APP_BACKEND == "demo" else ""


def sign(stamp: str, body: bytes) -> str:
    return hmac.new(_secret().encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()


# --- asking, and waiting for the answer ---

def request(session: CallSession) -> PushOutcome:
    """Ask the customer's app to show an approval for this call (level 1 needed first)."""
    customer = require(session, VERIFIED)
    if not offered():
        return PushOutcome.NOT_OFFERED
    if current_level(session) >= STEP_UP:
        return PushOutcome.ALREADY
    approval = AppApproval.objects.create(reference=secrets.token_urlsafe(18), customer=customer,
                                          call_id=(session.call_id or "")[:128], session_key=session.key)
    try:
        backend().send(approval, customer, SHOWN.format(bank=settings.FINTALK_BANK_NAME))
    except Exception as exc:
        AppApproval.objects.filter(pk=approval.pk).update(status=AppApproval.Status.EXPIRED)
        logger.warning("app approval not sent", extra={"error": type(exc).__name__})
        session.audit("app_approval", PushOutcome.SEND_FAILED.value)
        return PushOutcome.SEND_FAILED
    session.audit("app_approval", PushOutcome.SENT.value)
    return PushOutcome.SENT


def _expire(approval: AppApproval) -> bool:
    return bool(AppApproval.objects.filter(pk=approval.pk, status=AppApproval.Status.PENDING).update(
        status=AppApproval.Status.EXPIRED, decided_at=timezone.now()))


def wait(session: CallSession) -> PushOutcome:
    """This call's latest approval: wait up to FINTALK_APP_WAIT_SECONDS for its decision."""
    require(session, VERIFIED)
    if current_level(session) >= STEP_UP:
        return PushOutcome.ALREADY
    approval = AppApproval.objects.filter(session_key=session.key).order_by("-created_at", "-id").first()
    if approval is None:
        return PushOutcome.NO_REQUEST
    expires = approval.created_at + timedelta(seconds=settings.FINTALK_APP_APPROVAL_SECONDS)
    until = time.monotonic() + settings.FINTALK_APP_WAIT_SECONDS
    while True:
        approval.refresh_from_db(fields=["status"])
        if approval.status == AppApproval.Status.APPROVED:
            raise_level(session, STEP_UP, "app_approval")
            return PushOutcome.APPROVED
        if approval.status != AppApproval.Status.PENDING:
            return PushOutcome(approval.status)
        if timezone.now() >= expires:
            if _expire(approval):
                session.audit("app_approval", PushOutcome.EXPIRED.value)
            continue  # read the decision that won, if the app answered meanwhile
        if time.monotonic() >= until:
            return PushOutcome.WAITING
        time.sleep(0.2)


# --- the app backend's answer ---

class CallbackRefused(Exception):
    def __init__(self, status: int, message: str, code: str, param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param


def _authentic(body: bytes, stamp: str, signature: str) -> None:
    if not _secret():
        raise CallbackRefused(503, "App approvals are not configured: set FINTALK_APP_CALLBACK_SECRET.",
                              "not_configured")
    try:
        when = int(stamp)
    except (TypeError, ValueError):
        raise CallbackRefused(401, "X-Fintalk-Timestamp must be Unix seconds.", "invalid_signature") from None
    if abs(time.time() - when) > settings.FINTALK_APP_CALLBACK_TOLERANCE_SECONDS:
        raise CallbackRefused(401, "The callback's timestamp is too old or in the future.", "stale_timestamp")
    given = (signature or "").strip().removeprefix("sha256=")
    if not hmac.compare_digest(given.encode(), sign(stamp, body).encode()):
        raise CallbackRefused(401, "The callback's signature does not match.", "invalid_signature")
    try:
        fresh = caches["default"].add("fintalk:app-callback:" + hashlib.sha256(given.encode()).hexdigest(), True,
                                      2 * settings.FINTALK_APP_CALLBACK_TOLERANCE_SECONDS)
    except Exception as exc:
        raise CallbackRefused(503, "The bank can't check callbacks right now; try again.", "security_unavailable") from exc
    if not fresh:
        raise CallbackRefused(409, "This callback was already received.", "replayed")


def _parse(body: bytes) -> tuple[str, str]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise CallbackRefused(400, "The body must be JSON.", "invalid_json") from None
    if not isinstance(data, dict) or not isinstance(data.get("approval_id"), str):
        raise CallbackRefused(400, "approval_id is required (a string).", "invalid_value", "approval_id")
    if data.get("decision") not in ("approve", "deny"):
        raise CallbackRefused(400, "decision must be 'approve' or 'deny'.", "invalid_value", "decision")
    return data["approval_id"], data["decision"]


def callback(body: bytes, stamp: str, signature: str) -> str:
    """Apply the app backend's signed decision; the approval's new status. Raises CallbackRefused."""
    _authentic(body, stamp, signature)
    reference, decision = _parse(body)
    status = AppApproval.Status.APPROVED if decision == "approve" else AppApproval.Status.DENIED
    fresh_since = timezone.now() - timedelta(seconds=settings.FINTALK_APP_APPROVAL_SECONDS)
    with transaction.atomic():
        changed = AppApproval.objects.filter(reference=reference, status=AppApproval.Status.PENDING,
                                             created_at__gte=fresh_since).update(status=status, decided_at=timezone.now())
        approval = AppApproval.objects.filter(reference=reference).select_related("customer").first()
        if approval is None:
            raise CallbackRefused(404, "No such approval.", "not_found", "approval_id")
        if not changed:
            state = "expired" if approval.status == AppApproval.Status.PENDING else approval.status
            raise CallbackRefused(409, f"This approval is already {state}.", "already_decided", "approval_id")
        audit("app_approval", status, phone=approval.customer.phone, call_id=approval.call_id)
    logger.info("app approval decided", extra={"status": status})
    return status
