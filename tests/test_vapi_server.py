"""Vapi's server side through the real server: the Vapi stand-in plays Vapi on whole calls against a
gunicorn Fintalk on the demo model, every message built from vapi-server-sdk's models and signed as
Vapi's HMAC credential signs, and every answer Fintalk gives parsed with Vapi's own types
(tests/vapi_judge.py). The database is read with SQL, as an auditor would."""
import re

import pytest

from tests.conftest import LiveServer
from tests.support.wait import wait_until
from tests.vapi_judge import judged
from tests.vapi_standin import VapiCaller, VapiStandIn, vapi_standin_server

SECRET = "vapi-server-test-secret"
JANE, JOHN, STRANGER = "+15550100001", "+15550100002", "+15550199999"
TEAMS = {"fraud": "+15550109001", "cards": "+15550109002", "general": "+15550109000"}
TRANSFER_TOOLS = [{"type": "function", "function": {"name": "transferCall", "description": "Transfer the caller.",
                                                    "parameters": {"type": "object", "properties": {}}}}]
# What no first message, summary or voicemail may carry: a phone number, an account detail.
ACCOUNT_DETAIL = re.compile(r"\d{4,}|\$|Doe|Smith|balance|Visa|4242|1234|5678|card", re.IGNORECASE)


@pytest.fixture(scope="module")
def vapi():
    with vapi_standin_server(VapiStandIn()) as server:
        yield server


@pytest.fixture(scope="module")
def fintalk(tmp_path_factory, vapi):
    server = LiveServer(tmp_path_factory.mktemp("vapi-server"), {
        "FINTALK_LLM": "demo", "FINTALK_VAPI_WEBHOOK_SECRET": SECRET, "FINTALK_VAPI_CONTROL_HOSTS": "127.0.0.1",
        "FINTALK_TRANSFER_NUMBERS": ",".join(f"{team}={number}" for team, number in TEAMS.items()),
    }).start()
    yield server
    server.stop()


def caller(fintalk, vapi, number, **options) -> VapiCaller:
    return VapiCaller(fintalk.url, SECRET, number=number, control_base=vapi.url, **options)


def lifecycle(server, call_id: str, count: int | None = None) -> list[tuple[str, str]]:
    """The call's events; with `count`, waits for that many (answers are recorded after the response)."""
    def rows():
        return [tuple(row) for row in server.sql(
            "SELECT e.kind, e.detail FROM calls_callevent e JOIN calls_call c ON c.id = e.call_id WHERE c.call_id = ? "
            "ORDER BY e.at, e.id", call_id)]

    return rows() if count is None else wait_until(lambda: len(found := rows()) >= count and found, 10)


def ask_assistant(call: VapiCaller):
    reply = call.send("ServerMessageAssistantRequest", type="assistant-request")
    assert reply.status_code == 200, reply.text
    return judged("ServerMessageResponseAssistantRequest", reply.json())


def test_a_known_caller_is_greeted_by_first_name_before_any_model_call(fintalk, vapi):
    call = caller(fintalk, vapi, JANE)
    answer = ask_assistant(call)
    assistant = answer.assistant
    assert assistant.first_message == "Hello Jane, thank you for calling Fintalk Bank. How can I help you today?"
    assert assistant.first_message_mode == "assistant-speaks-first"
    assert not ACCOUNT_DETAIL.search(assistant.first_message.replace("calling", ""))
    # The assistant's model is this server's custom-LLM endpoint, its server URL this endpoint, with
    # the messages the bank keeps and live control on.
    assert assistant.model.provider == "custom-llm" and assistant.model.url == fintalk.url + "/api"
    assert assistant.server.url == fintalk.url + "/api/vapi/events"
    assert {"transfer-destination-request", "user-interrupted", "hang", "end-of-call-report"} <= set(
        assistant.server_messages)
    assert assistant.monitor_plan.control_enabled and assistant.monitor_plan.listen_enabled
    assert lifecycle(fintalk, call.call_id, 1) == [("assistant", "known caller: greeted by first name")]


@pytest.mark.parametrize("number", [STRANGER, None, "anonymous"], ids=["unknown", "web call", "withheld"])
def test_anyone_else_gets_the_generic_assistant(fintalk, vapi, number):
    answer = ask_assistant(caller(fintalk, vapi, number, call_type="webCall" if number is None else "inboundPhoneCall"))
    assert answer.assistant.first_message == "Hello, thank you for calling Fintalk Bank. How can I help you today?"


