"""Level 2's rules in-process (the test database, the local memory cache): the TOTP drift window
and replay, sealed secrets, enrolment by staff in the admin, the signed callback, the demo's app,
what the line checks make of a verstat or a failed lookup, raising an action's level by setting, and
a notice that can't be sent."""
import time

import pyotp
import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.cache import caches
from django.core.management import call_command
from django.test import Client

from bank import line, push, sms, totp
from bank.actions import REGISTRY, perform
from bank.changes import ChangeOutcome, address_change
from bank.models import AppApproval, AuditEvent, Authenticator, Customer
from bank.push import CallbackRefused, PushOutcome
from bank.refusals import Reason
from bank.sealing import unseal
from bank.totp import TotpOutcome
from bank.verification import STEP_UP, VERIFIED, CallSession, Denied, current_level
from tests.app_standin import signed
from tests.support.bank import JANE

SECRET = pyotp.random_base32()


@pytest.fixture
def bank(db, settings, tmp_path):
    settings.FINTALK_SEALING_KEY = "a sealing key for the tests"
    settings.FINTALK_SMS_BACKEND = "file"
    settings.FINTALK_SMS_FILE_PATH = str(tmp_path / "sms.log")
    for cached in (sms.backend, line.backend, push.backend):
        cached.cache_clear()
    caches["default"].clear()
    call_command("seed_demo", verbosity=0)
    yield Customer.objects.for_phone(JANE)
    for cached in (sms.backend, line.backend, push.backend):
        cached.cache_clear()
    caches["default"].clear()


def at_level(level: int, call_id: str = "call-rules") -> CallSession:
    session = CallSession(JANE, call_id)
    caches["default"].set(f"fintalk:verified:{session.key}", level)
    return session


@pytest.mark.parametrize("verstat, attestation", [
    ("TN-Validation-Passed-A", "A"), ("TN-Validation-Passed", "A"), ("TN-Validation-Passed-B", "B"),
    ("TN-Validation-Passed-C", "C"), ("TN-Validation-Failed", "failed"), ("No-TN-Validation", "none"),
    ('"Jane" <sip:+15550100001@sip.example.com;verstat=TN-Validation-Passed-B>', "B"), ("", None), (None, None)])
def test_a_verstat_is_read_as_its_attestation(verstat, attestation):
    assert line.attestation_of(verstat) == attestation


def test_codes_of_the_next_and_previous_steps_are_accepted_never_twice_and_never_older(bank):
    totp.enrol(bank, actor="staff", secret=SECRET)
    clock, now = pyotp.TOTP(SECRET), time.time()
    assert totp.check(at_level(VERIFIED, "c1"), clock.at(now, counter_offset=-1), now=now) is TotpOutcome.STEPPED_UP
    assert totp.check(at_level(VERIFIED, "c2"), clock.at(now, counter_offset=-1), now=now) is TotpOutcome.REPLAYED
    assert totp.check(at_level(VERIFIED, "c3"), clock.at(now, counter_offset=1), now=now) is TotpOutcome.STEPPED_UP
    # The current step is now older than the last one accepted: refused as a replay.
    assert totp.check(at_level(VERIFIED, "c4"), clock.at(now), now=now) is TotpOutcome.REPLAYED
    with pytest.raises(Denied) as denied:  # out of the drift window: wrong, the third refused code: locked
        totp.check(at_level(VERIFIED, "c5"), clock.at(now, counter_offset=3), now=now)
    assert denied.value.reason is Reason.LOCKED_OUT
    assert [e.outcome for e in AuditEvent.objects.filter(action="authenticator")] == ["replayed", "replayed"]
    assert AuditEvent.objects.filter(action="verification_lockout").count() == 1


def test_the_secret_is_kept_sealed_and_a_changed_key_makes_codes_unavailable(bank, settings):
    found, secret = totp.enrol(bank, actor="staff")
    assert secret not in found.sealed_secret and unseal(found.sealed_secret) == secret
    settings.FINTALK_SEALING_KEY = "another key"
    assert totp.check(at_level(VERIFIED), pyotp.TOTP(secret).now()) is TotpOutcome.UNAVAILABLE
    settings.FINTALK_SEALING_KEY = ""
    assert totp.check(at_level(VERIFIED, "c2"), pyotp.TOTP(secret).now()) is TotpOutcome.UNAVAILABLE


def test_a_customer_without_an_authenticator_and_a_factor_turned_off_are_said(bank, settings):
    Authenticator.objects.filter(customer=bank).delete()
    assert totp.check(at_level(VERIFIED), "123456") is TotpOutcome.NOT_ENROLLED
    settings.FINTALK_STEP_UP_FACTORS = ["push"]
    assert totp.check(at_level(VERIFIED), "123456") is TotpOutcome.NOT_OFFERED


def test_staff_enrol_an_authenticator_in_the_admin_and_see_its_secret_once(bank):
    client = Client()
    Authenticator.objects.filter(customer=bank).delete()
    staff = User.objects.create_user("ops", password="pw", is_staff=True, is_superuser=True)
    client.force_login(staff)
    page = client.post("/admin/bank/authenticator/add/", {"customer": bank.pk})
    assert page.status_code == 200 and b"shown once" in page.content
    found = Authenticator.objects.get(customer=bank)
    secret = unseal(found.sealed_secret)
    assert secret.encode() in page.content and b"otpauth://totp/" in page.content
    assert found.enrolled_by == "ops" and AuditEvent.objects.filter(action="authenticator_enrol", actor="ops").exists()
    listing = client.get("/admin/bank/authenticator/")
    assert listing.status_code == 200 and secret.encode() not in listing.content
    assert client.get(f"/admin/bank/authenticator/{found.pk}/change/").content.count(secret.encode()) == 0


