"""The outbound app in-process, on the test database: calling hours, what an outbound chat request
is about (`outbound_context`), the conversation's tools, the Vapi client against the stand-in,
claims and pacing, Vapi's reports, the reminder job. (tests/test_outbound_calls.py runs the whole
thing with real workers.)

Why ~400 lines: it mirrors outbound/ module by module, one section each.
"""
import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from agent.context import TurnContext
from bank import services as bank_services
from bank.models import Card, Customer, Dispute, Transaction
from calls.signals import vapi_event
from fintalk.celery import app as celery_app
from agent.tools import build_tools
from bank.actions import REGISTRY
from outbound import answers, selectors, services, vapi
from tests.support.bank import run_tool as run_action_tool
from outbound.hours import CallingHours
from outbound.models import OutboundAttempt, OutboundRequest
from outbound.selectors import OutboundContext, outbound_context
from tests.support.bank import JANE, JOHN
from tests.vapi_standin import vapi_standin_server

ALWAYS = "00:00-24:00"
UTC = datetime.timezone.utc
LEAD_SERVICES = all(hasattr(bank_services, name) for name in ("dispute_create", "transaction_mark_genuine"))
needs_lead_services = pytest.mark.skipif(not LEAD_SERVICES, reason="bank.services.dispute_create and "
                                         "transaction_mark_genuine (the lead's, #18) are not on this branch yet")


@pytest.fixture(autouse=True)
def no_broker():
    """Tasks queued here go to Celery's in-memory transport: no Redis is touched."""
    before = celery_app.conf.broker_url
    celery_app.conf.broker_url = "memory://"
    yield
    celery_app.conf.broker_url = before


@pytest.fixture
def bank(transactional_db):
    call_command("seed_demo", verbosity=0)


def purchase(phone=JANE, merchant="Electronics Hub") -> Transaction:
    return Transaction.objects.get(customer__phone=phone, merchant=merchant)


def live(request: OutboundRequest, call_id: str = "call-none") -> OutboundRequest:
    """The request as it is while the bank's call is live: calling, its attempt placed as `call_id`."""
    OutboundAttempt.objects.create(request=request, number=1, vapi_call_id=call_id,
                                   status=OutboundAttempt.Status.PLACED)
    OutboundRequest.objects.filter(pk=request.pk).update(status=OutboundRequest.Status.CALLING)
    return request


def fraud_request(phone=JANE, merchant="Electronics Hub") -> OutboundRequest:
    spent = purchase(phone, merchant)
    return services.fraud_alert_create(customer_id=spent.customer_id, transaction_id=spent.pk, created_by="test")[0]


# --- calling hours -------------------------------------------------------------------------------

def test_calling_hours_parse_and_wrap():
    hours = CallingHours.parse("08:00-21:00")
    assert hours.contains(datetime.time(8)) and hours.contains(datetime.time(20, 59, 59))
    assert not hours.contains(datetime.time(21)) and not hours.contains(datetime.time(7, 59))
    night = CallingHours.parse("22:00-06:00:30")
    assert night.contains(datetime.time(23)) and night.contains(datetime.time(6, 0, 29))
    assert not night.contains(datetime.time(12))
    assert CallingHours.parse(ALWAYS).contains(datetime.time(23, 59, 59))
    for bad in ("8-21", "08:00", "09:00-09:00", "24:00-08:00", "08:00-24:01", "25:00-26:00"):
        with pytest.raises(ImproperlyConfigured, match="FINTALK_CALLING_HOURS"):
            CallingHours.parse(bad)


