"""CPU per turn before and after a change, measured in the same minutes: `bench.turn_cpu` on two trees.

    python -m bench.compare --before HEAD~1              # plain turns, 3 runs of each, alternating
    python -m bench.compare --before 2771a18 --tool --repeat 5

The `--before` commit is exported (`git archive`) to a temporary folder and given this tree's
bench/ and Bedrock stand-in (the same harness), then `bench.turn_cpu --no-profile` runs in it and in this tree in
turn (before, after, before, after, ...), so that a busy machine slows both alike. Prints each
run's figure and the median of each side: on a machine shared with other work, the ratio of the
medians is the figure to trust, not either absolute.
"""
import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURE = re.compile(r"([\d.]+) ms CPU per turn without the profiler")


def export(ref: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="fintalk-before-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    shutil.rmtree(folder / "bench")
    shutil.copytree(ROOT / "bench", folder / "bench", ignore=shutil.ignore_patterns(".*venv*", "__pycache__"))
    shutil.copy(ROOT / "tests" / "bedrock_standin.py", folder / "tests" / "bedrock_standin.py")  # the harness's too
    return folder


def turn_cpu(tree: Path, options: list[str]) -> float:
    out = subprocess.run([sys.executable, "-m", "bench.turn_cpu", "--no-profile", *options], cwd=tree,
                         capture_output=True, text=True, timeout=600)
    found = FIGURE.search(out.stdout)
    if not found:
        raise SystemExit(f"bench.turn_cpu in {tree} printed no figure:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the commit to compare this tree with")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--tool", action="store_true")
    parser.add_argument("--balance", action="store_true")
    parser.add_argument("--words", type=int, default=40)
    args = parser.parse_args()
    options = ["--turns", str(args.turns), "--words", str(args.words)] + ["--tool"] * args.tool + ["--balance"] * args.balance
    before_tree = export(args.before)
    try:
        before, after = [], []
        for run in range(args.repeat):
            before.append(turn_cpu(before_tree, options))
            after.append(turn_cpu(ROOT, options))
            print(f"run {run + 1}: before {before[-1]:.2f} ms, after {after[-1]:.2f} ms", flush=True)
    finally:
        shutil.rmtree(before_tree, ignore_errors=True)
    b, a = statistics.median(before), statistics.median(after)
    print(f"\n| turn | before ({args.before}) | after | after / before |\n|---|---|---|---|\n"
          f"| {'tool' if args.tool else 'balance' if args.balance else 'plain'} | {min(before):.2f}-{max(before):.2f} "
          f"(median {b:.2f}) ms | {min(after):.2f}-{max(after):.2f} (median {a:.2f}) ms | {a / b:.2f} |")


if __name__ == "__main__":
    main()
