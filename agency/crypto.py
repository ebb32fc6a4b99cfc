"""Symmetric encryption of the few secrets the portal must be able to read back (archive passwords).

Fernet (AES-128-CBC + HMAC-SHA256) with a key from ``FIELD_ENCRYPTION_KEY`` (a Fernet key), or,
when unset, one derived from ``SECRET_KEY`` with HKDF. Rotating the key means re-encrypting.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(configured: str, secret_key: str) -> Fernet:
    if configured:
        return Fernet(configured.encode("ascii"))
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"portal-field-encryption").derive(
        secret_key.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(derived))


@lru_cache(maxsize=8)
def _derived(configured: str, secret_key: str, purpose: bytes, length: int) -> bytes:
    material = base64.urlsafe_b64decode(configured.encode("ascii")) if configured else secret_key.encode("utf-8")
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=b"portal:" + purpose).derive(material)


def derived_key(purpose: bytes, length: int) -> bytes:
    """A key of its own for one purpose (TOTP keys, backup codes), derived from the same secret."""
    return _derived(settings.FIELD_ENCRYPTION_KEY, settings.SECRET_KEY, purpose, length)


def _current() -> Fernet:
    return _fernet(settings.FIELD_ENCRYPTION_KEY, settings.SECRET_KEY)


def encrypt_text(value: str) -> str:
    return _current().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt_text(token: str) -> str:
    return _current().decrypt(token.encode("ascii")).decode("utf-8")
