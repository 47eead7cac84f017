"""Production security: `check --deploy` with the README's settings, the headers and cookies a real
server sends with them, and pip-audit in CI."""
import os
import re
import secrets
import subprocess
import sys

import httpx
import pytest

from tests.conftest import API_KEY, ROOT, LiveServer


def readme_production_settings() -> dict[str, str]:
    """The variables of the README's "Production settings" block, with a fresh secret key."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"### Production settings\n.*?```console\n(.*?)```", readme, re.S)[1]
    found = dict(line.split("=", 1) for line in block.splitlines() if re.match(r"[A-Z_]+=", line))
    assert found["DJANGO_SECRET_KEY"].startswith("<")
    return {**found, "DJANGO_SECRET_KEY": secrets.token_urlsafe(50)}


def check_deploy(settings: dict[str, str]) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("DJANGO_", "FINTALK_"))}
    env.update(settings, DJANGO_SETTINGS_MODULE="fintalk.settings")
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_with_the_readme_production_settings():
    settings = readme_production_settings()
    assert {"DJANGO_DEBUG", "DJANGO_ALLOWED_HOSTS", "DJANGO_HTTPS"} <= set(settings)
    result = check_deploy(settings)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_still_checks_our_security_middleware():
    """Our SecurityMiddleware is a subclass Django's checks do not see: fintalk/checks.py runs them."""
    settings = readme_production_settings()
    del settings["DJANGO_HTTPS"]
    result = check_deploy(settings)
    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W010" in result.stderr  # no HSTS, no secure cookie


def test_every_silenced_check_says_why():
    from django.conf import settings

    comments = "\n".join(re.findall(r"^\s*#(.*)$", (ROOT / "fintalk" / "settings.py").read_text(), re.M))
    for check in settings.SILENCED_SYSTEM_CHECKS:
        assert re.search(rf"{re.escape(check)}\b", comments), f"{check} is silenced without a comment saying why"


PASSWORD = "s3cure-enough-for-a-test"


@pytest.fixture(scope="module")
def production_server(tmp_path_factory):
    settings = readme_production_settings()
    server = LiveServer(tmp_path_factory.mktemp("production"), {
        **settings, "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "DJANGO_CSRF_TRUSTED_ORIGINS": "",
        "FINTALK_CACHE_URL": "", "FINTALK_API_KEYS": API_KEY, "FINTALK_LLM": "demo",
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
    })
    server.manage("migrate", "--noinput", "-v0")
    server.manage("createsuperuser", "--noinput", "--username", "ops", "--email", "ops@example.com")
    server.start()
    yield server
    server.stop()


HTTPS = {"X-Forwarded-Proto": "https"}  # what the TLS-terminating proxy adds


def test_https_responses_carry_hsts_and_every_response_the_other_headers(production_server):
    auth = {"Authorization": f"Bearer {API_KEY}"}
    secure = httpx.get(production_server.url + "/api/models", headers={**auth, **HTTPS})
    plain = httpx.get(production_server.url + "/api/models", headers=auth)  # a probe inside the cluster
    assert secure.status_code == plain.status_code == 200  # no redirect: the proxy does that
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in plain.headers
    for response in (secure, plain):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Frame-Options"] == "DENY"


def cookie(response, name: str) -> str:
    return next(header for header in response.headers.get_list("set-cookie") if header.startswith(name + "="))


def test_the_consoles_cookies_are_secure_and_httponly(production_server):
    url = production_server.url
    page = httpx.get(url + "/admin/login/", headers=HTTPS)
    assert page.status_code == 200 and page.headers["X-Frame-Options"] == "DENY"
    csrf = cookie(page, "csrftoken")
    assert "; Secure" in csrf and "; HttpOnly" in csrf
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    origin = "https://" + url.removeprefix("http://")
    signed_in = httpx.post(url + "/admin/login/", data={"username": "ops", "password": PASSWORD,
                                                        "csrfmiddlewaretoken": token, "next": "/admin/"},
                           headers={**HTTPS, "Origin": origin, "Referer": origin + "/admin/login/",
                                    "Cookie": csrf.split(";", 1)[0]})
    assert signed_in.status_code == 302, signed_in.text[:500]
    session = cookie(signed_in, "sessionid")
    assert "; Secure" in session and "; HttpOnly" in session


def test_ci_runs_pip_audit_against_the_runtime_requirements():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"pip-audit .*-r requirements\.txt", ci)
    assert re.search(r"^pip-audit==", (ROOT / "requirements-dev.txt").read_text(), re.M)
    for line in (ROOT / ".ci" / "pip-audit-ignore.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            vulnerability, _, reason = line.partition(" ")
            assert reason.strip(), f"{vulnerability} is accepted without a reason"
