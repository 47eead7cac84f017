"""Shared fixtures: the Bedrock stand-in, a real gunicorn+uvicorn server, and openai clients.

The server runs as a separate process against its own database file (migrated and seeded
before it starts), reaching the stand-in through boto3's AWS_ENDPOINT_URL_BEDROCK_RUNTIME.
"""
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.bedrock_standin import StandInServer

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "sk-fintalk-test-key"
pytest_plugins = ["tests.support.markers"]  # markers applied by what a test uses (e2e, proxy, browser)

# Dummy credentials for the stand-in; set before anything builds a boto3 client.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_REGION", "us-east-1")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def standin_server():
    with StandInServer() as server:
        yield server


@pytest.fixture
def standin(standin_server):
    standin_server.app.reset()
    yield standin_server.app
    standin_server.app.reset()


class LiveServer:
    """A gunicorn + uvicorn worker process serving fintalk, as in production."""

    def __init__(self, tmp: Path, env: dict[str, str]):
        self.tmp = tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "server.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "fintalk.settings",
            "FINTALK_API_KEYS": API_KEY,
            "BEDROCK_MAX_ATTEMPTS": "2",
            "FINTALK_RATE_LIMIT": "off",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.pg_database = None
        if "DATABASE_URL" not in env:
            suite_url = os.environ.get("DATABASE_URL", "")
            if suite_url.startswith(("postgres://", "postgresql://")):
                # The suite runs on PostgreSQL: the server gets a database of its own there too.
                self.pg_database = f"fintalk_e2e_{self.port}"
                self.pg_admin_url = suite_url.rsplit("/", 1)[0] + "/postgres"
                self._pg_admin(f'DROP DATABASE IF EXISTS "{self.pg_database}"', f'CREATE DATABASE "{self.pg_database}"')
                self.env["DATABASE_URL"] = suite_url.rsplit("/", 1)[0] + "/" + self.pg_database
            else:
                self.db_path = tmp / "live.sqlite3"
                self.env["DATABASE_URL"] = f"sqlite:///{self.db_path}"
        self.process = None

    def _pg_admin(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(self.pg_admin_url, autocommit=True) as connection:
            for statement in statements:
                connection.execute(statement)

    def manage(self, *args: str) -> str:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True,
                              capture_output=True, text=True).stdout

    def start(self, workers: int = 1):
        self.manage("migrate", "--noinput", "-v0")
        self.manage("seed_demo")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "fintalk.asgi:application", "-k", "uvicorn_worker.UvicornWorker",
             "-b", f"127.0.0.1:{self.port}", "-w", str(workers), "--timeout", "60"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("server exited:\n" + self.log_path.read_text())
            try:
                httpx.get(self.url + "/healthz", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start:\n" + self.log_path.read_text())

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
        self.log.close()
        if self.pg_database:
            self._pg_admin(f'DROP DATABASE IF EXISTS "{self.pg_database}" WITH (FORCE)')

    def logs(self) -> str:
        return self.log_path.read_text()

    def sql(self, query: str, *params):
        """Query the server's database directly (the server process owns the ORM); `?` placeholders.
        Rows for a SELECT; a statement that returns none (an UPDATE) is committed and gives []."""
        if self.pg_database:
            import psycopg

            with psycopg.connect(self.env["DATABASE_URL"]) as connection:
                cursor = connection.execute(query.replace("?", "%s"), params)
                return [tuple(row) for row in cursor.fetchall()] if cursor.description else []
        with sqlite3.connect(self.db_path) as connection:
            return connection.execute(query, params).fetchall()


@pytest.fixture(scope="session")
def server(tmp_path_factory, standin_server):
    server = LiveServer(tmp_path_factory.mktemp("live"), {
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin_server.url,
        "FINTALK_LLM": "bedrock",
    }).start()
    yield server
    server.stop()


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.url + "/api", api_key=API_KEY, max_retries=0, timeout=30)


@pytest.fixture
def v1_client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0, timeout=30)


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30) as c:
        yield c


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("demo"), {"FINTALK_LLM": "demo"}).start()
    yield server
    server.stop()


@pytest.fixture
def fresh_bank(request):
    """Reset the bank of whichever live server the test uses (cards active, no audit events)."""
    for name in ("server", "demo_server", "voice_server"):
        if name in request.fixturenames:
            request.getfixturevalue(name).manage("seed_demo", "--reset")


RATE_KEY = "sk-fintalk-rate-test"


@pytest.fixture(scope="session")
def voice_server(tmp_path_factory, standin_server):
    """Short voice timings (keep-alive, first-token deadline), one Bedrock attempt, a rate limit."""
    server = LiveServer(tmp_path_factory.mktemp("voice"), {
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin_server.url,
        "FINTALK_API_KEYS": f"{API_KEY},{RATE_KEY}",
        "FINTALK_KEEPALIVE_SECONDS": "0.3",
        "FINTALK_FIRST_TOKEN_TIMEOUT": "2.5",
        "BEDROCK_MAX_ATTEMPTS": "1",
        "FINTALK_RATE_LIMIT": "5/s",
    }).start()
    yield server
    server.stop()


@pytest.fixture
def voice_http(voice_server):
    with httpx.Client(base_url=voice_server.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30) as c:
        yield c
