"""Deployment files stay true to the settings: no engine runs here, so the files are checked."""
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# Read by libraries rather than by fintalk/settings.py.
READ_ELSEWHERE = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",  # boto3
    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",  # boto3
    "WEB_CONCURRENCY", "GUNICORN_CMD_ARGS",  # gunicorn
    "PROMETHEUS_MULTIPROC_DIR",  # prometheus-client and docker-entrypoint.sh
    "POSTGRES_PASSWORD",  # docker compose's database service
}


def settings_variables() -> set[str]:
    source = (ROOT / "fintalk" / "settings.py").read_text()
    return set(re.findall(r'env_(?:str|bool|number|list)\(\s*"([A-Z0-9_]+)"', source)) | \
        set(re.findall(r'os\.environ\.get\(\s*"([A-Z0-9_]+)"', source))


def test_settings_variables_are_found():
    assert {"FINTALK_LLM", "DATABASE_URL", "DJANGO_SECRET_KEY", "FINTALK_API_KEYS"} <= settings_variables()


def test_compose_sets_exactly_what_the_settings_read():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    app_env = set(compose["services"]["app"]["environment"])
    assert app_env - settings_variables() <= READ_ELSEWHERE, app_env - settings_variables()
    assert settings_variables() - app_env == set(), "settings read variables compose does not set"


def test_compose_app_waits_for_healthy_postgres_with_a_named_volume():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"]["app"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert "healthcheck" in compose["services"]["db"] and "pgdata" in compose["volumes"]
    assert compose["services"]["app"]["environment"]["DATABASE_URL"].startswith("postgresql://")
    assert compose["services"]["app"]["environment"]["FINTALK_CACHE_URL"].startswith("redis://")


def test_env_example_lists_every_setting():
    listed = {line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines()
              if line and not line.startswith("#")}
    assert settings_variables() <= listed
    assert listed - settings_variables() <= READ_ELSEWHERE


def test_readme_configuration_table_documents_every_setting():
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in settings_variables() if f"`{name}`" not in readme]
    assert missing == []


def test_dockerfile_runs_the_documented_command_as_non_root():
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.M).group(1)
    command = " ".join(yaml.safe_load(cmd))
    assert command == "gunicorn fintalk.asgi:application -k uvicorn_worker.UvicornWorker"
    assert command in (ROOT / "README.md").read_text()
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M)
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.M)
    assert "migrate" in (ROOT / "docker-entrypoint.sh").read_text()


def test_requirements_are_pinned():
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / name).read_text().splitlines():
            if line and not line.startswith(("#", "-r")):
                assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[\w.]+", line), line
