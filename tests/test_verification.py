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
    assert not verification.security_answers_check(call, date_of_birth="1985-04-12", card_last4="4242",
                                                   last_transaction_amount="5.00")
    assert verification.security_answers_check(call, date_of_birth="April 12th, 1985", card_last4="4242",
                                               last_transaction_amount="$4.75")
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
