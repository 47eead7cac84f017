"""Live control of a call from its console page: a supervisor with `calls.control_call` posts say,
add-message, transfer or end-call (calls/control.py sends, checks and audits). Staff without the
permission get a 403; GET is not allowed. A module of its own so the shared call views stay as they are.
"""
from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from calls.control import ACTIONS, send_control
from calls.models import Call
from console.call_views import console_page

PERMISSION = "calls.control_call"


class ControlForm(forms.Form):
    action = forms.ChoiceField(choices=[(action, action) for action in ACTIONS])
    content = forms.CharField(required=False, max_length=1000)
    team = forms.CharField(required=False, max_length=20)


def teams() -> list[str]:
    return sorted(settings.FINTALK_TRANSFER_NUMBERS)


@console_page
@require_POST
def call_control(request, pk: int):
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied("Live call control needs the 'Can control a live call' permission.")
    call = get_object_or_404(Call, pk=pk)
    form = ControlForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose say, add-message, transfer or end-call.")
        return redirect("calls_console:call", pk=pk)
    data = form.cleaned_data
    result = send_control(call, action=data["action"], content=data["content"], team=data["team"],
                          actor=request.user.get_username())
    (messages.success if result.sent else messages.error)(request, f"{data['action']}: {result.message}")
    return redirect("calls_console:call", pk=pk)
