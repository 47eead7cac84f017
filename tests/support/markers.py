"""Markers the suite applies by itself, from what a test uses, so that none is forgotten.

- `e2e`: the test starts servers (a gunicorn LiveServer: the `server`, `demo_server`,
  `voice_server` fixtures or any fixture or test that builds a `LiveServer`; the proxy stack;
  a module that says so, like the benchmark's). `pytest -m "not e2e"` is the fast inner loop.
- `proxy`: the test runs nginx in front of replicas (tests/proxy_stack.py).
- `browser`: the test drives a browser (selenium).

A test is judged by its own source and the sources of every fixture it requests, directly or
through other fixtures. A test module may also set the markers itself (`pytestmark`).
Registered from tests/conftest.py (`pytest_plugins`); the markers are declared in pytest.ini.
"""
import functools
import inspect

import pytest

SERVER_FIXTURES = frozenset({"server", "demo_server", "voice_server"})
E2E_CODE = ("LiveServer(", "start_replicas(", "NginxProxy(")
PROXY_CODE = ("NginxProxy(", "start_replicas(")
BROWSER_CODE = ("webdriver",)


@functools.cache
def _source(function) -> str:
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return ""


def _code_used_by(item: pytest.Function) -> str:
    functions = [item.function]
    for definitions in item._fixtureinfo.name2fixturedefs.values():
        functions.extend(definition.func for definition in definitions)
    return "\n".join(_source(function) for function in functions)


def markers_for(item: pytest.Function) -> set[str]:
    code = _code_used_by(item)
    found = set()
    if SERVER_FIXTURES & set(item.fixturenames) or any(marker in code for marker in E2E_CODE):
        found.add("e2e")
    if any(marker in code for marker in PROXY_CODE):
        found |= {"proxy", "e2e"}
    if any(marker in code for marker in BROWSER_CODE):
        found.add("browser")
    return found


def pytest_collection_modifyitems(config, items):
    for item in items:
        if isinstance(item, pytest.Function):
            for name in sorted(markers_for(item) - {mark.name for mark in item.iter_markers()}):
                item.add_marker(name)
