"""Level 2 through the real server (issue #31): the model (the Bedrock stand-in, scripted) asks for
the tools; the bank decides. Codes go to a file, notices to the file email backend, the app backend
and the carrier's SIM-swap lookup are stand-ins over HTTP (tests/app_standin.py), the cache is the
run's own Redis (so each test starts with no lockout).

Why one module of ~300 lines: the servers are module fixtures (splitting would start them again).
"""
import json
import re
import time

import httpx
import pyotp
import pytest

from bank.demo_data import DEMO_AUTHENTICATORS
from bank.refusals import NEEDS_SECOND_FACTOR, NOT_VERIFIED
from tests.app_standin import AppStandIn, LineStandIn, signed
from tests.bedrock_standin import Reply, ToolUse
from tests.conftest import API_KEY, LiveServer
from tests.test_phone_line import tool_results, vapi

JANE, JOHN = "+15550100001", "+15550100002"
SECRET = "app-callback-secret-for-tests"
NEW_ADDRESS = {"address_line": "5 Elm Road", "city": "Shelbyville", "postal_code": "62565"}
REDIS_DB = 11


@pytest.fixture(scope="module")
def app():
    with AppStandIn(SECRET) as standin:
        yield standin


@pytest.fixture(scope="module")
def carrier():
    with LineStandIn() as standin:
        yield standin


@pytest.fixture(scope="module")
def step_line(tmp_path_factory, standin_server, redis_service, app, carrier):
    tmp = tmp_path_factory.mktemp("step-up")
    server = LiveServer(tmp, {
        "FINTALK_LLM": "bedrock", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin_server.url, "FINTALK_TOOL_FILLER": "off",
        "FINTALK_SMS_BACKEND": "file", "FINTALK_SMS_FILE_PATH": str(tmp / "sms.log"),
        "FINTALK_CACHE_URL": redis_service.url(REDIS_DB), "FINTALK_SEALING_KEY": "a sealing key for the tests",
        "FINTALK_APP_BACKEND": "http", "FINTALK_APP_BACKEND_URL": app.url, "FINTALK_APP_CALLBACK_SECRET": SECRET,
        "FINTALK_APP_WAIT_SECONDS": "3", "FINTALK_LINE_CHECK": "standin", "FINTALK_LINE_CHECK_URL": carrier.url,
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "DJANGO_EMAIL_FILE_PATH": str(tmp / "mail")})
    server.env["FINTALK_APP_CALLBACK_URL"] = server.url + "/api/app/approvals/callback"
    server.start()
    server.sms, server.mail = tmp / "sms.log", tmp / "mail"
    yield server
    server.stop()


@pytest.fixture
def line(step_line, redis_service, app, carrier):
    redis_service.client(REDIS_DB).flushdb()
    step_line.manage("seed_demo", "--reset")
    app.answer, carrier.swapped = "approve", set()
    return step_line


def turn(server, standin, call_id, *rounds, phone=JANE, verstat=None) -> list[str]:
    """One caller turn in which the model calls each round's tools in turn; the tools' results."""
    standin.reset()
    standin.script(*[Reply(tool_uses=list(round_)) for round_ in rounds], Reply(text="OK."))
    body = vapi(call_id, phone)
    if verstat:
        body["metadata"] = {"verstat": verstat}
    response = httpx.post(server.url + "/api/chat/completions", timeout=30, headers={"Authorization": f"Bearer {API_KEY}"},
                          json={"stream": False, "messages": [{"role": "user", "content": "Hi"}], **body})
    assert response.status_code == 200, response.text
    return tool_results(standin.requests[-1])


def codes_sent(path) -> list[str]:
    """The one-time codes texted so far (notices and phone-change codes are other messages)."""
    messages = [json.loads(line)["message"] for line in path.read_text().splitlines()] if path.exists() else []
    return [match.group(1) for match in map(re.compile(r"code is (\d{6})").search, messages) if match]


def level_1(server, standin, call_id, phone=JANE, verstat=None) -> None:
    turn(server, standin, call_id, [ToolUse("send_verification_code", {})], phone=phone, verstat=verstat)
    code = codes_sent(server.sms)[-1]
    [verified] = turn(server, standin, call_id, [ToolUse("verify_code", {"code": code})], phone=phone, verstat=verstat)
    assert "you're verified" in verified


def authenticator_code(phone=JANE, *, wrong=False) -> str:
    totp = pyotp.TOTP(DEMO_AUTHENTICATORS[phone])
    if not wrong:
        return totp.now()
    window = {totp.at(time.time(), counter_offset=n) for n in range(-2, 3)}
    return next(code for code in (f"{n:06d}" for n in range(1000000)) if code not in window)


def address(server, phone=JANE) -> str:
    return server.sql("SELECT address_line FROM bank_customer WHERE phone = ?", phone)[0][0]


def audit(server, action) -> list[str]:
    return [row[0] for row in server.sql("SELECT outcome FROM bank_auditevent WHERE action = ? ORDER BY id", action)]


