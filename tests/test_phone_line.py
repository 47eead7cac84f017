"""The bank's phone line through the real server: verification with a one-time code (file sender),
balances, transactions, disputes, replacements, payments and a person; on the demo model and over
Bedrock (the stand-in), with the bank refusing whatever the model asks before the caller is verified.

Why ~400 lines: one module per issue's flows through the real server (servers are module fixtures,
so splitting would start them again).
"""
import json
import re
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import openai
import pytest

from tests.bedrock_standin import Reply, ToolUse
from tests.conftest import API_KEY, LiveServer

JANE = "+15550100001"
TRANSFER_CALL = {"type": "function", "function": {
    "name": "transferCall", "description": "Transfer the call to a person.",
    "parameters": {"type": "object", "required": ["destination"],
                   "properties": {"destination": {"type": "string", "enum": ["+15550100999"]}}}}}
FIGURES = ("1,200.50", "8,450.00", "Electronics Hub", "Blue Bottle", "812.40")


def codes_sent(path) -> list[str]:
    if not path.exists():
        return []
    return [re.search(r"code is (\d{6})", json.loads(line)["message"]).group(1)
            for line in path.read_text().splitlines()]


def vapi(call_id: str, phone: str = JANE) -> dict:
    return {"call": {"id": call_id, "type": "inboundPhoneCall", "customer": {"number": phone}},
            "customer": {"number": phone}, "phoneNumber": {"number": "+15550100900"}, "metadata": {}}


class Call:
    """One Vapi call: each `say` is a turn with the whole history, as Vapi sends it."""

    def __init__(self, server, call_id: str, **extra):
        self.server, self.body, self.history = server, {**vapi(call_id), **extra}, []

    def say(self, text: str) -> str:
        self.history.append({"role": "user", "content": text})
        response = httpx.post(self.server.url + "/api/chat/completions", timeout=30,
                              headers={"Authorization": f"Bearer {API_KEY}"},
                              json={"stream": False, "messages": self.history, **self.body})
        assert response.status_code == 200, response.text
        reply = response.json()["choices"][0]["message"]["content"] or ""
        self.history.append({"role": "assistant", "content": reply})
        return reply


@pytest.fixture(scope="module")
def line(tmp_path_factory, standin_server):
    """A demo-model server whose codes go to a file (FINTALK_SMS_BACKEND=file)."""
    tmp = tmp_path_factory.mktemp("phone-line")
    server = LiveServer(tmp, {"FINTALK_LLM": "demo", "FINTALK_SMS_BACKEND": "file",
                              "FINTALK_SMS_FILE_PATH": str(tmp / "sms.log")}).start()
    server.sms = tmp / "sms.log"
    yield server
    server.stop()


@pytest.fixture
def fresh_line(line):
    line.manage("seed_demo", "--reset")
    return line


def verify(call: Call, sms) -> None:
    before = len(codes_sent(sms))
    assert "six-digit code" in call.say("What's my balance?")
    assert "sent a six-digit code" in call.say("Yes please")
    code = codes_sent(sms)[before]
    return call.say(f"User's Keypad Entry: {code}")


def test_a_verified_caller_hears_balances_transactions_and_opens_one_dispute(fresh_line):
    call = Call(fresh_line, "call-phone-line-1")
    balances = verify(call, fresh_line.sms)
    assert "$1,200.50" in balances and "$8,450.00" in balances  # the request verification held up, answered
    recent = call.say("What are my recent transactions?")
    assert recent.count(" at ") == 5 and "$4.75 at Blue Bottle Coffee" in recent
    disputed = call.say("I don't recognise the Electronics Hub charge")
    reference = re.search(r"reference is ((?:\w ){7}\w|D - \w( \w){5})", disputed)
    assert "opened a dispute" in disputed and "block your card ending in 4242" in disputed and reference
    assert "now blocked" in call.say("Yes")  # the offer to block the card of an unrecognised charge
    again = call.say("I don't recognise the Electronics Hub charge")
    assert "already a dispute" in again
    assert fresh_line.sql("SELECT count(*) FROM bank_dispute") == [(1,)]
    assert fresh_line.sql("SELECT count(*) FROM bank_auditevent WHERE action = 'dispute_open'") == [(1,)]


