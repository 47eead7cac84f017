"""Fintalk past one machine: real nginx (deploy/nginx.conf) in front of two gunicorn replicas that
share one PostgreSQL database and one Redis, each replica reaching the Bedrock stand-in. The
database and the Redis are the test run's own (tests/services.py), never the machine's.

Skipped, with the reason, where nginx, PostgreSQL or Redis is missing (.ci/run installs them).
The compose checks at the end need none of them.
"""
import json
import re
import shutil
import statistics
import subprocess
import time
import uuid

import httpx
import pytest
import yaml

from tests.bedrock_standin import Reply, ToolUse
from tests.conftest import ROOT, free_port
from tests.proxy_stack import (NginxProxy, SharedDatabase, gunicorn_setting, metric, require_nginx, scrape,
                               site_config, start_replicas, stop_all)

RATE_LIMIT = 6  # per minute and key: every test below uses a key of its own
JANE = "+15550100001"


@pytest.fixture(scope="module")
def keys():
    """A key per test, so that one test's rate-limit counters in the shared Redis never meet another's."""
    run = uuid.uuid4().hex[:12]
    return {name: f"sk-proxy-{name}-{run}" for name in ("stream", "rate", "card", "metrics", "headers", "ops")}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, standin_server, keys, postgres_cluster, redis_service):
    require_nginx()
    tmp = tmp_path_factory.mktemp("proxy")
    database = SharedDatabase(postgres_cluster.base_url(), f"fintalk_proxy_{uuid.uuid4().hex[:8]}").create()
    replicas, proxy = [], None
    try:
        replicas = start_replicas(tmp, 2, {
            "DATABASE_URL": database.url,
            "FINTALK_CACHE_URL": redis_service.url(1),
            "FINTALK_API_KEYS": ",".join(keys.values()),
            "FINTALK_RATE_LIMIT": f"{RATE_LIMIT}/min",
            "FINTALK_LLM": "bedrock",
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin_server.url,
            "BEDROCK_MAX_ATTEMPTS": "1",
            "GUNICORN_CMD_ARGS": "--access-logfile -",  # the client address each replica saw
        })
        proxy = NginxProxy(tmp, [f"127.0.0.1:{replica.port}" for replica in replicas]).start()
        yield proxy, replicas, database
    finally:
        if proxy:
            proxy.stop()
        stop_all(replicas)
        database.drop()


def client(base_url: str, key: str, **kwargs) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30, **kwargs)


def chat(text: str, **extra) -> dict:
    return {"messages": [{"role": "user", "content": text}], **extra}


def test_a_streamed_answer_arrives_through_nginx_as_the_model_paces_it(stack, standin, keys):
    proxy, _, _ = stack
    words = [f"word{i} " for i in range(8)]
    standin.script(Reply(text=words, first_token_delay=0.3, token_interval=0.15))
    events, arrivals, content = [], [], []
    started = time.monotonic()
    with client(proxy.url, keys["stream"]) as http, \
            http.stream("POST", "/v1/chat/completions", json=chat("Tell me something.", stream=True)) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            events.append(line)
            choices = json.loads(line[6:])["choices"] if line.startswith("data: {") else []
            if choices and choices[0]["delta"].get("content"):
                arrivals.append(time.monotonic() - started)
                content.append(choices[0]["delta"]["content"])
    assert events[-1] == "data: [DONE]"
    assert "".join(content).split() == [word.strip() for word in words]
    # Unbuffered: the pieces come over the 1.05 s the stand-in spends on them, about 0.15 s
    # apart, not together at the end (a buffering proxy delivers them within a millisecond).
    assert len(arrivals) >= 6, arrivals
    assert arrivals[-1] - arrivals[0] > 0.7, arrivals
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:])]
    assert statistics.median(gaps) > 0.08, gaps