def test_a_level_1_caller_needs_a_second_factor_then_an_authenticator_code_changes_the_address(line, standin):
    level_1(line, standin, "call-su-1")
    change = ToolUse("change_postal_address", NEW_ADDRESS)
    [refused] = turn(line, standin, "call-su-1", [change])
    assert refused == NEEDS_SECOND_FACTOR and address(line) == "12 Market Street"
    assert audit(line, "address_change") == ["refused:needs_second_factor"]

    [wrong] = turn(line, standin, "call-su-1", [ToolUse("verify_authenticator_code", {"code": authenticator_code(wrong=True)})])
    assert "isn't right" in wrong and address(line) == "12 Market Street"
    code = authenticator_code()
    [stepped_up] = turn(line, standin, "call-su-1", [ToolUse("verify_authenticator_code", {"code": code})])
    assert stepped_up == "Thank you, that's the second proof I needed."
    assert code not in json.dumps(standin.requests[-1].body)  # the used code is out of what the model sees
    [done] = turn(line, standin, "call-su-1", [change])
    assert done.startswith("Done. Your postal address is updated.") and address(line) == "5 Elm Road"
    assert audit(line, "address_change") == ["refused:needs_second_factor", "changed"]
    # The customer is told at the old details: their registered phone and their email.
    notice = json.loads(line.sms.read_text().splitlines()[-1])
    assert notice["to"] == JANE and "postal address on your account was changed" in notice["message"]
    mail = "".join(path.read_text() for path in line.mail.iterdir())
    assert "jane.doe@example.com" in mail and "postal address on your account was changed" in mail
    assert code not in line.logs() and code not in json.dumps(line.sql("SELECT * FROM bank_auditevent"), default=str)


def test_an_approval_in_the_app_allows_a_replacement_to_a_new_address_and_a_denial_changes_nothing(line, standin, app):
    level_1(line, standin, "call-su-2")
    sent, approved = turn(line, standin, "call-su-2", [ToolUse("request_app_approval", {})],
                          [ToolUse("check_app_approval", {})])
    assert "I've sent a request to our mobile app" in sent and approved == "Thank you, I can see you approved it in the app."
    assert app.requests[-1]["callback_url"].endswith("/api/app/approvals/callback") and app.callbacks[-1][2] == 200
    [ordered] = turn(line, standin, "call-su-2", [ToolUse("order_replacement_card_to_new_address",
                                                          {"card_last4": "4242", **NEW_ADDRESS})])
    assert ordered.startswith("Done. A replacement for your card ending in 4242 will go to the address you gave me")
    assert line.sql("SELECT address_line, city FROM bank_cardreplacement") == [("5 Elm Road", "Shelbyville")]
    assert "not the one on file" in json.loads(line.sms.read_text().splitlines()[-1])["message"]

    # The backend's answer is signed, fresh and used once.
    body, headers, _ = app.callbacks[-1]
    callback = line.url + "/api/app/approvals/callback"
    replayed = httpx.post(callback, content=body, headers=headers)
    assert replayed.status_code == 409 and replayed.json()["error"]["code"] == "replayed"
    forged = httpx.post(callback, content=body, headers=signed("not the secret", body))
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "invalid_signature"
    stale = httpx.post(callback, content=body, headers=signed(SECRET, body, stamp=1_000_000_000))
    assert stale.status_code == 401 and stale.json()["error"]["code"] == "stale_timestamp"
    bad = httpx.post(callback, content=b"[1]", headers=signed(SECRET, b"[1]"))
    assert bad.status_code == 400 and set(bad.json()["error"]) == {"message", "type", "param", "code"}

    app.answer = "deny"
    level_1(line, standin, "call-su-3")
    _, denied = turn(line, standin, "call-su-3", [ToolUse("request_app_approval", {})], [ToolUse("check_app_approval", {})])
    assert denied.startswith("The request was declined in the app")
    [refused] = turn(line, standin, "call-su-3", [ToolUse("change_postal_address", NEW_ADDRESS)])
    assert refused == NEEDS_SECOND_FACTOR and address(line) == "12 Market Street"


def test_an_unanswered_approval_is_waited_for_then_times_out_aloud(line, standin, app):
    app.answer = None
    level_1(line, standin, "call-su-4")
    _, waiting = turn(line, standin, "call-su-4", [ToolUse("request_app_approval", {})], [ToolUse("check_app_approval", {})])
    assert waiting == "I'm still waiting for your approval in the app. Tell me once you've approved it."
    line.sql("UPDATE bank_appapproval SET created_at = ?", "2020-01-01 00:00:00+00:00")
    [expired] = turn(line, standin, "call-su-4", [ToolUse("check_app_approval", {})])
    assert expired.startswith("The approval request in the app has timed out")
    assert line.sql("SELECT status FROM bank_appapproval") == [("expired",)]
    [refused] = turn(line, standin, "call-su-4", [ToolUse("change_email", {"email": "new@example.org"})])
    assert refused == NEEDS_SECOND_FACTOR