def test_lost_card_blocked_then_one_replacement_to_the_address_on_file(fresh_line):
    call = Call(fresh_line, "call-phone-line-2")
    verify(call, fresh_line.sms)
    assert "replacement card sent" in call.say("My card 4242 was stolen")
    assert "city or ZIP" in call.say("Yes")
    done = call.say("Springfield")
    assert "will arrive at your address on file" in done and "Market Street" not in done
    call.history = call.history[:-2]  # the caller asks again: the same replacement, nothing new
    assert "already on its way" in call.say("Springfield")
    assert fresh_line.sql("SELECT count(*) FROM bank_cardreplacement") == [(1,)]
    assert fresh_line.sql("SELECT count(*) FROM bank_auditevent WHERE action = 'card_replacement'") == [(1,)]


def test_a_payment_is_read_back_and_made_once(fresh_line):
    call = Call(fresh_line, "call-phone-line-3")
    verify(call, fresh_line.sms)
    quote = call.say("Pay the statement balance on my card 4242")
    assert "pay $812.40 to your Visa card ending in 4242 from your checking account ending in 1234" in quote
    assert fresh_line.sql("SELECT count(*) FROM bank_cardpayment") == [(0,)]  # nothing before the yes
    paid = call.say("Yes, go ahead")
    assert "Done. You've paid $812.40" in paid
    call.history = call.history[:-2]
    assert "already made" in call.say("Yes, go ahead")  # a repeated turn pays nothing more
    assert fresh_line.sql("SELECT count(*) FROM bank_cardpayment") == [(1,)]
    [(balance,)] = fresh_line.sql("SELECT balance FROM bank_account WHERE last4 = '1234'")
    assert Decimal(str(balance)) == Decimal("388.10")
    assert fresh_line.sql("SELECT call_id FROM bank_auditevent WHERE action = 'card_payment'") == [("call-phone-line-3",)]
    assert "more than you owe on that card, which is $32.80" in call.say("Pay $800.00 on my card 4242")
    assert "above zero" in call.say("Pay $0.00 on my card 4242")


def test_a_code_never_reaches_the_logs_the_audit_trail_or_the_model_again(fresh_line):
    call = Call(fresh_line, "call-phone-line-4")
    verify(call, fresh_line.sms)
    call.say("What are my recent transactions?")
    code = codes_sent(fresh_line.sms)[-1]
    assert code not in fresh_line.logs()
    assert code not in json.dumps(fresh_line.sql("SELECT * FROM bank_auditevent"), default=str)


