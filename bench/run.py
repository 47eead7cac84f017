"""Latency and concurrency benchmark: Fintalk against the floor and against a peer, in one run.

    python -m bench.run                       # N = 1, 10, 100, 300; floor and Fintalk
    python -m bench.run --peer litellm        # also LiteLLM proxy (installed in bench/.peer-venv)
    python -m bench.run --peer bag --peer-src /work/bag-src   # also bedrock-access-gateway (bench/peers.py)
    python -m bench.run --n 5 --rounds 1      # the smoke run the test suite does
    python -m bench.run --peer litellm --calls --json out.json --plot BENCHMARKS.png   # the full run

Everything runs on this machine: the Bedrock stand-in (first token after --first-token-ms, then a
token every --token-ms), Fintalk under gunicorn with one uvicorn worker on the bedrock provider,
and a load generator of N concurrent streaming clients sending a Vapi-shaped body. Reported per
N: added time to first token (client TTFT minus the stand-in's delay) p50/p95/p99, added total
duration, completed streams per second, errors, server CPU per turn and RSS growth per
concurrent stream. The floors are the same load straight to the stand-in: aiohttp reading the raw
event stream (the load generator's own client library), and aiobotocore (one long-lived client). A tool turn (two model calls and a database
read) is measured against two back-to-back stand-in calls.

Why one module of ~440 lines: it is the benchmark as one script (start the processes, load them,
write BENCHMARKS.md); `memory.py`, `profile.py` and the others import its pieces.
"""
import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from botocore.eventstream import EventStreamBuffer

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "sk-bench"
MODEL = "amazon.nova-lite-v1:0"
TICKS = os.sysconf("SC_CLK_TCK")
BODY = {
    "model": MODEL, "stream": True, "temperature": 0, "max_tokens": 250,
    "messages": [{"role": "system", "content": "You are Fin, the Fintalk Bank assistant."},
                 {"role": "assistant", "content": "Hello, this is Fintalk Bank. How can I help?"},
                 {"role": "user", "content": "Tell me something nice."}],
    "call": {"id": "call-bench", "customer": {"number": "+15550100001"}},
    "customer": {"number": "+15550100001"}, "phoneNumber": {"id": "pn-bench"}, "metadata": {},
}
# A tool turn: the stand-in answers "loans" with a get_loan_products call, then the answer. Not a
# Vapi call, so no filler phrase: TTFT is the answer's first token, after the tool ran.
TOOL_BODY = {key: value for key, value in BODY.items() if key not in ("call", "customer", "phoneNumber", "metadata")}
TOOL_BODY["messages"] = [{"role": "user", "content": "What loans do you have?"}]
# A verified caller's balance turn (#18): two model calls and one database read, on a call verified
# beforehand (`verify_bench_call` marks it so in the worker's cache, as a code would).
BALANCE_CALL_ID = "call-bench-balance"
BALANCE_BODY = {**BODY, "call": {"id": BALANCE_CALL_ID, "customer": {"number": "+15550100001"}},
                "messages": [{"role": "user", "content": "What's my balance?"}]}
CONVERSE = {"modelId": MODEL, "messages": [{"role": "user", "content": [{"text": "hi"}]}]}
CONVERSE_TOOL = {"modelId": MODEL, "messages": [{"role": "user", "content": [{"text": "loans"}]}]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


@dataclass
class Sample:
    ttft: float | None = None
    total: float | None = None
    error: str | None = None


@dataclass
class Result:
    target: str
    n: int
    samples: list[Sample] = field(default_factory=list)
    wall: float = 0.0
    cpu_per_turn_ms: float | None = None
    rss_per_stream_kb: float | None = None

    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.error is None and s.ttft is not None]

    def pct(self, values: list[float], q: float) -> float:
        if not values:
            return float("nan")
        values = sorted(values)
        return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]

    def row(self, delay: float, floor_total: float) -> dict:
        ttfts = [(s.ttft - delay) * 1000 for s in self.ok()]
        totals = [(s.total - floor_total) * 1000 for s in self.ok()]
        return {
            "target": self.target, "n": self.n,
            "ttft_p50": self.pct(ttfts, 0.5), "ttft_p95": self.pct(ttfts, 0.95), "ttft_p99": self.pct(ttfts, 0.99),
            "total_p50": self.pct(totals, 0.5), "streams_per_s": len(self.ok()) / self.wall if self.wall else 0,
            "errors": len(self.samples) - len(self.ok()), "cpu_ms": self.cpu_per_turn_ms,
            "error_kinds": sorted({s.error or "no first token" for s in self.samples if s not in self.ok()}),
            "rss_kb": self.rss_per_stream_kb,
        }


