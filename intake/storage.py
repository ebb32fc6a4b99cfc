"""Content-addressed storage of received archives, outside the web root.

Bytes are streamed to a temporary file while their SHA-256 is computed, then moved into place under
``STORAGE_DIR/sha256[:2]/sha256`` (atomic rename, read-only afterwards). Reading a whole archive
verifies the hash; reading one member (``read_member``) reads only that member's bytes and verifies
its CRC-32, and the hash of every archive is verified on a schedule (``verify``, from the beat task
``intake.archives_verify``) instead of on every read.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings

from kenshin.zipguard import MemberError, MemberPlace, compressed_member_at, inflate_member

CHUNK = 1024 * 1024


class TooLarge(ValueError):
    """The bytes exceed the size limit; nothing was kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


class StorageIntegrityError(Exception):
    """A stored archive no longer matches its SHA-256."""


@dataclass(frozen=True)
class StoredBytes:
    sha256: str
    size: int
    path: Path


def _root() -> Path:
    return Path(settings.STORAGE_DIR) / "archives"


def path_for(sha256: str) -> Path:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a SHA-256 hex digest")
    return _root() / sha256[:2] / sha256


def _chunks(source: IO[bytes] | bytes | Iterable[bytes]) -> Iterable[bytes]:
    if isinstance(source, bytes | bytearray):
        yield bytes(source)
        return
    if hasattr(source, "read"):
        while chunk := source.read(CHUNK):
            yield chunk
        return
    yield from source


def store(source: IO[bytes] | bytes | Iterable[bytes], *, max_size: int | None = None) -> StoredBytes:
    """Store bytes (idempotently: the same bytes land on the same path) and return their digest."""
    root = _root()
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, temp_name = tempfile.mkstemp(dir=root, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in _chunks(source):
                size += len(chunk)
                if max_size is not None and size > max_size:
                    raise TooLarge(max_size)
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        sha = digest.hexdigest()
        final = path_for(sha)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            os.unlink(temp_name)
        else:
            os.chmod(temp_name, 0o440)
            os.replace(temp_name, final)
        return StoredBytes(sha, size, final)
    except BaseException:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
        raise


def read(sha256: str) -> bytes:
    """The stored bytes, verified against their digest."""
    data = path_for(sha256).read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise StorageIntegrityError(f"stored archive {sha256} does not match its digest")
    return data


def read_member(sha256: str, place: MemberPlace) -> bytes:
    """One member of a stored archive, read alone from its place (local header, size and CRC-32 checked)."""
    with path_for(sha256).open("rb") as handle:
        try:
            return inflate_member(compressed_member_at(handle, place), place)
        except MemberError as exc:
            raise StorageIntegrityError(f"stored archive {sha256}: member {place.name}: {exc}") from exc


class MemberReader:
    """Members of one stored archive read one at a time through a single open file (a context manager).

    ``compressed`` gives a member's stored bytes as they are (to copy into another archive without
    inflating them), ``read`` its bytes with the CRC-32 checked."""

    def __init__(self, sha256: str) -> None:
        self.sha256 = sha256
        self._handle = path_for(sha256).open("rb")

    def compressed(self, place: MemberPlace) -> bytes:
        try:
            return compressed_member_at(self._handle, place)
        except MemberError as exc:
            raise StorageIntegrityError(f"stored archive {self.sha256}: member {place.name}: {exc}") from exc

    def read(self, place: MemberPlace) -> bytes:
        try:
            return inflate_member(self.compressed(place), place)
        except MemberError as exc:
            raise StorageIntegrityError(f"stored archive {self.sha256}: member {place.name}: {exc}") from exc

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> MemberReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def verify(sha256: str) -> bool:
    """Whether the stored bytes still match their SHA-256 (read in chunks; False when missing)."""
    digest = hashlib.sha256()
    try:
        with path_for(sha256).open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        return False
    return digest.hexdigest() == sha256
