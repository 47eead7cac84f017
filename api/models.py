"""API keys that operators manage with `create_api_key`, `list_api_keys` and `revoke_api_key` (or the admin).

Only a sha256 digest of each key is stored (keys are 256-bit random, so a fast hash is enough and
keeps per-request checks cheap); the key itself is shown once, when it is created.
"""
import hashlib
import secrets

from django.db import models
from django.utils import timezone

KEY_PREFIX = "ftk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKey(models.Model):
    name = models.CharField(max_length=100, unique=True)
    prefix = models.CharField(max_length=16, help_text="The key's first characters, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

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

    @classmethod
    def issue(cls, name: str) -> tuple["ApiKey", str]:
        """Create a key; returns the row and the only copy of the secret."""
        api_key = cls(name=name)
        key = api_key.set_new_key()
        api_key.save()
        return api_key, key

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