def test_asking_for_a_person_streams_transfer_call_and_records_the_handoff(fresh_line):
    client = openai.OpenAI(base_url=fresh_line.url + "/api", api_key=API_KEY, max_retries=0)
    chunks = list(client.chat.completions.create(
        model="gpt-4o", stream=True, tools=[TRANSFER_CALL], extra_body=vapi("call-phone-line-5"),
        messages=[{"role": "user", "content": "Can I speak to a person please?"}]))
    calls = [call for chunk in chunks if chunk.choices for call in chunk.choices[0].delta.tool_calls or ()]
    assert calls[0].function.name == "transferCall"
    assert json.loads("".join(call.function.arguments or "" for call in calls)) == {"destination": "+15550100999"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    spoken = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert "putting you through" in spoken
    assert fresh_line.sql("SELECT action, detail, call_id FROM bank_auditevent") == [
        ("handoff", "caller asked for a person", "call-phone-line-5")]
    without = Call(fresh_line, "call-phone-line-6").say("I want to talk to a human")
    assert "1-800-555-0199" in without  # no transferCall offered: how to reach a person


# --- Over Bedrock: the bank, not the model, decides ---------------------------------------------

READS_AND_PAYMENTS = [
    ToolUse("get_account_balances", {}), ToolUse("get_recent_transactions", {}),
    ToolUse("open_dispute", {"merchant": "Electronics Hub", "reason": "not_recognised"}),
    ToolUse("order_replacement_card", {"card_last4": "4242", "address_confirmation": "Springfield"}),
    ToolUse("prepare_card_payment", {"card_last4": "4242", "amount": "minimum"}),
    ToolUse("confirm_card_payment", {}),
]


def tool_results(request) -> list[str]:
    return [item["text"] for message in request.body["messages"] for block in message["content"]
            if "toolResult" in block for item in block["toolResult"]["content"]]


@pytest.fixture(scope="module")
def bedrock_line(tmp_path_factory, standin_server):
    tmp = tmp_path_factory.mktemp("phone-line-bedrock")
    server = LiveServer(tmp, {"FINTALK_LLM": "bedrock", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin_server.url,
                              "FINTALK_SMS_BACKEND": "file", "FINTALK_SMS_FILE_PATH": str(tmp / "sms.log"),
                              "FINTALK_TOOL_FILLER": "off"}).start()
    server.sms = tmp / "sms.log"
    yield server
    server.stop()


def bedrock_turn(server, standin, call_id, *tool_uses, text="OK."):
    standin.reset()
    standin.script(Reply(tool_uses=list(tool_uses)), Reply(text=text))
    response = httpx.post(server.url + "/api/chat/completions", timeout=30, headers={"Authorization": f"Bearer {API_KEY}"},
                          json={"stream": False, "messages": [{"role": "user", "content": "Hi"}], **vapi(call_id)})
    assert response.status_code == 200, response.text
    return tool_results(standin.requests[-1])


def test_a_model_calling_tools_out_of_order_gets_refusals_then_figures_once_verified(bedrock_line, standin):
    bedrock_line.manage("seed_demo", "--reset")
    refused = bedrock_turn(bedrock_line, standin, "call-bedrock-1", *READS_AND_PAYMENTS)
    assert len(refused) == len(READS_AND_PAYMENTS)
    assert all(result.startswith("Before I can do that I need to make sure it's you") for result in refused)
    assert not any(figure in " ".join(refused) for figure in FIGURES)
    assert bedrock_line.sql("SELECT count(*) FROM bank_dispute") == [(0,)]
    assert bedrock_line.sql("SELECT count(*) FROM bank_cardpayment") == [(0,)]

    bedrock_turn(bedrock_line, standin, "call-bedrock-1", ToolUse("send_verification_code", {}))
    code = codes_sent(bedrock_line.sms)[-1]
    [verified] = bedrock_turn(bedrock_line, standin, "call-bedrock-1", ToolUse("verify_code", {"code": code}))
    assert "you're verified" in verified
    assert code not in json.dumps(standin.requests[-1].body)  # the used code is out of what the model sees
    results = bedrock_turn(bedrock_line, standin, "call-bedrock-1", *READS_AND_PAYMENTS[:2])
    assert "$1,200.50" in results[0] and "$899.00 at Electronics Hub" in results[1]
    # Another call from the same phone is not verified by this one.
    assert bedrock_turn(bedrock_line, standin, "call-bedrock-2", READS_AND_PAYMENTS[0])[0].startswith("Before I can")


def test_a_code_with_letters_or_used_twice_is_refused(bedrock_line, standin):
    bedrock_line.manage("seed_demo", "--reset")
    bedrock_turn(bedrock_line, standin, "call-bedrock-3", ToolUse("send_verification_code", {}))
    code = codes_sent(bedrock_line.sms)[-1]
    [letters] = bedrock_turn(bedrock_line, standin, "call-bedrock-3", ToolUse("verify_code", {"code": "12a456"}))
    assert "six digits, with no letters" in letters
    assert "verified" in bedrock_turn(bedrock_line, standin, "call-bedrock-3", ToolUse("verify_code", {"code": code}))[0]
    bedrock_turn(bedrock_line, standin, "call-bedrock-4", ToolUse("send_verification_code", {}))
    [replayed] = bedrock_turn(bedrock_line, standin, "call-bedrock-4", ToolUse("verify_code", {"code": code}))
    assert "isn't right" in replayed or "expired or was already used" in replayed


# --- Two servers, one Redis: the code lockout and a double confirmation ----------------------------

@pytest.fixture
def two_servers(tmp_path, standin_server, redis_service):
    redis_service.client(3).flushdb()  # the suite's own redis-server: each test starts with no lockouts
    env = {"FINTALK_CACHE_URL": redis_service.url(3), "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin_server.url,
           "FINTALK_LLM": "bedrock", "FINTALK_TOOL_FILLER": "off", "FINTALK_SMS_BACKEND": "file",
           "FINTALK_SMS_FILE_PATH": str(tmp_path / "sms.log"), "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}"}
    servers = []
    try:
        for name in ("first", "second"):
            (tmp_path / name).mkdir()
            server = LiveServer(tmp_path / name, env)
            server.db_path = tmp_path / "shared.sqlite3"
            servers.append(server.start(workers=2))
        yield servers
    finally:
        for server in servers:
            server.stop()


def test_the_fourth_code_is_refused_even_when_right_on_another_server(two_servers, standin, tmp_path):
    first, second = two_servers
    bedrock_turn(first, standin, "call-lock-1", ToolUse("send_verification_code", {}))
    code = codes_sent(tmp_path / "sms.log")[-1]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(2):
        assert "isn't right" in bedrock_turn(first, standin, "call-lock-1", ToolUse("verify_code", {"code": wrong}))[0]
    assert "verification is locked" in bedrock_turn(first, standin, "call-lock-1",
                                                     ToolUse("verify_code", {"code": wrong}))[0]
    [fourth] = bedrock_turn(second, standin, "call-lock-1", ToolUse("verify_code", {"code": code}))
    assert "verification is locked" in fourth
    assert bedrock_turn(second, standin, "call-lock-1", READS_AND_PAYMENTS[0])[0].startswith("Before I can")
    assert first.sql("SELECT action, outcome FROM bank_auditevent WHERE action = 'verification_lockout'") == [
        ("verification_lockout", "locked_out")]


def test_two_confirmations_at_once_make_one_payment(two_servers, standin, tmp_path):
    first, second = two_servers
    bedrock_turn(first, standin, "call-pay-1", ToolUse("send_verification_code", {}))
    code = codes_sent(tmp_path / "sms.log")[-1]
    assert "verified" in bedrock_turn(first, standin, "call-pay-1", ToolUse("verify_code", {"code": code}))[0]
    [quote] = bedrock_turn(second, standin, "call-pay-1", READS_AND_PAYMENTS[4])
    assert "pay $35.00" in quote
    standin.reset()
    standin.script(*[reply for n in range(4) for reply in (
        Reply(tool_uses=[ToolUse("confirm_card_payment", {}, id=f"tooluse_confirm_{n}")]), Reply(text="Paid."))])
    # The caller's yes comes in the turn after the read-back (a payment is never confirmed in the turn
    # that read it back), as Vapi sends it: the whole conversation so far.
    body = {"stream": False, "messages": [{"role": "user", "content": "Pay the minimum on my Visa"},
                                          {"role": "assistant", "content": quote},
                                          {"role": "user", "content": "Yes"}], **vapi("call-pay-1")}

    def confirm(server):
        return httpx.post(server.url + "/api/chat/completions", json=body, timeout=30,
                          headers={"Authorization": f"Bearer {API_KEY}"}).status_code

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(confirm, [first, second, first, second])) == [200] * 4
    assert first.sql("SELECT count(*), sum(amount) FROM bank_cardpayment")[0][0] == 1
    assert first.sql("SELECT count(*) FROM bank_auditevent WHERE action = 'card_payment'") == [(1,)]
    # Each model request repeats its turn's earlier tool results: count each tool call's result once.
    results = list({block["toolResult"]["toolUseId"]: block["toolResult"]["content"][0]["text"]
                    for request in standin.requests for message in request.body["messages"]
                    for block in message["content"] if "toolResult" in block}.values())
    assert sum("Done. You've paid $35.00" in r for r in results) == 1
    # The stand-in's script is shared by the concurrent turns, so one turn may confirm twice: every
    # confirmation but one is told the payment is already made.
    assert all("already made" in r for r in results if "Done." not in r) and len(results) >= 4