def test_the_next_opening_is_in_the_customers_zone_across_daylight_saving():
    hours = CallingHours.parse("08:00-21:00")
    # 2026-03-08: New York moves to daylight time at 2 a.m. 03:00 UTC is 22:00 the evening before.
    evening = datetime.datetime(2026, 3, 8, 3, 0, tzinfo=UTC)
    assert hours.next_opening(evening, "America/New_York") == datetime.datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    assert hours.next_opening(datetime.datetime(2026, 3, 7, 3, 0, tzinfo=UTC), "America/New_York") == \
        datetime.datetime(2026, 3, 7, 13, 0, tzinfo=UTC)  # standard time: 08:00 is 13:00 UTC
    assert hours.next_opening(datetime.datetime(2026, 3, 8, 15, 0, tzinfo=UTC), "America/New_York") is None
    # Night in Tokyo (UTC+9) at 14:00 UTC: 23:00 there; the window opens at 08:00 there, 23:00 UTC.
    assert hours.next_opening(datetime.datetime(2026, 6, 1, 14, 0, tzinfo=UTC), "Asia/Tokyo") == \
        datetime.datetime(2026, 6, 1, 23, 0, tzinfo=UTC)
    # An unknown zone is taken as UTC, never as "any time".
    assert hours.next_opening(datetime.datetime(2026, 6, 1, 2, 0, tzinfo=UTC), "Mars/Olympus") == \
        datetime.datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


# --- what an outbound chat request is about --------------------------------------------------------

def vapi_body(**extra) -> dict:
    """A chat request as Vapi sends it for an outbound call (metadataSendMode: variable)."""
    body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "Hello?"}],
            "call": {"id": "call-none", "type": "outboundPhoneCall", "customer": {"number": JANE}},
            "customer": {"number": JANE}}
    for key, value in extra.items():
        body[key] = {**body.get(key, {}), **value} if isinstance(value, dict) else value
    return body


def test_outbound_context_of_a_fraud_alert_in_one_query(bank, django_assert_num_queries):
    request = live(fraud_request())
    with django_assert_num_queries(1):
        found = outbound_context(vapi_body(customer={"externalId": str(request.pk)}))
    spent = purchase()
    assert found == OutboundContext(
        purpose="fraud_alert", request_id=request.pk, customer_first_name="Jane", card_network="Visa",
        card_last4="4242", merchant="Electronics Hub", amount=Decimal("899.00"), currency="USD",
        transaction_date=spent.posted_at.astimezone(ZoneInfo("America/Chicago")).date())
    assert isinstance(found.amount, Decimal)
    with pytest.raises(AttributeError):
        found.merchant = "x"  # frozen
    # Nothing in it looks like a full card or phone number.
    assert not any(isinstance(value, str) and sum(ch.isdigit() for ch in value) > 4 for value in vars(found).values())


def test_outbound_context_finds_the_id_wherever_vapi_puts_it(bank):
    request = live(fraud_request())
    rid = str(request.pk)
    places = [
        {"call": {"customer": {"number": JANE, "externalId": rid}}},
        {"metadata": {"fintalkOutboundRequestId": rid}},
        {"fintalkOutboundRequestId": rid},  # metadataSendMode: destructured
        {"call": {"assistantOverrides": {"metadata": {"fintalkOutboundRequestId": rid}}}},
        {"call": {"assistantOverrides": {"variableValues": {"fintalkOutboundRequestId": int(rid)}}}},
    ]
    for place in places:
        assert outbound_context(vapi_body(**place)).request_id == request.pk, place
    # No id anywhere: the call's own id is enough, being the one the bank placed.
    assert outbound_context(vapi_body()).request_id == request.pk


def test_outbound_context_is_none_unless_an_outbound_call_of_that_customer(bank):
    request = live(fraud_request())
    rid = str(request.pk)
    assert outbound_context(vapi_body(call={"type": "inboundPhoneCall"}, customer={"externalId": rid})) is None
    assert outbound_context({"messages": [], "customer": {"externalId": rid}}) is None
    assert outbound_context(vapi_body(customer={"externalId": "999999"})) is None
    # An unreadable id is no id: the call the bank placed decides.
    assert outbound_context(vapi_body(customer={"externalId": "not-a-number"})).request_id == request.pk
    assert outbound_context(vapi_body(call={"id": "call-unknown"})) is None
    # The id names Jane's request but Vapi dialled John: not believed.
    assert outbound_context(vapi_body(customer={"number": JOHN, "externalId": rid},
                                      call={"customer": {"number": JOHN}})) is None
    assert outbound_context("not a dict") is None


