"""The playground: a page where signed-in staff talk to the agent, and the endpoint it calls.

The endpoint is the API's own chat completions view (same validation, turn, stream and errors
a Vapi call gets); only who may call it differs: a staff member's session with its CSRF token
instead of a bearer key, and no per-key rate limit. The public /api stays bearer-key only.
The console acts as staff, never as a customer (console.access): the page and the endpoint need the
playground's permission, a real customer's phone another one, and each turn is audited as the
staff user, in one call record per conversation.
"""
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from asgiref.sync import sync_to_async
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.clickjacking import xframe_options_deny
from rest_framework.permissions import IsAdminUser

from api.views import ChatCompletionsView
from bank.demo_data import CUSTOMERS
from bank.selectors import customer_get_by_phone
from console import access

DEMO_CALLER = CUSTOMERS[0][1]  # Jane Doe, +15550100001
FAVICON = Path(__file__).resolve().parent / "static" / "console" / "favicon.ico"


@lru_cache(maxsize=1)
def _favicon() -> bytes:
    return FAVICON.read_bytes()


async def favicon(request):
    """/favicon.ico, which browsers ask for on every site (the console's pages and the admin's)."""
    return HttpResponse(_favicon(), content_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"})


def _call_as_default() -> str:
    """The demo customer's phone when the demo bank is loaded; otherwise nobody."""
    return DEMO_CALLER if customer_get_by_phone(phone=DEMO_CALLER) is not None else ""


@xframe_options_deny
@staff_member_required
@permission_required(access.USE_PLAYGROUND, raise_exception=True)
@csrf_protect
def playground(request):
    return render(request, "console/playground.html", {
        "call_as": _call_as_default(),
        "chat_url": reverse("console:chat-completions"),
        "real_customers": request.user.has_perm(access.CALL_AS_REAL_CUSTOMER),
    })


class PlaygroundChatView(ChatCompletionsView):
    """POST /playground/chat/completions: chat completions for staff signed in to the console.

    DRF's SessionAuthentication (access.StaffSession) enforces CSRF (the page sends X-CSRFToken); IsAdminUser needs
    is_staff, UsesPlayground the playground's permission. Not throttled: the per-key rate limit
    protects the public API from its clients.
    """

    authentication_classes = [access.StaffSession]
    permission_classes = [IsAdminUser, access.UsesPlayground]
    throttle_classes = []

    async def turn(self, request, data, body, model, signed=None):
        """The API's turn, for this staff user: refused for a real customer without the permission,
        audited as them, in this conversation's call; never an outbound call's (the bank places those)."""
        turn, source = await super().turn(request, data, body, model)
        user = request.user
        await sync_to_async(access.check_caller)(user, turn.phone)
        return replace(turn, call_id=access.conversation_call_id(user, body), actor=user.get_username(),
                       outbound_request=None), source
