"""The caller in the instructions: by name from one cached query per call, never a number."""
import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache

from agent import callers
from agent.prompts import Caller, system_prompt
from tests.bedrock_standin import Reply, ToolUse
from tests.support.bank import JANE, UNKNOWN


def vapi_body(text: str, number: str | None, call_id: str = "call-1", history=()) -> dict:
    body = {"model": "vapi-assistant", "stream": True,
            "messages": [{"role": "system", "content": "Be brief."}, *history, {"role": "user", "content": text}],
            "call": {"id": call_id}, "metadata": {}}
    if number:
        body["customer"] = {"number": number}
    return body


def system_text(request) -> str:
    return " ".join(block["text"] for block in request.body["system"] if "text" in block)  # not cachePoints


def stream(http, body) -> str:
    with http.stream("POST", "/api/chat/completions", json=body) as response:
        assert response.status_code == 200
        return response.read().decode()


def test_the_instructions_name_the_caller_and_nothing_else(http, standin, server, fresh_bank):
    stream(http, vapi_body("Hi", JANE, "call-jane"))
    stream(http, vapi_body("Hi", UNKNOWN, "call-unknown"))
    stream(http, vapi_body("Hi", None, "call-web"))
    jane, unknown, web = (system_text(request) for request in standin.requests)
    assert "The caller is Jane" in jane and "1 card with us" in jane
    assert "Jane" not in unknown and "not registered" in unknown
    assert "Jane" not in web and "call from their registered phone" in web
    for text in (jane, unknown, web):
        assert "5550100001" not in text and "4242" not in text  # no phone, no card number
    assert "Be brief." in jane  # the assistant's own instructions follow the bank's


def test_a_five_turn_call_asks_the_database_once(http, standin, server, fresh_bank):
    history = []
    for turn in range(5):
        stream(http, vapi_body(f"Question {turn}", JANE, "call-five", history))
        if turn == 0:  # the bank renames her: a cached call does not ask again
            server.sql("UPDATE bank_customer SET name = 'Janet Doe' WHERE phone = ?", JANE)
        history += [{"role": "user", "content": f"Question {turn}"}, {"role": "assistant", "content": "Sure."}]
    assert all("The caller is Jane," in system_text(request) for request in standin.requests)
    stream(http, vapi_body("Hi again", JANE, "call-six"))  # another call reads afresh
    assert "The caller is Janet," in system_text(standin.requests[-1])


def test_a_card_block_refreshes_what_the_call_knows(http, standin, server, fresh_bank):
    standin.script(Reply(tool_uses=[ToolUse("block_credit_card", {"card_last4": "4242", "reason": "lost"})]),
                   Reply(text="Your card is blocked."), Reply(text="Anything else?"))
    stream(http, vapi_body("Block my card ending 4242", JANE, "call-block"))
    assert "1 card with us." in system_text(standin.requests[0])
    stream(http, vapi_body("Thanks", JANE, "call-block"))
    assert "1 card with us, 1 of them blocked" in system_text(standin.requests[-1])


@pytest.mark.django_db
def test_one_indexed_query_then_the_cache(django_assert_num_queries):
    from django.core.management import call_command

    call_command("seed_demo")
    cache.clear()

    async def five_turns():
        return [await callers.lookup(JANE, "call-q") for _ in range(5)]

    with django_assert_num_queries(1):  # async_to_sync: the ORM runs in this thread, where queries are counted
        found = async_to_sync(five_turns)()
    assert found == [Caller(True, "Jane", 1, 0, phone_given=True)] * 5
    assert async_to_sync(callers.lookup)(None) == callers.NO_PHONE


def test_the_prompt_comes_from_the_banks_template(settings, tmp_path):
    template = tmp_path / "prompt.txt"
    template.write_text("You work for Example Bank.{% if caller.known %} Say hello to {{ caller.first_name }}.{% endif %}")
    settings.FINTALK_SYSTEM_PROMPT_FILE = str(template)
    from agent import prompts

    prompts._template.cache_clear()
    prompts.system_prompt.cache_clear()
    try:
        assert system_prompt(Caller(True, "Ann", 1)) == "You work for Example Bank. Say hello to Ann."
        assert system_prompt(Caller()) == "You work for Example Bank."
    finally:
        prompts._template.cache_clear()
        prompts.system_prompt.cache_clear()
