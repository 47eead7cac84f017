"""Level 2 on the offline demo model through the real server, as a caller would go: the demo
customers' published authenticators (bank/demo_data.py) and the demo app that approves
(FINTALK_APP_BACKEND=demo, through the signed callback), codes by text to a file."""
import json
import re

import pyotp
import pytest

from bank.demo_data import DEMO_AUTHENTICATORS
from bank.refusals import NEEDS_SECOND_FACTOR
from tests.conftest import LiveServer
from tests.test_phone_line import Call

JANE, JOHN = "+15550100001", "+15550100002"


@pytest.fixture(scope="module")
def demo_line(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("step-up-demo")
    server = LiveServer(tmp, {"FINTALK_LLM": "demo", "FINTALK_SMS_BACKEND": "file",
                              "FINTALK_SMS_FILE_PATH": str(tmp / "sms.log"), "FINTALK_SEALING_KEY": "demo sealing key",
                              "FINTALK_APP_BACKEND": "demo"}).start()
    server.sms = tmp / "sms.log"
    yield server
    server.stop()


@pytest.fixture
def line(demo_line):
    demo_line.manage("seed_demo", "--reset")
    return demo_line


def last_text(server) -> dict:
    return json.loads(server.sms.read_text().splitlines()[-1])


def verified_by_text(call: Call, server, request: str) -> str:
    assert "Before I can do that I need to make sure it's you" in call.say(request)
    assert "sent a six-digit code" in call.say("Yes please")
    code = re.search(r"code is (\d{6})", last_text(server)["message"]).group(1)
    return call.say(f"User's Keypad Entry: {code}")


def test_a_caller_changes_their_address_with_an_approval_in_the_app(line):
    call = Call(line, "demo-su-1")
    held = verified_by_text(call, line, "I'd like to change my address to 5 Elm Road, Shelbyville, 62565")
    assert NEEDS_SECOND_FACTOR in held
    assert line.sql("SELECT address_line FROM bank_customer WHERE phone = ?", JANE) == [("12 Market Street",)]
    done = call.say("Send it to the app please")
    assert "I've sent a request to our mobile app" in done and "I can see you approved it in the app" in done
    assert "Done. Your postal address is updated." in done
    assert line.sql("SELECT address_line, city, postal_code FROM bank_customer WHERE phone = ?", JANE) == [
        ("5 Elm Road", "Shelbyville", "62565")]
    notice = last_text(line)
    assert notice["to"] == JANE and "postal address on your account was changed" in notice["message"]


def test_a_replacement_to_another_address_with_the_authenticator_and_a_replayed_code_refused(line):
    call = Call(line, "demo-su-2", **{"customer": {"number": JOHN}, "call": {"id": "demo-su-2", "customer": {"number": JOHN}}})
    held = verified_by_text(call, line, "Please send a replacement for my card ending in 5454 to 9 Pine Street, Salem, 97301")
    assert NEEDS_SECOND_FACTOR in held
    code = pyotp.TOTP(DEMO_AUTHENTICATORS[JOHN]).now()
    done = call.say(f"My authenticator code is {code}")
    assert "Thank you, that's the second proof I needed." in done
    assert "A replacement for your card ending in 5454 will go to the address you gave me" in done
    assert line.sql("SELECT city FROM bank_cardreplacement") == [("Salem",)]

    again = Call(line, "demo-su-3", **{"customer": {"number": JOHN}, "call": {"id": "demo-su-3", "customer": {"number": JOHN}}})
    assert NEEDS_SECOND_FACTOR in verified_by_text(again, line, "I need to update my email to john@example.org")
    assert "That code was already used." in again.say(f"My authenticator code is {code}")
    assert line.sql("SELECT email FROM bank_customer WHERE phone = ?", JOHN) == [("john.smith@example.com",)]


def test_a_new_phone_is_registered_only_with_the_code_sent_to_it(line):
    call = Call(line, "demo-su-4")
    assert call.say("Can you change my phone number?") == "What's the new phone number, with its country code?"
    # (Written as one run of digits: earlier messages reach the model with spaced groups of six digits
    # masked as spent codes, api.conversation.)
    held = verified_by_text(call, line, "+15550100177")
    assert NEEDS_SECOND_FACTOR in held
    sent = call.say(f"User's Keypad Entry: {pyotp.TOTP(DEMO_AUTHENTICATORS[JANE]).now()}")
    assert "I've sent a six-digit code to the new number ending in 0177" in sent
    message = last_text(line)
    assert message["to"] == "+15550100177"
    code = re.search(r"phone is (\d{6})", message["message"]).group(1)
    assert "That code isn't right" in call.say(f"User's Keypad Entry: {(int(code) + 1) % 10 ** 6:06d}")
    assert line.sql("SELECT count(*) FROM bank_customer WHERE phone = ?", "+15550100177") == [(0,)]
    assert "Your registered phone is now the number ending in 0177" in call.say(f"User's Keypad Entry: {code}")
    assert line.sql("SELECT name FROM bank_customer WHERE phone = ?", "+15550100177") == [("Jane Doe",)]