# --- clients ------------------------------------------------------------------------------------

def load_client(n: int, timeout: float = 120):
    """The load generator's HTTP client: one aiohttp session holding up to n + 10 keep-alive connections.

    aiohttp, as the aiobotocore floor uses it, not httpx: at 100 concurrent streams httpx's pool
    cost the load generator itself seconds (its own floor's p50 reached 1.9-3.5 s at N = 100 while
    aiobotocore's stayed under 150 ms), so every target behind it measured the client, not the server.
    """
    import aiohttp

    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=n + 10),
                                 timeout=aiohttp.ClientTimeout(total=timeout))


async def openai_stream(client, url: str, body: dict, headers: dict) -> Sample:
    sample, start = Sample(), time.perf_counter()
    try:
        async with client.post(url, json=body, headers=headers) as response:
            if response.status != 200:
                return Sample(error=f"HTTP {response.status}")
            async for line in response.content:
                if sample.ttft is None and line.startswith(b"data: {") and b'"content":"' in line \
                        and b'"content":""' not in line:
                    sample.ttft = time.perf_counter() - start
                elif line.startswith(b"data: {") and b'"error"' in line[:20]:
                    sample.error = "error event"
        sample.total = time.perf_counter() - start
    except Exception as exc:  # a benchmark counts failures, it does not stop on them
        sample.error = type(exc).__name__
    return sample


async def raw_event_stream(client, url: str, bodies: list[dict]) -> Sample:
    """The floor: aiohttp reading the stand-in's event stream and decoding frames (no server).
    Several bodies are back-to-back calls (a tool turn); TTFT is the last call's first text."""
    sample, start = Sample(), time.perf_counter()
    try:
        for body in bodies:
            async with client.post(url, json=body) as response:
                buffer = EventStreamBuffer()
                async for chunk in response.content.iter_any():
                    buffer.add_data(chunk)
                    for message in buffer:
                        if sample.ttft is None and body is bodies[-1] and b'"text"' in message.payload \
                                and message.headers.get(":event-type") == "contentBlockDelta":
                            sample.ttft = time.perf_counter() - start
        sample.total = time.perf_counter() - start
    except Exception as exc:
        sample.error = type(exc).__name__
    return sample


async def aiobotocore_stream(client, bodies: list[dict]) -> Sample:
    sample, start = Sample(), time.perf_counter()
    try:
        for body in bodies:
            response = await client.converse_stream(**body)
            async for event in response["stream"]:
                if sample.ttft is None and body is bodies[-1] and "contentBlockDelta" in event \
                        and "text" in event["contentBlockDelta"]["delta"]:
                    sample.ttft = time.perf_counter() - start
        sample.total = time.perf_counter() - start
    except Exception as exc:
        sample.error = type(exc).__name__
    return sample


async def run_load(make_call, n: int, rounds: int) -> tuple[list[Sample], float]:
    samples, wall = [], 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        samples += await asyncio.gather(*(make_call() for _ in range(n)))
        wall += time.perf_counter() - start
    return samples, wall


# --- processes ----------------------------------------------------------------------------------

class Processes:
    def __init__(self):
        self.procs: list[subprocess.Popen] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="fintalk-bench-"))

    def start(self, args: list[str], env: dict, log: str, cwd: Path = ROOT) -> subprocess.Popen:
        proc = subprocess.Popen(args, cwd=cwd, env={**os.environ, **env}, stdout=open(self.tmp / log, "w"),
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)


