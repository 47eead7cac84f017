"""Who may do what in the playground, and as whom: the console acts as staff, never as a customer.

- The page and its endpoint need `console.use_playground`, besides `is_staff`.
- Calling as a *real* customer needs `console.call_as_real_customer` too. A customer is real unless
  their phone is one of the demo bank's (bank/demo_data.py: the fictional 555-01xx numbers that
  `seed_demo` loads). A number that is nobody's opens no account, so it needs nothing more. The
  check is on the phone the turn will act for, however the request named it (Vapi's
  `customer.number`, or a `[phone: ...]` tag in a system message).
- Every turn carries the staff user as its actor, so each audit event it writes names them, and the
  conversation's id: one playground conversation is one call record. The id is the page's
  `metadata.conversation_id`, kept apart per user (`playground-<user id>-<id>`), so a playground
  conversation can never join a Vapi call's state, nor another user's conversation.
"""
import logging
import re
import uuid

from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from bank.demo_data import CUSTOMERS
from bank.selectors import customer_get_by_phone
from core.exceptions import InvalidRequest
from core.masking import mask_phone

logger = logging.getLogger("fintalk.console")

USE_PLAYGROUND = "console.use_playground"
CALL_AS_REAL_CUSTOMER = "console.call_as_real_customer"
DEMO_PHONES = frozenset(customer[1] for customer in CUSTOMERS)
_CONVERSATION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


class StaffSession(SessionAuthentication):
    """DRF's session authentication (CSRF enforced), which also loads the user's permissions in its
    thread: the permission checks then run on the event loop without a query."""

    def authenticate(self, request):
        found = super().authenticate(request)
        if found is not None:
            found[0].get_all_permissions()  # cached on the user (ModelBackend's _perm_cache)
        return found


class UsesPlayground(BasePermission):
    message = ("Using the playground needs the permission 'Can talk to the agent in the playground' "
               f"({USE_PLAYGROUND}); ask an administrator.")

    def has_permission(self, request, view):
        return request.user.has_perm(USE_PLAYGROUND)


def is_real_customer(phone: str | None) -> bool:
    """The phone belongs to a customer who is not one of the demo bank's."""
    return bool(phone) and phone not in DEMO_PHONES and customer_get_by_phone(phone=phone) is not None


def check_caller(user, phone: str | None) -> None:
    """Raise PermissionDenied when `user` may not call as `phone` (a real customer's, without the permission)."""
    if is_real_customer(phone) and not user.has_perm(CALL_AS_REAL_CUSTOMER):
        logger.warning("playground call as a real customer refused", extra={"phone": mask_phone(phone),
                                                                           "actor": user.get_username()})
        raise PermissionDenied(
            f"{mask_phone(phone)} belongs to a real customer: calling as them from the playground needs the "
            f"permission 'Can call as a real customer' ({CALL_AS_REAL_CUSTOMER}). Call as one of the demo "
            f"bank's customers, e.g. {CUSTOMERS[0][1]}.", code="permission_denied")


def conversation_call_id(user, body: dict) -> str:
    """The call id of this playground conversation (the page's `metadata.conversation_id`), per user;
    a request without one is a conversation of its own."""
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    conversation = metadata.get("conversation_id")
    if conversation is None:
        conversation = uuid.uuid4().hex
    elif not isinstance(conversation, str) or not _CONVERSATION_ID.fullmatch(conversation):
        raise InvalidRequest("metadata.conversation_id must be 8 to 64 letters, digits, '-' or '_' "
                             "(the playground page sends a UUID).", param="metadata.conversation_id")
    return f"playground-{user.pk}-{conversation}"
