"""The playground: a page where signed-in staff talk to the agent, and the endpoint it calls.

The endpoint is the API's own chat completions view (same validation, turn, stream and errors
a Vapi call gets); only who may call it differs: a staff member's session with its CSRF token
instead of a bearer key, and no per-key rate limit. The public /api stays bearer-key only.
"""
from functools import lru_cache
from pathlib import Path

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.clickjacking import xframe_options_deny
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAdminUser

from api.views import ChatCompletionsView
from bank.demo_data import CUSTOMERS
from bank.selectors import customer_get_by_phone

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
@csrf_protect
def playground(request):
    return render(request, "console/playground.html", {
        "call_as": _call_as_default(),
        "chat_url": reverse("console:chat-completions"),
    })


class PlaygroundChatView(ChatCompletionsView):
    """POST /playground/chat/completions: chat completions for staff signed in to the console.

    DRF's SessionAuthentication enforces CSRF (the page sends X-CSRFToken); IsAdminUser needs
    is_staff. Not throttled: the per-key rate limit protects the public API from its clients.
    """

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAdminUser]
    throttle_classes = []