def test_a_flagged_number_goes_straight_to_a_person(fintalk, vapi):
    fintalk.sql("INSERT INTO bank_flaggednumber (phone, reason, created_at, created_by) "
                "VALUES (?, 'fraud seen from this line', CURRENT_TIMESTAMP, 'test')", JOHN)
    try:
        call = caller(fintalk, vapi, JOHN)
        answer = ask_assistant(call)
    finally:
        fintalk.sql("DELETE FROM bank_flaggednumber WHERE phone = ?", JOHN)
    assert answer.assistant is None and answer.assistant_id is None
    assert answer.destination.type == "number" and answer.destination.number == TEAMS["fraud"]
    assert "John" not in str(answer.destination.message)
    assert lifecycle(fintalk, call.call_id, 1) == [("assistant", "flagged number: straight to a person")]


def test_a_whole_call_assistant_turns_interruption_hang_transfer_and_report(fintalk, vapi):
    fintalk.manage("seed_demo", "--reset")
    call = caller(fintalk, vapi, JANE)
    ask_assistant(call)
    client = fintalk.openai("/api")
    call.turn(client, "Hello")
    blocked = call.turn(client, "Please block my card ending 4242, it was stolen")
    assert "block" in blocked.lower()
    assert call.conversation_update().status_code == 200
    # The caller talks over the answer: what they heard is the assistant's last words, as Vapi reported them.
    assert call.send("ServerMessageSpeechUpdate", type="speech-update", status="started", role="assistant",
                     turn=2).status_code == 200
    assert call.send("ServerMessageUserInterrupted", type="user-interrupted").status_code == 200
    assert call.send("ServerMessageHang", type="hang").status_code == 200
    assert call.send("ServerMessageStatusUpdate", type="status-update", status="in-progress").status_code == 200
    call.turn(client, "I want to speak to a person", tools=TRANSFER_TOOLS)
    reply = call.send("ServerMessageTransferDestinationRequest", type="transfer-destination-request")
    assert reply.status_code == 200, reply.text
    transfer = judged("ServerMessageResponseTransferDestinationRequest", reply.json())
    destination = transfer.destination
    assert destination.number == TEAMS["fraud"] and destination.message == "I'm connecting you with our fraud team now."
    plan = destination.transfer_plan
    assert plan.mode == "warm-transfer-say-message"
    assert plan.message.startswith("Transferring Jane, not verified (caller ID only).")
    assert "card ending 4242 blocked" in plan.message and "15550100001" not in plan.message
    ended = call.send("ServerMessageStatusUpdate", type="status-update", status="ended",
                      ended_reason="assistant-forwarded-call")
    assert ended.status_code == 200
    report = call.send("ServerMessageEndOfCallReport", type="end-of-call-report", ended_reason="assistant-forwarded-call",
                       artifact={"messages": call.history}, analysis={"summary": "Jane's stolen card was blocked."})
    assert report.status_code == 200
    events = lifecycle(fintalk, call.call_id, 7)
    kinds = [kind for kind, _ in events]
    assert kinds == ["assistant", "speech", "interrupted", "hang", "status", "transfer", "status"]
    assert events[2] == ("interrupted", blocked)
    assert events[5][1].startswith("to the fraud team: Transferring Jane")
    row = fintalk.sql("SELECT status, transfer_destination, outcome, control_url, listen_url FROM calls_call "
                      "WHERE call_id = ?", call.call_id)[0]
    assert row == ("ended", "fraud", "handed_over", f"{vapi.url}/call/{call.call_id}/control",
                   f"{vapi.url.replace('http', 'ws', 1)}/call/{call.call_id}/listen")
    # After the end a transfer is refused with words Vapi speaks.
    late = call.send("ServerMessageTransferDestinationRequest", type="transfer-destination-request")
    assert judged("ServerMessageResponseTransferDestinationRequest", late.json()).error == \
        "I'm sorry, this call can no longer be transferred."
    assert lifecycle(fintalk, call.call_id, 8)[-1][0] == "transfer_refused"


def test_an_unverified_card_question_goes_to_the_general_team(fintalk, vapi):
    call = caller(fintalk, vapi, JOHN)
    call.turn(fintalk.openai("/api"), "I need a replacement card")
    call.conversation_update()
    transfer = judged("ServerMessageResponseTransferDestinationRequest",
                      call.send("ServerMessageTransferDestinationRequest", type="transfer-destination-request").json())
    # Card matters need a verified caller for the cards team: the general team verifies first.
    assert transfer.destination.number == TEAMS["general"]
    assert transfer.destination.transfer_plan.message.startswith("Transferring John, not verified")


