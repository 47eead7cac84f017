"""Redis and PostgreSQL that the test run starts itself, so that it never touches anyone's data.

A developer's machine may run a Redis on 6379 and a PostgreSQL on 5432 holding real data; the suite
uses neither. `RedisService` runs `redis-server` on a free port with its working folder in a temp
dir and persistence off; `PostgresCluster` runs `initdb` + `pg_ctl` on a free port with its data
folder and socket in a temp dir (as the `postgres` user when the suite runs as root, since initdb
refuses root). Either is stopped and its folder removed at the end. Where the program is missing,
`require_*` skips the test with the reason and the command that installs it (`.ci/run` does).

`FINTALK_TEST_POSTGRES=1` runs the whole suite on a cluster of its own (tests/conftest.py points
pytest-django and every LiveServer at it).
"""
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

POSTGRES_USER = "postgres"  # the cluster's superuser; connections are trusted on 127.0.0.1 only


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(ready, what: str, process: subprocess.Popen | None, log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited:\n{log.read_text() if log.exists() else ''}")
        if ready():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start in {seconds} s:\n{log.read_text() if log.exists() else ''}")


# --- Redis ------------------------------------------------------------------------------------------

def redis_binary() -> str | None:
    return shutil.which("redis-server") or next(
        (path for path in ("/usr/bin/redis-server", "/usr/local/bin/redis-server") if os.access(path, os.X_OK)), None)


class RedisService:
    """One `redis-server` of this test run: a free port, no persistence, its files in a temp dir."""

    def __init__(self, binary: str):
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="fintalk-redis-"))
        self.port = free_port()
        self.log_path = self.dir / "redis.log"
        self.process = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, db=db, socket_connect_timeout=2)

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--logfile", str(self.log_path), "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        _wait(self._answers, f"redis-server on port {self.port}", self.process, self.log_path)
        return self

    def _answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except Exception:
            return False

    def stop(self) -> None:
        """Stop the server (its port then refuses connections: a Redis outage)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def require_redis() -> RedisService:
    """A started RedisService, or a skip that says how to get redis-server."""
    binary = redis_binary()
    if binary is None:
        pytest.skip("redis-server is not installed: `apt-get install redis-server` (.ci/run installs it); "
                    "the tests start their own, never the machine's")
    return RedisService(binary).start()


# --- PostgreSQL -------------------------------------------------------------------------------------

def postgres_bin_dir() -> Path | None:
    """The newest PostgreSQL server programs: Debian's /usr/lib/postgresql/<v>/bin, else the PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                        if Path(p).parent.name.isdigit() else 0)
    for folder in reversed(candidates):
        if os.access(Path(folder) / "initdb", os.X_OK) and os.access(Path(folder) / "pg_ctl", os.X_OK):
            return Path(folder)
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(initdb).parent
    return None


class PostgresCluster:
    """One PostgreSQL cluster of this test run: `initdb` in a temp dir, `pg_ctl start` on a free port,
    listening on 127.0.0.1 and a socket in the same temp dir, trust authentication for local users."""

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="fintalk-postgres-"))
        self.data = self.dir / "data"
        self.log_path = self.dir / "postgres.log"
        self.port = free_port()
        self.run_as = self._run_as()
        self.running = False

    @staticmethod
    def _run_as() -> list[str]:
        """initdb and postgres refuse root: as root, run them as the `postgres` user."""
        if os.geteuid() != 0:
            return []
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a `postgres` user: initdb refuses root "
                        "(`apt-get install postgresql` creates the user)")
        runuser = shutil.which("runuser") or "/usr/sbin/runuser"
        return [runuser, "-u", "postgres", "--"]

    def _run(self, *command: str, timeout: float = 120) -> None:
        result = subprocess.run([*self.run_as, *command], capture_output=True, text=True, timeout=timeout)
        if result.returncode:
            log = self.log_path.read_text() if self.log_path.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}{log}")

    def base_url(self) -> str:
        return f"postgresql://{POSTGRES_USER}@127.0.0.1:{self.port}"

    def url(self, database: str) -> str:
        return f"{self.base_url()}/{database}"

    def start(self):
        if self.run_as:
            os.chmod(self.dir, 0o755)
            shutil.chown(self.dir, "postgres", "postgres")
        if not self.data.exists():
            self._run(str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", POSTGRES_USER, "-A", "trust",
                      "-E", "UTF8", "--no-locale", "--no-sync")
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_path), "-o", options,
                  "-w", "-t", "60", "start")
        self.running = True
        _wait(self._answers, f"PostgreSQL on port {self.port}", None, self.log_path)
        return self

    def _answers(self) -> bool:
        import psycopg

        try:
            psycopg.connect(self.url("postgres"), connect_timeout=2).close()
            return True
        except psycopg.Error:
            return False

    def admin(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            for statement in statements:
                connection.execute(statement)

    def create_database(self, name: str) -> str:
        self.admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        if self.running:
            self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the cluster (fast shutdown: connections are cut, as in an outage)."""
        if self.running:
            self.running = False
            try:
                self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                self._kill()

    def _kill(self) -> None:
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGQUIT)
            except (ValueError, ProcessLookupError, PermissionError):
                pass

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def require_postgres() -> PostgresCluster:
    """A started PostgresCluster, or a skip that says how to get the server programs."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed: `apt-get install postgresql` "
                    "(.ci/run installs them); the tests start their own cluster, never the machine's")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (requirements.txt)")
    return PostgresCluster(bin_dir).start()