def test_an_outbound_context_holds_only_for_the_call_the_bank_placed_while_it_is_live(bank):
    """#27: metadata naming a request is not enough: the chat must come from the Vapi call the bank placed
    for it, while that call is live and the request is calling (not cancelled, not ended)."""
    request = fraud_request()
    rid = str(request.pk)
    assert outbound_context(vapi_body(customer={"externalId": rid})) is None  # never placed
    live(request, "call-placed")
    assert outbound_context(vapi_body(call={"id": "call-other"}, customer={"externalId": rid})) is None
    assert outbound_context(vapi_body(call={"id": "call-placed"}, customer={"externalId": rid})).request_id == request.pk
    other = live(fraud_request(merchant="Shell"), "call-shell")
    assert outbound_context(vapi_body(call={"id": "call-placed"}, customer={"externalId": str(other.pk)})) is None
    OutboundRequest.objects.filter(pk=request.pk).update(status=OutboundRequest.Status.CANCELLED)
    assert outbound_context(vapi_body(call={"id": "call-placed"})) is None
    OutboundRequest.objects.filter(pk=request.pk).update(status=OutboundRequest.Status.CALLING)
    OutboundAttempt.objects.filter(vapi_call_id="call-placed").update(status=OutboundAttempt.Status.ENDED)
    assert outbound_context(vapi_body(call={"id": "call-placed"})) is None  # the call ended: answers refused


def test_outbound_context_of_a_payment_reminder(bank):
    card = Card.objects.get(customer__phone=JANE, last4="4242")
    request, created = services.payment_reminder_create(customer_id=card.customer_id, card_id=card.pk, created_by="t")
    assert created
    found = outbound_context(vapi_body(customer={"externalId": str(live(request).pk)}))
    assert (found.purpose, found.card_network, found.card_last4, found.currency) == \
        ("payment_reminder", "Visa", "4242", "USD")
    assert (found.amount_due, found.minimum_due, found.due_date) == \
        (Decimal("812.40"), Decimal("35.00"), card.payment_due_date)
    assert found.merchant == "" and found.amount is None


# --- the conversation's tools ----------------------------------------------------------------------

def run_tool(action, outbound=None, **kwargs):
    context = TurnContext(phone=JANE, request_id="req-outbound", call_id="call-tools", outbound=outbound)
    return run_action_tool(action, context=context, **kwargs)


def test_tool_names_and_parameters_are_the_contract():
    specs = {t.metadata.name: t.metadata.get_parameters_dict() for t in build_tools(outbound=True)
             if REGISTRY[t.metadata.name].purpose}
    assert specs["confirm_transaction"]["properties"]["made_by_customer"]["type"] == "boolean"
    assert specs["confirm_transaction"]["required"] == ["made_by_customer"]
    assert set(specs["record_promise_to_pay"]["properties"]) == {"date"}
    assert "request" not in str(specs) and "phone" not in str(specs)  # the turn says which request


def test_tools_refuse_without_an_outbound_request_of_their_kind(bank):
    assert run_tool("confirm_transaction", made_by_customer=True) == \
        (REGISTRY["confirm_transaction"].outcomes["no_fraud_alert"].says, [("confirm_transaction", "no_fraud_alert")])
    request = fraud_request()
    alert = outbound_context(vapi_body(customer={"externalId": str(live(request).pk)}))
    assert run_tool("record_promise_to_pay", alert, date="2030-01-01")[0] == REGISTRY["record_promise_to_pay"].outcomes["no_reminder"].says
    request.refresh_from_db()
    assert request.outcome == "" and not Dispute.objects.exists()


@needs_lead_services
def test_yes_marks_the_transaction_genuine(bank):
    request = fraud_request()
    alert = outbound_context(vapi_body(customer={"externalId": str(live(request).pk)}))
    text, calls = run_tool("confirm_transaction", alert, made_by_customer=True)
    assert "$899.00 purchase at Electronics Hub was yours" in text and "4242" in text
    assert calls == [("confirm_transaction", "confirmed_genuine")]
    request.refresh_from_db()
    assert (request.status, request.outcome) == ("done", "confirmed_genuine")
    assert purchase().confirmed_genuine_at is not None
    assert Card.objects.get(last4="4242").status == "active" and not Dispute.objects.exists()


