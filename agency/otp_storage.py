"""TOTP keys and backup codes at rest.

django-otp keeps a TOTP key as hex in ``TOTPDevice.key`` and backup codes as text in
``StaticToken.token``. Here neither is kept readable in the database:

- a TOTP key is sealed with AES-SIV (authenticated, 36 bytes → 72 hex characters, which fits the
  column) under a key derived from ``FIELD_ENCRYPTION_KEY`` (``agency.crypto``); ``TOTPDevice.bin_key``
  opens it wherever django-otp or the portal needs the secret (verification, the enrolment QR code);
- a backup code is never needed again once shown, so only a keyed hash of it is stored (``#`` and 15
  hex characters of an HMAC-SHA256, which fits the column); a code typed at login is hashed the same
  way before django-otp looks it up.

``install()`` (``AgencyConfig.ready``) wires this into django-otp's models; migration
``agency.0008`` seals the keys and hashes the codes already stored. A key or code written before it
(plain hex, plain code) is still understood until then.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from django.db.models.signals import pre_save
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .crypto import derived_key

_AAD = [b"portal-totp-key"]
TAG_PREFIX = "#"


def _siv() -> AESSIV:
    return AESSIV(derived_key(b"portal-totp-key-siv", 64))


def seal_totp_key(stored: str) -> str:
    """The sealed form of a TOTP key given as hex (unchanged when it is sealed already)."""
    if is_sealed(stored):
        return stored
    return _siv().encrypt(binascii.unhexlify(stored), _AAD).hex()


def open_totp_key(stored: str) -> bytes:
    raw = binascii.unhexlify(stored.encode())
    try:
        return _siv().decrypt(raw, _AAD)
    except InvalidTag:
        return raw  # not sealed yet (written before the migration that seals them)


def is_sealed(stored: str) -> bool:
    try:
        _siv().decrypt(binascii.unhexlify(stored.encode()), _AAD)
    except (InvalidTag, binascii.Error, ValueError):
        return False
    return True


def backup_code_tag(code: str) -> str:
    """What is stored of a backup code (and looked up when one is typed)."""
    if code.startswith(TAG_PREFIX):
        return code
    digest = hmac.new(derived_key(b"portal-backup-code", 32), code.encode("utf-8"), hashlib.sha256).hexdigest()
    return TAG_PREFIX + digest[:15]


def _bin_key(device: TOTPDevice) -> bytes:
    return open_totp_key(device.key)


def _seal_on_save(sender: Any, instance: TOTPDevice, **kwargs: Any) -> None:
    if instance.key:
        instance.key = seal_totp_key(instance.key)


def _hash_on_save(sender: Any, instance: StaticToken, **kwargs: Any) -> None:
    if instance.token:
        instance.token = backup_code_tag(instance.token)


_verify_static = StaticDevice.verify_token


def _verify_backup_code(device: StaticDevice, token: Any) -> bool:
    if not isinstance(token, str) or not token or token.startswith(TAG_PREFIX):
        return False  # a stored hash is not a code
    return bool(_verify_static(device, backup_code_tag(token)))


def install() -> None:
    TOTPDevice.bin_key = property(_bin_key)
    StaticDevice.verify_token = _verify_backup_code
    pre_save.connect(_seal_on_save, sender=TOTPDevice, dispatch_uid="agency.otp_storage.seal")
    pre_save.connect(_hash_on_save, sender=StaticToken, dispatch_uid="agency.otp_storage.hash")
