"""Verification levels, one-time codes and their senders, in-process against the test database,
the local memory cache and (for SNS) a stand-in speaking SNS's wire format to the real boto3."""
import json
import re

import pytest
from django.core.cache import caches
from django.core.management import call_command

from bank import sms, verification
from bank.lockouts import VERIFICATION
from bank.verification import CallSession, CodeOutcome, Denied, Reason
from tests.sns_standin import SnsStandIn
from tests.support.bank import JANE, JOHN


@pytest.fixture
def bank(db, settings, tmp_path):
    call_command("seed_demo", verbosity=0)
    settings.FINTALK_SMS_BACKEND = "file"
    settings.FINTALK_SMS_FILE_PATH = str(tmp_path / "sms.log")
    sms.backend.cache_clear()
    caches["default"].clear()
    yield tmp_path / "sms.log"
    sms.backend.cache_clear()
    caches["default"].clear()


def last_code(path) -> str:
    line = json.loads(path.read_text().splitlines()[-1])
    assert line["to"] == JANE  # only ever the registered phone
    return re.search(r"code is (\d{6})", line["message"]).group(1)


def test_a_code_verifies_once_for_this_call_only(bank):
    call = CallSession(JANE, "call-a")
    with pytest.raises(Denied) as denied:
        verification.require(call, verification.VERIFIED)
    assert denied.value.reason is Reason.NOT_VERIFIED
    assert verification.code_send(call) is CodeOutcome.SENT
    code = last_code(bank)
    assert verification.code_check(call, code) is CodeOutcome.VERIFIED
    assert verification.require(call, verification.VERIFIED).phone == JANE
    assert verification.current_level(CallSession(JANE, "call-b")) == 0  # another call is not verified
    assert verification.code_check(CallSession(JANE, "call-b"), code) is CodeOutcome.NO_CODE  # nor by its code


def test_the_code_is_stored_hashed_and_expires(bank, settings):
    call = CallSession(JANE, "call-c")
    verification.code_send(call)
    code = last_code(bank)
    stored = caches["default"].get(f"fintalk:otp:{call.key}")
    assert code not in stored and len(stored) > 40
    caches["default"].delete(f"fintalk:otp:{call.key}")  # what the TTL does after FINTALK_CODE_TTL_SECONDS
    assert verification.code_check(call, code) is CodeOutcome.NO_CODE


def test_letters_and_wrong_lengths_are_refused_without_counting(bank):
    call = CallSession(JANE, "call-d")
    verification.code_send(call)
    for bad in ("12a456", "12345", "1234567", ""):
        assert verification.code_check(call, bad) is CodeOutcome.INVALID
    assert not VERIFICATION.locked(JANE)


def test_three_wrong_codes_lock_the_phone_and_the_right_one_is_refused(bank):
    call = CallSession(JANE, "call-e")
    verification.code_send(call)
    code = last_code(bank)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert [verification.code_check(call, wrong) for _ in range(2)] == [CodeOutcome.WRONG] * 2
    with pytest.raises(Denied) as third:
        verification.code_check(call, wrong)
    assert third.value.reason is Reason.LOCKED_OUT
    with pytest.raises(Denied):
        verification.code_check(call, code)
    with pytest.raises(Denied):
        verification.code_send(CallSession(JANE, "call-f"))  # the lock is the phone's, not the call's
    assert verification.code_send(CallSession(JOHN, "call-g")) is CodeOutcome.SENT


def test_security_answers_verify_when_the_code_cannot_be_used(bank):
    call = CallSession(JANE, "call-h")
    assert not verification.security_answers_check(call, date_of_birth="1985-04-12", postal_code="62701",
                                                   account_last4="4242")  # a card's digits are no answer
    assert verification.security_answers_check(call, date_of_birth="April 12th, 1985", postal_code="62701",
                                               account_last4="1 2 3 4")
    assert verification.current_level(call) == verification.VERIFIED


def test_a_sender_that_fails_offers_another_way(bank, settings):
    settings.FINTALK_SMS_FILE_PATH = str(bank.parent / "missing-dir" / "sms.log")
    sms.backend.cache_clear()
    assert verification.code_send(CallSession(JANE, "call-i")) is CodeOutcome.SEND_FAILED


def test_with_the_cache_down_verification_fails_closed(bank, settings):
    working = settings.CACHES
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}  # nothing listens on port 1
    for action in (lambda: verification.code_send(CallSession(JANE, "call-j")),
                   lambda: verification.code_check(CallSession(JANE, "call-j"), "123456"),
                   lambda: verification.require(CallSession(JANE, "call-j"), verification.VERIFIED)):
        with pytest.raises(Denied) as denied:
            action()
        assert denied.value.reason is Reason.SECURITY_UNAVAILABLE
    settings.CACHES = working


def test_the_sns_sender_publishes_through_boto3(monkeypatch):
    with SnsStandIn() as standin:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SNS", standin.url)
        sender = sms.SnsBackend()
        sender.send(JANE, "Your code is 123456.")
        assert standin.published[0]["PhoneNumber"] == JANE and standin.published[0]["Message"] == "Your code is 123456."
        standin.fail_with = (400, "Throttling")
        with pytest.raises(sms.SmsNotSent):
            sender.send(JANE, "again")


def test_verification_lives_with_one_conversation_never_a_phone(bank):
    """#27: without a call id, what a caller proves lasts for that request alone; another request or
    conversation naming the same phone starts at level 0."""
    first = CallSession(JANE, None, request_id="req-1")
    assert verification.code_send(first) is CodeOutcome.SENT
    assert verification.code_check(first, last_code(bank)) is CodeOutcome.VERIFIED
    for other in (CallSession(JANE, None, request_id="req-2"), CallSession(JANE, "conversation-b")):
        with pytest.raises(Denied) as denied:
            verification.require(other, verification.VERIFIED)
        assert denied.value.reason is Reason.NOT_VERIFIED


def test_codes_are_limited_per_call_and_per_phone_a_day(bank, settings):
    """#27: a pause before a resend, a cap per call and per phone a day; each refusal audited and counted."""
    from prometheus_client import REGISTRY

    from bank.models import AuditEvent

    def metric(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0.0

    settings.FINTALK_CODE_RESEND_SECONDS = 1
    settings.FINTALK_CODE_MAX_PER_CALL, settings.FINTALK_CODE_MAX_PER_PHONE_DAY = 2, 3
    refused_before = metric("fintalk_verification_codes_refused_total", reason="limit_reached")
    call = CallSession(JANE, "call-pumped")
    assert verification.code_send(call) is CodeOutcome.SENT
    assert verification.code_send(call) is CodeOutcome.TOO_SOON  # at once: wait for the first
    caches["default"].delete(f"fintalk:otp-pause:{call.key}")
    assert verification.code_send(call) is CodeOutcome.SENT
    caches["default"].delete(f"fintalk:otp-pause:{call.key}")
    assert verification.code_send(call) is CodeOutcome.LIMIT_REACHED  # a third on one call
    assert verification.code_send(CallSession(JANE, "call-2")) is CodeOutcome.SENT  # the phone's third today
    assert verification.code_send(CallSession(JANE, "call-3")) is CodeOutcome.LIMIT_REACHED  # its fourth
    assert len(bank.read_text().splitlines()) == 3  # three texts in all, never more
    assert AuditEvent.objects.filter(action="verification", outcome__in=["too_soon", "limit_reached"]).count() == 3
    assert metric("fintalk_verification_codes_refused_total", reason="limit_reached") == refused_before + 2