def standin_arguments(parser: argparse.ArgumentParser) -> None:
    """The Bedrock stand-in's pace, the same options in every bench script."""
    parser.add_argument("--first-token-ms", type=float, default=300)
    parser.add_argument("--token-ms", type=float, default=20)
    parser.add_argument("--tokens", type=int, default=40)


def start_standin(procs: Processes, args) -> str:
    port = free_port()
    procs.start([sys.executable, "-m", "tests.bedrock_standin", "--port", str(port),
                 "--first-token-ms", str(args.first_token_ms), "--token-ms", str(args.token_ms),
                 "--tokens", str(args.tokens), "--tool-keyword", "loans",
                 "--brief-tokens", str(getattr(args, "calls_words", 0) or 0)], {}, "standin.log")
    url = f"http://127.0.0.1:{port}"
    wait_for(url + "/")
    return url


def start_fintalk(procs: Processes, standin: str, records: bool = True,
                  extra_env: dict | None = None) -> tuple[str, int]:
    """One worker; `records`: FINTALK_CALL_RECORDS (on by default, as a user gets it). Each server has
    its own database file and log, so that one's record writes never contend with the other's turns."""
    port = free_port()
    env = {"DATABASE_URL": f"sqlite:///{procs.tmp / f'bench-{port}.sqlite3'}", "FINTALK_API_KEYS": API_KEY,
           "FINTALK_CALL_RECORDS": "true" if records else "false",
           "FINTALK_LLM": "bedrock", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin, "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1", "FINTALK_RATE_LIMIT": "off",
           "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost", "FINTALK_FIRST_TOKEN_TIMEOUT": "60", **(extra_env or {})}
    for command in (["migrate", "--noinput", "-v0"], ["seed_demo"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env={**os.environ, **env}, check=True,
                       capture_output=True)
    master = procs.start([sys.executable, "-m", "gunicorn", "fintalk.asgi:application", "-k",
                          "uvicorn_worker.UvicornWorker", "-w", "1", "-b", f"127.0.0.1:{port}",
                          "--backlog", "2048", "--timeout", "120", "--keep-alive", "75"], env, f"fintalk-{port}.log")
    url = f"http://127.0.0.1:{port}"
    wait_for(url + "/healthz")
    return url, children(master.pid)[0]


# --- the run ------------------------------------------------------------------------------------

async def peak_rss_during(pid: int, load) -> tuple[float, object]:
    """The peak RSS (MB) of `pid` while the awaitable `load` runs (sampled every 50 ms), and its result."""
    peak, sampling = 0.0, True

    async def sample():
        nonlocal peak
        while sampling:
            peak = max(peak, rss_mb(pid))
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    try:
        result = await load
    finally:
        sampling = False
        await sampler
    return peak, result


async def measure_server(name: str, url: str, pid: int, body: dict, n: int, rounds: int) -> Result:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with load_client(n) as client:
        # Warm up with N at once: the pool then holds N open connections, as a voice platform's would.
        await run_load(lambda: openai_stream(client, url, body, headers), n, 1)
        rss_before, cpu_before = rss_mb(pid), cpu_seconds(pid)
        peak, (samples, wall) = await peak_rss_during(pid, run_load(lambda: openai_stream(client, url, body, headers),
                                                                    n, rounds))
        cpu = cpu_seconds(pid) - cpu_before
    result = Result(name, n, samples, wall)
    result.cpu_per_turn_ms = cpu / max(1, len(samples)) * 1000
    result.rss_per_stream_kb = max(0.0, peak - rss_before) * 1024 / n
    return result


async def measure_floors(standin: str, n: int, rounds: int, bodies: list[dict],
                         same_request: dict | None = None) -> list[Result]:
    """The floors for `bodies`; with `same_request` (a server's own ConverseStream request, from the
    stand-in), also aiobotocore sending that: the bare request's floor is a "hi" with no prompt and no
    tools, where a turn's request carries the agent's prompt and its tool specs (#32)."""
    from aiobotocore.session import get_session

    url = f"{standin}/model/{MODEL}/converse-stream"
    results = []
    async with load_client(n) as client:
        await run_load(lambda: raw_event_stream(client, url, bodies), n, 1)
        samples, wall = await run_load(lambda: raw_event_stream(client, url, bodies), n, rounds)
        results.append(Result("floor: aiohttp", n, samples, wall))
    from botocore.config import Config

    async with get_session().create_client(
            "bedrock-runtime", region_name="us-east-1", endpoint_url=standin, aws_access_key_id="bench",
            aws_secret_access_key="bench", config=Config(max_pool_connections=n + 10, read_timeout=120)) as bedrock:
        variants = [("floor: aiobotocore", bodies)]
        if same_request:
            variants.append(("floor: aiobotocore, Fintalk's request", [same_request]))
        for name, sent in variants:
            await run_load(lambda: aiobotocore_stream(bedrock, sent), n, 1)
            samples, wall = await run_load(lambda: aiobotocore_stream(bedrock, sent), n, rounds)
            results.append(Result(name, n, samples, wall))
    return results


async def servers_request(standin: str, url: str) -> dict:
    """The ConverseStream request a Fintalk turn of BODY sends (the stand-in keeps the last one), as
    aiobotocore's converse_stream arguments."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with load_client(1) as client:
        sample = await openai_stream(client, url + "/v1/chat/completions", BODY, headers)
        if sample.error:
            raise RuntimeError(f"Fintalk's first turn failed: {sample.error}")
        async with client.get(standin + "/_standin/last-request") as response:
            return {"modelId": MODEL, **await response.json()}


def table(rows: list[dict]) -> str:
    head = ("| target | N | added TTFT p50 / p95 / p99 (ms) | added total p50 (ms) | streams/s | errors "
            "| server CPU/turn (ms) | RSS/stream (KB) |\n|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        cpu = f"{r['cpu_ms']:.1f}" if r["cpu_ms"] is not None else "-"
        rss = f"{r['rss_kb']:.0f}" if r["rss_kb"] is not None else "-"
        errors = f"{r['errors']} ({', '.join(r['error_kinds'])})" if r["errors"] else "0"
        lines.append(f"| {r['target']} | {r['n']} | {r['ttft_p50']:.1f} / {r['ttft_p95']:.1f} / {r['ttft_p99']:.1f} "
                     f"| {r['total_p50']:.1f} | {r['streams_per_s']:.1f} | {errors} | {cpu} | {rss} |")
    return "\n".join(lines)


def rounds_for(n: int, override: int | None) -> int:
    return override or max(1, 30 // n)


async def main_async(args) -> dict:
    procs = Processes()
    report = {"machine": f"{os.cpu_count()} cores, {os.uname().machine}, Python {sys.version.split()[0]}",
              "settings": vars(args), "plain": [], "tool": []}
    delay = args.first_token_ms / 1000
    stream_time = delay + args.token_ms / 1000 * (args.tokens - 1)
    try:
        standin = start_standin(procs, args)
        targets = [("fintalk (full agent)",) + start_fintalk(procs, standin)]
        if args.records_off:
            targets.append(("fintalk (records off)",) + start_fintalk(procs, standin, records=False))
        if "litellm" in args.peer:
            from bench.peers import start_litellm

            if peer := start_litellm(procs, standin):
                targets.append(("litellm proxy (proxy only)",) + peer)
        if "bag" in args.peer:
            from bench.peers import start_bag

            if peer := start_bag(procs, standin, args.peer_src):
                targets.append(("bedrock-access-gateway (proxy only)",) + peer)
        same_request = await servers_request(standin, targets[0][1])
        report["same_request"] = {"tool_specs": len(same_request.get("toolConfig", {}).get("tools", [])),
                                  "bytes": len(json.dumps(same_request))}
        for n in args.n:
            rounds = rounds_for(n, args.rounds)
            rows = [r.row(delay, stream_time) for r in await measure_floors(standin, n, rounds, [CONVERSE], same_request)]
            for name, url, pid in targets:
                result = await measure_server(name, url + "/v1/chat/completions", pid, BODY, n, rounds)
                rows.append(result.row(delay, stream_time))
            report["plain"] += rows
            print(table(rows), flush=True)
        if args.tool_turn:
            for n in args.tool_n:
                rounds = rounds_for(n, args.rounds)
                # Two model calls: the tool call (after the first-token delay), then the answer.
                floor = await measure_floors(standin, n, rounds, [CONVERSE_TOOL, CONVERSE])
                rows = [r.row(2 * delay, delay + stream_time) for r in floor]
                for name, url, pid in (target for target in targets if target[0].startswith("fintalk")):
                    result = await measure_server(name, url + "/v1/chat/completions", pid, TOOL_BODY, n, rounds)
                    rows.append(result.row(2 * delay, delay + stream_time))
                report["tool"] += rows
                print(table(rows), flush=True)
        if args.calls:
            from bench.calls import calls_per_worker

            report["calls"] = {}
            for name, url, pid in targets:
                print(f"calls per worker, {name} (open loop, a turn every 3-5 s per call, "
                      f"p99 added TTFT <= {args.calls_budget_ms:.0f} ms, no errors):", flush=True)
                cpu_before = cpu_seconds(pid)
                best, steps = await calls_per_worker(url + "/v1/chat/completions", {"Authorization": f"Bearer {API_KEY}"},
                                                     BODY, args.calls_ladder, args.calls_seconds, delay,
                                                     args.calls_budget_ms, words=args.calls_words)
                turns = sum(step.turns for step in steps)
                report["calls"][name] = {"calls_per_worker": best, "steps": [vars(step) for step in steps],
                                         "cpu_ms_per_turn": (cpu_seconds(pid) - cpu_before) * 1000 / max(1, turns)}
                print(f"  -> {best} calls per worker", flush=True)
    finally:
        procs.stop()
    return report


def run_on_uvloop(coroutine):
    """The load generator on uvloop (as the worker): its own CPU per request is not what is measured."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def _peers(value: str) -> list[str]:
    peers = [peer for peer in value.split(",") if peer and peer != "none"]
    unknown = set(peers) - {"litellm", "bag"}
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown peer {', '.join(sorted(unknown))}: litellm or bag")
    return peers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=lambda s: [int(x) for x in s.split(",")], default=[1, 10, 100, 300])
    parser.add_argument("--tool-n", type=lambda s: [int(x) for x in s.split(",")], default=[1, 10, 100])
    parser.add_argument("--rounds", type=int, help="rounds per N (default: enough for ~30 turns)")
    standin_arguments(parser)
    parser.add_argument("--peer", type=_peers, default=[],
                        help="litellm, bag, or both (litellm,bag): peers measured beside Fintalk")
    parser.add_argument("--peer-src", type=Path,
                        help="--peer bag: a checkout of aws-samples/bedrock-access-gateway at the pinned commit")
    parser.add_argument("--no-tool-turn", dest="tool_turn", action="store_false")
    parser.add_argument("--records-off", action="store_true",
                        help="also measure a second Fintalk with FINTALK_CALL_RECORDS=false, beside the default (on)")
    parser.add_argument("--calls", action="store_true", help="also find the calls per worker (open loop)")
    parser.add_argument("--calls-ladder", type=lambda s: [int(x) for x in s.split(",")],
                        default=[50, 100, 200, 300, 400, 500, 600, 800, 1000, 1200])
    parser.add_argument("--calls-seconds", type=float, default=25, help="seconds per step of the ladder")
    parser.add_argument("--calls-budget-ms", type=float, default=100, help="p99 added TTFT a step may reach")
    parser.add_argument("--calls-words", type=int, default=8,
                        help="words the stand-in answers each turn of the calls ladder (0: --tokens, as the latency rows)")
    parser.add_argument("--json", type=Path, help="write the raw report here")
    parser.add_argument("--plot", type=Path, help="draw added TTFT against N (PNG; needs matplotlib)")
    args = parser.parse_args()
    if "bag" in args.peer and args.peer_src is None:
        parser.error("--peer bag needs --peer-src DIR (a checkout of aws-samples/bedrock-access-gateway)")
    report = run_on_uvloop(main_async(args))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    if args.plot:
        from bench.plot import plot

        plot(report, args.plot)


if __name__ == "__main__":
    main()