@needs_lead_services
def test_no_blocks_the_card_opens_one_dispute_and_offers_a_replacement(bank):
    request = fraud_request()
    alert = outbound_context(vapi_body(customer={"externalId": str(live(request).pk)}))
    text, calls = run_tool("confirm_transaction", alert, made_by_customer=False)
    dispute = Dispute.objects.get()
    assert dispute.transaction == purchase() and dispute.reason == Dispute.Reason.NOT_RECOGNISED
    assert "blocked your Visa card ending in 4242" in text and dispute.reference in text
    assert text.endswith("Would you like us to send you a replacement card?")
    assert calls == [("confirm_transaction", "fraud_reported")]
    assert Card.objects.get(last4="4242").status == "blocked"
    again, _ = run_tool("confirm_transaction", alert, made_by_customer=False)
    assert Dispute.objects.count() == 1 and "that answer stands" in again and "stays blocked" in again
    request.refresh_from_db()
    assert (request.status, request.outcome) == ("done", "fraud_reported")


def test_a_promise_to_pay_is_recorded_on_the_reminder(bank):
    card = Card.objects.get(customer__phone=JANE, last4="4242")
    request = services.payment_reminder_create(customer_id=card.customer_id, card_id=card.pk, created_by="t")[0]
    reminder = outbound_context(vapi_body(customer={"externalId": str(live(request).pk)}))
    today = timezone.now().date()
    assert "didn't catch the date" in run_tool("record_promise_to_pay", reminder, date="next friday")[0]
    assert "already passed" in run_tool("record_promise_to_pay", reminder, date=str(today - datetime.timedelta(days=5)))[0]
    assert "next 30 days" in run_tool("record_promise_to_pay", reminder, date=str(today + datetime.timedelta(days=90)))[0]
    day = today + datetime.timedelta(days=2)
    text, calls = run_tool("record_promise_to_pay", reminder, date=day.isoformat())
    assert text == f"Thank you. I've noted that you'll pay at least $35.00 by {day:%A, %B} {day.day}."
    assert calls == [("record_promise_to_pay", "promise_to_pay")]
    request.refresh_from_db()
    assert (request.status, request.outcome, request.promised_date) == ("done", "promise_to_pay", day)


# --- the Vapi client -------------------------------------------------------------------------------

@pytest.fixture
def vapi_api():
    with vapi_standin_server() as server:
        server.app.api_key = "vapi-key"
        with override_settings(FINTALK_VAPI_API_URL=server.url, FINTALK_VAPI_API_KEY="vapi-key",
                               FINTALK_VAPI_ASSISTANT_ID="asst", FINTALK_VAPI_PHONE_NUMBER_ID="pn",
                               FINTALK_VAPI_TIMEOUT=5.0):
            yield server.app


def place(**kwargs):
    return vapi.place_call(**{"request_id": 7, "purpose": "fraud_alert", "phone": JANE, "first_name": "Jane", **kwargs})


def test_vapi_call_carries_the_request_id_in_every_place(vapi_api):
    placed = place()
    (sent,) = vapi_api.requests
    assert placed.call_id in vapi_api.calls and placed.status == "queued"
    assert sent.body == {
        "assistantId": "asst", "phoneNumberId": "pn",
        "customer": {"number": JANE, "name": "Jane", "externalId": "7"},
        "assistantOverrides": {"metadata": {"fintalkOutboundRequestId": "7", "purpose": "fraud_alert"},
                               "variableValues": {"fintalkOutboundRequestId": "7", "purpose": "fraud_alert"},
                               "voicemailDetection": {"provider": "vapi"}, "voicemailMessage": vapi.voicemail_message()},
    }


def test_vapi_busy_answers_are_retried_a_bounded_number_of_times(vapi_api):
    vapi_api.fail_next(503, 429)
    assert place().call_id
    assert [r.status for r in vapi_api.requests] == [503, 429, 201]
    vapi_api.reset()
    vapi_api.fail_next(502, 502, 502, 502)
    with pytest.raises(vapi.CallNotPlaced, match="Vapi answered 502"):
        place()
    assert len(vapi_api.requests) == vapi.MAX_TRIES


