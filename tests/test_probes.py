"""What an operator sees, through the real server: health, readiness, metrics, logs, rate limits."""
import json
import re
import time

import httpx
import pytest
from django.test import AsyncClient

from tests.bedrock_standin import Reply, ToolUse
from tests.conftest import API_KEY, RATE_KEY, LiveServer


def metric(text: str, name: str, **labels) -> float:
    """The value of one sample in a Prometheus text exposition."""
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            if line.split("{")[0].split(" ")[0] == name:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def request_logs(server) -> list[dict]:
    lines = [line for line in server.logs().splitlines() if line.startswith("{")]
    return [record for record in map(json.loads, lines) if record.get("logger") == "fintalk.request"]


def test_health_and_readiness_need_no_key(server):
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(server.url + "/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
    assert "bedrock amazon.nova-lite-v1:0" in ready.json()["checks"]["llm"]


@pytest.mark.django_db
def test_readiness_fails_without_aws_credentials(monkeypatch, settings):
    from api import probes

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    probes._aws_credentials_found.cache_clear()
    settings.FINTALK_LLM = "bedrock"
    response = async_get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "not ready", "checks": {
        "database": "ok", "cache": "local memory (this process only)", "llm": "no AWS credentials found"}}
    settings.FINTALK_LLM = "demo"
    assert async_get("/readyz").status_code == 200


def async_get(path):
    import asyncio

    return asyncio.run(AsyncClient().get(path))


def test_request_id_server_timing_and_one_log_line_per_request(server, http, standin):
    standin.script(Reply(text="Hi."))
    response = http.post("/api/chat/completions", headers={"X-Request-ID": "vapi-call-42"},
                         json={"stream": False, "messages": [{"role": "user", "content": "hi"}]})
    assert response.headers["x-request-id"] == "vapi-call-42"
    assert re.fullmatch(r"ttft;dur=[\d.]+, total;dur=[\d.]+", response.headers["server-timing"])
    generated = http.get("/api/models").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    time.sleep(0.2)
    [line] = [r for r in request_logs(server) if r["request_id"] == "vapi-call-42"]
    assert line["endpoint"] == "chat-completions" and line["status"] == 200 and line["stream"] is False
    assert line["model"] == "amazon.nova-lite-v1:0" and line["tokens_in"] == 25 and line["ttft_ms"] > 0


def test_streamed_turn_is_logged_when_it_ends_with_phone_and_card_masked(server, http, standin, fresh_bank):
    standin.script(Reply(tool_uses=[ToolUse("list_credit_cards", {})]), Reply(text="You have a Visa."))
    with http.stream("POST", "/api/chat/completions", headers={"X-Request-ID": "stream-log-1"},
                     json={"messages": [{"role": "user", "content": "My card 4111 1111 1111 1111 [phone: +1 555 010 0001]"}],
                           "customer": {"number": "+15550100001"}}) as response:
        assert response.headers["x-request-id"] == "stream-log-1"
        assert "server-timing" not in response.headers
        list(response.iter_lines())
    time.sleep(0.3)
    [line] = [r for r in request_logs(server) if r["request_id"] == "stream-log-1"]
    assert line["stream"] is True and line["ttft_ms"] > 0 and line["duration_ms"] >= line["ttft_ms"]
    assert line["tool_calls"] == ["list_credit_cards:ok"]
    logs = server.logs()
    for secret in ("5550100001", "555 010 0001", "4111 1111 1111 1111", "4111111111111111"):
        assert secret not in logs


def test_metrics_show_requests_tokens_tools_and_ttft(server, http, standin):
    assert httpx.get(server.url + "/metrics").status_code == 401
    before = http.get("/metrics").text
    standin.script(Reply(tool_uses=[ToolUse("get_loan_products", {"kind": "home"})], input_tokens=10, output_tokens=4),
                   Reply(text="Home loans from 5.49 percent.", input_tokens=30, output_tokens=6))
    with http.stream("POST", "/api/chat/completions", json={"messages": [{"role": "user", "content": "home?"}]}) as r:
        list(r.iter_lines())
    standin.script(*[Reply(error_status=429)] * 2)
    assert http.post("/api/chat/completions", json={"messages": [{"role": "user", "content": "x"}]}).status_code == 429
    time.sleep(0.2)
    after = http.get("/metrics").text
    assert after.startswith("# HELP") or "# HELP" in after

    def grew(name, by=1.0, **labels):
        return metric(after, name, **labels) - metric(before, name, **labels) == by

    assert grew("fintalk_requests_total", endpoint="chat-completions", status="200")
    assert grew("fintalk_requests_total", endpoint="chat-completions", status="429")
    assert grew("fintalk_tool_calls_total", tool="get_loan_products", outcome="ok")
    assert grew("fintalk_tokens_total", by=40.0, direction="input")
    assert grew("fintalk_tokens_total", by=10.0, direction="output")
    assert grew("fintalk_upstream_errors_total", kind="UpstreamThrottled")
    assert grew("fintalk_time_to_first_token_seconds_count", endpoint="chat-completions")
    assert grew("fintalk_request_duration_seconds_count", endpoint="chat-completions", by=2.0)
    assert metric(after, "fintalk_active_streams") == 0


def test_rate_limit_per_key_returns_429_and_recovers(voice_server):
    headers = {"Authorization": f"Bearer {RATE_KEY}"}
    with httpx.Client(base_url=voice_server.url, headers=headers) as http:
        statuses = [http.get("/api/models") for _ in range(7)]
        limited = [r for r in statuses if r.status_code == 429]
        assert [r.status_code for r in statuses][:5] == [200] * 5 and limited
        error = limited[0].json()["error"]
        assert error["type"] == "rate_limit_exceeded" and error["code"] == "rate_limit_exceeded"
        assert int(limited[0].headers["retry-after"]) >= 1
        # Another key is not affected by this key's limit.
        other = httpx.get(voice_server.url + "/api/models", headers={"Authorization": f"Bearer {API_KEY}"})
        assert other.status_code == 200
        time.sleep(1.1)
        assert http.get("/api/models").status_code == 200


def test_rate_limit_is_shared_by_workers_through_redis(tmp_path, standin_server, redis_service):
    redis_service.client(2).flushdb()  # the run's own Redis: a fresh count for this test
    server = LiveServer(tmp_path, {"FINTALK_CACHE_URL": redis_service.url(2), "FINTALK_RATE_LIMIT": "4/m",
                                   "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin_server.url}).start(workers=2)
    try:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        statuses = []
        for _ in range(12):  # new connections, so both workers get some of them
            with httpx.Client(base_url=server.url, headers=headers) as http:
                statuses.append(http.get("/api/models").status_code)
        assert statuses.count(200) == 4 and statuses.count(429) == 8
    finally:
        server.stop()
