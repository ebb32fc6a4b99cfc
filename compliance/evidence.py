"""Evidence files attached to attestations: stored once under their SHA-256, outside the web root."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

MAX_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class StoredEvidence:
    sha256: str
    size: int


def _root() -> Path:
    return Path(settings.STORAGE_DIR) / "compliance" / "evidence"


def path_for(sha256: str) -> Path:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a SHA-256 hex digest")
    return _root() / sha256[:2] / sha256


def store(chunks: Iterable[bytes]) -> StoredEvidence:
    root = _root()
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, temp_name = tempfile.mkstemp(dir=root, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > MAX_BYTES:
                    raise ValueError(f"evidence larger than {MAX_BYTES} bytes")
                digest.update(chunk)
                out.write(chunk)
        sha = digest.hexdigest()
        final = path_for(sha)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            os.unlink(temp_name)
        else:
            os.chmod(temp_name, 0o440)
            os.replace(temp_name, final)
        return StoredEvidence(sha, size)
    except BaseException:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
        raise


def read(sha256: str) -> bytes:
    data = path_for(sha256).read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError("stored evidence no longer matches its SHA-256")
    return data
