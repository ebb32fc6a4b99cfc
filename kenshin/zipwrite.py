"""A minimal, fast ZIP writer for unencrypted archives (deflate, UTF-8 names, no ZIP64).

The standard library's writer spends more time on per-member bookkeeping than on compressing
small XML files; this one writes the local headers, the central directory and the end record
directly (PKWARE APPNOTE 4.3). Archives beyond the classic limits (65,535 members, 4 GiB) are
refused: the reader would refuse them too.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from datetime import date

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


def _dos_stamp(day: date) -> tuple[int, int]:
    return 0, ((day.year - 1980) << 9) | (day.month << 5) | day.day


def build_zip(entries: Iterable[tuple[str, bytes]], *, stamp: date, compresslevel: int = 6) -> bytes:
    """A ZIP of ``(name, data)`` entries; names ending in "/" become folder entries."""
    time_field, date_field = _dos_stamp(stamp)
    chunks: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    count = 0
    for name, data in entries:
        encoded = name.encode("utf-8")
        flags = 0 if encoded.isascii() else _UTF8_FLAG
        folder = name.endswith("/")
        if folder:
            method, payload, crc, attributes = _STORED, b"", 0, DIRECTORY_MODE
        else:
            method, payload = _DEFLATED, zlib.compress(data, compresslevel, wbits=-15)
            crc, attributes = zlib.crc32(data), FILE_MODE
        if len(data) >= _LIMIT or len(payload) >= _LIMIT or offset >= _LIMIT:
            raise ValueError("archive too large for a ZIP without ZIP64")
        header = _LOCAL.pack(
            0x04034B50, _VERSION, flags, method, time_field, date_field, crc, len(payload), len(data), len(encoded), 0
        )
        chunks += (header, encoded, payload)
        central.append(
            _CENTRAL.pack(
                0x02014B50,
                _MADE_BY,
                _VERSION,
                flags,
                method,
                time_field,
                date_field,
                crc,
                len(payload),
                len(data),
                len(encoded),
                0,
                0,
                0,
                0,
                attributes,
                offset,
            )
            + encoded
        )
        offset += len(header) + len(encoded) + len(payload)
        count += 1
    if count > 0xFFFF:
        raise ValueError("too many members for a ZIP without ZIP64")
    directory = b"".join(central)
    if offset + len(directory) >= _LIMIT:
        raise ValueError("archive too large for a ZIP without ZIP64")
    end = _END.pack(0x06054B50, 0, 0, count, count, len(directory), offset, 0)
    return b"".join(chunks) + directory + end
