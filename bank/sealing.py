"""Secrets the bank must keep but never show (an authenticator's shared secret), sealed with Fernet
(AES-128-CBC + HMAC-SHA256, from `cryptography`) under a key derived with HKDF-SHA256 from
FINTALK_SEALING_KEY. Without the setting nothing can be sealed or opened: `SealingUnavailable`, said
to a caller as "can't check that right now" and to staff as the setting to set. Changing the setting
makes the sealed secrets unreadable: customers then enrol again."""
import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class SealingUnavailable(Exception):
    pass


@lru_cache(maxsize=4)
def _fernet(setting: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"fintalk-sealing-v1", info=b"authenticator-secrets"
               ).derive(setting.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _box() -> Fernet:
    if not settings.FINTALK_SEALING_KEY:
        raise SealingUnavailable("FINTALK_SEALING_KEY is not set: set it to a long random string to enrol authenticators.")
    return _fernet(settings.FINTALK_SEALING_KEY)


def seal(secret: str) -> str:
    return _box().encrypt(secret.encode()).decode()


def unseal(sealed: str) -> str:
    try:
        return _box().decrypt(sealed.encode()).decode()
    except InvalidToken as exc:
        raise SealingUnavailable("a sealed secret does not open with FINTALK_SEALING_KEY (was it changed?)") from exc
