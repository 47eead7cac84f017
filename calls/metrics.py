"""The calls' Prometheus figures (served on /metrics with the request metrics of api/observability.py).

Containment is a ratio of two of these: resolved calls over ended calls, e.g.
`sum(rate(fintalk_calls_ended_total{outcome="resolved",type!="api"}[1h]))
 / sum(rate(fintalk_calls_ended_total{type!="api"}[1h]))`.
"""
from prometheus_client import Counter

from bank.actions import REGISTRY
from bank.actions.declare import REFUSED
from bank.actions.people import handoff_category

CALLS_ENDED = Counter("fintalk_calls_ended", "Calls ended, by type and outcome (containment: resolved / all).",
                      ["type", "outcome"])
TOOL_CALLS = Counter("fintalk_tool_calls", "Agent tool calls by tool and outcome.", ["tool", "outcome"])
HANDOFFS = Counter("fintalk_handoffs", "Turns that handed the caller to a person, by reason.", ["reason"])
VERIFICATION_FAILURES = Counter("fintalk_verification_failures",
                                "Tool calls refused because the caller's identity did not check out, by tool and outcome.",
                                ["tool", "outcome"])
RECORDS_WRITTEN = Counter("fintalk_call_records_written", "Turn records written to the database.")
RECORDS_DROPPED = Counter("fintalk_call_records_dropped",
                          "Turn records not written: the queue was full (the database lagged) or the write failed.",
                          ["reason"])
for _reason in ("queue_full", "database_error"):
    RECORDS_DROPPED.labels(reason=_reason)  # both series exist from the start, at 0, for alerts on increase()


def _identity_failure(tool: str, outcome: str) -> bool:
    """The outcome is a failed proof of identity, as its action declares it (bank.actions)."""
    declared = REGISTRY.get(tool)
    said = declared.outcomes.get(outcome) if declared else None
    said = said or REFUSED.get(outcome)
    return bool(said and said.identity_failure)


def count_turn(tool_calls, end) -> None:
    """A finished turn's tools and handoff, in the metrics."""
    for tool, outcome in tool_calls:
        TOOL_CALLS.labels(tool=tool, outcome=outcome).inc()
        if _identity_failure(tool, outcome):
            VERIFICATION_FAILURES.labels(tool=tool, outcome=outcome).inc()
    if end is None:
        return
    if any(call.name == "transferCall" for call in end.client_tool_calls):  # handed over: the call was transferred
        reason = getattr(end, "handoff_reason", None) or "transferCall"
        # A label is a short code; the agent's free text would grow the metric without bound.
        HANDOFFS.labels(reason=handoff_category(reason)).inc()