def test_the_demo_greets_a_known_caller_by_name_and_fills_client_tools_from_their_schema(fresh_line):
    client = openai.OpenAI(base_url=fresh_line.url + "/api", api_key=API_KEY, max_retries=0)
    opening = client.chat.completions.create(model="gpt-4o", stream=False, extra_body=vapi("call-greet"),
                                             messages=[{"role": "system", "content": "You are the bank's agent."}])
    assert opening.choices[0].message.content.startswith("Hello Jane, this is Fin")
    stranger = client.chat.completions.create(model="gpt-4o", stream=False, messages=[{"role": "user", "content": "hi"}])
    assert stranger.choices[0].message.content.startswith("Hello, this is Fin")
    weather = {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "required": ["city", "unit"],
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}}}}
    reply = client.chat.completions.create(model="gpt-4o", stream=False, tools=[weather],
                                           tool_choice={"type": "function", "function": {"name": "get_weather"}},
                                           messages=[{"role": "user", "content": "What's the weather in Paris?"}])
    assert json.loads(reply.choices[0].message.tool_calls[0].function.arguments) == {"city": "Paris", "unit": "celsius"}


# --- Outbound calls: the conversation the bank starts ----------------------------------------------

def outbound_body(request_id: int, call_id: str, messages: list[dict]) -> dict:
    """What Vapi sends the custom LLM on a call the bank placed with outbound.vapi."""
    return {"model": "gpt-4o", "stream": False, "messages": messages,
            "call": {"id": call_id, "type": "outboundPhoneCall", "customer": {"number": JANE}},
            "customer": {"number": JANE, "externalId": str(request_id)}}


