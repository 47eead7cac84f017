"""Where a worker's CPU goes: py-spy samples the Fintalk worker under a steady streaming load.

    python -m bench.profile                    # 20 concurrent plain turns for 15 s
    python -m bench.profile --body tool        # tool turns
    python -m bench.profile --flame out.svg    # also a flame graph
    python -m bench.profile --calls 300        # the calls ladder's load: 300 open-loop calls, 8 words a turn

The same set-up as `bench.run` (stand-in, one gunicorn worker on the Bedrock provider). Prints
the share of the worker's busy samples per function (self time) and per module of ours or of a
library (inclusive), so a change to the hot path is judged by its profile, not by guesswork.
"""
import argparse
import asyncio
import collections
import subprocess
import sys
import time
from pathlib import Path

from bench.run import (API_KEY, BODY, TOOL_BODY, Processes, load_client, openai_stream, standin_arguments, start_fintalk,
                       start_standin)

ROOT = Path(__file__).resolve().parent.parent
GROUPS = (  # a sample counts for the group of its innermost frame that matches one
    ("agent loop + tools", ("agent/loop.py", "agent/tools.py", "agent/converse.py", "llama_index")),
    ("bedrock stream read (aiobotocore parse)", ("agent/bedrock.py",)),
    ("aiobotocore/botocore request (build, sign, send)", ("aiobotocore/client.py", "aiobotocore/endpoint.py")),
    ("speech filter", ("agent/speech.py",)),
    ("SSE chunks (protocol)", ("api/protocol.py",)),
    ("request log + metrics", ("api/observability.py",)),
    ("DRF/adrf request, auth, parse, serializers", ("rest_framework/", "adrf/")),
    ("Django handler + middleware + signals", ("django/core/handlers", "django/utils/deprecation.py",
                                               "django/dispatch", "fintalk/middleware.py")),
    ("thread hops (asgiref)", ("asgiref/sync.py",)),
    ("uvicorn / h11 / httptools", ("uvicorn/", "h11/", "httptools")),
    ("asyncio / uvloop", ("asyncio/", "uvloop")),
)


async def load(url: str, body: dict, concurrency: int, seconds: float) -> int:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    done = 0
    deadline = time.monotonic() + seconds
    async with load_client(concurrency, timeout=60) as client:
        async def caller():
            nonlocal done
            while time.monotonic() < deadline:
                await openai_stream(client, url, body, headers)
                done += 1

        await asyncio.gather(*(caller() for _ in range(concurrency)))
    return done


def _group(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, markers in GROUPS:
            if any(marker in frame for marker in markers):
                return name
    return "other"


def report(raw: Path, top: int) -> None:
    own, groups, total = collections.Counter(), collections.Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        count = int(count)
        frames = stack.split(";")
        total += count
        own[frames[-1]] += count
        groups[_group(frames)] += count
    print(f"\n{total} samples holding the GIL\n\n| part (innermost frame of ours or a library's) | share |\n|---|---|")
    for name, count in groups.most_common():
        print(f"| {name} | {100 * count / total:.0f}% |")
    print("\n| function (self) | share |\n|---|---|")
    for frame, count in own.most_common(top):
        print(f"| `{frame[:110]}` | {100 * count / total:.1f}% |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--body", choices=["plain", "tool"], default="plain")
    standin_arguments(parser)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--calls", type=int, help="instead: this many open-loop voice calls (bench.calls), "
                        "each a new call with its own record, answered in --words words")
    parser.add_argument("--words", dest="calls_words", type=int, default=8)
    parser.add_argument("--flame", type=Path, help="also write a flame graph (SVG) here")
    args = parser.parse_args()
    procs = Processes()
    try:
        standin = start_standin(procs, args)
        url, pid = start_fintalk(procs, standin)
        body = BODY if args.body == "plain" else TOOL_BODY
        asyncio.run(load(url + "/v1/chat/completions", body, args.concurrency, 3))  # warm up
        raw = procs.tmp / "profile.txt"
        spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--rate", "200", "--gil",
                                "--format", "raw", "--output", str(raw), "--duration", str(int(args.seconds))],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if args.calls:
            from bench.calls import run_step

            step = asyncio.run(run_step(url + "/v1/chat/completions", {"Authorization": f"Bearer {API_KEY}"}, BODY,
                                        args.calls, args.seconds, args.first_token_ms / 1000, 100, words=args.calls_words))
            spy.wait(timeout=60)
            print(f"{args.calls} calls for {args.seconds:.0f} s: {step.turns} turns measured, "
                  f"p50 {step.p50_ms:.1f} ms, p99 {step.p99_ms:.1f} ms, {step.errors} errors")
        else:
            turns = asyncio.run(load(url + "/v1/chat/completions", body, args.concurrency, args.seconds))
            spy.wait(timeout=60)
            print(f"{turns} turns in {args.seconds:.0f} s at concurrency {args.concurrency}")
        report(raw, args.top)
        if args.flame:
            subprocess.run([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--rate", "200",
                            "--output", str(args.flame), "--duration", "5"], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        procs.stop()


if __name__ == "__main__":
    main()
