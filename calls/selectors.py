"""Reads for the console: filtered call lists and the dashboard's figures.

Containment (resolved without a person) is a share of the voice calls someone answered: calls of type
inbound, outbound or web whose outcome is not `abandoned`. Test requests of the API (type `api`) and
outbound calls nobody picked up say nothing about the agent, and are left out of it.
"""
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate, TruncHour
from django.utils import timezone

from calls.models import TOOL_ERROR_OUTCOMES, Call, Turn


@dataclass
class CallFilters:
    start: date | None = None
    end: date | None = None
    outcome: str = ""
    type: str = ""
    handed_over: str = ""  # "yes", "no" or ""
    customer: str = ""  # a name (part of it), the last digits of the phone, or a customer id


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def call_list(filters: CallFilters) -> QuerySet:
    calls = Call.objects.select_related("customer").annotate(turn_count=Count("turns"))
    if filters.start:
        calls = calls.filter(started_at__gte=_day_start(filters.start))
    if filters.end:
        calls = calls.filter(started_at__lt=_day_start(filters.end + timedelta(days=1)))
    if filters.outcome:
        calls = calls.filter(outcome=filters.outcome)
    if filters.type:
        calls = calls.filter(type=filters.type)
    if filters.handed_over == "yes":
        calls = calls.filter(outcome=Call.Outcome.HANDED_OVER)
    elif filters.handed_over == "no":
        calls = calls.exclude(outcome=Call.Outcome.HANDED_OVER)
    term = filters.customer.strip()
    if term:
        match = Q(customer__name__icontains=term) | Q(masked_phone__endswith=term)
        if term.isdigit():
            match |= Q(customer_id=int(term))
        calls = calls.filter(match)
    return calls.order_by("-started_at", "-id")


def call_turns(call: Call) -> list[Turn]:
    return list(call.turns.order_by("started_at", "id"))


def answered_voice_calls(calls: QuerySet) -> QuerySet:
    """The calls containment is counted on: voice calls (not API requests) that someone answered."""
    return calls.exclude(type=Call.Type.API).exclude(outcome=Call.Outcome.ABANDONED)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


@dataclass
class Dashboard:
    since: datetime
    days: int
    calls: int
    containment: float | None
    per_hour: list[tuple[str, float]]
    containment_per_day: list[tuple[str, float]]
    ttft_days: list[str]
    ttft_p50: list[float | None]
    ttft_p95: list[float | None]
    tool_errors: list[tuple[str, float]]
    handoff_reasons: list[tuple[str, float]]
    outcomes: dict[str, int]


def dashboard(days: int = 7, call_type: str = "", now: datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    first_hour = (now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    calls = Call.objects.filter(started_at__gte=first_hour)
    turns = Turn.objects.filter(started_at__gte=first_hour)
    if call_type:
        calls, turns = calls.filter(type=call_type), turns.filter(call__type=call_type)

    hourly = {row["hour"]: row["n"] for row in calls.annotate(hour=TruncHour("started_at")).values("hour")
              .annotate(n=Count("id"))}
    hours = [first_hour + timedelta(hours=i) for i in range(days * 24)]
    per_hour = [(hour.strftime("%a %H:00"), float(hourly.get(hour, 0))) for hour in hours]

    outcomes = dict(Counter(dict(calls.values_list("outcome").annotate(n=Count("id")))))
    total = sum(outcomes.values())
    answered = answered_voice_calls(calls)
    contained = dict(answered.values_list("outcome").annotate(n=Count("id")))
    answered_total = sum(contained.values())
    daily = defaultdict(lambda: [0, 0])
    for day, outcome, n in answered.annotate(day=TruncDate("started_at")).values_list("day", "outcome") \
            .annotate(n=Count("id")):
        daily[day][1] += n
        if outcome == Call.Outcome.RESOLVED:
            daily[day][0] += n
    days_list = [(first_hour + timedelta(days=i)).date() for i in range(days + 1)]
    days_list = sorted({d for d in days_list if d <= now.date()})
    containment_per_day = [(day.strftime("%b %d"), round(100 * daily[day][0] / daily[day][1], 1) if daily[day][1] else 0.0)
                           for day in days_list]

    ttfts = defaultdict(list)
    for day, ttft in turns.filter(ttft_ms__isnull=False).annotate(day=TruncDate("started_at")) \
            .values_list("day", "ttft_ms"):
        ttfts[day].append(ttft)
    errors = Counter()
    for tools in turns.exclude(tools=[]).values_list("tools", flat=True):
        for tool in tools or ():
            if tool.get("outcome") in TOOL_ERROR_OUTCOMES:
                errors[f"{tool.get('tool')}: {tool.get('outcome')}"] += 1
    reasons = calls.exclude(handoff_reason="").values_list("handoff_reason").annotate(n=Count("id"))
    return Dashboard(
        since=first_hour, days=days, calls=total, outcomes=outcomes,
        containment=(contained.get(Call.Outcome.RESOLVED, 0) / answered_total) if answered_total else None,
        per_hour=per_hour, containment_per_day=containment_per_day,
        ttft_days=[day.strftime("%b %d") for day in days_list],
        ttft_p50=[percentile(ttfts[day], 0.5) for day in days_list],
        ttft_p95=[percentile(ttfts[day], 0.95) for day in days_list],
        tool_errors=[(name, float(n)) for name, n in errors.items()],
        handoff_reasons=[(reason, float(n)) for reason, n in reasons],
    )
