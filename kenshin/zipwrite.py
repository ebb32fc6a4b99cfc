"""A minimal, fast ZIP writer for unencrypted archives (deflate, UTF-8 names, no ZIP64).

The standard library's writer spends more time on per-member bookkeeping than on compressing
small XML files; this one writes the local headers, the central directory and the end record
directly (PKWARE APPNOTE 4.3), to a file member by member (``ZipStreamWriter``). Archives beyond the classic limits (65,535 members, 4 GiB) are
refused: the reader would refuse them too.
"""

from __future__ import annotations

import io
import struct
import tempfile
import zlib
from collections.abc import Iterable
from datetime import date
from typing import IO

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_VERSION = 20
_MADE_BY = (3 << 8) | _VERSION
_UTF8_FLAG = 0x800
_DEFLATED = 8
_STORED = 0
_LIMIT = 0xFFFFFFFF
FILE_MODE = 0o100644 << 16
DIRECTORY_MODE = (0o40755 << 16) | 0x10
_COPY_CHUNK = 1024 * 1024


def _dos_stamp(day: date) -> tuple[int, int]:
    return 0, ((day.year - 1980) << 9) | (day.month << 5) | day.day


class ZipStreamWriter:
    """Writes a ZIP member by member to a binary file, holding no member longer than it takes to write
    it: the central directory goes to a spool (in memory up to 1 MiB, then a temporary file) and is
    copied after the last member by ``finish()``.

    ``add`` compresses a member; ``add_compressed`` copies a member's stored bytes as they are (from
    another archive: same method, CRC-32 and sizes), so the bytes inside stay exactly those received.
    """

    def __init__(self, out: IO[bytes], *, stamp: date, compresslevel: int = 6) -> None:
        self._out = out
        self._time, self._date = _dos_stamp(stamp)
        self._compresslevel = compresslevel
        self._central: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115 - closed by finish()
        self._central_size = 0
        self.offset = 0
        self.count = 0

    def add(self, name: str, data: bytes) -> None:
        """A member, compressed (a name ending in "/" is a folder entry)."""
        if name.endswith("/"):
            self._write(name, _STORED, b"", 0, 0, DIRECTORY_MODE)
            return
        self._write(name, _DEFLATED, zlib.compress(data, self._compresslevel, wbits=-15), zlib.crc32(data), len(data), FILE_MODE)

    def add_compressed(self, name: str, compressed: bytes, *, method: int, crc32: int, size: int) -> None:
        """A member whose stored bytes are given as they are (deflated or stored)."""
        if method not in (_DEFLATED, _STORED):
            raise ValueError(f"unsupported compression method {method}")
        self._write(name, method, compressed, crc32, size, FILE_MODE)

    def _write(self, name: str, method: int, payload: bytes, crc: int, size: int, attributes: int) -> None:
        encoded = name.encode("utf-8")
        flags = 0 if encoded.isascii() else _UTF8_FLAG
        if size >= _LIMIT or len(payload) >= _LIMIT or self.offset >= _LIMIT:
            raise ValueError("archive too large for a ZIP without ZIP64")
        header = _LOCAL.pack(
            0x04034B50, _VERSION, flags, method, self._time, self._date, crc, len(payload), size, len(encoded), 0
        )
        self._out.write(header)
        self._out.write(encoded)
        self._out.write(payload)
        entry = _CENTRAL.pack(
            0x02014B50, _MADE_BY, _VERSION, flags, method, self._time, self._date, crc, len(payload), size,
            len(encoded), 0, 0, 0, 0, attributes, self.offset,
        ) + encoded
        self._central.write(entry)
        self._central_size += len(entry)
        self.offset += len(header) + len(encoded) + len(payload)
        self.count += 1

    def finish(self) -> None:
        """The central directory and the end record, after the last member."""
        if self.count > 0xFFFF:
            raise ValueError("too many members for a ZIP without ZIP64")
        if self.offset + self._central_size >= _LIMIT:
            raise ValueError("archive too large for a ZIP without ZIP64")
        self._central.seek(0)
        while chunk := self._central.read(_COPY_CHUNK):
            self._out.write(chunk)
        self._central.close()
        self._out.write(_END.pack(0x06054B50, 0, 0, self.count, self.count, self._central_size, self.offset, 0))


def build_zip(entries: Iterable[tuple[str, bytes]], *, stamp: date, compresslevel: int = 6) -> bytes:
    """A ZIP of ``(name, data)`` entries; names ending in "/" become folder entries."""
    buffer = io.BytesIO()
    writer = ZipStreamWriter(buffer, stamp=stamp, compresslevel=compresslevel)
    for name, data in entries:
        writer.add(name, data)
    writer.finish()
    return buffer.getvalue()
