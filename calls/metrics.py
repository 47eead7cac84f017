"""The calls' Prometheus figures (served on /metrics with the request metrics of api/observability.py).

Containment is a ratio of two of these: resolved calls over ended calls, e.g.
`sum(rate(fintalk_calls_ended_total{outcome="resolved",type!="api"}[1h]))
 / sum(rate(fintalk_calls_ended_total{type!="api"}[1h]))`.
"""
from prometheus_client import Counter

CALLS_ENDED = Counter("fintalk_calls_ended", "Calls ended, by type and outcome (containment: resolved / all).",
                      ["type", "outcome"])
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