def test_enrolment_without_a_sealing_key_is_refused_with_the_setting_to_set(bank, settings):
    client = Client()
    settings.FINTALK_SEALING_KEY = ""
    Authenticator.objects.filter(customer=bank).delete()
    client.force_login(User.objects.create_user("ops", password="pw", is_staff=True, is_superuser=True))
    page = client.post("/admin/bank/authenticator/add/", {"customer": bank.pk})
    assert b"Set FINTALK_SEALING_KEY" in page.content and not Authenticator.objects.filter(customer=bank).exists()


def test_the_callback_decides_a_pending_approval_once(bank, settings):
    settings.FINTALK_APP_CALLBACK_SECRET = "s"
    approval = AppApproval.objects.create(reference="ref-1", customer=bank, session_key="k")
    body = b'{"approval_id": "ref-1", "decision": "approve"}'
    headers = signed("s", body)
    assert push.callback(body, headers["X-Fintalk-Timestamp"], headers["X-Fintalk-Signature"]) == "approved"
    again = signed("s", body, stamp=int(time.time()) + 1)  # a new signature, the same decision
    with pytest.raises(CallbackRefused) as refused:
        push.callback(body, again["X-Fintalk-Timestamp"], again["X-Fintalk-Signature"])
    assert (refused.value.status, refused.value.code) == (409, "already_decided")
    unknown = b'{"approval_id": "nope", "decision": "deny"}'
    headers = signed("s", unknown)
    with pytest.raises(CallbackRefused) as refused:
        push.callback(unknown, headers["X-Fintalk-Timestamp"], headers["X-Fintalk-Signature"])
    assert refused.value.status == 404
    approval.refresh_from_db()
    assert approval.status == "approved"


def test_without_a_secret_no_callback_is_accepted(bank, settings):
    settings.FINTALK_APP_CALLBACK_SECRET, settings.FINTALK_APP_BACKEND = "", "http"
    with pytest.raises(CallbackRefused) as refused:
        push.callback(b"{}", str(int(time.time())), "sha256=" + "0" * 64)
    assert refused.value.status == 503


def test_the_demo_app_approves_through_the_signed_callback(transactional_db, settings):
    call_command("seed_demo", verbosity=0)
    settings.FINTALK_APP_BACKEND, settings.FINTALK_APP_CALLBACK_SECRET = "demo", ""
    push.backend.cache_clear()
    session = at_level(VERIFIED, "call-demo-app")
    try:
        assert push.request(session) is PushOutcome.SENT
        assert push.wait(session) is PushOutcome.APPROVED
        assert current_level(session) == STEP_UP
    finally:
        push.backend.cache_clear()
        caches["default"].clear()


def test_push_is_a_step_up_only(bank, settings):
    settings.FINTALK_APP_BACKEND = "demo"
    with pytest.raises(Denied) as denied:
        push.request(CallSession(JANE, "call-level-0"))
    assert denied.value.reason is Reason.NOT_VERIFIED


def test_a_failed_sim_swap_lookup_sends_no_code(bank, settings):
    settings.FINTALK_LINE_CHECK, settings.FINTALK_LINE_CHECK_URL = "standin", "http://127.0.0.1:9"  # nothing listens
    line.backend.cache_clear()
    from bank import verification

    assert verification.code_send(CallSession(JANE, "call-lookup")) is verification.CodeOutcome.SIM_SWAPPED
    assert AuditEvent.objects.filter(action="line_check", outcome="sim_swap:lookup_failed").exists()


def test_a_setting_raises_an_actions_level_never_lowers_it(bank, settings):
    session = at_level(VERIFIED)
    settings.FINTALK_ACTION_LEVELS = {"get_account_balances": STEP_UP, "change_email": 0}
    assert perform(REGISTRY["get_account_balances"], session, {}).outcome == Reason.NEEDS_SECOND_FACTOR.value
    assert perform(REGISTRY["change_email"], session, {"email": "x@example.org"}).outcome == "needs_second_factor"


def test_a_change_stands_when_its_notice_cannot_be_sent(bank, settings):
    settings.FINTALK_SMS_BACKEND = "bank.sms.FileBackend"
    settings.FINTALK_SMS_FILE_PATH = "/nonexistent-dir/sms.log"
    sms.backend.cache_clear()
    done = address_change(session=at_level(STEP_UP), address_line="5 Elm Road", city="Shelbyville", postal_code="62565")
    assert done.outcome is ChangeOutcome.CHANGED
    assert Customer.objects.for_phone(JANE).address_line == "5 Elm Road"
    assert AuditEvent.objects.filter(action="notice", outcome="failed", detail="sms").exists()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["jane.doe@example.com"]


def test_a_misspelt_action_in_the_levels_setting_fails_the_checks(settings):
    from bank.apps import action_levels

    settings.FINTALK_ACTION_LEVELS = {"chnage_email": 2, "change_email": 2}
    [error] = action_levels()
    assert error.id == "fintalk.E031" and "chnage_email" in error.msg and "change_email," not in error.msg
