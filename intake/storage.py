"""Content-addressed storage of received archives, outside the web root.

Bytes are streamed to a temporary file while their SHA-256 is computed, then moved into place under
``STORAGE_DIR/sha256[:2]/sha256`` (atomic rename, read-only afterwards). Reading verifies the hash.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

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


def _chunks(source: BinaryIO | bytes | Iterable[bytes]) -> Iterable[bytes]:
    if isinstance(source, bytes | bytearray):
        yield bytes(source)
        return
    if hasattr(source, "read"):
        while chunk := source.read(CHUNK):
            yield chunk
        return
    yield from source


def store(source: BinaryIO | bytes | Iterable[bytes], *, max_size: int | None = None) -> StoredBytes:
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
