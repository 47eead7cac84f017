"""A smoke-sized run of the benchmark (N = 5), so that it cannot rot. Its numbers are not judged here."""
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

# It starts the stand-in and gunicorn through bench.run, and may take its subprocess's 300 s.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(360)]


def test_benchmark_smoke_run(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--n", "5", "--tool-n", "5", "--rounds", "1",
         "--first-token-ms", "50", "--token-ms", "5", "--tokens", "10", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    targets = {row["target"] for row in report["plain"]}
    assert targets == {"floor: aiohttp", "floor: aiobotocore", "floor: aiobotocore, Fintalk's request",
                       "fintalk (full agent)"}
    assert all(row["errors"] == 0 for row in report["plain"] + report["tool"])
    fintalk = next(row for row in report["plain"] if row["target"].startswith("fintalk"))
    assert fintalk["cpu_ms"] > 0 and fintalk["ttft_p50"] > 0
    assert "| fintalk (full agent) | 5 |" in result.stdout
    # the same-request floor sent what Fintalk sends: the agent's prompt and its tools, not a bare "hi"
    same = next(row for row in report["plain"] if row["target"] == "floor: aiobotocore, Fintalk's request")
    assert same["errors"] == 0 and same["ttft_p50"] > 0
    assert report["same_request"]["tool_specs"] >= 10 and report["same_request"]["bytes"] > 5000
