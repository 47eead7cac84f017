"""Real nginx (deploy/nginx.conf) in front of real gunicorn replicas, for test_proxy and test_drain.

nginx runs as a child of the test, in the foreground, with its own prefix, pid, logs and temp
paths in a temporary folder and a free port: the system's nginx configuration is never read.
The shipped file is used as it is, except for its upstream `server` line (one per replica here)
and its listen address.
"""
import os
import re
import runpy
import shlex
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import API_KEY, ROOT, LiveServer, free_port
from tests.support.metrics import metric  # noqa: F401 (test_proxy and test_drain import it from here)

NGINX_CONF = ROOT / "deploy" / "nginx.conf"
REDIS_URL = "redis://127.0.0.1:6379/0"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)


def require_nginx() -> str:
    binary = nginx_binary()
    if binary is None:
        pytest.skip("nginx is not installed: `apt-get install nginx` (.ci/run installs it when it can)")
    return binary


def postgres_base_url() -> str:
    """The suite's PostgreSQL server (its DATABASE_URL, else the local one), without a database name."""
    suite_url = os.environ.get("DATABASE_URL", "")
    if suite_url.startswith(("postgres://", "postgresql://")):
        return suite_url.rsplit("/", 1)[0]
    return "postgresql://postgres@127.0.0.1:5432"


def require_postgres_and_redis() -> str:
    """Replicas share one PostgreSQL and one Redis, as in production; skip clearly without them."""
    import psycopg
    import redis

    base = postgres_base_url()
    try:
        psycopg.connect(base + "/postgres", connect_timeout=3).close()
    except psycopg.Error as exc:
        pytest.skip(f"needs PostgreSQL at {base} (replicas share one database): {type(exc).__name__}")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.skip(f"needs Redis at {REDIS_URL} (replicas share the rate limit): {type(exc).__name__}")
    return base


class SharedDatabase:
    """A PostgreSQL database of its own for one group of replicas, dropped afterwards."""

    def __init__(self, base: str, name: str):
        self.base, self.name = base, name
        self.url = f"{base}/{name}"

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.base + "/postgres", autocommit=True) as connection:
            connection.execute(statement)

    def create(self):
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def sql(self, query: str, *params):
        import psycopg

        with psycopg.connect(self.url) as connection:
            return [tuple(row) for row in connection.execute(query, params).fetchall()]


def start_replicas(tmp: Path, count: int, env: dict[str, str]) -> list[LiveServer]:
    """`count` gunicorn servers (one uvicorn worker each) with the same environment."""
    replicas = []
    try:
        for index in range(count):
            folder = tmp / f"replica{index}"
            folder.mkdir()
            replicas.append(LiveServer(folder, env).start())
    except BaseException:
        stop_all(replicas)
        raise
    return replicas


def stop_all(replicas: list[LiveServer]) -> None:
    for replica in replicas:
        if replica.process is not None:
            replica.stop()


class NginxProxy:
    def __init__(self, tmp: Path, upstreams: list[str]):
        self.binary = require_nginx()
        self.tmp = tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "nginx.log"  # access log (stdout in deploy/nginx.conf)
        self.error_log = tmp / "error.log"
        self.site_conf = tmp / "fintalk.conf"
        self.site_conf.write_text(site_config(upstreams, f"127.0.0.1:{self.port}"))
        self.main_conf = tmp / "nginx.conf"
        self.main_conf.write_text(self._main_config())
        self.process = None

    def _main_config(self) -> str:
        temp = {name: self.tmp / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
        for folder in temp.values():
            folder.mkdir(exist_ok=True)
        return "\n".join([
            "user root;" if os.geteuid() == 0 else "",  # workers read this test's private folders
            "worker_processes 1;",
            f"pid {self.tmp / 'nginx.pid'};",
            f"error_log {self.error_log} info;",
            "events { worker_connections 512; }",
            "http {",
            *(f"    {name}_temp_path {folder};" for name, folder in temp.items()),
            f"    include {self.site_conf};",
            "}",
            "",
        ])

    def check(self) -> subprocess.CompletedProcess:
        return subprocess.run(self._command("-t"), capture_output=True, text=True)

    def _command(self, *extra: str) -> list[str]:
        return [self.binary, "-e", str(self.error_log), "-p", str(self.tmp), "-c", str(self.main_conf),
                "-g", "daemon off;", *extra]

    def start(self):
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(self._command(), stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("nginx exited:\n" + self.error_log.read_text())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start:\n" + self.error_log.read_text())

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        if self.process:
            self.log.close()

    def access_log(self) -> str:
        return self.log_path.read_text()


def site_config(upstreams: list[str], listen: str) -> str:
    """deploy/nginx.conf with one upstream `server` line per replica and the given listen address."""
    conf = NGINX_CONF.read_text()
    conf, servers = re.subn(
        r"^(\s*)server app:8000( [^;]*)?;$",
        lambda match: "\n".join(f"{match[1]}server {upstream}{match[2] or ''};" for upstream in upstreams),
        conf, flags=re.M,
    )
    conf, listens = re.subn(r"^(\s*)listen 8080;$", rf"\g<1>listen {listen};", conf, flags=re.M)
    assert servers == 1 and listens == 1, "deploy/nginx.conf: expected one `server app:8000` and one `listen 8080`"
    return conf


def gunicorn_setting(name: str, cmd_args: str = ""):
    """A gunicorn setting as a deployment gets it: gunicorn.conf.py, then GUNICORN_CMD_ARGS on top."""
    from gunicorn.config import Config

    config = Config()
    for key, value in runpy.run_path(str(ROOT / "gunicorn.conf.py")).items():
        if key in config.settings:
            config.set(key, value)
    parsed = config.parser().parse_args(shlex.split(cmd_args))
    for key, value in vars(parsed).items():
        if value is not None and key != "args":
            config.set(key, value)
    return getattr(config, name)


def scrape(replica: LiveServer, key: str = API_KEY) -> str:
    """One replica's /metrics, straight from it (as Prometheus scrapes each pod), not through nginx."""
    response = httpx.get(replica.url + "/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.text
