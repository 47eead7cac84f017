"""CPU of one streamed turn, in process, split by where it is spent (cProfile, deterministic).

    python -m bench.turn_cpu               # 300 sequential plain turns
    python -m bench.turn_cpu --tool        # tool turns (loans: no database read)
    python -m bench.turn_cpu --balance     # a verified caller's balance: two model calls, one database read
    python -m bench.turn_cpu --floor       # also the floor: aiobotocore alone sending the turn's own request
    python -m bench.turn_cpu --no-profile  # the figure only (bench.compare runs it so)

Django's ASGI application is driven directly (no HTTP server, no load generator), against the
Bedrock stand-in on loopback with no delays, so the figure is the worker's own work per turn:
Django, DRF, the loop, aiobotocore, the speech filter and the SSE chunks, and nothing else.
"""
import argparse
import asyncio
import cProfile
import json
import os
import pstats
import tempfile
import time
from pathlib import Path

from bench.run import API_KEY, BALANCE_BODY, BALANCE_CALL_ID, BODY, TOOL_BODY, Processes, start_standin

PARTS = (  # by the file of each profiled function (self time)
    ("aiobotocore/botocore/aiohttp (the floor pays these too)", ("aiobotocore", "botocore", "aiohttp", "yarl",
                                                                 "multidict", "urllib3")),
    ("Django (handler, request, middleware, streaming response)", ("django/",)),
    ("DRF/adrf (request, auth, parsing, serializers)", ("rest_framework", "adrf")),
    ("agent loop, converse, tools, demo", ("agent/loop.py", "agent/converse.py", "agent/tools.py",
                                           "agent/bedrock.py", "agent/callers.py", "agent/prompts.py", "agent/tools/",
                                           "bank/")),
    ("LlamaIndex (converters, tools)", ("llama_index",)),
    ("speech filter", ("agent/speech.py",)),
    ("SSE chunks, streaming, conversation (api/)", ("api/",)),
    ("logging + metrics", ("logging", "pythonjsonlogger", "prometheus_client", "observability")),
    ("asyncio", ("asyncio",)),
    ("json", ("json/",)),
)


def _part(filename: str) -> str:
    for name, markers in PARTS:
        if any(marker in filename for marker in markers):
            return name
    return "other (stdlib, builtins)"


