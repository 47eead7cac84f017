"""Shared fixtures: the Bedrock stand-in, a real gunicorn+uvicorn server, openai clients, and the
Redis and PostgreSQL that the test run starts for itself (tests/services.py).

The server runs as a separate process against its own database (a file, or a database of its own
in the suite's PostgreSQL cluster), migrated and seeded before it starts, reaching the stand-in
through boto3's AWS_ENDPOINT_URL_BEDROCK_RUNTIME.

The suite never uses a Redis or PostgreSQL it did not start: `redis_service` and
`postgres_cluster` are its own, and FINTALK_TEST_POSTGRES=1 runs the whole suite (pytest-django's
test database and every LiveServer) on that cluster. `foreign_sentinels` proves it: it leaves a
sentinel in whatever answers on 127.0.0.1:6379 and 127.0.0.1:5432 when the run starts and fails
the run if they changed by its end.

Why ~370 lines: pytest reads fixtures from here; what test modules share that is not a fixture
lives in `tests/support/`.
"""
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import openai
import pytest

from tests.bedrock_standin import StandInServer
from tests.services import free_port, require_postgres, require_redis

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "sk-fintalk-test-key"
pytest_plugins = ["tests.support.markers"]  # markers applied by what a test uses (e2e, proxy, browser)

# Dummy credentials for the stand-in; set before anything builds a boto3 client.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_REGION", "us-east-1")
# Outbound calls queue to Celery's broker, by default a Redis on 127.0.0.1:6379 that may hold someone
# else's data: the suite's processes (and every LiveServer, which inherits this) queue in memory
# unless a test starts a Redis of its own and passes its URL.
os.environ.setdefault("FINTALK_CELERY_BROKER_URL", "memory://")


SUITE_DATABASE = "fintalk"  # pytest-django's test database on the suite's own cluster is test_fintalk


def suite_postgres_wanted() -> bool:
    return os.environ.get("FINTALK_TEST_POSTGRES", "").strip().lower() in {"1", "true", "yes", "on"}


@pytest.fixture(scope="session")
def redis_service():
    """A redis-server of this run (free port, no persistence); tests take their own db numbers."""
    service = require_redis()
    yield service
    service.close()


@pytest.fixture(scope="session")
def postgres_cluster():
    """A PostgreSQL cluster of this run (initdb in a temp dir, free port)."""
    cluster = require_postgres()
    yield cluster
    cluster.close()


@pytest.fixture(scope="session", autouse=True)
def suite_database(request):
    """With FINTALK_TEST_POSTGRES=1, the whole suite runs on the cluster it starts: pytest-django's
    test database and each LiveServer's database are made there, and nowhere else."""
    if not suite_postgres_wanted():
        yield None
        return
    try:
        cluster = request.getfixturevalue("postgres_cluster")
    except pytest.skip.Exception as reason:  # not a run of skips: the run that was asked for cannot happen
        pytest.exit(f"FINTALK_TEST_POSTGRES=1, but no PostgreSQL cluster could be started: {reason}", returncode=1)
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = cluster.url(SUITE_DATABASE)  # LiveServer and manage.py subprocesses read it
    try:
        yield cluster
    finally:
        if previous is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = previous


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, suite_database):
    """Point Django's default database at the suite's own cluster (settings were read at start-up)."""
    if suite_database is None:
        return
    import dj_database_url
    from django.conf import settings
    from django.db import connections

    default = settings.DATABASES["default"]
    default.clear()
    default.update(dj_database_url.parse(suite_database.url(SUITE_DATABASE)))
    connections.configure_settings(settings.DATABASES)  # the defaults Django adds (TEST, ATOMIC_REQUESTS...)
    try:
        del connections["default"]  # a connection object made before now still holds the old engine
    except AttributeError:
        pass


