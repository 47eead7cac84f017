"""Card actions cannot be brute-forced: wrong last-four digits are counted per phone in the shared cache.

In-process through `bank.services` and the agent's tools, then through real servers: two gunicorn
servers sharing one database and one Redis, where the sixth attempt on the second server is refused
even with the right digits, and card actions work again once the window has passed.
"""
import time

import httpx
import pytest
from django.core.cache import caches
from django.core.management import call_command

from bank import selectors
from bank.models import AuditEvent, Card
from bank.services import BlockOutcome, card_block
from tests.bedrock_standin import Reply, ToolUse
from tests.conftest import API_KEY, LiveServer
from tests.support.bank import run_tool as run_action

JANE = "+15550100001"
JOHN = "+15550100002"
LOCKED_OUT = "For your security I can't do that by phone right now; please use the app or a branch."


def forget_lockouts(cache, *phones):
    for phone in phones:
        cache.delete_many([selectors.wrong_last4_key(phone), selectors.card_lockout_key(phone)])


@pytest.fixture
def bank(transactional_db):
    call_command("seed_demo", verbosity=0)
    cache = caches["default"]
    forget_lockouts(cache, JANE, JOHN)
    yield
    forget_lockouts(cache, JANE, JOHN)


def block(last4, phone=JANE, **kwargs):
    return card_block(phone=phone, last4=last4, reason="lost", **kwargs).outcome


def run_tool(action, phone=JANE, **kwargs):
    return run_action(action, phone, **kwargs)


def test_five_wrong_digits_lock_card_actions_even_with_the_right_digits(bank):
    assert [block("1111") for _ in range(5)] == [BlockOutcome.CARD_NOT_FOUND] * 5
    assert block("4242") is BlockOutcome.LOCKED_OUT
    assert Card.objects.get(last4="4242").status == Card.Status.ACTIVE
    assert list(AuditEvent.objects.values_list("action", "masked_phone", "outcome")) == [
        ("card_lockout", "+1******0001", "locked_out")]
    assert block("1111") is BlockOutcome.LOCKED_OUT  # refused before the lookup: no second lockout event
    assert AuditEvent.objects.count() == 1
    assert not selectors.card_actions_locked(phone=JOHN)  # another phone is not locked
    assert block("1881", phone=JOHN) is BlockOutcome.BLOCKED


def test_the_tools_speak_the_refusal_for_blocks_and_lists(bank):
    for _ in range(5):
        run_tool("block_credit_card", card_last4="9999")
    text, calls = run_tool("block_credit_card", card_last4="4242")
    assert (text, calls) == (LOCKED_OUT, [("block_credit_card", "locked_out")])
    text, calls = run_tool("list_credit_cards")
    assert (text, calls) == (LOCKED_OUT, [("list_credit_cards", "locked_out")])
    assert "Jane" in run_tool("get_customer_profile")[0]  # who they are is no card action


def test_right_digits_and_reads_do_not_count(bank):
    for _ in range(4):
        assert block("1111") is BlockOutcome.CARD_NOT_FOUND
    assert block("4242") is BlockOutcome.BLOCKED
    assert block("4242") is BlockOutcome.ALREADY_BLOCKED
    assert "Visa card, which is blocked" in run_tool("list_credit_cards")[0]
    assert not selectors.card_actions_locked(phone=JANE)
    assert block("1111") is BlockOutcome.CARD_NOT_FOUND  # the fifth wrong one
    assert selectors.card_actions_locked(phone=JANE)


def test_staff_are_never_locked_out(bank):
    for _ in range(5):
        block("1111")
    assert block("4242", actor="alice") is BlockOutcome.BLOCKED


def test_the_lock_ends_after_the_window(bank, settings):
    settings.FINTALK_CARD_LOCKOUT_SECONDS = 1
    settings.FINTALK_CARD_LOCKOUT_ATTEMPTS = 2
    block("1111"), block("1111")
    assert block("4242") is BlockOutcome.LOCKED_OUT
    time.sleep(1.1)  # the lock's own expiry in the cache
    assert block("4242") is BlockOutcome.BLOCKED


