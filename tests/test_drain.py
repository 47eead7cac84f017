"""Deploys that drop no call: SIGTERM to gunicorn's master while a long answer streams.

What gunicorn 27 and uvicorn-worker do (gunicorn.conf.py): the master closes its listeners and
sends SIGTERM to each worker; a worker stops accepting, closes idle keep-alive connections, lets
running responses finish (no new request on their connections), then runs the ASGI lifespan
shutdown and exits; the master kills what is left after `graceful_timeout`. Fintalk adds that
/readyz answers 503 from the signal on (core/drain.py, api/probes.py).
"""
import json
import signal
import threading
import time

import httpx
import pytest
from django.conf import settings
from django.test import Client

from core import drain
from tests.bedrock_standin import Reply
from tests.conftest import API_KEY, LiveServer
from tests.proxy_stack import NginxProxy, gunicorn_setting, metric, require_nginx, scrape, start_replicas, stop_all

WORDS = [f"part{i} " for i in range(25)]  # 0.2 s, then 24 x 0.1 s: a turn of about 2.6 s
FULL_TEXT = "".join(WORDS).strip()


def long_answer() -> Reply:
    return Reply(text=WORDS, first_token_delay=0.2, token_interval=0.1)


class Stream(threading.Thread):
    """One streamed chat completion read to its end, in the background."""

    def __init__(self, base_url: str):
        super().__init__(daemon=True)
        self.base_url = base_url
        self.content: list[str] = []
        self.events: list[str] = []
        self.first_token = threading.Event()
        self.error = None
        self.ended_at = None

    def run(self):
        body = {"messages": [{"role": "user", "content": "Tell me about my options."}], "stream": True}
        try:
            with httpx.stream("POST", self.base_url + "/v1/chat/completions", json=body, timeout=30,
                              headers={"Authorization": f"Bearer {API_KEY}"}) as response:
                assert response.status_code == 200, response.read()
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        self.events.append(line)
                        if line.startswith("data: {") and (choices := json.loads(line[6:])["choices"]):
                            if piece := choices[0]["delta"].get("content"):
                                self.content.append(piece)
                                self.first_token.set()
        except Exception as exc:  # reported by the test's assertions
            self.error = exc
        finally:
            self.ended_at = time.monotonic()
            self.first_token.set()

    def assert_complete(self):
        assert self.error is None, repr(self.error)
        assert self.events[-1] == "data: [DONE]", self.events[-3:]
        assert "".join(self.content).strip() == FULL_TEXT


def test_readyz_answers_503_once_sigterm_starts_the_drain(db, monkeypatch):
    """The handler a worker installs at start notes the drain, then hands the signal to uvicorn's."""
    monkeypatch.setattr(drain, "_draining", False)
    handed_over = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: handed_over.append(signum))
    try:
        drain.drain_on_sigterm()
        assert Client().get("/readyz").status_code == 200
        signal.raise_signal(signal.SIGTERM)
        response = Client().get("/readyz")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert handed_over == [signal.SIGTERM]
    assert response.status_code == 503 and response.json()["status"] == "draining"
    assert Client().get("/healthz").status_code == 200  # alive: it is finishing its calls


def test_sigterm_lets_the_running_stream_finish_and_refuses_new_connections(tmp_path, standin_server, standin):
    server = LiveServer(tmp_path, {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin_server.url,
                                   "FINTALK_LLM": "bedrock"}).start()
    try:
        standin.script(long_answer())
        stream = Stream(server.url)
        stream.start()
        assert stream.first_token.wait(10) and stream.error is None, stream.error
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)  # the master, as `docker stop` and the kubelet do
        time.sleep(0.5)  # the worker's loop looks for the signal every 0.1 s, then closes its listener

        # During the drain a new call cannot get in (and so cannot be cut off later)...
        with pytest.raises(httpx.ConnectError):
            httpx.post(server.url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "Hi"}]},
                       headers={"Authorization": f"Bearer {API_KEY}"}, timeout=5)
        try:
            assert httpx.get(server.url + "/readyz", timeout=5).status_code == 503
        except httpx.ConnectError:
            pass  # a probe is refused: not ready either way
        assert server.process.poll() is None, "the server must wait for the running stream"

        # ...while the running one ends normally, with its whole text, and only then does gunicorn exit.
        stream.join(15)
        stream.assert_complete()
        assert stream.ended_at - signalled > 1.5  # the stream ran on for seconds after SIGTERM
        assert server.process.wait(timeout=15) == 0
        assert [record.outcome for record in standin.requests] == ["completed"]
    finally:
        server.stop()


def test_a_replica_draining_behind_nginx_drops_no_call(tmp_path, standin_server, standin):
    require_nginx()
    replicas = start_replicas(tmp_path, 2, {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin_server.url,
                                            "FINTALK_LLM": "bedrock"})
    draining, serving = replicas
    proxy = None
    try:
        proxy = NginxProxy(tmp_path, [f"127.0.0.1:{replica.port}" for replica in replicas]).start()
        standin.script(long_answer(), long_answer())
        streams = []
        for expected in (1, 2):  # one long call on each replica (nginx sends the second to the idle one)
            streams.append(Stream(proxy.url))
            streams[-1].start()
            deadline = time.monotonic() + 10
            while sum(metric(scrape(r), "fintalk_active_streams") for r in replicas) < expected:
                assert time.monotonic() < deadline, "the streams did not start"
                time.sleep(0.05)
        assert [metric(scrape(r), "fintalk_active_streams") for r in replicas] == [1, 1]

        draining.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # its listener is closed by now (the worker looks for the signal every 0.1 s)
        # New calls keep coming through nginx: the draining replica refuses them and the other
        # one answers them in full.
        for _ in range(3):
            response = httpx.post(proxy.url + "/v1/chat/completions", timeout=15,
                                  headers={"Authorization": f"Bearer {API_KEY}"},
                                  json={"messages": [{"role": "user", "content": "Hi"}], "stream": False})
            assert response.status_code == 200, response.text
            assert response.json()["choices"][0]["message"]["content"] == "Hello from the Bedrock stand-in."
        refused_then_served = f"upstream=127.0.0.1:{draining.port}, 127.0.0.1:{serving.port} upstream_status=502, 200"
        assert refused_then_served in proxy.access_log(), proxy.access_log()

        for stream in streams:  # both long calls, the draining replica's included, end whole
            stream.join(15)
            stream.assert_complete()
        assert draining.process.wait(timeout=15) == 0
        assert serving.process.poll() is None
    finally:
        if proxy:
            proxy.stop()
        stop_all(replicas)


def test_the_graceful_timeout_is_above_the_longest_turn():
    """First word within FINTALK_FIRST_TOKEN_TIMEOUT, then a tool round that may wait for Bedrock
    BEDROCK_READ_TIMEOUT x BEDROCK_MAX_ATTEMPTS, then the answer itself."""
    longest_wait = settings.FINTALK_FIRST_TOKEN_TIMEOUT + settings.BEDROCK_READ_TIMEOUT * settings.BEDROCK_MAX_ATTEMPTS
    assert gunicorn_setting("graceful_timeout") >= longest_wait + 10
