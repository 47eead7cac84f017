"""API keys that operators manage with `create_api_key`, `list_api_keys` and `revoke_api_key` (or the admin).

Only a sha256 digest of each key is stored (keys are 256-bit random, so a fast hash is enough and
keeps per-request checks cheap); the key itself is shown once, when it is created.

A key has scopes: what it may be used for (`SCOPES`). `chat` is the OpenAI-compatible API that
Vapi and other clients talk to; `outbound` is the bank's systems' API (ask for, read and cancel
outbound calls). A key holds only the scopes it was issued with, so the key given to Vapi cannot
place calls. Keys issued before scopes existed kept `chat` only (migration 0003).
"""
import hashlib
import secrets

from django.db import models
from django.utils import timezone

KEY_PREFIX = "ftk_"
CHAT, OUTBOUND = "chat", "outbound"
SCOPES = {
    CHAT: "the OpenAI-compatible API: chat completions, responses, completions, embeddings, models",
    OUTBOUND: "the bank's systems: ask for, read and cancel outbound calls (/api/outbound/)",
}


def parse_scopes(scopes) -> str:
    """Scopes as stored (space-separated, in SCOPES' order); ValueError naming an unknown one."""
    wanted = set(scopes.split() if isinstance(scopes, str) else scopes)
    if unknown := sorted(wanted - set(SCOPES)):
        raise ValueError(f"Unknown scope '{unknown[0]}'; the scopes are: {', '.join(SCOPES)}.")
    if not wanted:
        raise ValueError(f"A key needs at least one scope: {', '.join(SCOPES)}.")
    return " ".join(scope for scope in SCOPES if scope in wanted)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKey(models.Model):
    name = models.CharField(max_length=100, unique=True)
    prefix = models.CharField(max_length=16, help_text="The key's first characters, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    scopes = models.CharField(max_length=100, default=CHAT,
                              help_text="What the key may be used for, space-separated: " + ", ".join(SCOPES) + ".")

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.name} ({self.prefix}...)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def set_new_key(self) -> str:
        """Give this (unsaved) row a fresh key; returns the only copy of the secret."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        self.prefix, self.key_hash = key[:12], hash_key(key)
        return key

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())

    @classmethod
    def issue(cls, name: str, scopes=(CHAT,)) -> tuple["ApiKey", str]:
        """Create a key with its scopes (ValueError for an unknown one); returns the row and the only
        copy of the secret."""
        api_key = cls(name=name, scopes=parse_scopes(scopes))
        key = api_key.set_new_key()
        api_key.save()
        return api_key, key

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
