"""The Fintalk a rehearsal talks to: by default one it starts itself, as production runs it.

`OwnServer` is gunicorn with the uvicorn worker on this checkout, with its own SQLite database
(migrated and seeded with `seed_demo`) in a temporary folder, one-time codes written to a file
there (the scripted caller reads them back, as a customer reads a text message), an API key made
for the run, and its own redis-server when one is installed (the lockouts and verification live in
the shared cache, which is emptied before each scenario). Without redis-server the cache is the
worker's memory, and the server is restarted after a scenario that locked a phone out.

`ExternalServer` is any Fintalk by URL (a staging deployment): the rehearsal cannot reset its bank,
empty its cache or read its codes unless it is given its database URL, its Redis and its code file.
"""
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(url: str, process: subprocess.Popen, log: Path, what: str, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited:\n{log.read_text()[-3000:]}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


class ExternalServer:
    owned = False

    def __init__(self, url: str, api_key: str, *, database_url: str | None = None, sms_path: str | None = None,
                 cache_url: str | None = None):
        self.url, self.api_key, self.outbound_api_key = url.rstrip("/"), api_key, ""
        self.database_url, self.cache_url = database_url, cache_url
        self.sms_path = Path(sms_path) if sms_path else None
        self.model_label = "external"

    def start(self):
        return self

    def stop(self) -> None:
        pass

    def fresh_cache(self) -> None:
        """Empty the shared cache (lockouts, verified calls, codes sent) before a scenario."""
        if self.cache_url:
            import redis

            redis.Redis.from_url(self.cache_url).flushdb()

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key or self.api_key}"},
                            timeout=httpx.Timeout(60, connect=5))


class OwnServer(ExternalServer):
    owned = True

    def __init__(self, *, llm: str = "demo", bedrock_endpoint: str | None = None, bedrock_model: str | None = None,
                 env: dict | None = None, workers: int = 1):
        self.tmp = Path(tempfile.mkdtemp(prefix="fintalk-rehearsal-"))
        self.port = free_port()
        super().__init__(f"http://127.0.0.1:{self.port}", "sk-rehearsal-" + secrets.token_hex(12),
                         database_url=f"sqlite:///{self.tmp / 'bank.sqlite3'}", sms_path=str(self.tmp / "sms.log"))
        self.workers = workers
        self.redis = None
        self.fresh = False  # started and not spoken to since
        self.env = {
            **os.environ, "DJANGO_SETTINGS_MODULE": "fintalk.settings", "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": self.database_url, "FINTALK_API_KEYS": self.api_key, "FINTALK_AUTH": "enabled",
            "FINTALK_LLM": llm, "FINTALK_SMS_BACKEND": "file", "FINTALK_SMS_FILE_PATH": str(self.sms_path),
            "FINTALK_RATE_LIMIT": "off", "FINTALK_CELERY_BROKER_URL": "memory://", **(env or {}),
        }
        self.env.pop("FINTALK_CACHE_URL", None)
        if bedrock_endpoint:
            self.env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = bedrock_endpoint
            # A stand-in takes any signature; a real endpoint gets the credentials already in the environment.
            self.env.setdefault("AWS_ACCESS_KEY_ID", "rehearsal")
            self.env.setdefault("AWS_SECRET_ACCESS_KEY", "rehearsal")
        if bedrock_model:
            self.env["BEDROCK_MODEL_ID"] = bedrock_model
            self.env.pop("BEDROCK_MODEL_IDS", None)
        self.model_label = "fintalk-demo" if llm == "demo" else (bedrock_model or self.env.get("BEDROCK_MODEL_ID")
                                                                  or "bedrock default")
        self.process = None

    def manage(self, *args: str) -> str:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True,
                              capture_output=True, text=True).stdout

    def start(self):
        self._start_redis()
        self.manage("migrate", "--noinput", "-v0")
        self.manage("seed_demo")
        # The bank's systems ask for outbound calls with a key of the `outbound` scope (api.models).
        self.outbound_api_key = self.manage("create_api_key", "rehearse-bank-systems", "--scope", "outbound").strip()
        self._start_gunicorn()
        return self

    def _start_redis(self) -> None:
        program = shutil.which("redis-server")
        if not program:
            return
        port = free_port()
        log = self.tmp / "redis.log"
        self.redis = subprocess.Popen([program, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                       "--appendonly", "no", "--dir", str(self.tmp)],
                                      stdout=open(log, "w"), stderr=subprocess.STDOUT)
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=port, socket_connect_timeout=0.5).ping()
                break
            except redis.ConnectionError:
                if self.redis.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start:\n{log.read_text()[-2000:]}")
                time.sleep(0.05)
        self.env["FINTALK_CACHE_URL"] = self.cache_url = f"redis://127.0.0.1:{port}/0"

    def _start_gunicorn(self) -> None:
        self.log_path = self.tmp / "server.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "fintalk.asgi:application", "-k", "uvicorn_worker.UvicornWorker",
             "-b", f"127.0.0.1:{self.port}", "-w", str(self.workers), "--timeout", "60"],
            cwd=ROOT, env=self.env, stdout=open(self.log_path, "a"), stderr=subprocess.STDOUT)
        _wait(self.url + "/healthz", self.process, self.log_path, "The Fintalk server")
        self.fresh = True

    def _stop_gunicorn(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def fresh_cache(self) -> None:
        if self.redis:
            super().fresh_cache()
        elif not self.fresh:  # the cache is the worker's memory: a new worker has an empty one
            self._stop_gunicorn()
            self._start_gunicorn()
        self.fresh = False

    def logs(self) -> str:
        return self.log_path.read_text() if self.process else ""

    def stop(self) -> None:
        self._stop_gunicorn()
        if self.redis and self.redis.poll() is None:
            self.redis.terminate()
            self.redis.wait(timeout=10)
        shutil.rmtree(self.tmp, ignore_errors=True)