def test_a_500_or_a_refusal_is_not_retried(vapi_api):
    vapi_api.fail_next(500)
    with pytest.raises(vapi.CallNotPlaced, match="500"):
        place()
    assert len(vapi_api.requests) == 1
    with override_settings(FINTALK_VAPI_API_KEY="wrong"), pytest.raises(vapi.CallNotPlaced, match="401"):
        place()


def test_unreachable_or_unconfigured_vapi(vapi_api):
    from tests.conftest import free_port

    with override_settings(FINTALK_VAPI_API_URL=f"http://127.0.0.1:{free_port()}"), \
            pytest.raises(vapi.CallNotPlaced, match="could not be reached"):
        place()
    with override_settings(FINTALK_VAPI_ASSISTANT_ID=""), pytest.raises(ImproperlyConfigured, match="ASSISTANT_ID"):
        place()


# --- claims, pacing, reports -----------------------------------------------------------------------

@override_settings(FINTALK_CALLING_HOURS=ALWAYS, FINTALK_OUTBOUND_CONCURRENCY=1)
def test_claims_respect_the_lines_and_never_twice(bank):
    first, second = fraud_request(), fraud_request(merchant="Shell")
    claimed = services.claim(first.pk)
    assert claimed.reason == "claimed" and claimed.attempt.number == 1
    assert services.claim(first.pk).reason == "not_due"  # already calling
    assert services.claim(second.pk).reason == "busy"  # the one line is in use
    assert selectors.live_call_count() == 1
    OutboundAttempt.objects.filter(pk=claimed.attempt.pk).update(vapi_call_id="call-1")
    assert services.call_ended(vapi_call_id="call-1", ended_reason="customer-busy")
    assert not services.call_ended(vapi_call_id="call-1", ended_reason="customer-busy")  # known already
    assert services.claim(second.pk).reason == "claimed"
    first.refresh_from_db()
    assert first.status == "scheduled" and first.next_attempt_at > timezone.now()
    assert services.claim(first.pk).reason == "not_due"  # its backoff has not passed


@override_settings(FINTALK_CALLING_HOURS="08:00-21:00")
def test_outside_the_hours_a_claim_schedules_the_opening(bank):
    customer = Customer.objects.get(phone=JANE)
    zone = next(z for z in (f"Etc/GMT{o:+d}" for o in range(-12, 13))
                if not CallingHours.parse("08:00-21:00").contains(
                    timezone.now().astimezone(ZoneInfo(z)).time()))
    customer.time_zone = zone
    customer.save()
    request = fraud_request()
    assert services.claim(request.pk).reason == "outside_hours"
    request.refresh_from_db()
    opening = request.next_attempt_at.astimezone(ZoneInfo(zone))
    assert request.status == "scheduled" and (opening.hour, opening.minute) == (8, 0)
    assert timezone.now() < request.next_attempt_at < timezone.now() + datetime.timedelta(hours=24)
    assert not OutboundAttempt.objects.exists()


@override_settings(FINTALK_CALLING_HOURS=ALWAYS, FINTALK_OUTBOUND_MAX_ATTEMPTS=1)
def test_reports_end_attempts_and_a_finished_conversation_keeps_its_outcome(bank):
    request = fraud_request()
    attempt = services.claim(request.pk).attempt
    OutboundAttempt.objects.filter(pk=attempt.pk).update(vapi_call_id="call-9")
    vapi_event.send(sender=None, event_type="status-update", message={"status": "in-progress"}, call_id="call-9")
    assert OutboundAttempt.objects.get(pk=attempt.pk).ended_at is None  # not an end
    answers.outcome_record(request_id=request.pk, outcome="confirmed_genuine")
    assert selectors.live_call_count() == 1  # the call still holds its line
    vapi_event.send(sender=None, event_type="end-of-call-report", message={"endedReason": "customer-ended-call"},
                    call_id="call-9")
    request.refresh_from_db()
    assert (request.status, request.outcome) == ("done", "confirmed_genuine")
    assert OutboundAttempt.objects.get(pk=attempt.pk).ended_reason == "customer-ended-call"
    assert selectors.live_call_count() == 0
    # A call answered but left without an outcome, on the last attempt: failed, unresolved.
    other = fraud_request(merchant="Shell")
    OutboundAttempt.objects.filter(pk=services.claim(other.pk).attempt.pk).update(vapi_call_id="call-10")
    vapi_event.send(sender=None, event_type="end-of-call-report", message={"endedReason": "customer-ended-call"},
                    call_id="call-10")
    other.refresh_from_db()
    assert (other.status, other.outcome) == ("failed", "unresolved")


