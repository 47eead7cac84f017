"""Degrade, never fail: with its database or its Redis gone, a real server still answers a call.

Each test starts a gunicorn server of its own (the session's servers keep their database), takes a
dependency away the way an outage does (the SQLite file deleted, the PostgreSQL cluster stopped,
the Redis server stopped: all started by this test run), then places a Vapi call from Jane's
registered number and reads what the caller hears, the server's log line and its metric, and
/readyz. core/degraded.py lists the fallbacks.
"""
import json
import os
import subprocess
import sys

import httpx
import pytest

from agent.loop import TOOL_UNAVAILABLE
from tests.bedrock_standin import Reply, ToolUse
from tests.conftest import API_KEY, ROOT, LiveServer
from tests.proxy_stack import metric
from tests.services import require_postgres, require_redis

pytestmark = pytest.mark.e2e  # every test here starts servers of its own (some inside helpers)

JANE = "+15550100001"
HEADERS = {"Authorization": f"Bearer {API_KEY}"}


def vapi_call(server: LiveServer, text: str, call_id: str) -> tuple[int, list[str]]:
    """One streamed Vapi turn from Jane's line: the status and the `data:` events."""
    body = {"model": "vapi-assistant", "stream": True, "call": {"id": call_id, "customer": {"number": JANE}},
            "customer": {"number": JANE}, "messages": [{"role": "system", "content": "Be brief."},
                                                       {"role": "user", "content": text}]}
    with httpx.stream("POST", server.url + "/api/chat/completions", json=body, headers=HEADERS, timeout=30) as response:
        lines = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
        return response.status_code, lines


def spoken(events: list[str]) -> str:
    return "".join((json.loads(event)["choices"] or [{"delta": {}}])[0]["delta"].get("content") or ""
                   for event in events if event != "[DONE]")


def system_text(request) -> str:
    return " ".join(block["text"] for block in request.body["system"] if "text" in block)  # not cachePoint


def tool_results(request) -> list[str]:
    return [item["text"] for message in request.body["messages"] for block in message["content"]
            if "toolResult" in block for item in block["toolResult"]["content"]]


def degraded_logs(server: LiveServer) -> list[dict]:
    records = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    return [record for record in records if record.get("logger") == "core.degraded"]


def degraded_count(server: LiveServer, dependency: str, fallback: str) -> float:
    response = httpx.get(server.url + "/metrics", headers=HEADERS, timeout=10)
    assert response.status_code == 200, response.text
    return metric(response.text, "fintalk_degraded_total", dependency=dependency, fallback=fallback)


# --- the database gone --------------------------------------------------------------------------------

def sqlite_file_gone(tmp_path, env):
    database = tmp_path / "bank.sqlite3"  # SQLite even in the PostgreSQL run
    server = LiveServer(tmp_path, {**env, "DATABASE_URL": f"sqlite:///{database}"})
    server.db_path = database
    server.start()
    server.take_away = lambda: os.remove(database)
    return server, lambda: None


def postgres_stopped(tmp_path, env):
    cluster = require_postgres()
    server = LiveServer(tmp_path, {**env, "DATABASE_URL": cluster.create_database("fintalk_outage")})
    try:
        server.start()
    except BaseException:
        cluster.close()
        raise
    server.take_away = cluster.stop
    return server, cluster.close


