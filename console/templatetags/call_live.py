"""`{% call_lifecycle call %}`: a call's lifecycle (what Vapi reported and the bank did: status
changes, the assistant chosen, interruptions with the words heard, hangs, the transfer and its
summary, live control) and, for a supervisor with `calls.control_call`, the live-control forms and
the listen link. A tag, so the shared call page needs one line for it (console/control_views.py
receives the forms)."""
from django import template

from calls.lifecycle import lifecycle
from console.control_views import PERMISSION, teams

register = template.Library()


@register.inclusion_tag("console/call_lifecycle.html", takes_context=True)
def call_lifecycle(context, call):
    request = context.get("request")
    user = getattr(request, "user", None)
    return {"call": call, "events": lifecycle(call), "can_control": bool(user and user.has_perm(PERMISSION)),
            "teams": teams(), "csrf_token": context.get("csrf_token"), "messages": context.get("messages")}
