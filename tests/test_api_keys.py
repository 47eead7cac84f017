"""API keys operators manage: created once, stored hashed, used, listed, revoked."""
import hashlib
import subprocess
import sys

import httpx
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from api.models import ApiKey
from tests.conftest import API_KEY, ROOT, LiveServer


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


# --- Scopes: chat (Vapi and clients) and outbound (the bank's systems) ------------------------------

@pytest.mark.django_db
def test_create_api_key_takes_scopes_and_list_shows_them(capsys):
    call_command("create_api_key", "vapi")
    call_command("create_api_key", "fraud-engine", "--scope", "outbound")
    call_command("create_api_key", "both", "--scope", "outbound", "--scope", "chat")
    capsys.readouterr()
    assert dict(ApiKey.objects.values_list("name", "scopes")) == {
        "vapi": "chat", "fraud-engine": "outbound", "both": "chat outbound"}
    call_command("list_api_keys")
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split()[:3] == ["NAME", "PREFIX", "SCOPES"]
    rows = {line.split()[0]: line.split()[2] for line in listing[1:]}
    assert rows == {"vapi": "chat", "fraud-engine": "outbound", "both": "chat,outbound"}
    with pytest.raises(CommandError, match="invalid choice: 'admin'"):
        call_command("create_api_key", "nope", "--scope", "admin")
    assert not ApiKey.objects.filter(name="nope").exists()


def _jane_fraud_alert(server) -> dict:
    [(transaction, customer)] = server.sql("SELECT t.id, t.customer_id FROM bank_transaction t JOIN bank_customer c "
                                           "ON c.id = t.customer_id WHERE c.phone = '+15550100001' "
                                           "AND t.merchant = 'Electronics Hub'")
    return {"purpose": "fraud_alert", "customer": customer, "transaction": transaction}


def _refused_for_scope(response, scope: str) -> None:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["code"] == "insufficient_scope"
    assert f"'{scope}' scope" in error["message"] and f"--scope {scope}" in error["message"]


def test_a_chat_key_cannot_place_or_cancel_outbound_calls_and_an_outbound_key_cannot_chat(server):
    chat_key = server.manage("create_api_key", "scopes-vapi").strip()  # the default: chat only
    outbound_key = server.manage("create_api_key", "scopes-fraud-engine", "--scope", "outbound").strip()
    chat = {"messages": [{"role": "user", "content": "What loans do you have?"}], "stream": False}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        # The env key (FINTALK_API_KEYS) and an issued chat key: the chat API, never the bank's systems' API.
        for key in (API_KEY, chat_key):
            headers = {"Authorization": f"Bearer {key}"}
            assert http.get("/api/models", headers=headers).status_code == 200
            _refused_for_scope(http.post("/api/outbound/requests", json=_jane_fraud_alert(server), headers=headers),
                               "outbound")
            _refused_for_scope(http.get("/api/outbound/requests", headers=headers), "outbound")
        assert server.sql("SELECT COUNT(*) FROM outbound_outboundrequest") == [(0,)]  # nothing was placed
        # The bank's systems' key asks for a call and cancels it...
        bank = {"Authorization": f"Bearer {outbound_key}"}
        placed = http.post("/api/outbound/requests", json=_jane_fraud_alert(server), headers=bank)
        assert placed.status_code == 201, placed.text
        cancel = f"/api/outbound/requests/{placed.json()['id']}/cancel"
        _refused_for_scope(http.post(cancel, headers={"Authorization": f"Bearer {chat_key}"}), "outbound")
        assert server.sql("SELECT status FROM outbound_outboundrequest WHERE id = ?", placed.json()["id"]) != [
            ("cancelled",)]
        assert http.post(cancel, headers=bank).json()["status"] == "cancelled"
        # ...and cannot talk to the agent, nor open the Vapi events (they keep their own secret).
        _refused_for_scope(http.post("/api/chat/completions", json=chat, headers=bank), "chat")
        _refused_for_scope(http.get("/v1/models", headers=bank), "chat")
        for key in (outbound_key, chat_key, API_KEY):
            events = http.post("/api/vapi/events", json={"message": {"type": "status-update"}},
                               headers={"Authorization": f"Bearer {key}"})
            assert events.status_code in (401, 403) and "error" in events.json()
    server.sql("DELETE FROM outbound_outboundrequest")


def test_keys_issued_before_scopes_keep_chat_only(tmp_path):
    """The migration that adds scopes: a key already in the database works for chat as before, and
    gets a 403 on the outbound API."""
    key = "ftk_issued-before-scopes-existed"
    server = LiveServer(tmp_path, {"FINTALK_LLM": "demo"})
    try:
        server.manage("migrate", "--noinput", "-v0")
        server.manage("migrate", "api", "0002", "--noinput", "-v0")  # the schema before scopes
        server.sql("INSERT INTO api_apikey (name, prefix, key_hash, created_at) VALUES (?, ?, ?, ?)",
                   "vapi-production", key[:12], hashlib.sha256(key.encode()).hexdigest(), "2026-01-01 00:00:00")
        server.start()  # migrates to the newest schema first
        assert server.sql("SELECT scopes FROM api_apikey WHERE name = 'vapi-production'") == [("chat",)]
        headers = {"Authorization": f"Bearer {key}"}
        assert httpx.get(server.url + "/api/models", headers=headers).status_code == 200
        _refused_for_scope(httpx.get(server.url + "/api/outbound/requests", headers=headers), "outbound")
        assert "vapi-production" in server.manage("list_api_keys") and "chat" in server.manage("list_api_keys")
    finally:
        if server.process:
            server.stop()
        elif server.pg_database:
            server._pg_admin(f'DROP DATABASE IF EXISTS "{server.pg_database}" WITH (FORCE)')
