"""The console's call pages (staff only): the dashboard, the call list with its CSV, one call.

Moments are shown in the customer's time zone (bank.dates), with the zone's name; a call with no
customer is in UTC. The CSV gives ISO 8601 with the offset.

Server-rendered, charts included (console/charts.py): the pages need no JavaScript.
"""
import csv

from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.clickjacking import xframe_options_deny
from django.views.decorators.csrf import csrf_protect

from agent.prompts import CALL_CONNECTED, CALL_OPENING_QUERY
from bank.dates import local
from calls import selectors
from calls.models import Call
from console import charts
from console.forms import CallFilterForm, DashboardForm
from outbound.selectors import request_of_call

# What the server itself sends as the user's turn (a call that opens without the caller's words): the
# bank's words on the call page, never the caller's.
INTERNAL_PROMPTS = (CALL_OPENING_QUERY, CALL_CONNECTED)

CSV_COLUMNS = ("call_id", "type", "started_at", "ended_at", "duration_seconds", "outcome", "ended_reason",
               "handoff_reason", "masked_phone", "customer", "verification_level", "turns", "cost_usd", "summary")


def console_page(view):
    return xframe_options_deny(staff_member_required(csrf_protect(view)))


@console_page
def dashboard(request):
    form = DashboardForm(request.GET or None)
    days = form.cleaned_data["days"] if form.is_valid() else 7
    call_type = form.cleaned_data["type"] if form.is_valid() else ""
    figures = selectors.dashboard(days=days, call_type=call_type)
    return render(request, "console/dashboard.html", {
        "form": form or DashboardForm(), "figures": figures,
        "outcome_counts": [(n, Call.Outcome(value).label.lower()) for value, n in sorted(figures.outcomes.items())],
        "calls_per_hour": charts.bar_chart("Calls per hour", figures.per_hour),
        "containment": charts.gauge("Containment: answered voice calls resolved without a person", figures.containment),
        "containment_per_day": charts.bar_chart("Containment per day", figures.containment_per_day, unit="%",
                                                color=charts.COLORS[2]),
        "ttft": charts.line_chart("Time to first token per day", figures.ttft_days,
                                  {"p50": figures.ttft_p50, "p95": figures.ttft_p95}, unit=" ms"),
        "tool_errors": charts.hbar_chart("Tool errors", figures.tool_errors),
        "handoff_reasons": charts.hbar_chart("Handoff reasons", figures.handoff_reasons, color=charts.COLORS[1]),
    })


@console_page
def call_list(request):
    form = CallFilterForm(request.GET or None)
    calls = selectors.call_list(form.filters() if request.GET else selectors.CallFilters())
    if request.GET.get("format") == "csv":
        return _csv(calls)
    page = Paginator(calls, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "console/calls.html", {"form": form or CallFilterForm(), "page": page,
                                                  "query": query.urlencode(), "total": page.paginator.count})


def _cell(value) -> str:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(calls):
    """The filtered list as one CSV response (a sync view: a streamed body would need an async iterator
    under ASGI, and this one reads the database)."""
    name = f"calls-{timezone.now():%Y%m%d-%H%M%S}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for call in calls.iterator(chunk_size=500):
        writer.writerow([_cell(value) for value in (
            call.call_id, call.type, local(call.started_at, call.customer).isoformat(),
            local(call.ended_at, call.customer).isoformat() if call.ended_at else "",
            call.duration_seconds, call.outcome, call.ended_reason, call.handoff_reason, call.masked_phone,
            call.customer.name if call.customer else "", call.verification_level, call.turn_count, call.cost_usd,
            call.summary)])
    return response


@console_page
def call_detail(request, pk: int):
    call = get_object_or_404(Call.objects.select_related("customer"), pk=pk)
    turns = selectors.call_turns(call)
    labels = [f"#{i}" for i, _ in enumerate(turns, start=1)]
    ttft = [turn.ttft_ms or 0.0 for turn in turns]
    rest = [max(0.0, turn.duration_ms - (turn.ttft_ms or 0.0)) for turn in turns]
    latency = charts.bar_chart("Latency per turn: time to first token, then the rest of the answer",
                               list(zip(labels, ttft)), unit=" ms", stacked=rest, stacked_label="rest of the turn",
                               series_label="time to first token",
                               height=200, max_labels=30)
    totals = {"tokens_in": sum(t.tokens_in for t in turns), "tokens_out": sum(t.tokens_out for t in turns),
              "cost": sum((t.cost_usd for t in turns if t.cost_usd is not None), start=0) or None}
    return render(request, "console/call.html", {"call": call, "turns": turns, "latency": latency, "totals": totals,
                                                 "outbound": request_of_call(call.call_id),
                                                 "internal_prompts": INTERNAL_PROMPTS})