@pytest.mark.parametrize("outage", [sqlite_file_gone, postgres_stopped], ids=["sqlite-file-gone", "postgres-stopped"])
def test_with_the_database_gone_a_known_caller_hears_an_answer_and_the_pod_is_not_ready(
        outage, tmp_path, standin_server, standin):
    server, cleanup = outage(tmp_path, {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin_server.url,
                                        "FINTALK_LLM": "bedrock", "FINTALK_TOOL_FILLER": "off"})
    try:
        server.take_away()
        standin.script(Reply(tool_uses=[ToolUse("list_credit_cards", {})]),
                       Reply(text="I'm sorry, I can't reach your cards right now. Can I help with anything else?"))
        status, events = vapi_call(server, "Which cards do I have?", "call-db-down")

        assert status == 200 and events[-1] == "[DONE]"
        assert spoken(events) == "I'm sorry, I can't reach your cards right now. Can I help with anything else?"
        first, second = standin.requests
        assert "Jane" not in system_text(first)  # unknown to the instructions: the lookup failed
        assert tool_results(second) == [TOOL_UNAVAILABLE]  # the tool says the bank's system is unavailable
        assert any(record["dependency"] == "database" and record["fallback"] == "caller_unknown"
                   and record["error"] for record in degraded_logs(server))
        assert degraded_count(server, "database", "caller_unknown") == 1

        assert httpx.get(server.url + "/healthz").status_code == 200  # live: no restart would help
        ready = httpx.get(server.url + "/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "not ready"
        assert ready.json()["checks"]["database"] != "ok" and ready.json()["checks"]["llm"].startswith("bedrock")
    finally:
        server.stop()
        cleanup()


# --- Redis gone ---------------------------------------------------------------------------------------

@pytest.fixture
def server_without_redis(tmp_path, standin_server):
    redis = require_redis()
    redis.stop()  # the port now refuses connections: Redis is down
    server = LiveServer(tmp_path, {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin_server.url, "FINTALK_LLM": "bedrock",
                                   "FINTALK_CACHE_URL": redis.url(0), "FINTALK_RATE_LIMIT": "100/min"}).start()
    yield server
    server.stop()
    redis.close()


def test_with_redis_gone_a_turn_is_answered_and_the_rate_limit_fails_open(server_without_redis, standin):
    server = server_without_redis
    standin.script(Reply(text="Hello Jane, how can I help?"))
    status, events = vapi_call(server, "Hello", "call-redis-down")

    assert status == 200 and events[-1] == "[DONE]" and spoken(events) == "Hello Jane, how can I help?"
    assert "The caller is Jane" in system_text(standin.requests[0])  # the database was asked directly
    fallbacks = {record["fallback"] for record in degraded_logs(server) if record["dependency"] == "cache"}
    assert {"rate_limit_open", "caller_from_database"} <= fallbacks
    assert degraded_count(server, "cache", "rate_limit_open") >= 1
    assert degraded_count(server, "cache", "caller_from_database") == 1

    ready = httpx.get(server.url + "/readyz")  # every pod shares the Redis: none is taken out for it
    assert ready.status_code == 200 and ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["cache"] == "ConnectionError" and ready.json()["checks"]["database"] == "ok"


def test_readyz_reports_each_dependency(server):
    ready = httpx.get(server.url + "/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert set(ready.json()["checks"]) == {"database", "cache", "llm"}


# --- the defaults keep the README's promise ------------------------------------------------------------

def default_settings(*names: str) -> dict:
    """The settings a deployment gets when it sets none of them (a fresh interpreter, no overrides)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BEDROCK_", "FINTALK_"))}
    code = ("import json, fintalk.settings as s; "
            f"print(json.dumps({{name: getattr(s, name) for name in {list(names)!r}}}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def test_the_default_timeouts_answer_well_inside_vapis_20_seconds():
    """botocore's standard retry: a stalled attempt costs the read timeout, a refused connection the
    connect timeout; between attempts it waits rand() x 0.05 x 2^(n-1) s (x 1 for throttling)."""
    values = default_settings("BEDROCK_CONNECT_TIMEOUT", "BEDROCK_READ_TIMEOUT", "BEDROCK_MAX_ATTEMPTS",
                              "FINTALK_FIRST_TOKEN_TIMEOUT")
    attempts, first_token = values["BEDROCK_MAX_ATTEMPTS"], values["FINTALK_FIRST_TOKEN_TIMEOUT"]
    backoff = sum(2 ** n for n in range(attempts - 1))  # seconds, at the throttling scale
    stalled = attempts * values["BEDROCK_READ_TIMEOUT"] + 0.05 * backoff
    unreachable = attempts * values["BEDROCK_CONNECT_TIMEOUT"] + 0.05 * backoff
    throttled = backoff + attempts * 0.5  # each throttled answer comes back at once
    assert attempts >= 3  # throttling, Bedrock's usual failure, is retried twice
    assert first_token <= 18 < 20  # Fintalk apologises before Vapi gives up
    for budget in (stalled, unreachable, throttled):
        assert budget <= first_token - 5, values  # a retry that succeeds still has time to speak


def test_with_redis_gone_a_card_block_and_a_code_check_are_refused_aloud(server_without_redis, standin):
    """Lockouts and verification live in the shared cache: without it they fail closed, with a reason."""
    from bank.refusals import SECURITY_UNAVAILABLE

    server = server_without_redis
    standin.script(Reply(tool_uses=[ToolUse("block_credit_card", {"card_last4": "4242", "reason": "lost"})]),
                   Reply(text="I'm sorry, I can't do that right now."),
                   Reply(tool_uses=[ToolUse("verify_code", {"code": "123456"})]),
                   Reply(text="I'm sorry, I can't check that right now."))
    status, events = vapi_call(server, "Block my card 4242", "call-redis-down-block")
    assert status == 200 and events[-1] == "[DONE]" and spoken(events)
    assert tool_results(standin.requests[1]) == [SECURITY_UNAVAILABLE + " Nothing was blocked."]
    assert server.sql("SELECT status FROM bank_card WHERE last4 = '4242'") == [("active",)]
    status, events = vapi_call(server, "My code is 123456", "call-redis-down-code")
    assert status == 200 and events[-1] == "[DONE]" and spoken(events)
    assert tool_results(standin.requests[3]) == [SECURITY_UNAVAILABLE]


def test_with_the_database_gone_loan_products_read_recently_are_still_offered(tmp_path, standin_server, standin):
    server, cleanup = sqlite_file_gone(tmp_path, {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin_server.url,
                                                  "FINTALK_LLM": "bedrock", "FINTALK_TOOL_FILLER": "off"})
    try:
        loans = [Reply(tool_uses=[ToolUse("get_loan_products", {})]), Reply(text="We have three loans.")]
        standin.script(*loans)
        assert vapi_call(server, "What loans do you have?", "call-loans-1")[0] == 200
        before = tool_results(standin.requests[1])
        server.take_away()
        standin.reset()
        standin.script(*loans)
        status, events = vapi_call(server, "What loans do you have?", "call-loans-2")
        assert status == 200 and events[-1] == "[DONE]"
        assert tool_results(standin.requests[1]) == before and "Fixed Rate Home Loan" in before[0]
    finally:
        server.stop()
        cleanup()
