"""The outbound state machine as a person drives it, on a real server, real Celery worker and beat
processes and the Vapi stand-in (the fixtures of tests/test_outbound_calls.py, started again here):
the calling hours are read when a call is due, a Vapi outage uses up none of the customer's attempts,
a failed alert can be raised again, and the pause before a retry is the worker's."""
import datetime

from tests.support.bank import JANE
from tests.support.wait import wait_until
from tests.test_outbound_calls import (  # noqa: F401  (module fixtures, started again for this module)
    api, broker, call_id_of, fraud_alert, report_ended, request_row, server, vapi, workers,
)

NIGHT = "Etc/GMT-12"


def closed_window(now: datetime.datetime) -> str:
    """A window that is closed now in UTC+12 for the next hour at least."""
    local = now + datetime.timedelta(hours=12)
    opens = local + datetime.timedelta(hours=2)
    return f"{opens:%H:%M}-{opens + datetime.timedelta(hours=1):%H:%M}"


def test_a_request_waiting_for_the_hours_is_released_when_the_hours_change(server, workers, api, vapi):
    server.sql("UPDATE bank_customer SET time_zone = ? WHERE phone = ?", NIGHT, JANE)
    window = closed_window(datetime.datetime.now(datetime.timezone.utc))
    workers.worker("night", FINTALK_CALLING_HOURS=window)
    created = fraud_alert(api, server)
    waiting = wait_until(lambda: request_row(api, created["id"])["status"] == "scheduled" and
                         request_row(api, created["id"]), 20, message="the call to wait for the hours")
    assert waiting["next_attempt_at"] and vapi.app.placed() == []
    workers.stop()  # the bank widens its calling hours and restarts its workers
    workers.worker("day")  # the server's FINTALK_CALLING_HOURS: any time
    workers.beat()
    (call,) = wait_until(vapi.app.placed, 30, message="the waiting call once the hours allow it")
    assert call.body["customer"]["externalId"] == str(created["id"])
    assert request_row(api, created["id"])["status"] == "calling"


def test_a_vapi_outage_uses_no_attempt_and_a_failed_alert_can_be_raised_again(server, workers, api, vapi):
    vapi.app.fail_next(*[503] * 9)  # three placements of three tries each: Vapi is down for a while
    workers.worker("one", FINTALK_OUTBOUND_RETRY_SECONDS="0.5")
    workers.beat()
    created = fraud_alert(api, server)

    def outages():
        row = request_row(api, created["id"])
        return len(row["calls"]) >= 3 and row["calls"][2]["status"] != "dialing" and row

    row = wait_until(outages, 60, message="three calls not placed")
    assert [call["status"] for call in row["calls"][:3]] == ["not_placed"] * 3
    assert row["status"] in {"scheduled", "calling"} and row["outcome"] is None and row["attempts"] <= 1
    # Vapi is back: the customer still gets both attempts (FINTALK_OUTBOUND_MAX_ATTEMPTS=2).
    first = call_id_of(api, created["id"], 4)
    report_ended(server, first, "customer-did-not-answer")
    second = call_id_of(api, created["id"], 5)
    report_ended(server, second, "customer-busy")
    row = request_row(api, created["id"])
    assert (row["status"], row["outcome"], row["attempts"]) == ("failed", "no_answer", 2)
    # The fraud team asks again: a new request, and a new call.
    again = api.post("/requests", json={"purpose": "fraud_alert", "customer": created["customer"],
                                        "transaction": created["transaction"]})
    assert again.status_code == 201, again.text
    assert again.json()["id"] != created["id"] and again.json()["status"] in {"pending", "calling"}
    call_id_of(api, again.json()["id"], 1)
    assert request_row(api, created["id"])["status"] == "failed"  # the failed one stays as it was


def test_the_pause_before_a_retry_is_the_workers_not_the_web_processes(server, workers, api, vapi):
    workers.worker("one", FINTALK_OUTBOUND_RETRY_SECONDS="600")  # the server (web) process has 1 second
    created = fraud_alert(api, server)
    first = call_id_of(api, created["id"], 1)
    before = datetime.datetime.now(datetime.timezone.utc)
    report_ended(server, first, "customer-did-not-answer")  # taken by the web process's signal
    row = request_row(api, created["id"])
    assert row["status"] == "scheduled"
    pause = (datetime.datetime.fromisoformat(row["next_attempt_at"]) - before).total_seconds()
    assert 590 <= pause <= 700, pause
