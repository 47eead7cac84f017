"""The peers `bench.run --peer` compares Fintalk with, each in a venv of its own.

- `litellm`: LiteLLM's proxy (`litellm[proxy]`, the pin on requirements-bench.txt's `# peer:` line),
  in bench/.peer-venv.
- `bag`: aws-samples/bedrock-access-gateway at the commit on requirements-bench.txt's
  `# peer bag:` line, from a checkout outside this repository (`--peer-src`; its code is never
  copied here), its own `src/requirements.txt` installed in bench/.bag-venv, started as its
  Dockerfile starts it (`uvicorn api.app:app`, one process) by `bench/bag_launch.py`, which swaps
  its tokenizer's encoder for a word splitter so that nothing is downloaded.

Each start function returns `(base, pid)`: `base + "/v1/chat/completions"` is its chat endpoint and
`pid` the process whose CPU is the peer's, or None when the peer did not come up (its log is shown).
"""
import json
import subprocess
import sys
from pathlib import Path

from bench.run import MODEL, ROOT, Processes, children, free_port, wait_for


def _pin(prefix: str) -> str:
    """A peer's pin, from requirements-bench.txt (one place for every bench pin)."""
    lines = (ROOT / "requirements-bench.txt").read_text().splitlines()
    return next(line.split(":", 1)[1].strip() for line in lines if line.startswith(prefix))


def peer_requirement() -> str:
    return _pin("# peer:")


def bag_commit() -> str:
    return _pin("# peer bag:").rsplit("@", 1)[1]


def _venv(name: str, requirements: list[str]) -> Path:
    venv = ROOT / "bench" / name
    if not (venv / ".installed").exists():
        print(f"installing {' '.join(requirements)} into bench/{name} (once) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *requirements], check=True)
        (venv / ".installed").write_text(" ".join(requirements) + "\n")
    return venv


def _up(procs: Processes, url: str, health: str, log: str, master) -> tuple[str, int] | None:
    try:
        wait_for(url + health, timeout=120)
    except RuntimeError:
        print((procs.tmp / log).read_text()[-3000:])
        return None
    pids = children(master.pid)
    return url, (pids[0] if pids else master.pid)


def start_litellm(procs: Processes, standin: str) -> tuple[str, int] | None:
    venv = ROOT / "bench" / ".peer-venv"
    if not (venv / "bin" / "litellm").exists():
        venv = _venv(".peer-venv", [peer_requirement()])
    config = procs.tmp / "litellm.yaml"
    config.write_text(json.dumps({"model_list": [{"model_name": MODEL, "litellm_params": {
        "model": f"bedrock/converse/{MODEL}", "aws_bedrock_runtime_endpoint": standin,
        "aws_access_key_id": "bench", "aws_secret_access_key": "bench", "aws_region_name": "us-east-1"}}]}))
    port = free_port()
    master = procs.start([str(venv / "bin" / "litellm"), "--config", str(config), "--port", str(port),
                          "--host", "127.0.0.1", "--num_workers", "1"],
                         {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}, "litellm.log")
    return _up(procs, f"http://127.0.0.1:{port}", "/health/liveliness", "litellm.log", master)


def check_bag_source(src: Path) -> None:
    """The checkout must be at the pinned commit, so that every run measures the same gateway."""
    if not (src / "src" / "api" / "app.py").exists():
        raise SystemExit(f"--peer-src {src}: no src/api/app.py; give a checkout of aws-samples/bedrock-access-gateway")
    head = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    if head != bag_commit():
        raise SystemExit(f"--peer-src {src} is at {head or 'no git commit'}; check out {bag_commit()} "
                         "(the pin in requirements-bench.txt)")


def start_bag(procs: Processes, standin: str, src: Path) -> tuple[str, int] | None:
    check_bag_source(src)
    venv = _venv(".bag-venv", ["-r", str(src / "src" / "requirements.txt")])
    port = free_port()
    env = {"API_KEY": "sk-bench", "DEFAULT_MODEL": MODEL, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
           # botocore's per-service endpoints: the runtime calls and the model listing at import both
           # reach the stand-in (which has no listing: the gateway then offers DEFAULT_MODEL, as it
           # does when its listing fails in AWS).
           "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin, "AWS_ENDPOINT_URL_BEDROCK": standin}
    master = procs.start([str(venv / "bin" / "python"), str(ROOT / "bench" / "bag_launch.py"), "--src", str(src),
                          "--port", str(port)], env, "bag.log", cwd=src / "src")
    up = _up(procs, f"http://127.0.0.1:{port}", "/health", "bag.log", master)
    return (up[0] + "/api", up[1]) if up else None  # its routes are under API_ROUTE_PREFIX, /api/v1
