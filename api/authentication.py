"""Bearer API keys: `Authorization: Bearer <key>`, on by default.

Two sources: FINTALK_API_KEYS (environment) and keys issued with `create_api_key` (database,
stored as sha256 digests). Env keys are kept as digests too and every candidate is compared with
every one of them with `hmac.compare_digest`, so neither the match position nor the length leaks
through timing; a database key is found by its digest (an index lookup reveals nothing about a
key the caller does not already hold). FINTALK_AUTH=disabled (development only) lets all in.

Scopes (api.models.SCOPES): a view names the scope it needs as `api_scope` (default `chat`; None:
any key, e.g. /metrics), and `HasApiKey` refuses a key without it with a 403. A database key holds
the scopes it was issued with; a FINTALK_API_KEYS key holds `chat` only (the bank's systems get a
key issued with `create_api_key NAME --scope outbound`: hashed, listed, revocable).
"""
import hmac
from datetime import timedelta
from functools import lru_cache

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

from api.models import CHAT, SCOPES, ApiKey, hash_key

LAST_USED_RESOLUTION = timedelta(minutes=1)  # at most one write per key per minute
ENV_KEY_SCOPES = frozenset({CHAT})  # what a FINTALK_API_KEYS key may do


@lru_cache(maxsize=1)
def _env_key_digests(keys: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(hash_key(key) for key in keys)


def matches_env_key(digest: str) -> bool:
    matched = False
    for known in _env_key_digests(tuple(settings.FINTALK_API_KEYS)):
        matched |= hmac.compare_digest(digest, known)
    return matched


def database_key(digest: str) -> ApiKey | None:
    key = ApiKey.objects.filter(key_hash=digest, revoked_at__isnull=True).first()
    if key is None or not hmac.compare_digest(key.key_hash, digest):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


class ApiClient:
    """The authenticated caller (DRF's request.user): a label for the key, never the key."""

    is_authenticated = True

    def __init__(self, label: str, scopes: frozenset[str] = ENV_KEY_SCOPES):
        self.label = label
        self.scopes = scopes


class BearerKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        found, key, digest = self._from_memory(request)
        if found is not None or key is None:
            return found
        return self._issued(database_key(digest), key)

    async def aauthenticate(self, request):
        """The same, on the event loop: only a key issued in the database needs a thread (the ORM)."""
        found, key, digest = self._from_memory(request)
        if found is not None or key is None:
            return found
        return self._issued(await sync_to_async(database_key)(digest), key)

    @staticmethod
    def _from_memory(request):
        """(user and key, None, None) when decided without the database; else (None, key, digest)."""
        if settings.FINTALK_AUTH == "disabled":
            return (ApiClient("auth-disabled", frozenset(SCOPES)), "auth-disabled"), None, None
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None, None, None
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: use 'Bearer <API key>'.")
        digest = hash_key(key)
        if matches_env_key(digest):
            return (ApiClient("env:" + digest[:8]), key), None, None
        return None, key, digest

    @staticmethod
    def _issued(issued: ApiKey | None, key: str):
        if issued is None:
            raise exceptions.AuthenticationFailed("Incorrect API key provided.")
        return ApiClient("key:" + issued.name, issued.scope_set), key

    def authenticate_header(self, request):
        return 'Bearer realm="fintalk"'


class HasApiKey(permissions.BasePermission):
    """An API key with the view's scope (`api_scope`): without a key a 401, without the scope a 403."""

    message = "You didn't provide an API key. Send it as 'Authorization: Bearer <API key>'."

    def has_permission(self, request, view):
        if request.auth is None:
            return False
        scope = getattr(view, "api_scope", CHAT)
        held = getattr(request.user, "scopes", frozenset())
        if scope is not None and scope not in held:
            raise exceptions.PermissionDenied(
                f"This API key does not have the '{scope}' scope ({SCOPES[scope]}); its scopes: "
                f"{', '.join(sorted(held)) or 'none'}. Use a key issued with "
                f"'python manage.py create_api_key NAME --scope {scope}'.", code="insufficient_scope")
        return True