def fraud_alert(server, call_id: str | None = None) -> int:
    """A fraud alert asked for through the REST endpoint; with `call_id`, its call placed as that Vapi call
    (as a worker records it on placement: the conversation is believed only on that call, while live)."""
    [(transaction_id, customer_id)] = server.sql(
        "SELECT id, customer_id FROM bank_transaction WHERE merchant = 'Electronics Hub'")
    response = httpx.post(server.url + "/api/outbound/requests",
                          headers={"Authorization": f"Bearer {server.outbound_key()}"},
                          json={"purpose": "fraud_alert", "customer": customer_id, "transaction": transaction_id},
                          timeout=30)
    assert response.status_code in (200, 201), response.text
    request_id = response.json()["id"]
    if call_id:
        server.manage("shell", "-c", (
            "from outbound.models import OutboundAttempt as A, OutboundRequest as R; "
            f"A.objects.create(request_id={request_id}, number=1, vapi_call_id='{call_id}', status=A.Status.PLACED); "
            f"R.objects.filter(pk={request_id}).update(status=R.Status.CALLING)"))
    return request_id


def test_an_outbound_fraud_alert_names_the_purchase_and_never_a_number(bedrock_line, standin):
    bedrock_line.manage("seed_demo", "--reset")
    request_id = fraud_alert(bedrock_line, "call-out-1")
    standin.reset()
    standin.script(Reply(text="Hello Jane."))
    body = outbound_body(request_id, "call-out-1", [{"role": "system", "content": "You are the bank's agent."}])
    response = httpx.post(bedrock_line.url + "/api/chat/completions", json=body, timeout=30,
                          headers={"Authorization": f"Bearer {API_KEY}"})
    assert response.status_code == 200, response.text
    request = standin.requests[-1]
    system = " ".join(block.get("text", "") for block in request.body["system"])
    assert "# Outbound call" in system and "$899.00 at Electronics Hub" in system
    assert "Did you make this purchase?" in system and "Visa card ending in 4242" in system
    assert "5550100001" not in json.dumps(request.body)  # no phone number; the bank holds no full card number
    assert "confirm_transaction" in json.dumps(request.body["toolConfig"])
    inbound = bedrock_turn(bedrock_line, standin, "call-in-1")  # an inbound call is offered no outbound tools
    assert inbound == [] and "confirm_transaction" not in json.dumps(standin.requests[-1].body["toolConfig"])


