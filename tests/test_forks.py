"""Where Fintalk forks a framework, an upgrade of that framework must be a conscious step.

Five modules copy or patch framework internals to save thread hops or CPU (see each one's docstring for
what to re-check). Each records the versions it was checked against and a hash of every upstream
function it copies; these tests fail when the installed package, the pin in requirements.txt or
one of those functions no longer matches, so a dependency bump cannot silently leave a stale copy.
"""
import hashlib
import importlib
import importlib.metadata
import inspect
import re

import pytest
from django.core.checks.security import base as security_checks

from tests.conftest import ROOT

FORKS = ("api.async_view", "fintalk.handler", "fintalk.checks", "fintalk.static_files", "agent.bedrock_body")


def requirement_pins() -> dict[str, str]:
    text = (ROOT / "requirements.txt").read_text()
    return {name.lower(): version for name, version in re.findall(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)", text, re.M)}


def source_hash(path: str) -> str:
    module_name, _, attributes = path.partition(":")
    target = importlib.import_module(module_name)
    for attribute in attributes.split("."):
        target = getattr(target, attribute)
    return hashlib.sha256(inspect.getsource(target).encode()).hexdigest()[:16]


@pytest.mark.parametrize("fork", FORKS)
def test_the_fork_was_checked_against_the_installed_and_pinned_versions(fork):
    module = importlib.import_module(fork)
    pins = requirement_pins()
    for package, checked in module.UPSTREAM_VERSIONS.items():
        installed = importlib.metadata.version(package)
        assert (installed, pins.get(package.lower())) == (checked, checked), (
            f"{fork} was checked against {package} {checked}, but {installed} is installed and "
            f"requirements.txt pins {pins.get(package.lower())}: re-check it as its docstring says, "
            f"then update UPSTREAM_VERSIONS and UPSTREAM_SOURCES there.")
        assert checked in module.__doc__, f"{fork}'s docstring should name the {package} version it copies ({checked})"


@pytest.mark.parametrize("fork", FORKS)
def test_the_upstream_code_the_fork_copies_is_unchanged(fork):
    module = importlib.import_module(fork)
    assert module.UPSTREAM_SOURCES
    changed = {path: source_hash(path) for path, recorded in module.UPSTREAM_SOURCES.items()
               if source_hash(path) != recorded}
    assert not changed, (f"upstream code that {fork} copies or patches changed: {changed}. Diff it against "
                         f"the fork, carry the change over, then record the new hashes.")


def test_every_deploy_check_that_looks_for_the_security_middleware_is_run_for_ours():
    """A Django upgrade that adds a settings check skipped without Django's middleware by name is
    caught: fintalk.checks must run it too, or `check --deploy` silently stops reporting it."""
    from fintalk.checks import SETTINGS_CHECKS

    consulting = {name for name, function in vars(security_checks).items()
                  if name.startswith("check_") and callable(function)
                  and re.search(r"_(security|xframe)_middleware\(\)", inspect.getsource(function))}
    # These two report that Django's middleware is missing by name: settings silence them (W001/W002).
    consulting -= {"check_security_middleware", "check_xframe_options_middleware"}
    assert consulting == {check.__name__ for check in SETTINGS_CHECKS}
