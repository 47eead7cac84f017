"""Every example in README.md and VAPI_INTEGRATION.md runs, against a real demo server.

Runnable examples are the ```bash and ```python blocks (```console blocks show commands this
machine cannot run: Docker, real AWS). Blocks that install (`pip install`) are the setup and
test commands themselves, which CI runs as they are. `http://127.0.0.1:8000` and
`$FINTALK_URL` point at the test server; `python` is this interpreter.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import API_KEY, ROOT, LiveServer

DOCS = ("README.md", "VAPI_INTEGRATION.md")


def blocks(language: str):
    for doc in DOCS:
        text = (ROOT / doc).read_text()
        for number, match in enumerate(re.finditer(rf"```{language}\n(.*?)```", text, re.S)):
            code = match.group(1)
            if "pip install" not in code:
                yield pytest.param(code, id=f"{doc}-{language}-{number}")


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("docs"), {"FINTALK_LLM": "demo", "FINTALK_AUTH": "disabled"}).start()
    yield server
    server.stop()


@pytest.mark.parametrize("code", list(blocks("bash")))
def test_bash_examples_run(docs_server, code):
    env = {**docs_server.env, "FINTALK_URL": docs_server.url, "FINTALK_API_KEY": API_KEY,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    script = "set -euo pipefail\n" + code.replace("http://127.0.0.1:8000", docs_server.url)
    result = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() and '"error"' not in result.stdout, result.stdout


@pytest.mark.parametrize("code", list(blocks("python")))
def test_python_examples_run(docs_server, code, capsys):
    exec(compile(code.replace("http://127.0.0.1:8000", docs_server.url), "<doc>", "exec"), {})
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
