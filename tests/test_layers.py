"""The apps' layers (.importlinter, README "Layout") hold: `lint-imports` keeps them on this tree and
fails on a tree with one upward import added (bank importing the API)."""
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("fintalk", "rehearse", "console", "api", "demo", "agent", "outbound", "calls", "bank", "core")
LINT = Path(sys.executable).with_name("lint-imports")


def lint(where: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT)], cwd=where, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(where), "PATH": "/usr/bin:/bin"})


def test_the_layers_hold_on_this_tree():
    checked = lint(ROOT)
    assert checked.returncode == 0, checked.stdout[-2000:]
    assert "Contracts: 1 kept, 0 broken." in checked.stdout


def test_an_upward_import_breaks_the_build(tmp_path):
    for app in APPS:
        shutil.copytree(ROOT / app, tmp_path / app, ignore=shutil.ignore_patterns("__pycache__", "migrations"))
    shutil.copy(ROOT / ".importlinter", tmp_path)
    (tmp_path / "bank" / "upward.py").write_text("from api import protocol  # the bank must never know the API\n")
    checked = lint(tmp_path)
    assert checked.returncode == 1
    assert "bank is not allowed to import api" in checked.stdout
    assert "bank.upward -> api.protocol" in checked.stdout