def test_a_wrong_or_replayed_authenticator_code_counts_towards_the_lockout(line, standin):
    level_1(line, standin, "call-su-5", phone=JOHN)
    code = authenticator_code(JOHN)
    [stepped_up] = turn(line, standin, "call-su-5", [ToolUse("verify_authenticator_code", {"code": code})], phone=JOHN)
    assert stepped_up == "Thank you, that's the second proof I needed."
    level_1(line, standin, "call-su-6", phone=JOHN)  # another call: the same code again
    [replayed] = turn(line, standin, "call-su-6", [ToolUse("verify_authenticator_code", {"code": code})], phone=JOHN)
    assert replayed.startswith("That code was already used.")
    [wrong] = turn(line, standin, "call-su-6", [ToolUse("verify_authenticator_code",
                                                        {"code": authenticator_code(JOHN, wrong=True)})], phone=JOHN)
    assert "isn't right" in wrong
    [locked] = turn(line, standin, "call-su-6", [ToolUse("verify_authenticator_code",
                                                         {"code": authenticator_code(JOHN, wrong=True)})], phone=JOHN)
    assert locked.startswith("For your security, verification is locked")  # the third of 3: replay counted
    assert audit(line, "verification_lockout") == ["locked_out"]
    [still] = turn(line, standin, "call-su-7", [ToolUse("send_verification_code", {})], phone=JOHN)
    assert still.startswith("For your security, verification is locked")


def test_a_sim_swapped_phone_gets_no_sms_code_but_may_use_its_authenticator(line, standin, carrier):
    carrier.swapped = {JANE}
    before = len(codes_sent(line.sms))
    [other_ways] = turn(line, standin, "call-su-8", [ToolUse("send_verification_code", {})])
    assert other_ways.startswith("For your security I can't send a text to your phone right now.")
    assert "authenticator" in other_ways and len(codes_sent(line.sms)) == before
    assert carrier.lookups[-1] == {"phoneNumber": JANE, "maxAge": 240}
    assert "sim_swap:recent" in audit(line, "line_check") and "sim_swapped" in audit(line, "verification")
    [verified] = turn(line, standin, "call-su-8", [ToolUse("verify_authenticator_code", {"code": authenticator_code()})])
    assert verified.startswith("Thank you, you're verified.")
    [balances] = turn(line, standin, "call-su-8", [ToolUse("get_account_balances", {})])
    assert "$1,200.50" in balances
    # Level 1 came from the authenticator: level 2 needs a proof of another kind.
    [other] = turn(line, standin, "call-su-8", [ToolUse("verify_authenticator_code", {"code": authenticator_code()})])
    assert other.startswith("You've already used your authenticator on this call.")


def test_a_call_with_partial_attestation_is_treated_as_unknown_until_verified(line, standin):
    partial = "TN-Validation-Passed-B"
    level_0 = [ToolUse("get_customer_profile", {}), ToolUse("list_credit_cards", {}),
               ToolUse("block_credit_card", {"card_last4": "4242", "reason": "lost"})]
    refused = turn(line, standin, "call-su-9", level_0, verstat=partial)
    assert refused == [NOT_VERIFIED] * 3
    assert line.sql("SELECT status FROM bank_card WHERE last4 = '4242'") == [("active",)]
    system = json.dumps(standin.requests[-1].body["system"])
    assert "Jane" not in system and "could not confirm that this call comes from the phone number" in system
    assert audit(line, "line_check") == ["attestation:B"]  # recorded once for the call

    [full] = turn(line, standin, "call-su-10", [level_0[0]], verstat="TN-Validation-Passed-A")
    assert full.startswith("You're Jane")
    level_1(line, standin, "call-su-9", verstat=partial)  # verification still works, and then the caller is known
    [known] = turn(line, standin, "call-su-9", [level_0[0]], verstat=partial)
    assert known.startswith("You're Jane")


def test_the_registered_phone_changes_only_once_a_code_sent_to_the_new_number_is_read_back(line, standin):
    new = "+15550100123"
    level_1(line, standin, "call-su-11")
    turn(line, standin, "call-su-11", [ToolUse("verify_authenticator_code", {"code": authenticator_code()})])
    [sent] = turn(line, standin, "call-su-11", [ToolUse("start_phone_change", {"new_number": "+1 555 010 0123"})])
    assert "ending in 0123" in sent
    message = json.loads(line.sms.read_text().splitlines()[-1])
    assert message["to"] == new
    code = message["message"].split("phone is ")[1][:6]
    [wrong] = turn(line, standin, "call-su-11", [ToolUse("confirm_phone_change", {"code": f"{(int(code) + 1) % 10**6:06d}"})])
    assert wrong.startswith("That code isn't right") and line.sql("SELECT count(*) FROM bank_customer WHERE phone = ?", new) == [(0,)]
    [done] = turn(line, standin, "call-su-11", [ToolUse("confirm_phone_change", {"code": code})])
    assert done.startswith("Done. Your registered phone is now the number ending in 0123.")
    assert line.sql("SELECT name FROM bank_customer WHERE phone = ?", new) == [("Jane Doe",)]
    notice = json.loads(line.sms.read_text().splitlines()[-1])
    assert notice["to"] == JANE and "changed to a number ending in 0123" in notice["message"]
    assert audit(line, "phone_change") == ["code_sent", "wrong_code", "changed"]
