"""What a failover before the first word adds to the time to first token, against the fallback's own.

    python -m bench.failover                  # N = 1 and 10, ~30 turns each
    python -m bench.failover --n 2 --rounds 1 # the smoke run the test suite does

The Bedrock stand-in throttles one model id (ThrottlingException, HTTP 429, as Bedrock answers at
peak hours) and answers every other one after --first-token-ms. Fintalk offers both and falls back
from the throttled one to the healthy one (BEDROCK_FALLBACK_MODEL_IDS). Three targets, the same
Vapi-shaped streaming body but for `model`:
- fallback directly: the healthy model asked for by name (the fallback's own TTFT);
- failover each turn: the throttled model asked for, with BEDROCK_FAILOVER_COOLDOWN_SECONDS=0, so
  every turn pays the failed attempt and the switch;
- cooling (skip): the throttled model asked for with the default cooldown: after the first turn,
  turns skip it (one cache read).
The failover's cost is its added TTFT minus the fallback's own; the target is under 50 ms.
"""
import argparse
import asyncio
import json
import sys
from pathlib import Path

from bench.run import BODY, Processes, free_port, measure_server, rounds_for, standin_arguments, table, wait_for

THROTTLED = "amazon.nova-micro-v1:0"
FALLBACK = "amazon.nova-lite-v1:0"


def start_standin(procs: Processes, args) -> str:
    port = free_port()
    procs.start([sys.executable, "-m", "tests.bedrock_standin", "--port", str(port), "--first-token-ms",
                 str(args.first_token_ms), "--token-ms", str(args.token_ms), "--tokens", str(args.tokens),
                 "--throttle-model", THROTTLED], {}, "standin.log")
    url = f"http://127.0.0.1:{port}"
    wait_for(url + "/")
    return url


async def main_async(args) -> dict:
    from bench.run import start_fintalk

    procs = Processes()
    delay = args.first_token_ms / 1000
    stream_time = delay + args.token_ms / 1000 * (args.tokens - 1)
    report = {"settings": vars(args), "rows": []}
    models = {"BEDROCK_MODEL_IDS": f"{FALLBACK},{THROTTLED}", "BEDROCK_FALLBACK_MODEL_IDS": FALLBACK}
    try:
        standin = start_standin(procs, args)
        every_turn = start_fintalk(procs, standin, extra_env={**models, "BEDROCK_FAILOVER_COOLDOWN_SECONDS": "0"})
        cooling = start_fintalk(procs, standin, extra_env=models)
        targets = [("fallback directly", every_turn, FALLBACK), ("failover each turn", every_turn, THROTTLED),
                   ("cooling (skip)", cooling, THROTTLED)]
        for n in args.n:
            rounds = rounds_for(n, args.rounds)
            rows = []
            for name, (url, pid), model in targets:
                result = await measure_server(name, url + "/v1/chat/completions", pid, {**BODY, "model": model},
                                              n, rounds)
                rows.append(result.row(delay, stream_time))
            direct = rows[0]["ttft_p50"]
            for row in rows:
                row["over_fallback_p50"] = row["ttft_p50"] - direct
            report["rows"] += rows
            print(table(rows), flush=True)
            print("added TTFT p50 over the fallback's own: " + ", ".join(
                f"{row['target']} {row['over_fallback_p50']:+.1f} ms" for row in rows[1:]) + "\n", flush=True)
    finally:
        procs.stop()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=lambda s: [int(x) for x in s.split(",")], default=[1, 10])
    parser.add_argument("--rounds", type=int, help="rounds per N (default: enough for ~30 turns)")
    standin_arguments(parser)
    parser.add_argument("--json", type=Path, help="write the raw report here")
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
