"""Bearer API keys: `Authorization: Bearer <key>`, on by default.

Keys from FINTALK_API_KEYS are kept as sha256 digests and every candidate is compared against
every key with `hmac.compare_digest`, so neither the match position nor the key length leaks
through timing. FINTALK_AUTH=disabled (development only) lets every request through.
"""
import hashlib
import hmac
from functools import lru_cache

from django.conf import settings
from rest_framework import authentication, exceptions, permissions


def key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


@lru_cache(maxsize=1)
def _env_key_digests(keys: tuple[str, ...]) -> tuple[bytes, ...]:
    return tuple(key_digest(key) for key in keys)


def matches_env_key(candidate: str) -> bool:
    digest = key_digest(candidate)
    matched = False
    for known in _env_key_digests(tuple(settings.FINTALK_API_KEYS)):
        matched |= hmac.compare_digest(digest, known)
    return matched


class ApiClient:
    """The authenticated caller (DRF's request.user); only the key's label, never the key."""

    is_authenticated = True

    def __init__(self, label: str):
        self.label = label


class BearerKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        if settings.FINTALK_AUTH == "disabled":
            return ApiClient("auth-disabled"), "auth-disabled"
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: use 'Bearer <API key>'.")
        if matches_env_key(key):
            return ApiClient("env:" + hashlib.sha256(key.encode()).hexdigest()[:8]), key
        raise exceptions.AuthenticationFailed("Incorrect API key provided.")

    def authenticate_header(self, request):
        return 'Bearer realm="fintalk"'


class HasApiKey(permissions.BasePermission):
    message = "You didn't provide an API key. Send it as 'Authorization: Bearer <API key>'."

    def has_permission(self, request, view):
        return request.auth is not None
