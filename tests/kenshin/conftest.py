"""Fixtures for the standard-format tests: the official XSD directory, generated archives and
builders of hand-made (often hostile) ZIP files."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from kenshin.synth.generator import GeneratedArchive, GeneratorConfig, generate

ZipBuilder = Callable[..., bytes]


@pytest.fixture(scope="session")
def xsd_dir() -> Path:
    value = os.environ.get("KENSHIN_XSD_DIR")
    if not value:
        pytest.skip("KENSHIN_XSD_DIR is not set: schema validation needs the official 第4期 XSD directory")
    return Path(value)


@pytest.fixture(scope="session")
def small_archive() -> GeneratedArchive:
    """Six clean records from one institution."""
    return next(generate(GeneratorConfig(year=2024, records=6, seed=11)))


@pytest.fixture
def members_of() -> Callable[[bytes], dict[str, bytes]]:
    def read(data: bytes) -> dict[str, bytes]:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}

    return read


def _zip(entries: Iterable[tuple[str, bytes] | tuple[str, bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for entry in entries:
            name, data = entry[0], entry[1]
            info = zipfile.ZipInfo(name, (2024, 6, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = entry[2] << 16 if len(entry) == 3 else 0o100644 << 16  # type: ignore[misc]
            archive.writestr(info, data)
    return buffer.getvalue()


@pytest.fixture
def make_zip() -> ZipBuilder:
    """Build a ZIP from (name, data[, unix mode]) entries, names taken literally."""
    return _zip


@pytest.fixture
def rezip(members_of: Callable[[bytes], dict[str, bytes]]) -> Callable[..., bytes]:
    """Rebuild a valid archive with some members replaced or added (name → bytes)."""

    def build(data: bytes, root: str, changes: dict[str, bytes]) -> bytes:
        members = members_of(data)
        members.update({f"{root}/{name}": value for name, value in changes.items()})
        return _zip(members.items())

    return build


# --- ZipCrypto (traditional PKWARE encryption), which the standard library can read but not write --


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        value = byte
        for _ in range(8):
            value = (value >> 1) ^ 0xEDB88320 if value & 1 else value >> 1
        table.append(value)
    return table


_CRC = _crc_table()


class _ZipCryptoKeys:
    def __init__(self, password: bytes) -> None:
        self.keys = [0x12345678, 0x23456789, 0x34567890]
        for byte in password:
            self.update(byte)

    @staticmethod
    def _crc(value: int, byte: int) -> int:
        return (value >> 8) ^ _CRC[(value ^ byte) & 0xFF]

    def update(self, byte: int) -> None:
        k0, k1, k2 = self.keys
        k0 = self._crc(k0, byte)
        k1 = ((k1 + (k0 & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        k2 = self._crc(k2, k1 >> 24)
        self.keys = [k0, k1, k2]

    def encrypt(self, data: bytes) -> bytes:
        out = bytearray()
        for byte in data:
            temp = (self.keys[2] | 2) & 0xFFFF
            out.append(byte ^ (((temp * (temp ^ 1)) >> 8) & 0xFF))
            self.update(byte)
        return bytes(out)


def _zipcrypto(entries: Iterable[tuple[str, bytes]], password: bytes) -> bytes:
    local_parts: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    count = 0
    for position, (name, data) in enumerate(entries):
        encoded = name.encode()
        crc = zlib.crc32(data)
        compressed = zlib.compress(data, 6, wbits=-15)
        header = bytes((position * 7 + index) % 251 for index in range(11)) + bytes([crc >> 24])
        keys = _ZipCryptoKeys(password)
        payload = keys.encrypt(header) + keys.encrypt(compressed)
        local = struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 1, 8, 0, 0x5821, crc, len(payload), len(data), len(encoded), 0
        )
        central.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                (3 << 8) | 20,
                20,
                1,
                8,
                0,
                0x5821,
                crc,
                len(payload),
                len(data),
                len(encoded),
                0,
                0,
                0,
                0,
                0o100644 << 16,
                offset,
            )
            + encoded
        )
        local_parts += [local, encoded, payload]
        offset += len(local) + len(encoded) + len(payload)
        count += 1
    directory = b"".join(central)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(directory), offset, 0)
    return b"".join(local_parts) + directory + end


@pytest.fixture
def zipcrypto_zip() -> Callable[[Iterable[tuple[str, bytes]], bytes], bytes]:
    return _zipcrypto
