"""The rehearsals in the console (staff only, CSRF, no frames): the runs, one run, a scenario's
history, the difference between two runs, and "make a scenario from this call" (a POST that needs
the `rehearse.make_scenario` permission)."""
from collections import defaultdict

from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.views.decorators.clickjacking import xframe_options_deny
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST

from calls.models import Call
from rehearse import recorded
from rehearse.models import Result, Run


def console_page(view):
    return xframe_options_deny(staff_member_required(csrf_protect(view)))


@console_page
def run_list(request):
    page = Paginator(Run.objects.all(), 50).get_page(request.GET.get("page"))
    return render(request, "rehearse/runs.html", {"page": page})


def _by_scenario(results) -> list[dict]:
    grouped = defaultdict(list)
    for result in results:
        grouped[result.scenario].append(result)
    rows = []
    for name, attempts in sorted(grouped.items()):
        firsts = sorted(ms for a in attempts for ms in a.first_word_ms)
        rows.append({"scenario": name, "flow": attempts[0].flow, "attempts": attempts,
                     "passed": sum(a.passed for a in attempts), "total": len(attempts),
                     "rate": 100 * sum(a.passed for a in attempts) / len(attempts),
                     "first_word_p50": firsts[len(firsts) // 2] if firsts else None,
                     "first_word_max": firsts[-1] if firsts else None})
    return rows


@console_page
def run_detail(request, pk: int):
    run = get_object_or_404(Run, pk=pk)
    rows = _by_scenario(run.results.all())
    others = Run.objects.exclude(pk=pk).values_list("pk", "started_at", "model")[:50]
    return render(request, "rehearse/run.html", {"run": run, "rows": rows, "others": others})


@console_page
def scenario_history(request, name: str):
    results = Result.objects.filter(scenario=name).select_related("run").order_by("-run__started_at", "attempt")
    page = Paginator(results, 100).get_page(request.GET.get("page"))
    return render(request, "rehearse/scenario.html", {"name": name, "page": page})


@console_page
def run_diff(request):
    a = get_object_or_404(Run, pk=request.GET.get("a") or 0)
    b = get_object_or_404(Run, pk=request.GET.get("b") or 0)
    left, right = ({row["scenario"]: row for row in _by_scenario(run.results.all())} for run in (a, b))
    rows = []
    for name in sorted(set(left) | set(right)):
        old, new = left.get(name), right.get(name)
        old_failed = {c["name"] for r in (old or {}).get("attempts", []) for c in r.failed_checks}
        new_failed = {c["name"] for r in (new or {}).get("attempts", []) for c in r.failed_checks}
        change = ("only in A" if new is None else "only in B" if old is None else
                  "worse" if new["rate"] < old["rate"] else "better" if new["rate"] > old["rate"] else "same")
        rows.append({"scenario": name, "old": old, "new": new, "change": change,
                     "newly_failed": sorted(new_failed - old_failed), "fixed": sorted(old_failed - new_failed)})
    changed = [row for row in rows if row["change"] != "same" or row["newly_failed"] or row["fixed"]]
    return render(request, "rehearse/diff.html", {"a": a, "b": b, "rows": rows, "changed": len(changed)})


@require_POST
@console_page
@permission_required("rehearse.make_scenario", raise_exception=True)
def scenario_from_call(request, pk: int):
    call = get_object_or_404(Call.objects.select_related("customer"), pk=pk)
    path = recorded.write(call)
    return render(request, "rehearse/made.html", {"call": call, "path": path, "text": path.read_text()}, status=201)
