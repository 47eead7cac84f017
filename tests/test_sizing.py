"""The README's sizing states BENCHMARKS.md's figures, and its arithmetic follows from them.

Each figure is read from BENCHMARKS.md's own tables (calls per worker, CPU per turn, the burst
rows, memory), then looked for, formatted the README's way, in the README's sizing section; the
derived numbers (calls per pod, pods for the example, busy cores, memory per pod) are computed
from them and from the manifests' WEB_CONCURRENCY and must be the ones the README states.
"""
import math
import re

import yaml

from tests.conftest import ROOT

BENCHMARKS = (ROOT / "BENCHMARKS.md").read_text()
README = (ROOT / "README.md").read_text()
SIZING = README[README.index("### Sizing: workers per pod"):README.index("## Troubleshooting")]


def row(table_start: str, first_cells: tuple[str, ...]) -> list[str]:
    """The cells of the first row after `table_start` whose leading cells are `first_cells`."""
    text = BENCHMARKS[BENCHMARKS.index(table_start):]
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if tuple(cells[:len(first_cells)]) == first_cells:
            return cells
    raise AssertionError(f"no row {first_cells} after {table_start!r} in BENCHMARKS.md")


def figures() -> dict:
    ladder_header = row("### Calls per worker", ("target",))
    fintalk = row("### Calls per worker", ("fintalk",))
    calls = int(fintalk[-2].strip("*"))
    column = next(i for i, cell in enumerate(ladder_header) if cell.split()[0] == str(calls))
    p99 = lambda cell: float(cell.split("/")[-1].replace("ms", "").strip(" *"))  # noqa: E731
    burst = {n: [float(x) / 1000 for x in row("### A plain streamed turn", ("fintalk (full agent)", str(n)))[2].split("/")]
             for n in (100, 300)}
    memory = lambda name: int(row("### Memory per worker", (name,))[1].split()[0])  # noqa: E731
    return {
        "calls": calls,
        "p99_at_calls": p99(fintalk[column]),
        "p99_next": p99(fintalk[column + 1]),
        "next_calls": int(ladder_header[column + 1].split()[0]),
        "cpu_ms": float(fintalk[-1].split()[0]),
        "burst": burst,
        "master_mb": memory("gunicorn master"),
        "warm_mb": memory("worker after a warm-up (plain and tool turns)"),
        "peak_mb": memory(f"worker, peak with {calls} concurrent streams (three rounds)"),
        "interval": [int(x) for x in re.search(r"turn \(with the growing history of its call\) (\d)-(\d) s",
                                                 BENCHMARKS.replace("\n", " ")).groups()],
    }


def workers_per_pod() -> int:
    configmap = yaml.safe_load((ROOT / "deploy" / "kubernetes" / "configmap.yaml").read_text())
    return int(configmap["data"]["WEB_CONCURRENCY"])


def test_the_readme_states_the_benchmarks_figures():
    f = figures()
    assert f"**{f['calls']}** (p99 {f['p99_at_calls']:.1f} ms; {f['next_calls']} went to {f['p99_next']:.1f} ms)" in SIZING
    assert f"| CPU per turn over that ladder | {f['cpu_ms']:.1f} ms |" in SIZING
    assert (f"worker {f['warm_mb']} MB warm, {f['peak_mb']} MB at its peak with {f['calls']} concurrent streams; "
            f"gunicorn master {f['master_mb']} MB") in SIZING
    (p50_100, _, p99_100), (p50_300, _, p99_300) = f["burst"][100], f["burst"][300]
    assert (f"100 turns: p50 {p50_100 * 1000:.0f} ms, p99 {p99_100 * 1000:.0f} ms; 300 turns: p50 {p50_300 * 1000:.0f} ms, "
            f"p99 {p99_300 * 1000:.0f} ms") in SIZING
    assert f"each sending a turn {f['interval'][0]}-{f['interval'][1]} s after the last" in SIZING


def test_the_readme_sizing_arithmetic_follows_from_them():
    f, workers = figures(), workers_per_pod()
    per_pod = f["calls"] * workers
    mean_interval = sum(f["interval"]) / 2
    turns = per_pod / mean_interval
    assert f"= {f['calls']} x {workers} workers = **{per_pod}**" in SIZING
    assert f"a turn every {mean_interval:g} s per call" in SIZING
    assert f"{turns:g} x {f['cpu_ms']:.1f} ms = {turns * f['cpu_ms'] / 1000:g} busy cores of the pod's {workers}" in SIZING
    assert f"{turns * f['cpu_ms'] / 1000 / workers:.0%}" in SIZING

    example = 1000
    pods = math.ceil(example / per_pod) + 1
    example_turns = example / mean_interval
    assert f"1,000 concurrent calls\n   / {per_pod} = {example / per_pod:g}, so {math.ceil(example / per_pod)}, plus one: " \
           f"**{pods} pods** ({pods * workers} workers)" in SIZING
    assert f"{example_turns:g} x {f['cpu_ms']:.1f} ms = {example_turns * f['cpu_ms'] / 1000:g} busy cores of {pods * workers}" \
        in SIZING.replace("\n   ", " ")

    pod_mb = f["master_mb"] + workers * f["peak_mb"]
    assert f"{f['master_mb']} MB + {workers} x {f['peak_mb']} MB = {pod_mb} MB" in SIZING
    deployment = (ROOT / "deploy" / "kubernetes" / "deployment.yaml").read_text()
    assert "memory: 512Mi" in deployment and pod_mb < 512 * 1.048576  # the request holds a pod at its peak


def test_the_worker_count_the_readme_states_is_the_one_deployments_get():
    workers = workers_per_pod()
    assert f"`WEB_CONCURRENCY={workers}` with `cpu: \"{workers}\"`" in SIZING
    assert f"WEB_CONCURRENCY={workers}" in (ROOT / "Dockerfile").read_text()
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"]["app"]["environment"]["WEB_CONCURRENCY"] == f"${{WEB_CONCURRENCY:-{workers}}}"
    # Without WEB_CONCURRENCY gunicorn runs one worker: the README's own commands run one.
    assert "gunicorn's own default, which the commands\n   above use, is one worker" in SIZING
    assert "1 worker (gunicorn's default, the commands above)" in README
