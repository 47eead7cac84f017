"""Every example in README.md and VAPI_INTEGRATION.md runs, against a real demo server.

Runnable examples are the ```bash and ```python blocks (```console blocks show commands this
machine cannot run: Docker, real AWS). Blocks that install (`pip install`) are the setup and
test commands themselves, which CI runs as they are. `http://127.0.0.1:8000` (the first command's
server), `:8001` (the phone line's) and `$FINTALK_URL` point at the test server; `python` is this
interpreter.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import API_KEY, ROOT, LiveServer

DOCS = ("README.md", "VAPI_INTEGRATION.md")
LOCAL = re.compile(r"http://127\.0\.0\.1:800[01]")


def on(server, code: str) -> str:
    return LOCAL.sub(server.url, code)


def blocks(language: str):
    for doc in DOCS:
        text = (ROOT / doc).read_text()
        for number, match in enumerate(re.finditer(rf"```{language}\n(.*?)```", text, re.S)):
            code = match.group(1)
            if "pip install" not in code:
                yield pytest.param(code, id=f"{doc}-{language}-{number}")


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory):
    """The README's demo server: the demo model, no keys, codes written to a file the examples read."""
    tmp = tmp_path_factory.mktemp("docs")
    sms = str(tmp / "sms.log")
    server = LiveServer(tmp, {"FINTALK_LLM": "demo", "FINTALK_AUTH": "disabled", "FINTALK_SMS_BACKEND": "file",
                              "FINTALK_SMS_FILE_PATH": sms}).start()
    previous = os.environ.get("FINTALK_SMS_FILE_PATH")
    os.environ["FINTALK_SMS_FILE_PATH"] = sms  # the python examples run in this process
    yield server
    if previous is None:
        del os.environ["FINTALK_SMS_FILE_PATH"]
    else:
        os.environ["FINTALK_SMS_FILE_PATH"] = previous
    server.stop()


@pytest.mark.parametrize("code", list(blocks("bash")))
def test_bash_examples_run(docs_server, code):
    env = {**docs_server.env, "FINTALK_URL": docs_server.url, "FINTALK_API_KEY": API_KEY,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    script = "set -euo pipefail\n" + on(docs_server, code)
    result = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() and '"error"' not in result.stdout, result.stdout


@pytest.mark.parametrize("code", list(blocks("python")))
def test_python_examples_run(docs_server, code, capsys):
    exec(compile(on(docs_server, code), "<doc>", "exec"), {})
    assert capsys.readouterr().out.strip()


def test_every_example_request_body_is_answered(docs_server):
    import json

    import httpx

    examples = json.loads((ROOT / "example_requests.json").read_text())
    assert {"openai_non_streaming", "openai_streaming", "vapi_streaming", "phone_tag"} <= set(examples)
    for name, example in examples.items():
        response = httpx.post(docs_server.url + example["path"], json=example["body"], timeout=30)
        assert response.status_code == 200, (name, response.text)
        if "check" in example:
            assert eval(example["check"], {"json": json, "j": response.json()}), (name, response.text)


def test_the_readme_layout_names_every_top_level_folder_and_app_module():
    """The README's "Layout" is a newcomer's map: a folder or a module of an app it does not name
    (a new app, a new module in fintalk/, api/ or agent/) means the map is out of date."""
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout"):].split("\n## ", 1)[0]
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout: the tracked files are unknown")
    folders = {path.split("/")[0] for path in tracked if "/" in path and not path.startswith(".")}
    missing = sorted(f"{folder}/" for folder in folders if f"`{folder}/`" not in layout)
    for app in ("fintalk", "api", "agent"):
        modules = {Path(path).name for path in tracked if re.fullmatch(rf"{app}/[a-z_]+\.(py|txt)", path)}
        missing += sorted(f"{app}/{name}" for name in modules - {"__init__.py", "apps.py", "admin.py", "urls.py",
                                                                     "wsgi.py", "settings.py", "asgi.py", "models.py"}
                          if f"`{name}`" not in layout)
    assert not missing, f"README.md's Layout does not mention: {missing}"


def test_the_phone_line_example_runs_again_without_reading_a_stale_code(docs_server, capsys):
    """Run twice, as a newcomer does: the second run reads the code sent to it, not the first run's
    (which would be a wrong code, counted towards the lockout)."""
    [code] = [code.values[0] for code in blocks("python") if "User's Keypad Entry" in code.values[0]]
    for _ in range(2):
        exec(compile(on(docs_server, code), "<doc>", "exec"), {})
    printed = capsys.readouterr().out
    assert printed.count("I've sent a six-digit code") == 2, printed  # each run is a call of its own
    assert printed.count("Your checking account ending in 1234 has") == 2, printed  # verified by the new code
    assert "verify_code:wrong" not in docs_server.logs() and "verify_code:locked_out" not in docs_server.logs()
