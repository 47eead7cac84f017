"""A smoke-sized run of the failover benchmark (bench/failover.py), so that it cannot rot. Its numbers are not judged here."""
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e  # starts the stand-in and two servers


def test_failover_benchmark_smoke_run(tmp_path):
    out = tmp_path / "failover.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.failover", "--n", "2", "--rounds", "1", "--first-token-ms", "50",
         "--token-ms", "5", "--tokens", "10", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [row["target"] for row in rows] == ["fallback directly", "failover each turn", "cooling (skip)"]
    assert all(row["errors"] == 0 and row["ttft_p50"] > 0 for row in rows)
    assert "added TTFT p50 over the fallback's own" in result.stdout