def test_a_fraud_alert_answered_no_blocks_and_disputes_and_yes_marks_it_genuine(fresh_line):
    request_id = fraud_alert(fresh_line, "call-out-2")
    history = [{"role": "system", "content": "You are the bank's agent."}]  # Vapi with no first message
    call = {"id": "call-out-2"}

    def say(text=None):
        if text:
            history.append({"role": "user", "content": text})
        response = httpx.post(fresh_line.url + "/api/chat/completions", timeout=30,
                              headers={"Authorization": f"Bearer {API_KEY}"},
                              json=outbound_body(request_id, call["id"], history))
        assert response.status_code == 200, response.text
        reply = response.json()["choices"][0]["message"]["content"]
        history.append({"role": "assistant", "content": reply})
        return reply

    opening = say()
    assert opening.startswith("Hello Jane, this is Fin from Fintalk Bank's fraud team")
    assert "$899.00 at Electronics Hub" in opening and "Did you make this purchase?" in opening
    answer = say("No, that wasn't me")
    assert "blocked your Visa card ending in 4242" in answer and "dispute case" in answer
    assert fresh_line.sql("SELECT status FROM bank_card WHERE last4 = '4242'") == [("blocked",)]
    assert fresh_line.sql("SELECT count(*) FROM bank_dispute") == [(1,)]
    assert fresh_line.sql("SELECT status, outcome FROM outbound_outboundrequest WHERE id = ?", request_id) == [
        ("done", "fraud_reported")]

    # #27: the first definite answer is final. A later "yes" is heard, changes nothing, and offers a person.
    contradicted = say("Yes, actually that was me")
    assert "stays blocked" in contradicted and "a person can help" in contradicted
    assert fresh_line.sql("SELECT status FROM bank_card WHERE last4 = '4242'") == [("blocked",)]
    assert fresh_line.sql("SELECT outcome FROM outbound_outboundrequest WHERE id = ?", request_id) == [
        ("fraud_reported",)]
    assert fresh_line.sql("SELECT count(*) FROM bank_transaction WHERE confirmed_genuine_at IS NOT NULL") == [(0,)]
    assert fresh_line.sql("SELECT call_id FROM bank_auditevent WHERE action = 'card_block'") == [("call-out-2",)]
    # Once Vapi reports the call ended, its answers are refused: it is no longer the bank's fraud alert
    # (no outbound context, no outbound tools), so nothing changes.
    fresh_line.manage("shell", "-c", "from outbound.models import OutboundAttempt as A; "
                                     "A.objects.filter(vapi_call_id='call-out-2').update(status=A.Status.ENDED)")
    assert "dispute case" not in say("Actually it was mine after all")
    assert fresh_line.sql("SELECT outcome FROM outbound_outboundrequest WHERE id = ?", request_id) == [
        ("fraud_reported",)]

    fresh_line.manage("seed_demo", "--reset")
    request_id, history[1:], call["id"] = fraud_alert(fresh_line, "call-out-3"), [], "call-out-3"
    say()
    assert "stays active" in say("Yes, that was me")
    assert fresh_line.sql("SELECT confirmed_genuine_at IS NOT NULL FROM bank_transaction "
                          "WHERE merchant = 'Electronics Hub'") in ([(1,)], [(True,)])
    assert fresh_line.sql("SELECT status FROM bank_card WHERE last4 = '4242'") == [("active",)]