def test_the_rate_limit_per_key_is_shared_by_the_replicas(stack, keys):
    proxy, (first, second), _ = stack
    # Half the limit straight to each replica: each alone has seen only half of it...
    for replica in (first, second, first, second, first, second):
        with client(replica.url, keys["rate"]) as http:
            assert http.get("/v1/models").status_code == 200
    # ...yet the next request, wherever it lands, is over the key's limit: the count is in Redis.
    for base in (proxy.url, first.url, second.url):
        with client(base, keys["rate"]) as http:
            response = http.get("/v1/models")
        assert response.status_code == 429, (base, response.text)
        assert response.json()["error"]["code"] == "rate_limit_exceeded"
        assert int(response.headers["Retry-After"]) > 0
    with client(proxy.url, keys["stream"]) as http:  # another key is not affected
        assert http.get("/v1/models").status_code == 200


def test_a_card_blocked_through_one_replica_is_blocked_for_the_other(stack, standin, keys):
    _, (first, second), database = stack
    body = chat("Block my card 4242, I lost it.", stream=False, customer={"number": JANE})
    block = ToolUse("block_credit_card", {"card_last4": "4242", "reason": "lost"})

    standin.script(Reply(tool_uses=[block]), Reply(text="Your card ending in 4242 is now blocked."))
    with client(first.url, keys["card"]) as http:
        assert http.post("/v1/chat/completions", json=body).status_code == 200
    standin.script(Reply(tool_uses=[block]), Reply(text="That card was already blocked."))
    with client(second.url, keys["card"]) as http:
        assert http.post("/v1/chat/completions", json=body).status_code == 200

    # The second replica's tool read the first one's write: what it told the model, and its metrics.
    tool_results = [part["toolResult"]["content"][0]["text"] for record in standin.requests
                    for message in record.body.get("messages", []) for part in message["content"]
                    if "toolResult" in part]
    assert "now blocked" in tool_results[0] and "already blocked" in tool_results[1], tool_results
    assert metric(scrape(first, keys["card"]), "fintalk_tool_calls_total",
                  tool="block_credit_card", outcome="blocked") == 1
    assert metric(scrape(second, keys["card"]), "fintalk_tool_calls_total",
                  tool="block_credit_card", outcome="already_blocked") == 1
    assert database.sql("SELECT status FROM bank_card WHERE last4 = '4242'") == [("blocked",)]


def test_each_replica_is_scraped_and_nginx_spreads_the_calls(stack, keys):
    proxy, replicas, _ = stack
    key = keys["metrics"]
    before = [metric(scrape(replica, key), "fintalk_requests_total", endpoint="models") for replica in replicas]
    with client(proxy.url, key) as http:
        for _ in range(4):
            assert http.get("/v1/models").status_code == 200
    after = [scrape(replica, key) for replica in replicas]
    served = [metric(text, "fintalk_requests_total", endpoint="models") - earlier
              for text, earlier in zip(after, before)]
    assert sum(served) == 4 and min(served) >= 1, served
    for text in after:
        assert "fintalk_request_duration_seconds_bucket" in text and "fintalk_active_streams" in text
    with client(proxy.url, key) as http:  # the proxy keeps /metrics to itself
        assert http.get("/metrics").status_code == 404