@override_settings(FINTALK_CALLING_HOURS=ALWAYS, FINTALK_OUTBOUND_CALL_TIMEOUT=60)
def test_a_call_never_reported_ended_stops_holding_a_line(bank):
    request = fraud_request()
    attempt = services.claim(request.pk).attempt
    assert services.lost_calls_end() == 0
    assert services.lost_calls_end(now=timezone.now() + datetime.timedelta(seconds=61)) == 1
    attempt.refresh_from_db()
    request.refresh_from_db()
    assert attempt.status == "lost" and request.status == "scheduled"


@override_settings(FINTALK_REMINDER_DAYS_BEFORE=3)
def test_the_reminder_job_is_idempotent_and_looks_n_days_ahead(bank):
    today = timezone.now().date()
    Card.objects.filter(last4="4242").update(payment_due_date=today + datetime.timedelta(days=2))  # Jane's: due soon
    Card.objects.filter(last4="5454").update(payment_due_date=today + datetime.timedelta(days=9))  # John's: not yet
    assert services.reminders_create_due() == 1
    assert services.reminders_create_due() == 0
    (reminder,) = OutboundRequest.objects.all()
    assert (reminder.card.last4, reminder.created_by, reminder.status) == ("4242", "reminder-job", "pending")
    # A new bill (a new due date) is a new reminder; a bill with nothing due is none.
    Card.objects.filter(last4="4242").update(payment_due_date=today + datetime.timedelta(days=3))
    Card.objects.filter(last4="5454").update(payment_due_date=today + datetime.timedelta(days=1), minimum_due=0)
    assert services.reminders_create_due() == 1


def test_cancel_and_the_unique_live_request(bank):
    request = fraud_request()
    assert fraud_request().pk == request.pk  # asked again: the same request
    cancelled, changed = services.request_cancel(request_id=request.pk, actor="t")
    assert changed and cancelled.status == "cancelled"
    assert not services.request_cancel(request_id=request.pk, actor="t")[1]
    assert fraud_request().pk != request.pk  # after a cancel, a new alert may be asked for
    with pytest.raises(services.OutboundNotFound):
        services.request_cancel(request_id=987654, actor="t")


@needs_lead_services
def test_a_refused_block_is_said_plainly(bank):
    from django.core.cache import caches

    from bank.selectors import card_lockout_key

    caches["default"].set(card_lockout_key(JANE), True, 60)  # this phone's card actions are locked
    try:
        request = fraud_request()
        alert = outbound_context(vapi_body(customer={"externalId": str(live(request).pk)}))
        text, _ = run_tool("confirm_transaction", alert, made_by_customer=False)
    finally:
        caches["default"].delete(card_lockout_key(JANE))
    assert "couldn't block your Visa card ending in 4242" in text and Dispute.objects.count() == 1
    assert Card.objects.get(last4="4242").status == "active"


# --- a fraud alert's answer on PostgreSQL (#29: found by the rehearsal scenarios) ------------------

@pytest.mark.parametrize("made_by_customer, outcome", [(False, "fraud_reported"), (True, "confirmed_genuine")])
def test_a_fraud_answer_locks_only_its_request_row(bank, made_by_customer, outcome):
    """PostgreSQL refuses FOR UPDATE on the nullable side of an outer join (the request's transaction):
    the answer locks the request's own row, so it is recorded there as on SQLite."""
    request = live(fraud_request())
    answer = answers.fraud_answer_record(request_id=request.pk, made_by_customer=made_by_customer, call_id="c-1")
    assert answer.outcome == outcome
    assert OutboundRequest.objects.get(pk=request.pk).outcome == outcome
    assert Card.objects.get(last4="4242").status == ("active" if made_by_customer else "blocked")
