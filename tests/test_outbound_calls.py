"""Outbound calls end to end: the REST endpoint of a real server (gunicorn), real Celery worker and
beat processes on a Redis this module starts itself, and the Vapi stand-in (tests/vapi_standin.py)
receiving `POST /call`. Vapi's reports are sent the way the calls app sends them: the
`calls.signals.vapi_event` signal, in a process of the server's own (manage.py shell), on its database.

Time is never faked: the calling-hours test sets FINTALK_CALLING_HOURS to a window that opens a few
seconds after its worker starts, and puts customers in time zones where it is day or night now.

Why ~300 lines: its real worker and broker are module fixtures; split, each file would start them.
"""
import datetime
import re
import shutil
import subprocess
import sys

import httpx
import pytest
import redis
from celery import Celery

from tests.conftest import ROOT, LiveServer, free_port
from tests.support.bank import JANE, JOHN
from tests.support.wait import wait_until
from tests.vapi_standin import vapi_standin_server

VAPI_KEY = "vapi-test-private-key"
ASSISTANT_ID, PHONE_NUMBER_ID = "asst-fintalk-test", "pn-fintalk-test"
ALWAYS = "00:00-24:00"


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server): the outbound tests need a "
                    "real broker of their own")
    folder, port = tmp_path_factory.mktemp("redis"), free_port()
    process = subprocess.Popen([executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(folder)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    client = redis.Redis(host="127.0.0.1", port=port)

    def answers():
        try:
            return client.ping()
        except redis.ConnectionError:
            return False

    wait_until(answers, 10, message="redis-server")
    yield f"redis://127.0.0.1:{port}/0"
    client.close()
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def vapi():
    with vapi_standin_server() as server:
        server.app.api_key = VAPI_KEY
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory, broker, vapi):
    live = LiveServer(tmp_path_factory.mktemp("outbound"), {
        "FINTALK_LLM": "demo",
        "FINTALK_CELERY_BROKER_URL": broker,
        "FINTALK_VAPI_API_URL": vapi.url,
        "FINTALK_VAPI_API_KEY": VAPI_KEY,
        "FINTALK_VAPI_ASSISTANT_ID": ASSISTANT_ID,
        "FINTALK_VAPI_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "FINTALK_OUTBOUND_MAX_ATTEMPTS": "2",
        "FINTALK_OUTBOUND_RETRY_SECONDS": "1",
        "FINTALK_OUTBOUND_SWEEP_SECONDS": "0.5",
        "FINTALK_CALLING_HOURS": ALWAYS,
    }).start()
    yield live
    live.stop()


class Workers:
    """Celery worker and beat processes for one test, on the server's database and the module's Redis."""

    def __init__(self, server: LiveServer, folder):
        self.server, self.folder = server, folder
        self.processes: list[tuple[subprocess.Popen, object]] = []
        self.logs = []

    def _start(self, name: str, args: list[str], ready: str, env: dict) -> None:
        path = self.folder / f"{name}.log"
        log = open(path, "w")
        process = subprocess.Popen([sys.executable, "-m", "celery", "-A", "fintalk", *args, "--loglevel", "INFO"],
                                   cwd=ROOT, env={**self.server.env, **env}, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append((process, log))
        self.logs.append(path)

        def started():
            if process.poll() is not None:
                raise AssertionError(f"{name} exited:\n{path.read_text()}")
            return ready in path.read_text()

        wait_until(started, 60, message=f"{name} to start")

    def worker(self, name: str, **env: str) -> None:
        self._start(name, ["worker", "--pool", "solo", "--hostname", f"{name}@%h", "--without-gossip",
                           "--without-mingle", "--without-heartbeat"], "ready.", env)

    def beat(self, **env: str) -> None:
        self._start("beat", ["beat", "--schedule", str(self.folder / "beat-schedule"), "--pidfile="],
                    "beat: Starting", env)

    def finished(self, task: str) -> list[str]:
        """The results of every run of `task` the workers logged, e.g. ["placed", "not_due"]."""
        pattern = re.compile(rf"Task {re.escape(task)}\[[^\]]+\] succeeded in [0-9.e-]+s: '?([\w-]+)'?")
        return [match.group(1) for path in self.logs for match in pattern.finditer(path.read_text())]

    def stop(self) -> None:
        for process, log in self.processes:
            if process.poll() is None:
                process.terminate()
        for process, log in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


@pytest.fixture
def workers(server, broker, vapi, tmp_path):
    server.manage("seed_demo", "--reset")  # deletes every customer, and with them their outbound requests
    redis.Redis.from_url(broker).flushdb()  # no task left over from another test
    vapi.app.reset()
    group = Workers(server, tmp_path)
    yield group
    group.stop()


@pytest.fixture
def api(server):
    with httpx.Client(base_url=server.url + "/api/outbound",
                      headers={"Authorization": f"Bearer {server.outbound_key()}"}, timeout=30) as client:
        yield client


def customer_id(server, phone: str) -> int:
    return server.sql("SELECT id FROM bank_customer WHERE phone = ?", phone)[0][0]


def transaction_id(server, phone: str, merchant: str) -> int:
    return server.sql("SELECT t.id FROM bank_transaction t JOIN bank_customer c ON c.id = t.customer_id "
                      "WHERE c.phone = ? AND t.merchant = ?", phone, merchant)[0][0]


def card_id(server, phone: str, last4: str) -> int:
    return server.sql("SELECT k.id FROM bank_card k JOIN bank_customer c ON c.id = k.customer_id "
                      "WHERE c.phone = ? AND k.last4 = ?", phone, last4)[0][0]


def fraud_alert(api, server, phone=JANE, merchant="Electronics Hub") -> dict:
    response = api.post("/requests", json={"purpose": "fraud_alert", "customer": customer_id(server, phone),
                                           "transaction": transaction_id(server, phone, merchant)})
    assert response.status_code == 201, response.text
    return response.json()


def request_row(api, request_id: int) -> dict:
    response = api.get(f"/requests/{request_id}")
    assert response.status_code == 200, response.text
    return response.json()


def report_ended(server, call_id: str, reason: str, event_type: str = "end-of-call-report") -> None:
    """Vapi's report that a call ended, through the signal the calls app sends for POST /api/vapi/events."""
    message = {"type": event_type, "endedReason": reason, "call": {"id": call_id, "type": "outboundPhoneCall"}}
    if event_type == "status-update":
        message["status"] = "ended"
    server.manage("shell", "-c", "from calls.signals import vapi_event; "
                                 f"vapi_event.send(sender=None, event_type={event_type!r}, message={message!r}, "
                                 f"call_id={call_id!r})")


def call_id_of(api, request_id: int, number: int) -> str:
    def placed():
        calls = request_row(api, request_id)["calls"]
        return len(calls) >= number and calls[number - 1]["vapi_call_id"]

    return wait_until(placed, 30, message=f"call {number} of request {request_id} to have Vapi's id")


def test_a_fraud_alert_from_the_rest_endpoint_rings_once_even_with_two_workers(server, workers, api, vapi, broker):
    workers.worker("one")
    workers.worker("two")
    created = fraud_alert(api, server)
    assert created["status"] in {"pending", "calling"} and created["purpose"] == "fraud_alert"
    # The same request handed to the workers three more times (a sweep, a redelivery, a retry).
    with Celery("duplicates", broker=broker) as duplicates:
        for _ in range(3):
            duplicates.send_task("outbound.place_call", args=[created["id"]])
    results = wait_until(lambda: len(workers.finished("outbound.place_call")) >= 4 and workers.finished("outbound.place_call"),
                         60, message="four place_call runs")
    assert sorted(results) == ["not_due", "not_due", "not_due", "placed"]
    (call,) = vapi.app.placed()
    assert call.authorization == f"Bearer {VAPI_KEY}"
    assert call.body["customer"]["number"] == JANE
    assert call.body["customer"]["externalId"] == str(created["id"])
    assert call.body["assistantId"] == ASSISTANT_ID and call.body["phoneNumberId"] == PHONE_NUMBER_ID
    overrides = call.body["assistantOverrides"]
    assert overrides["metadata"]["fintalkOutboundRequestId"] == str(created["id"])
    assert overrides["variableValues"]["fintalkOutboundRequestId"] == str(created["id"])
    row = request_row(api, created["id"])
    assert row["status"] == "calling" and row["attempts"] == 1
    assert row["calls"][0]["vapi_call_id"] in vapi.app.calls
    # The same alert asked for again is the same request: 200, no second call.
    again = api.post("/requests", json={"purpose": "fraud_alert", "customer": created["customer"],
                                        "transaction": created["transaction"]})
    assert again.status_code == 200 and again.json()["id"] == created["id"]
    # Nothing in the logs shows the customer's number.
    assert JANE not in "".join(path.read_text() for path in workers.logs)


def test_no_answer_schedules_a_retry_and_the_last_attempt_fails(server, workers, api, vapi):
    workers.worker("one")
    workers.beat()
    created = fraud_alert(api, server)
    first = call_id_of(api, created["id"], 1)
    report_ended(server, first, "customer-did-not-answer", "status-update")
    row = request_row(api, created["id"])
    assert row["status"] in {"scheduled", "calling"}, row  # the backoff is a second here
    second = call_id_of(api, created["id"], 2)
    assert second != first and len(vapi.app.placed()) == 2
    report_ended(server, second, "voicemail")
    report_ended(server, second, "voicemail", "status-update")  # both reports come; the second changes nothing
    row = request_row(api, created["id"])
    assert (row["status"], row["outcome"], row["attempts"], row["next_attempt_at"]) == ("failed", "no_answer", 2, None)
    assert [c["ended_reason"] for c in row["calls"]] == ["customer-did-not-answer", "voicemail"]
    sweeps = len(workers.finished("outbound.sweep"))
    wait_until(lambda: len(workers.finished("outbound.sweep")) >= sweeps + 3, 30, message="three more sweeps")
    assert len(vapi.app.placed()) == 2


def test_cancel_stops_the_retries(server, workers, api, vapi):
    workers.worker("one")
    workers.beat()
    created = fraud_alert(api, server)
    first = call_id_of(api, created["id"], 1)
    cancelled = api.post(f"/requests/{created['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    report_ended(server, first, "customer-did-not-answer")
    sweeps = len(workers.finished("outbound.sweep"))
    wait_until(lambda: len(workers.finished("outbound.sweep")) >= sweeps + 3, 30, message="three more sweeps")
    row = request_row(api, created["id"])
    assert (row["status"], row["next_attempt_at"], row["attempts"]) == ("cancelled", None, 1)
    assert row["calls"][0]["ended_reason"] == "customer-did-not-answer"
    assert len(vapi.app.placed()) == 1
    # Cancelling again changes nothing and is no error.
    assert api.post(f"/requests/{created['id']}/cancel").json()["status"] == "cancelled"


def test_outside_calling_hours_nothing_rings_until_the_window_opens(server, workers, api, vapi):
    now = datetime.datetime.now(datetime.timezone.utc)
    opening = (now + datetime.timedelta(seconds=25)).replace(microsecond=0)
    window = f"{opening:%H:%M:%S}-{opening + datetime.timedelta(hours=2):%H:%M:%S}"
    # Jane's local time is UTC: the window opens in 25 s. John's is UTC+12: night, for hours yet.
    server.sql("UPDATE bank_customer SET time_zone = 'UTC' WHERE phone = ?", JANE)
    server.sql("UPDATE bank_customer SET time_zone = 'Etc/GMT-12' WHERE phone = ?", JOHN)
    workers.worker("one", FINTALK_CALLING_HOURS=window)
    workers.beat(FINTALK_CALLING_HOURS=window)
    jane = fraud_alert(api, server)
    john = fraud_alert(api, server, JOHN, "City Parking")

    def scheduled(request_id):
        row = request_row(api, request_id)
        return row["status"] == "scheduled" and row["next_attempt_at"]

    assert datetime.datetime.fromisoformat(wait_until(lambda: scheduled(jane["id"]), 20, message="Jane's call to wait")) == opening
    # The next opening at UTC+12 is 12 hours after the window opens at UTC.
    assert datetime.datetime.fromisoformat(wait_until(lambda: scheduled(john["id"]), 20, message="John's call to wait")) == \
        opening + datetime.timedelta(hours=12)
    assert datetime.datetime.now(datetime.timezone.utc) < opening, "the machine was too slow to see the window closed"
    assert vapi.app.placed() == []
    (call,) = wait_until(vapi.app.placed, 60, message="Jane's call once the window opened")
    assert call.at >= opening.timestamp()
    assert call.body["customer"]["number"] == JANE
    assert request_row(api, john["id"])["status"] == "scheduled" and len(vapi.app.placed()) == 1


def test_bad_input_is_a_4xx_and_places_no_call(server, workers, api, vapi):
    workers.worker("one")
    jane, john = customer_id(server, JANE), customer_id(server, JOHN)
    cases = [
        ({"purpose": "fraud_alert", "customer": jane, "transaction": 999999}, 400, "transaction", "transaction_not_found"),
        ({"purpose": "fraud_alert", "customer": jane, "transaction": transaction_id(server, JOHN, "City Parking")},
         400, "transaction", "transaction_not_found"),
        ({"purpose": "fraud_alert", "customer": jane, "transaction": transaction_id(server, JANE, "Acme Payroll")},
         400, "transaction", "not_a_card_purchase"),
        ({"purpose": "payment_reminder", "customer": jane, "card": card_id(server, JOHN, "5454")}, 400, "card",
         "card_not_found"),
        ({"purpose": "payment_reminder", "customer": john, "card": card_id(server, JOHN, "1881")}, 400, "card",
         "nothing_due"),
        ({"purpose": "payment_reminder", "customer": jane}, 400, "card", "invalid_value"),
        ({"purpose": "fraud_alert", "customer": jane, "transaction": 1, "card": 1}, 400, "card", "invalid_value"),
        ({"purpose": "sales_call", "customer": jane}, 400, "purpose", "invalid_value"),
        ({"purpose": "fraud_alert", "customer": "Jane", "transaction": 1}, 400, "customer", "invalid_value"),
    ]
    for body, status, param, code in cases:
        response = api.post("/requests", json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["param"] == param and response.json()["error"]["code"] == code, response.text
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert api.post("/requests", content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 400
    assert httpx.post(server.url + "/api/outbound/requests", json=cases[0][0]).status_code == 401
    assert api.get("/requests/424242").status_code == 404
    assert api.post("/requests/424242/cancel").json()["error"]["code"] == "not_found"
    assert api.get("/requests").json() == {"object": "list", "data": []}
    # A good request right after: the worker was there all along, and only this one rings.
    created = fraud_alert(api, server)
    wait_until(vapi.app.placed, 30, message="the good request's call")
    assert [call.body["customer"]["externalId"] for call in vapi.app.placed()] == [str(created["id"])]
