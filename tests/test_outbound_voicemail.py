"""Outbound calls that reach an answering machine (#30): the message left carries no account detail,
the request records the voicemail, and no storm of calls follows. Vapi's reports go through the real
POST /api/vapi/events view (signed), in-process on the test database; the call Fintalk asks Vapi to
place is parsed with vapi-server-sdk's own CreateOutboundCallDto."""
import datetime
import json

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from fintalk.celery import app as celery_app
from outbound import services, vapi
from outbound.models import OutboundAttempt, OutboundRequest
from tests.support.bank import JANE
from tests.vapi_judge import judged
from tests.vapi_standin import vapi_standin_server

SECRET = "voicemail-test-secret"
HOUR = 3600


@pytest.fixture(autouse=True)
def no_broker():
    before = celery_app.conf.broker_url
    celery_app.conf.broker_url = "memory://"
    yield
    celery_app.conf.broker_url = before


@pytest.fixture
def fraud_alert(transactional_db, settings):
    settings.FINTALK_VAPI_WEBHOOK_SECRET = SECRET
    settings.FINTALK_CALLING_HOURS = "00:00-24:00"
    settings.FINTALK_OUTBOUND_RETRY_SECONDS = 60.0
    settings.FINTALK_OUTBOUND_MAX_ATTEMPTS = 3
    call_command("seed_demo", verbosity=0)
    from bank.models import Transaction

    spent = Transaction.objects.get(customer__phone=JANE, merchant="Electronics Hub")
    return services.fraud_alert_create(customer_id=spent.customer_id, transaction_id=spent.pk, created_by="test")[0]


def ring(request: OutboundRequest, call_id: str) -> None:
    OutboundRequest.objects.filter(pk=request.pk).update(next_attempt_at=None)
    attempt = services.claim(request.pk).attempt
    assert attempt is not None
    OutboundAttempt.objects.filter(pk=attempt.pk).update(vapi_call_id=call_id, status="placed")


def report(call_id: str, event_type: str) -> int:
    message = {"type": event_type, "endedReason": "voicemail", "call": {"id": call_id, "type": "outboundPhoneCall"}}
    if event_type == "status-update":
        message["status"] = "ended"
    return Client().post("/api/vapi/events", json.dumps({"message": message}), content_type="application/json",
                         headers={"X-Vapi-Secret": SECRET}).status_code


def test_the_voicemail_left_says_nothing_about_the_account():
    message = vapi.voicemail_message()
    assert message == ("Hello, this is Fintalk Bank with a message for one of our customers. Please call our "
                       "customer service team on 1-800-555-0199, any day from 8 a.m. to 8 p.m. Thank you.")
    for detail in ("Jane", "Doe", "4242", "899", "Electronics", "fraud", "card", "payment", "$"):
        assert detail.lower() not in message.lower()


def test_the_call_asks_vapi_to_detect_machines_and_leave_that_message():
    with vapi_standin_server() as server, override_settings(
            FINTALK_VAPI_API_URL=server.url, FINTALK_VAPI_API_KEY="k", FINTALK_VAPI_ASSISTANT_ID="asst",
            FINTALK_VAPI_PHONE_NUMBER_ID="pn"):
        vapi.place_call(request_id=7, purpose="fraud_alert", phone=JANE, first_name="Jane")
        (sent,) = server.app.requests
    parsed = judged("CreateOutboundCallDto", sent.body)
    assert parsed.assistant_overrides.voicemail_message == vapi.voicemail_message()
    detection = parsed.assistant_overrides.voicemail_detection  # the SDK's union keeps it as a plain object
    assert sent.body["assistantOverrides"]["voicemailDetection"] == {"provider": "vapi"} and detection


def test_a_voicemail_is_recorded_once_and_the_next_try_waits_hours(fraud_alert):
    ring(fraud_alert, "call-vm-1")
    before = timezone.now()
    # Vapi reports the end twice (status-update and end-of-call-report), and may retry: one voicemail.
    for event_type in ("status-update", "end-of-call-report", "end-of-call-report"):
        assert report("call-vm-1", event_type) == 200
    request = OutboundRequest.objects.get(pk=fraud_alert.pk)
    assert (request.status, request.voicemails, request.attempts) == ("scheduled", 1, 1)
    assert request.voicemail_left_at >= before
    # Not the 60 s retry: the customer has hours to call back before the bank rings again.
    assert request.next_attempt_at >= before + datetime.timedelta(seconds=4 * HOUR - 5)
    assert services.claim(request.pk).reason == "not_due"  # a sweep now places nothing


def test_a_second_voicemail_ends_the_request(fraud_alert):
    ring(fraud_alert, "call-vm-1")
    report("call-vm-1", "end-of-call-report")
    ring(fraud_alert, "call-vm-2")
    report("call-vm-2", "end-of-call-report")
    request = OutboundRequest.objects.get(pk=fraud_alert.pk)
    assert (request.status, request.outcome, request.voicemails, request.attempts) == ("failed", "no_answer", 2, 2)
    assert request.next_attempt_at is None and services.claim(request.pk).reason == "not_due"
