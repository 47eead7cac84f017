"""A burst: N turns reach one worker in the same millisecond. What does it do before each first byte?

    python -m bench.burst --n 100              # one burst of 100 plain turns, in process
    python -m bench.burst --n 300 --rounds 3

Django's ASGI application runs in this process on uvloop, as in the worker (no HTTP server and no
load generator, so the timeline is the worker's alone), against the Bedrock stand-in in another
process (first token after 300 ms, then 39 more 20 ms apart, as in `bench.run`). Each turn's
timeline is taken from the inside:

- `arrived`: the ASGI app is called with the request;
- `built`: the Bedrock request is built (`agent.bedrock.prepare`), after Django, DRF and the turn's set-up;
- `sent`: botocore is about to send it (`before-send`), after building and signing it;
- `first byte`: the first spoken token goes to the client;

and, for each turn, how many other turns' tokens the worker forwarded between the moment its own
first token could have come (`sent` + the stand-in's delay) and its first byte. Reported: p50 /
p99 of each step from `arrived`, the order in which turns were sent against the order they
arrived, the worker's CPU per turn until the last first byte, and the added TTFT (first byte minus
arrival minus the stand-in's delay), the figure `bench.run` measures from the client.
"""
import argparse
import asyncio
import contextvars
import json
import time
from dataclasses import dataclass

from bench.run import BODY, Processes, standin_arguments, start_standin
from bench.turn_cpu import chat_post, closing_bedrock, django_app


@dataclass
class Timeline:
    index: int
    arrived: float = 0.0
    built: float = 0.0
    sent: float = 0.0
    sent_cpu: float = 0.0  # the process's CPU time when it was sent
    first_byte: float = 0.0
    tokens_between: int = 0  # other turns' tokens forwarded after this one's could have come


_current: contextvars.ContextVar[Timeline | None] = contextvars.ContextVar("burst_turn", default=None)


class Watch:
    def __init__(self, delay: float):
        self.delay = delay
        self.tokens: list[float] = []  # when each non-first token of any turn went out

    def install(self, client) -> None:
        from agent import bedrock

        prepare = bedrock.prepare

        def built(request):
            if (turn := _current.get()) is not None:
                turn.built = time.perf_counter()
            return prepare(request)

        bedrock.prepare = built

        def sending(**_):
            if (turn := _current.get()) is not None:
                turn.sent, turn.sent_cpu = time.perf_counter(), time.process_time()

        client.meta.events.register("before-send.bedrock-runtime.ConverseStream", sending)

    async def turn(self, app, body: bytes, timeline: Timeline) -> None:
        _current.set(timeline)
        scope, receive, done = chat_post(body)

        async def send(message):
            if message["type"] != "http.response.body":
                return
            chunk = message.get("body", b"")
            if b'"content":"' in chunk and b'"content":""' not in chunk:
                if not timeline.first_byte:
                    timeline.first_byte = time.perf_counter()
                else:
                    self.tokens.append(time.perf_counter())
            if not message.get("more_body"):
                done.set()

        timeline.arrived = time.perf_counter()
        await app(scope, receive, send)


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


async def burst(app, watch: Watch, body: bytes, n: int) -> dict:
    watch.tokens.clear()
    timelines = [Timeline(i) for i in range(n)]
    cpu = cpu_start = time.process_time()
    await asyncio.gather(*(watch.turn(app, body, timeline) for timeline in timelines))
    cpu = time.process_time() - cpu
    start = min(t.arrived for t in timelines)
    for t in timelines:
        could = t.sent + watch.delay
        t.tokens_between = sum(1 for when in watch.tokens if could <= when < t.first_byte)
    ms = lambda values: (_pct(values, 0.5) * 1000, _pct(values, 0.99) * 1000)  # noqa: E731
    by_arrival = sorted(timelines, key=lambda t: t.arrived)
    by_sent = sorted(timelines, key=lambda t: t.sent)
    return {
        "n": n,
        "built": ms([t.built - start for t in timelines]),
        "sent": ms([t.sent - start for t in timelines]),
        "first_sent_ms": (by_sent[0].sent - start) * 1000,
        "last_sent_ms": (by_sent[-1].sent - start) * 1000,
        "first_arrival_sent_ms": (by_arrival[0].sent - start) * 1000,
        "added_ttft": ms([t.first_byte - t.arrived - watch.delay for t in timelines]),
        "tokens_between": (_pct([t.tokens_between for t in timelines], 0.5),
                           _pct([t.tokens_between for t in timelines], 0.99)),
        "cpu_ms_per_turn": cpu * 1000 / n,
        # the CPU the worker spent until the last turn was sent, per turn, and the share of that time it was busy
        "cpu_ms_per_start": (by_sent[-1].sent_cpu - cpu_start) * 1000 / n,
        "busy_until_last_sent": (by_sent[-1].sent_cpu - cpu_start) / max(1e-9, by_sent[-1].sent - start),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=lambda s: [int(x) for x in s.split(",")], default=[100, 300])
    parser.add_argument("--rounds", type=int, default=2)
    standin_arguments(parser)
    args = parser.parse_args()
    procs = Processes()
    try:
        standin = start_standin(procs, args)
        app = django_app(standin)
        body = json.dumps(BODY).encode()

        async def measure():
            from agent import bedrock

            watch = Watch(args.first_token_ms / 1000)
            watch.install(await bedrock.client())
            await burst(app, watch, body, 10)  # warm up: client, connections, caches
            print("| N | built p50 / p99 (ms) | sent p50 / p99 (ms) | first / last sent (ms) | first to arrive sent at (ms) "
                  "| other turns' tokens before its first byte p50 / p99 | added TTFT p50 / p99 (ms) | CPU/turn (ms) "
                  "| CPU until the last was sent, per turn (ms) | busy until then |\n|---|---|---|---|---|---|---|---|---|---|")
            for n in args.n:
                await burst(app, watch, body, n)  # the pool then holds n connections, as in bench.run
                for _ in range(args.rounds):
                    r = await burst(app, watch, body, n)
                    print(f"| {n} | {r['built'][0]:.0f} / {r['built'][1]:.0f} | {r['sent'][0]:.0f} / {r['sent'][1]:.0f} "
                          f"| {r['first_sent_ms']:.0f} / {r['last_sent_ms']:.0f} | {r['first_arrival_sent_ms']:.0f} "
                          f"| {r['tokens_between'][0]:.0f} / {r['tokens_between'][1]:.0f} "
                          f"| {r['added_ttft'][0]:.0f} / {r['added_ttft'][1]:.0f} | {r['cpu_ms_per_turn']:.2f} "
                          f"| {r['cpu_ms_per_start']:.2f} | {r['busy_until_last_sent']:.0%} |",
                          flush=True)

        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # the worker's loop (uvicorn[standard])
            runner.run(closing_bedrock(measure()))
    finally:
        procs.stop()


if __name__ == "__main__":
    main()
