"""How fast Vapi gets its assistant: the latency of `assistant-request` (Vapi waits at most 7.5 s, and
the caller hears nothing until the answer comes).

Starts a real gunicorn (one uvicorn worker, the demo settings, a fresh SQLite database seeded with
the demo bank), then posts N HMAC-signed assistant-requests (as Vapi's HMAC credential signs them)
from C concurrent clients, alternating a known caller and an unknown number, each with a new call
id. Reports p50, p99 and max of the time to the full answer, and the errors.

    python -m bench.assistant_request --n 300 --concurrency 4
"""
import argparse
import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-assistant-request-secret"
CALLERS = ("+15550100001", "+15550199999")  # a known customer, an unknown number


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def start_server(tmp: Path, port: int, records: bool = True) -> tuple[subprocess.Popen, dict]:
    env = {**os.environ, "FINTALK_CALL_RECORDS": "true" if records else "false", "DJANGO_SETTINGS_MODULE": "fintalk.settings", "FINTALK_LLM": "demo",
           "FINTALK_API_KEYS": "sk-bench", "FINTALK_VAPI_WEBHOOK_SECRET": SECRET,
           "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}", "FINTALK_LOG_LEVEL": "WARNING"}
    for args in (("migrate", "--noinput", "-v0"), ("seed_demo",)):
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True)
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "fintalk.asgi:application", "-k",
                               "uvicorn_worker.UvicornWorker", "-b", f"127.0.0.1:{port}", "-w", "1"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server, env
        except httpx.TransportError:
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError("gunicorn did not start")


def signed_request(number: str) -> tuple[bytes, dict]:
    call_id = f"call-bench-{uuid.uuid4().hex[:12]}"
    body = json.dumps({"message": {"type": "assistant-request", "timestamp": time.time() * 1000,
                                   "call": {"id": call_id, "type": "inboundPhoneCall", "customer": {"number": number}},
                                   "customer": {"number": number}}}).encode()
    stamp = str(int(time.time() * 1000))
    signature = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return body, {"content-type": "application/json", "x-timestamp": stamp, "x-signature": signature}


async def load(url: str, n: int, concurrency: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    queue = list(range(n))

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while queue:
            i = queue.pop()
            body, headers = signed_request(CALLERS[i % len(CALLERS)])
            started = time.perf_counter()
            response = await client.post(url, content=body, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code == 200 and "assistant" in response.json():
                latencies.append(elapsed)
            else:
                errors += 1

    async with httpx.AsyncClient(timeout=10) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
    return latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--no-records", action="store_true", help="FINTALK_CALL_RECORDS=false (nothing written)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server, _ = start_server(Path(tmp), args.port, records=not args.no_records)
        try:
            url = f"http://127.0.0.1:{args.port}/api/vapi/events"
            asyncio.run(load(url, args.warmup, 1))
            started = time.perf_counter()
            latencies, errors = asyncio.run(load(url, args.n, args.concurrency))
            seconds = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=15)
    print(f"| assistant-request{' (records off)' if args.no_records else ''} | {args.n} | {args.concurrency} | {_pct(latencies, 0.5):.1f} | "
          f"{_pct(latencies, 0.99):.1f} | {max(latencies):.1f} | {errors} | {args.n / seconds:.0f} |")


if __name__ == "__main__":
    main()