def chat_post(body: bytes, api_key: str = API_KEY):
    """A POST /v1/chat/completions driven in process: its ASGI scope; its `receive`, which gives the
    body, then a disconnect once `done` is set; and `done`, for `send` to set at the last body."""
    headers = [(b"authorization", f"Bearer {api_key}".encode()), (b"content-type", b"application/json"),
               (b"host", b"127.0.0.1"), (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions", "query_string": b"",
             "headers": headers, "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
    done, delivered = asyncio.Event(), False

    async def receive():
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    return scope, receive, done


async def _turns(app, body: bytes, count: int) -> None:
    for _ in range(count):
        scope, receive, sent = chat_post(body)
        status = 0

        async def send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif status != 200:
                raise RuntimeError(f"the turn answered HTTP {status}: {message.get('body', b'')[:300]!r}")
            if message["type"] == "http.response.body" and not message.get("more_body"):
                sent.set()

        await app(scope, receive, send)


async def _floor(app, body: bytes, count: int) -> None:
    """The floor in this process: the worker's own aiobotocore client sending each of the turn's model
    requests as Fintalk prepared them (same prompt, tool specs, history) and reading every event
    with botocore's parser, as `bench.run`'s aiobotocore floor does. Fintalk's own share is the
    difference."""
    from agent import bedrock

    requests, prepare = [], bedrock.prepare

    def capture(request):
        requests.append(prepare(request))
        return requests[-1]

    bedrock.prepare = capture
    try:
        await _turns(app, body, 1)
    finally:
        bedrock.prepare = prepare
    client = await bedrock.client()
    started = time.process_time()
    for _ in range(count):
        for request in requests:
            response = await client.converse_stream(**request)
            async for _event in response["stream"]:
                pass
    print(f"{(time.process_time() - started) / count * 1000:.2f} ms CPU per turn for the floor: aiobotocore alone "
          f"sending the turn's {len(requests)} model request(s) and parsing every event")


async def closing_bedrock(work):
    """Await `work`, then close the worker's Bedrock client (its aiohttp session) before the loop ends."""
    from agent import bedrock

    try:
        return await work
    finally:
        await bedrock.close()


def django_app(standin: str):
    """Fintalk's ASGI application in this process, on the Bedrock provider at `standin`, with the demo
    bank in a fresh SQLite file and the default settings otherwise (call records on)."""
    database = Path(tempfile.mkdtemp()) / "cpu.sqlite3"
    os.environ.update({"DATABASE_URL": f"sqlite:///{database}", "FINTALK_API_KEYS": API_KEY,
                       "FINTALK_LLM": "bedrock", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin,
                       "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1",
                       "DJANGO_SETTINGS_MODULE": "fintalk.settings", "FINTALK_LOG_LEVEL": "WARNING"})
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    from fintalk.asgi import application

    return application


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--tool", action="store_true")
    parser.add_argument("--balance", action="store_true")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--floor", action="store_true",
                        help="also time aiobotocore alone sending the same request(s) and reading the stream")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--words", type=int, default=40, help="words the stand-in answers (the calls ladder uses 8)")
    args = parser.parse_args()
    procs = Processes()
    try:
        standin = start_standin(procs, argparse.Namespace(first_token_ms=0, token_ms=0, tokens=args.words))
        # the stand-in answers "loans" with get_loan_products and "balance" with get_account_balances
        application = django_app(standin)
        body = json.dumps(BALANCE_BODY if args.balance else TOOL_BODY if args.tool else BODY).encode()
        if args.balance:  # the call is verified (level 1), as after a one-time code
            from django.core.cache import caches

            from bank.verification import VERIFIED, CallSession

            caches["default"].set(f"fintalk:verified:{CallSession('+15550100001', BALANCE_CALL_ID).key}", VERIFIED,
                                  None)

        from calls.recorder import recorder

        async def measure():
            await _turns(application, body, 20)  # warm up: client, caches, imports
            recorder().stop()
            started = time.process_time()
            await _turns(application, body, args.turns)
            recorder().stop()  # the call records of these turns written (by the recorder's thread) within the figure
            print(f"{(time.process_time() - started) / args.turns * 1000:.2f} ms CPU per turn without the profiler "
                  "(Django's ASGI app in this process; no HTTP server, the stand-in in another process)")
            if args.floor:
                await _floor(application, body, args.turns)
            if not args.profile:
                return None, 0.0
            profile = cProfile.Profile()
            started = time.process_time()
            profile.enable()
            await _turns(application, body, args.turns)
            profile.disable()
            return profile, time.process_time() - started

        profile, cpu = asyncio.run(closing_bedrock(measure()))
        if profile is None:
            return
        print(f"{cpu / args.turns * 1000:.2f} ms CPU per turn under cProfile ({args.turns} turns; "
              "cProfile itself adds about half: compare parts, not totals)\n")
        stats = pstats.Stats(profile)
        if os.environ.get("PROFILE_OUT"):
            stats.dump_stats(os.environ["PROFILE_OUT"])
        parts, total = {}, 0.0
        for (filename, _, _), (_, _, own, _, _) in stats.stats.items():
            parts[_part(filename)] = parts.get(_part(filename), 0.0) + own
            total += own
        print("| part (self time) | share |\n|---|---|")
        for name, own in sorted(parts.items(), key=lambda item: -item[1]):
            print(f"| {name} | {100 * own / total:.0f}% |")
        print()
        stats.sort_stats("tottime").print_stats(args.top)
        if os.environ.get("CALLERS"):
            stats.print_callers(os.environ["CALLERS"])
    finally:
        procs.stop()


if __name__ == "__main__":
    main()
