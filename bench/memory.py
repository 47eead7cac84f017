"""Memory of one worker: its RSS idle, and its peak while it carries N concurrent streamed calls.

    python -m bench.memory                 # N = 200 (the calls per worker in BENCHMARKS.md)
    python -m bench.memory --n 300

Prints the gunicorn master's RSS, then the worker's.

The same set-up as bench.run (the Bedrock stand-in, gunicorn with one uvicorn worker on the bedrock
provider, default settings, SQLite): RSS after start-up, after a warm-up (plain and tool turns), and
the peak sampled every 50 ms while N Vapi-shaped turns stream at once, three rounds.
"""
import argparse
import asyncio

from bench.run import (API_KEY, BODY, TOOL_BODY, Processes, load_client, openai_stream, peak_rss_during, rss_mb, run_load,
                       standin_arguments, start_fintalk, start_standin)


async def measure(base: str, pid: int, n: int) -> dict:
    url = base + "/v1/chat/completions"
    headers = {"Authorization": f"Bearer {API_KEY}"}
    figures = {"after start-up": rss_mb(pid)}
    async with load_client(n) as client:
        await run_load(lambda: openai_stream(client, url, BODY, headers), 10, 2)
        await run_load(lambda: openai_stream(client, url, TOOL_BODY, headers), 10, 2)
        figures["after warm-up"] = rss_mb(pid)
        peak, (samples, _) = await peak_rss_during(pid, run_load(lambda: openai_stream(client, url, BODY, headers), n, 3))
    figures[f"peak with {n} concurrent streams"] = peak
    figures["after the load"] = rss_mb(pid)
    figures["errors"] = sum(1 for s in samples if s.error)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200)
    standin_arguments(parser)
    args = parser.parse_args()
    procs = Processes()
    try:
        url, pid = start_fintalk(procs, start_standin(procs, args))
        print(f"gunicorn master: {rss_mb(procs.procs[-1].pid):.1f} MB")
        for name, value in asyncio.run(measure(url, pid, args.n)).items():
            print(f"{name}: {value:.1f} MB" if name != "errors" else f"{name}: {value}")
    finally:
        procs.stop()


if __name__ == "__main__":
    main()