# --- two servers, one Redis -----------------------------------------------------------------------

WINDOW = 4  # seconds: long enough for five attempts on a busy machine, short enough to wait for


@pytest.fixture
def two_servers(tmp_path, standin_server, redis_service):
    redis_service.client(3).flushdb()  # the run's own Redis: no lockout left from an earlier test
    env = {"FINTALK_CACHE_URL": redis_service.url(3), "FINTALK_CARD_LOCKOUT_SECONDS": str(WINDOW),
           "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin_server.url, "FINTALK_LLM": "bedrock",
           "FINTALK_TOOL_FILLER": "off", "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}"}
    servers = []
    try:
        for name in ("first", "second"):
            (tmp_path / name).mkdir()
            server = LiveServer(tmp_path / name, env)
            server.db_path = tmp_path / "shared.sqlite3"  # both serve the same bank
            servers.append(server.start())
        yield servers
    finally:
        for server in servers:
            server.stop()


def attempt(server, standin, last4: str, n: int) -> str:
    """One Vapi turn in which the model asks to block the card ending `last4`; the tool's result."""
    standin.reset()
    standin.script(Reply(tool_uses=[ToolUse("block_credit_card", {"card_last4": last4, "reason": "lost"})]),
                   Reply(text="Done."))
    body = {"stream": False, "messages": [{"role": "user", "content": f"Block my card ending {last4}"}],
            "customer": {"number": JANE}, "call": {"id": f"lockout-{n}", "customer": {"number": JANE}}}
    response = httpx.post(server.url + "/api/chat/completions", json=body, timeout=30,
                          headers={"Authorization": f"Bearer {API_KEY}"})
    assert response.status_code == 200, response.text
    [result] = [item["text"] for message in standin.requests[-1].body["messages"] for block in message["content"]
                if "toolResult" in block for item in block["toolResult"]["content"]]
    return result


def test_the_sixth_attempt_is_refused_on_another_server_then_works_after_the_window(two_servers, standin):
    first, second = two_servers
    for n in range(5):
        assert "couldn't find a card ending in 1111" in attempt(first, standin, "1111", n)
    locked_at = time.monotonic()

    assert attempt(second, standin, "4242", 5) == LOCKED_OUT
    assert first.sql("SELECT status FROM bank_card WHERE last4 = '4242'") == [("active",)]
    assert first.sql("SELECT action, masked_phone, outcome FROM bank_auditevent") == [
        ("card_lockout", "+1******0001", "locked_out")]

    time.sleep(max(0.0, locked_at + WINDOW + 0.5 - time.monotonic()))  # the lock's own expiry in Redis
    assert "now blocked" in attempt(second, standin, "4242", 6)
    assert first.sql("SELECT status FROM bank_card WHERE last4 = '4242'") == [("blocked",)]


def test_a_lockout_and_a_verified_call_outlast_a_busy_worker_in_the_default_cache(settings):
    """The default cache is each worker's local memory; Django's keeps 300 entries and then drops the
    least recently used third. A worker carrying a few hundred calls (each with its caller summary,
    verification and code counters) dropped lockouts and verified levels: a brute-forcer could flood
    them away, and a verified caller was asked again (#32 found it as a CPU cliff at 300-400 calls)."""
    from bank.lockouts import CARD
    from bank.verification import VERIFIED, CallSession, _level_key, current_level

    cache = caches["default"]
    assert type(cache).__name__ == "LocMemCache"  # the default this test is about
    session = CallSession(JANE, "call-verified-early")
    cache.set(_level_key(session), VERIFIED, 900)
    cache.set(CARD.lock_key(JOHN), True, 900)
    try:
        for call in range(3000):  # 3,000 other calls' keys: a busy worker's hour
            cache.set(f"fintalk:caller:call-busy-{call}", "summary", 600)
        assert CARD.locked(JOHN)
        assert current_level(session) == VERIFIED
    finally:
        cache.delete_many([_level_key(session), CARD.lock_key(JOHN),
                           *(f"fintalk:caller:call-busy-{call}" for call in range(3000))])
