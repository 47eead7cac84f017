"""Calls per worker: the figure to plan with. An open-loop load of C concurrent voice calls.

Each call sends a turn (carrying the growing history of its call) 3-5 s after its previous turn
began, at random, as a caller would after hearing the answer; a turn whose answer is still
streaming delays the next one. With `words`, each turn asks to be answered briefly and the
stand-in answers that many words (its `--brief-tokens`), as a voice agent's short answers are.
For C = each step of a ladder the load runs for a while; the largest C whose p99 added TTFT
stays within the budget with zero errors is the worker's figure.
"""
import asyncio
import random
import time
from dataclasses import dataclass

from bench.run import Sample, load_client, openai_stream

def reply(words: int) -> str:
    """What the stand-in answers (the next turn carries it in its history)."""
    return " ".join(f"word{i}" for i in range(words))


@dataclass
class Step:
    calls: int
    turns: int
    errors: int
    p50_ms: float
    p99_ms: float
    passed: bool


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("inf")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


async def _call(client, url, headers, body, deadline, warmup_until, samples: list[Sample], rng, words: int) -> None:
    history = [message for message in body["messages"] if message["role"] != "user"]
    body = {**body, "call": {**body.get("call", {}), "id": f"call-bench-{rng.getrandbits(64):016x}"}}  # one Call each
    await asyncio.sleep(rng.uniform(0, 4))  # calls do not all start at the same instant
    turn = 0
    while time.monotonic() < deadline:
        started = time.monotonic()
        ask = "Tell me something nice, briefly, please." if words else "Tell me something nice, please."
        user = {"role": "user", "content": f"{ask} This is turn {turn}."}
        sample = await openai_stream(client, url, {**body, "messages": [*history, user]}, headers)
        if started >= warmup_until:
            samples.append(sample)
        history += [user, {"role": "assistant", "content": reply(words or 40)}]
        turn += 1
        await asyncio.sleep(max(0.0, started + rng.uniform(3, 5) - time.monotonic()))


async def run_step(url: str, headers: dict, body: dict, calls: int, seconds: float, delay: float,
                   budget_ms: float, seed: int = 7, words: int = 0) -> Step:
    rng = random.Random(seed)
    samples: list[Sample] = []
    start = time.monotonic()
    async with load_client(calls, timeout=60) as client:
        await asyncio.gather(*(_call(client, url, headers, body, start + seconds, start + 5, samples, rng, words)
                               for _ in range(calls)))
    ok = [(s.ttft - delay) * 1000 for s in samples if s.error is None and s.ttft is not None]
    errors = len(samples) - len(ok)
    p99 = _pct(ok, 0.99)
    return Step(calls, len(samples), errors, _pct(ok, 0.5), p99, errors == 0 and bool(ok) and p99 <= budget_ms)


async def calls_per_worker(url: str, headers: dict, body: dict, ladder: list[int], seconds: float, delay: float,
                           budget_ms: float = 100, words: int = 0) -> tuple[int, list[Step]]:
    """The largest C on the ladder that passed (climbing stops at the first that fails)."""
    best, steps = 0, []
    for calls in ladder:
        step = await run_step(url, headers, body, calls, seconds, delay, budget_ms, words=words)
        steps.append(step)
        print(f"  {calls} calls: {step.turns} turns, p50 {step.p50_ms:.1f} ms, p99 {step.p99_ms:.1f} ms, "
              f"{step.errors} errors -> {'pass' if step.passed else 'fail'}", flush=True)
        if not step.passed:
            break
        best = calls
    return best, steps
