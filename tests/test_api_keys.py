"""API keys operators manage: created once, stored hashed, used, listed, revoked."""
import hashlib
import subprocess
import sys

import httpx
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from api.models import ApiKey
from tests.conftest import ROOT


@pytest.mark.django_db
def test_create_stores_only_a_digest(capsys):
    call_command("create_api_key", "vapi-prod")
    key = capsys.readouterr().out.strip()
    stored = ApiKey.objects.get(name="vapi-prod")
    assert key.startswith("ftk_") and len(key) > 40
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest() and key not in str(stored.__dict__)
    assert stored.prefix == key[:12]
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_api_key", "vapi-prod")


@pytest.mark.django_db
def test_list_and_revoke(capsys):
    call_command("create_api_key", "one")
    key = capsys.readouterr().out.strip()
    call_command("list_api_keys")
    listing = capsys.readouterr().out
    assert "one" in listing and "active" in listing and key not in listing
    call_command("revoke_api_key", "one")
    assert ApiKey.objects.get(name="one").revoked_at is not None
    call_command("list_api_keys")
    assert "revoked" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No API key named"):
        call_command("revoke_api_key", "nope")


def test_issued_key_works_against_the_server_until_revoked(server):
    key = server.manage("create_api_key", "e2e-client").strip()
    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.get(server.url + "/api/models", headers=headers).status_code == 200
    assert server.sql("SELECT last_used_at FROM api_apikey WHERE name = ?", "e2e-client")[0][0] is not None
    assert "e2e-client" in server.manage("list_api_keys")
    server.manage("revoke_api_key", "e2e-client")
    response = httpx.get(server.url + "/api/models", headers=headers)
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"


def test_create_api_key_prints_only_the_key_on_stdout():
    result = subprocess.run([sys.executable, "manage.py", "help", "create_api_key"], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    assert "printed once" in result.stdout