class ForeignSentinels:
    """A sentinel key in each Redis database the suite used to touch (0, 14, 15) on 127.0.0.1:6379 and a
    sentinel database on 127.0.0.1:5432, when something answers there: someone else's data, which the
    suite must leave exactly as it found it. Removed at the end of the run."""

    REDIS_DBS = (0, 14, 15)

    def __init__(self):
        self.token = uuid.uuid4().hex[:12]
        self.key = f"fintalk-test-sentinel:{self.token}"
        self.database = f"fintalk_test_sentinel_{self.token}"
        self.redis = None
        self.postgres = None  # the admin URL of the machine's PostgreSQL, when one answered

    def plant(self) -> None:
        try:
            import redis

            clients = {db: redis.Redis(host="127.0.0.1", port=6379, db=db, socket_connect_timeout=1, socket_timeout=2)
                       for db in self.REDIS_DBS}
            for db, client in clients.items():
                client.set(self.key, f"someone else's data in db {db}", ex=86_400)  # expires even if we crash
            self.redis = clients
        except Exception:
            self.redis = None  # nothing answers on 6379 (or not a Redis we may write a sentinel to)
        try:
            import psycopg

            admin = "postgresql://postgres@127.0.0.1:5432/postgres"
            with psycopg.connect(admin, connect_timeout=2, autocommit=True) as connection:
                connection.execute(f'CREATE DATABASE "{self.database}"')
            self.postgres = admin
            with psycopg.connect(admin.rsplit("/", 1)[0] + "/" + self.database, connect_timeout=2) as connection:
                connection.execute("CREATE TABLE sentinel (note text)")
                connection.execute("INSERT INTO sentinel VALUES ('someone else''s data')")
        except Exception:
            pass  # nothing answers on 5432 (or it asks for a password): nothing there to protect

    def problems(self) -> list[str]:
        """What changed in the machine's services since `plant` (empty when untouched)."""
        problems = []
        for db, client in (self.redis or {}).items():
            try:
                value = client.get(self.key)
            except Exception as exc:
                problems.append(f"Redis 127.0.0.1:6379 db {db}: cannot read the sentinel ({type(exc).__name__})")
                continue
            if value != f"someone else's data in db {db}".encode():
                problems.append(f"Redis 127.0.0.1:6379 db {db}: sentinel key {self.key} is {value!r}")
        if self.postgres:
            import psycopg

            try:
                url = self.postgres.rsplit("/", 1)[0] + "/" + self.database
                with psycopg.connect(url, connect_timeout=2) as connection:
                    rows = connection.execute("SELECT note FROM sentinel").fetchall()
                if rows != [("someone else's data",)]:
                    problems.append(f"PostgreSQL 127.0.0.1:5432 database {self.database}: sentinel rows {rows}")
            except psycopg.Error as exc:
                problems.append(f"PostgreSQL 127.0.0.1:5432 database {self.database}: {type(exc).__name__}: {exc}")
        return problems

    def remove(self) -> None:
        for client in (self.redis or {}).values():
            try:
                client.delete(self.key)
            except Exception:
                pass
        if self.postgres:
            import psycopg

            try:
                with psycopg.connect(self.postgres, connect_timeout=2, autocommit=True) as connection:
                    connection.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            except psycopg.Error:
                pass


@pytest.fixture(scope="session", autouse=True)
def foreign_sentinels():
    """Planted before any test uses a service, checked after the last one: the run fails (an error
    at teardown) if anything in the suite changed a Redis or PostgreSQL it did not start."""
    sentinels = ForeignSentinels()
    sentinels.plant()
    yield sentinels
    problems = sentinels.problems()
    sentinels.remove()
    assert not problems, ("the suite changed data in a service it did not start (or another program on this "
                          "machine did meanwhile):\n" + "\n".join(problems))


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
                # The suite runs on PostgreSQL: the server gets a new database of its own there too
                # (a unique name, created here, so that dropping it at the end drops nobody's data).
                self.pg_database = f"fintalk_e2e_{self.port}_{uuid.uuid4().hex[:8]}"
                self.pg_admin_url = suite_url.rsplit("/", 1)[0] + "/postgres"
                self._pg_admin(f'CREATE DATABASE "{self.pg_database}"')
                self.env["DATABASE_URL"] = suite_url.rsplit("/", 1)[0] + "/" + self.pg_database
            else:
                self.db_path = tmp / "live.sqlite3"
                self.env["DATABASE_URL"] = f"sqlite:///{self.db_path}"
        self.process = None
        self._outbound_key = None

    def outbound_key(self) -> str:
        """An API key for the bank's systems (the `outbound` scope; the suite's env key is chat only),
        issued with create_api_key once per server."""
        if self._outbound_key is None:
            self._outbound_key = self.manage("create_api_key", "bank-systems", "--scope", "outbound").strip()
        return self._outbound_key

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

    def openai(self, prefix: str = "/v1", **options) -> openai.OpenAI:
        """The official client on this server (`prefix`: /v1 or /api), with the suite's key, no retries."""
        return openai.OpenAI(base_url=self.url + prefix, api_key=API_KEY, max_retries=0,
                             **{"timeout": 30, **options})

    def http(self) -> httpx.Client:
        """An httpx client on this server with the suite's key (use it in a `with`)."""
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30)

    def sql(self, query: str, *params):
        """Query the server's database directly (the server process owns the ORM); `?` placeholders.
        Rows for a SELECT; a statement that returns none (an UPDATE) is committed and gives []."""
        if self.pg_database:
            import psycopg

            with psycopg.connect(self.env["DATABASE_URL"]) as connection:
                cursor = connection.execute(query.replace("%", "%%").replace("?", "%s"), params)
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
    return server.openai("/api")


@pytest.fixture
def v1_client(server):
    return server.openai()


@pytest.fixture
def http(server):
    with server.http() as c:
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
    with voice_server.http() as c:
        yield c