def test_request_ids_and_the_client_address_pass_through(stack, keys):
    proxy, replicas, _ = stack
    with client(proxy.url, keys["headers"]) as http:
        kept = http.get("/v1/models", headers={"X-Request-ID": "call-7f3a.turn-2"})
        made = http.get("/v1/models")
    assert kept.headers["X-Request-ID"] == "call-7f3a.turn-2"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])  # nginx's $request_id
    logs = "".join(replica.logs() for replica in replicas)
    for request_id in ("call-7f3a.turn-2", made.headers["X-Request-ID"]):
        assert f'"request_id": "{request_id}"' in logs  # the app logged the same id
        assert f"request_id={request_id}" in proxy.access_log()  # and so did nginx

    # From 127.0.0.2, with a forged X-Forwarded-For: the replica sees the real peer of nginx.
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with client(proxy.url, keys["headers"], transport=transport) as http:
        assert http.get("/v1/models", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 200
    access = "".join(replica.logs() for replica in replicas)
    assert re.search(r'127\.0\.0\.2:\d+ - "GET /v1/models HTTP/1\.1" 200', access)
    assert "203.0.113.9" not in access


def test_health_and_readiness_answer_through_the_proxy(stack, keys):
    proxy, _, _ = stack
    with client(proxy.url, keys["ops"]) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


# --- The shipped files, checked without running them --------------------------------------------

def test_nginx_accepts_the_shipped_configuration(tmp_path):
    require_nginx()
    result = NginxProxy(tmp_path, ["127.0.0.1:1", "127.0.0.1:2"]).check()
    assert result.returncode == 0, result.stderr


def test_the_commented_tls_lines_serve_https_once_enabled(tmp_path):
    require_nginx()
    openssl = shutil.which("openssl") or pytest.skip("openssl is not installed (a test certificate is made with it)")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    proxy = NginxProxy(tmp_path, ["127.0.0.1:1"])
    tls_port = free_port()
    # Uncomment the file's TLS lines (http2's spelling depends on the nginx version: left out).
    conf = re.sub(r"^(\s*)#   (listen 8443 ssl|ssl_|add_header Strict-Transport-Security)", r"\1\2",
                  proxy.site_conf.read_text(), flags=re.M)
    conf = conf.replace("listen 8443 ssl;", f"listen 127.0.0.1:{tls_port} ssl;")
    conf = conf.replace("/etc/nginx/tls/tls.crt", str(cert)).replace("/etc/nginx/tls/tls.key", str(key))
    assert conf.count(str(cert)) == 1 and conf.count(str(key)) == 1
    proxy.site_conf.write_text(conf)
    proxy.start()
    try:
        response = httpx.get(f"https://127.0.0.1:{tls_port}/metrics", verify=False, timeout=10)
    finally:
        proxy.stop()
    assert response.status_code == 404  # answered by nginx itself, over TLS
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_the_shipped_nginx_configuration_streams_and_keeps_connections():
    conf = site_config(["127.0.0.1:1"], "127.0.0.1:2")
    for directive in ("proxy_buffering off;", "proxy_http_version 1.1;", 'proxy_set_header Connection "";',
                      "proxy_set_header X-Request-ID $fintalk_request_id;", "proxy_read_timeout 120s;",
                      "proxy_set_header X-Forwarded-For $remote_addr;", "gzip off;"):
        assert directive in conf, directive
    upstream = re.search(r"^upstream fintalk \{(.*?)^\}", conf, re.M | re.S)[1]
    upstream_idle = int(re.search(r"^\s*keepalive_timeout (\d+)s;", upstream, re.M)[1])
    assert upstream_idle < gunicorn_setting("keepalive"), "nginx must close idle upstream connections first"
    retry = re.search(r"^\s*proxy_next_upstream ([^;]*);", conf, re.M)[1].split()
    assert retry == ["error", "timeout"]  # refused connections move on; a POST a replica took is never re-sent


def test_compose_runs_app_replicas_behind_the_proxy():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    app, proxy = compose["services"]["app"], compose["services"]["proxy"]
    assert "ports" not in app and "container_name" not in app  # `--scale app=N` works
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in proxy["volumes"]
    assert proxy["ports"] and proxy["depends_on"]["app"]["condition"] == "service_healthy"
    # Migrations run once before the replicas start (replicas migrating together would race).
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert compose["services"]["migrate"]["entrypoint"] == ["python", "manage.py", "migrate", "--noinput"]
    assert compose["services"]["migrate"]["environment"] == app["environment"]
    graceful = gunicorn_setting("graceful_timeout", app["environment"].get("GUNICORN_CMD_ARGS", ""))
    for service in (app, proxy):  # docker stops a service after this long: the drain fits in it
        assert int(service["stop_grace_period"].rstrip("s")) > graceful


def test_the_rate_limit_keys_on_the_address_the_server_saw():
    """Without an API key (FINTALK_AUTH=disabled) the limit is per client address: the peer that
    uvicorn resolved from a trusted proxy's X-Forwarded-For, never the header a client wrote."""
    from rest_framework.test import APIRequestFactory

    from api.throttling import ApiKeyRateThrottle

    request = APIRequestFactory().get("/v1/models", REMOTE_ADDR="198.51.100.4", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert ApiKeyRateThrottle().get_ident(request) == "198.51.100.4"
