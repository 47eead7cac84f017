"""Draws a benchmark report: added time to first token (p50) against concurrent turns, per target."""
from pathlib import Path


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: write the file
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5), dpi=120)
    targets = list(dict.fromkeys(row["target"] for row in report["plain"]))
    for target in targets:
        rows = sorted((row for row in report["plain"] if row["target"] == target), key=lambda row: row["n"])
        axis.plot([row["n"] for row in rows], [max(row["ttft_p50"], 0.1) for row in rows], marker="o", label=target)
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("concurrent streamed turns (N), one worker")
    axis.set_ylabel("added time to first token, p50 (ms)")
    axis.set_title("Plain streamed turn: what each target adds to the model's first token")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path)