def test_notifications_are_answered_and_unsigned_ones_refused(fintalk, vapi):
    call = caller(fintalk, vapi, JANE)
    message = call.message("ServerMessageHang", type="hang")
    unsigned = VapiCaller(fintalk.url, "not-the-secret", number=JANE).post(message)
    assert unsigned.status_code == 401 and unsigned.json()["error"]["code"] == "invalid_signature"
    assert lifecycle(fintalk, call.call_id) == []
    assert call.post(message).json() == {"received": True, "type": "hang", "handled": True}
    assert lifecycle(fintalk, call.call_id) == [("hang", "The assistant was silent too long.")]


def test_the_documented_assistant_configuration_is_what_vapi_takes():
    """VAPI_INTEGRATION.md's assistant, parsed with Vapi's CreateAssistantDto: no unknown field or value."""
    import json
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "VAPI_INTEGRATION.md").read_text()
    section = text[text.index("## 7. Let the bank choose"):]
    config = json.loads(re.search(r"```json\n(.*?)```", section, re.S).group(1))
    assistant = judged("CreateAssistantDto", config)
    assert assistant.first_message_mode == "assistant-speaks-first" and assistant.monitor_plan.control_enabled
    assert "transfer-destination-request" in assistant.server_messages


def test_with_an_assistant_kept_in_vapi_the_answer_names_it_and_overrides_the_greeting(db, settings):
    import json

    from django.core.management import call_command
    from django.test import Client

    call_command("seed_demo", verbosity=0)
    settings.FINTALK_VAPI_WEBHOOK_SECRET, settings.FINTALK_VAPI_INBOUND_ASSISTANT_ID = SECRET, "asst-inbound"
    # The answer is recorded on a thread of its own, outside the test's transaction: nothing to keep here.
    settings.FINTALK_CALL_RECORDS = False
    message = {"type": "assistant-request", "call": {"id": "call-asst-id", "type": "inboundPhoneCall",
                                                     "customer": {"number": JANE}}}
    reply = Client().post("/api/vapi/events", json.dumps({"message": message}), content_type="application/json",
                          headers={"X-Vapi-Secret": SECRET})
    answer = judged("ServerMessageResponseAssistantRequest", reply.json())
    assert answer.assistant_id == "asst-inbound" and answer.assistant is None
    assert answer.assistant_overrides.first_message.startswith("Hello Jane,")
    assert answer.assistant_overrides.first_message_mode == "assistant-speaks-first"


def _transfer(call_id: str) -> dict:
    import json

    from django.test import Client

    message = {"type": "transfer-destination-request",
               "call": {"id": call_id, "type": "inboundPhoneCall", "customer": {"number": JOHN}}}
    reply = Client().post("/api/vapi/events", json.dumps({"message": message}), content_type="application/json",
                          headers={"X-Vapi-Secret": SECRET})
    return judged("ServerMessageResponseTransferDestinationRequest", reply.json())


def test_a_verified_card_matter_goes_to_the_cards_team_and_a_missing_team_is_refused(db, settings):
    from django.core.management import call_command
    from django.utils import timezone

    from bank.models import AuditEvent
    from calls.models import Call

    call_command("seed_demo", verbosity=0)
    settings.FINTALK_VAPI_WEBHOOK_SECRET, settings.FINTALK_TRANSFER_NUMBERS = SECRET, dict(TEAMS)
    settings.FINTALK_CALL_RECORDS = False  # the answer's record is written outside the test's transaction
    Call.objects.create(call_id="call-cards", type="inbound", verification_level=1, started_at=timezone.now())
    AuditEvent.objects.create(call_id="call-cards", action="card_replacement", masked_phone="+1******0002",
                              card_last4="5454", outcome="created", detail="RC-12345")
    answer = _transfer("call-cards")
    assert answer.destination.number == TEAMS["cards"]
    assert answer.destination.transfer_plan.message == (
        "Transferring John, verified (one-time code or security questions). Reason: cards. "
        "Done on this call: replacement card ordered (RC-12345).")
    settings.FINTALK_TRANSFER_NUMBERS = {"fraud": TEAMS["fraud"]}
    assert _transfer("call-cards").error.startswith("I'm sorry, nobody can take your call right now.")
