"""Encrypted backup files and the PostgreSQL client programs that fill and read them.

File format (streamed, so a dump of any size never sits in memory):

    header  = b"PORTAL-BACKUP-1\\n" + 7-byte random nonce prefix
    records = (4-byte big-endian length + AES-256-GCM ciphertext of one chunk) ...

Each chunk's 12-byte nonce is ``prefix | 4-byte counter | last-flag`` and the header is the
associated data of every chunk (the STREAM construction): chunks cannot be reordered, dropped,
or the file cut short without decryption failing. The key is ``BACKUP_ENCRYPTION_KEY`` (32 bytes,
URL-safe base64, the format ``Fernet.generate_key()`` prints).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

MAGIC = b"PORTAL-BACKUP-1\n"
PREFIX_BYTES = 7
CHUNK = 1024 * 1024
_LENGTH = 4


class BackupError(Exception):
    """A backup or restore step failed; the message says which and why."""


def encryption_key() -> bytes:
    raw = getattr(settings, "BACKUP_ENCRYPTION_KEY", "") or ""
    if not raw:
        raise BackupError("BACKUP_ENCRYPTION_KEY is not set: backups are never written unencrypted")
    try:
        key = base64.urlsafe_b64decode(raw.encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise BackupError("BACKUP_ENCRYPTION_KEY is not URL-safe base64") from exc
    if len(key) != 32:
        raise BackupError("BACKUP_ENCRYPTION_KEY must decode to 32 bytes")
    return key


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + counter.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def encrypt_stream(source: IO[bytes], target: IO[bytes], key: bytes) -> None:
    """Encrypt ``source`` to ``target`` chunk by chunk (one chunk of look-ahead marks the last)."""
    prefix = secrets.token_bytes(PREFIX_BYTES)
    header = MAGIC + prefix
    target.write(header)
    aead = AESGCM(key)
    counter = 0
    current = source.read(CHUNK)
    while True:
        following = source.read(CHUNK) if current else b""
        last = not following
        sealed = aead.encrypt(_nonce(prefix, counter, last), current, header)
        target.write(len(sealed).to_bytes(_LENGTH, "big") + sealed)
        if last:
            return
        counter += 1
        if counter >= 2**32:
            raise BackupError("backup too large for one file")
        current = following


class ByteSource(Protocol):
    """What decryption reads from: a binary file, or a wrapper that hashes what passes through."""

    def read(self, size: int = -1, /) -> bytes: ...


def _read_exact(source: ByteSource, size: int) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise BackupError("backup file is truncated")
    return data


def decrypt_stream(source: ByteSource, key: bytes) -> Iterator[bytes]:
    """Yield the plaintext chunks; raise ``BackupError`` on a wrong key, tampering or truncation."""
    header = source.read(len(MAGIC) + PREFIX_BYTES)
    if len(header) != len(MAGIC) + PREFIX_BYTES or not header.startswith(MAGIC):
        raise BackupError("not a portal backup file")
    prefix = header[len(MAGIC):]
    aead = AESGCM(key)
    counter = 0
    length_bytes = source.read(_LENGTH)
    if len(length_bytes) != _LENGTH:
        raise BackupError("backup file is truncated")
    while True:
        sealed = _read_exact(source, int.from_bytes(length_bytes, "big"))
        length_bytes = source.read(_LENGTH)
        last = not length_bytes
        if length_bytes and len(length_bytes) != _LENGTH:
            raise BackupError("backup file is truncated")
        try:
            yield aead.decrypt(_nonce(prefix, counter, last), sealed, header)
        except InvalidTag as exc:
            raise BackupError("backup file cannot be decrypted (wrong key, altered or truncated)") from exc
        if last:
            return
        counter += 1


# --- PostgreSQL client programs ------------------------------------------------------------------------


@dataclass(frozen=True)
class PgTarget:
    name: str
    user: str
    password: str
    host: str
    port: str
    sslmode: str = ""

    @classmethod
    def from_settings(cls, settings_dict: dict[str, Any], name: str | None = None) -> PgTarget:
        return cls(
            name=name or settings_dict["NAME"],
            user=settings_dict.get("USER") or "",
            password=settings_dict.get("PASSWORD") or "",
            host=settings_dict.get("HOST") or "",
            port=str(settings_dict.get("PORT") or ""),
            sslmode=(settings_dict.get("OPTIONS") or {}).get("sslmode", ""),
        )

    def args(self) -> list[str]:
        result = ["--no-password"]
        if self.host:
            result += ["--host", self.host]
        if self.port:
            result += ["--port", self.port]
        if self.user:
            result += ["--username", self.user]
        return [*result, "--dbname", self.name]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        # the tenant scope of every row (core.tenancy), for the session of pg_dump / pg_restore
        env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} -c portal.scope=agency".strip()
        if self.password:
            env["PGPASSWORD"] = self.password
        if self.sslmode:
            env["PGSSLMODE"] = self.sslmode
        return env


def _stderr_text(handle: IO[bytes]) -> str:
    handle.seek(0)
    return handle.read().decode("utf-8", "replace").strip()[-2000:]


def dump_encrypted(target: PgTarget, path: Path, key: bytes, *, snapshot: str | None = None) -> tuple[int, str]:
    """``pg_dump -Fc`` of ``target`` encrypted into ``path`` (atomically); return size and SHA-256 of the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Run as the application's role (not the tables' owner), pg_dump would stop at the first table with
    # row-level security; it reads them with the policies on and the agency's scope, i.e. every row.
    argv = ["pg_dump", "--format=custom", "--enable-row-security", *target.args()]
    if snapshot:
        argv.insert(2, f"--snapshot={snapshot}")
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".backup-")
    try:
        with os.fdopen(fd, "wb") as out, tempfile.TemporaryFile() as errors:
            os.chmod(temp_name, 0o600)
            try:
                process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, env=target.env())  # noqa: S603
            except FileNotFoundError as exc:
                raise BackupError("pg_dump is not installed") from exc
            if process.stdout is None:  # pragma: no cover - Popen with stdout=PIPE always has one
                raise BackupError("pg_dump produced no output stream")
            with process.stdout:
                encrypt_stream(process.stdout, out, key)
            if process.wait() != 0:
                raise BackupError(f"pg_dump failed: {_stderr_text(errors)}")
            out.flush()
            os.fsync(out.fileno())
        digest = hashlib.sha256()
        with open(temp_name, "rb") as written:
            while chunk := written.read(CHUNK):
                digest.update(chunk)
        size = os.path.getsize(temp_name)
        os.replace(temp_name, path)
        return size, digest.hexdigest()
    except BaseException:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
        raise


class _HashingReader:
    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data


def restore_encrypted(path: Path, target: PgTarget, key: bytes) -> str:
    """Decrypt ``path`` into ``pg_restore`` of ``target``; return the SHA-256 of the file as read."""
    argv = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", *target.args()]
    with open(path, "rb") as raw, tempfile.TemporaryFile() as errors:
        reader = _HashingReader(raw)
        try:
            process = subprocess.Popen(argv, stdin=subprocess.PIPE, stderr=errors, env=target.env())  # noqa: S603
        except FileNotFoundError as exc:
            raise BackupError("pg_restore is not installed") from exc
        if process.stdin is None:  # pragma: no cover - Popen with stdin=PIPE always has one
            raise BackupError("pg_restore has no input stream")
        try:
            try:
                for chunk in decrypt_stream(reader, key):
                    process.stdin.write(chunk)
            finally:
                process.stdin.close()
        except BrokenPipeError:
            pass  # pg_restore stopped reading: its exit status and message say why
        except BaseException:
            process.kill()
            process.wait()
            raise
        if process.wait() != 0:
            raise BackupError(f"pg_restore failed: {_stderr_text(errors)}")
        return reader.digest.hexdigest()
