"""Opening an uploaded ZIP safely.

Checks run on the central directory before anything is extracted: nothing after the
end-of-central-directory record, member count, names
(absolute paths, drive letters, ``..``, backslashes, control characters, duplicates), symlinks,
declared sizes and compression ratios, compression methods, encryption. Member contents are then
sniffed for executables, macro documents and nested archives, and every read goes through a byte
counter so that a member never yields more than the limits allow, whatever its header declares.

Password-locked archives (ZipCrypto or AES) are opened with the password given by the caller.
"""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

import pyzipper
import pyzipper.zipfile as _zip

from kenshin import findings as F
from kenshin.findings import Finding

Source = str | os.PathLike[str] | bytes | bytearray | BinaryIO

_CONTROL = re.compile("[\x00-\x1f\x7f]")
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_ALLOWED_METHODS = frozenset({pyzipper.ZIP_STORED, pyzipper.ZIP_DEFLATED})
_CHUNK = 64 * 1024
_UTF8_NAME = 0x800
_UNSUPPORTED_FLAGS = 0x1 | 0x20 | 0x40  # encrypted, compressed patch data, strong encryption
SNIFF_BYTES = 8

EXECUTABLE_MAGIC = (
    b"MZ",
    b"\x7fELF",
    b"#!",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
    b"%PDF",
    b"{\\rtf",
)
ARCHIVE_MAGIC = (
    *ZIP_MAGIC,
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ\x00",
    b"7z\xbc\xaf\x27\x1c",
    b"Rar!\x1a\x07",
    b"MSCF",
    b"\x28\xb5\x2f\xfd",
)
EXECUTABLE_SUFFIXES = frozenset(
    [
        ".exe",
        ".dll",
        ".com",
        ".bat",
        ".cmd",
        ".scr",
        ".msi",
        ".ps1",
        ".vbs",
        ".vbe",
        ".js",
        ".jse",
        ".wsf",
        ".wsh",
        ".hta",
        ".sh",
        ".bash",
        ".jar",
        ".class",
        ".py",
        ".pl",
        ".app",
        ".lnk",
        ".so",
        ".dylib",
        ".bin",
        ".docm",
        ".dotm",
        ".xlsm",
        ".xltm",
        ".xlam",
        ".pptm",
        ".potm",
        ".ppam",
        ".sldm",
        ".doc",
        ".xls",
        ".ppt",
        ".pdf",
        ".rtf",
    ]
)
ARCHIVE_SUFFIXES = frozenset(
    [".zip", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".7z", ".rar", ".lzh", ".lha", ".cab", ".zst"]
)


@dataclass(frozen=True)
class ArchiveLimits:
    """Hard limits applied to every upload. Sizes are uncompressed bytes."""

    max_archive_bytes: int = 1024 * 1024 * 1024
    max_members: int = 50_000
    max_member_bytes: int = 8 * 1024 * 1024
    max_total_bytes: int = 2 * 1024 * 1024 * 1024
    max_ratio: int = 200


DEFAULT_LIMITS = ArchiveLimits()


class MemberError(Exception):
    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


def _name_finding(name: str) -> Finding | None:
    if _CONTROL.search(name):
        return F.ARC_MEMBER_BAD_NAME.at(file=name.encode("unicode_escape").decode("ascii"))
    if name.startswith(("/", "\\")) or (len(name) >= 2 and name[1] == ":" and name[0].isalpha()):
        return F.ARC_MEMBER_ABSOLUTE.at(file=name)
    if ".." in name.replace("\\", "/").split("/"):
        return F.ARC_MEMBER_TRAVERSAL.at(file=name)
    if "\\" in name:
        return F.ARC_MEMBER_BACKSLASH.at(file=name)
    return None


def _suffix_finding(name: str) -> Finding | None:
    suffix = Path(name.rstrip("/")).suffix.lower()
    if suffix in EXECUTABLE_SUFFIXES:
        return F.ARC_EXECUTABLE_MEMBER.at(file=name, detail=suffix)
    if suffix in ARCHIVE_SUFFIXES:
        return F.ARC_NESTED_ARCHIVE.at(file=name, detail=suffix)
    return None


def sniff(name: str, head: bytes) -> Finding | None:
    """Executable / macro / nested-archive content, by magic bytes."""
    for magic in ARCHIVE_MAGIC:
        if head.startswith(magic):
            return F.ARC_NESTED_ARCHIVE.at(file=name)
    for magic in EXECUTABLE_MAGIC:
        if head.startswith(magic):
            return F.ARC_EXECUTABLE_MEMBER.at(file=name)
    return None


def _plain(info: pyzipper.ZipInfo) -> bool:
    """Neither encrypted nor flagged with features the direct read does not handle."""
    return not info.flag_bits & _UNSUPPORTED_FLAGS and info.compress_type in _ALLOWED_METHODS


def _is_dir(info: pyzipper.ZipInfo) -> bool:
    name: str = info.orig_filename
    return name.endswith("/")


def _is_symlink(info: pyzipper.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def directory_findings(infos: list[pyzipper.ZipInfo], limits: ArchiveLimits, password: bytes | None) -> list[Finding]:
    """Every check that needs only the central directory."""
    if len(infos) > limits.max_members:
        return [F.ARC_TOO_MANY_MEMBERS.at(detail=f"{len(infos)} > {limits.max_members}")]
    found: list[Finding] = []
    seen: set[str] = set()
    total = 0
    locked = False
    for info in infos:
        name = info.orig_filename
        for finding in (_name_finding(name), _suffix_finding(name)):
            if finding is not None:
                found.append(finding)
        if _is_symlink(info):
            found.append(F.ARC_MEMBER_SYMLINK.at(file=name))
        key = name.casefold()
        if key in seen:
            found.append(F.ARC_MEMBER_DUPLICATE.at(file=name))
        seen.add(key)
        if _is_dir(info):
            continue
        if info.compress_type not in _ALLOWED_METHODS:
            found.append(F.ARC_UNSUPPORTED_COMPRESSION.at(file=name, detail=str(info.compress_type)))
        if info.flag_bits & 0x1 and password is None and not locked:
            locked = True
            found.append(F.ARC_PASSWORD_REQUIRED.at(file=name))
        if info.file_size > limits.max_member_bytes:
            found.append(F.ARC_MEMBER_TOO_LARGE.at(file=name, detail=f"{info.file_size} bytes"))
        elif info.file_size > limits.max_ratio * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            found.append(F.ARC_COMPRESSION_RATIO.at(file=name, detail=f"{ratio}:1"))
        total += info.file_size
    if total > limits.max_total_bytes:
        found.append(F.ARC_TOTAL_TOO_LARGE.at(detail=f"{total} bytes"))
    return found


def _exception_finding(name: str, exc: BaseException) -> Finding:
    text = str(exc)
    if isinstance(exc, RuntimeError) and "password" in text.lower():
        if "requires a password" in text or "password required" in text.lower():
            return F.ARC_PASSWORD_REQUIRED.at(file=name)
        return F.ARC_PASSWORD_WRONG.at(file=name)
    if isinstance(exc, NotImplementedError):
        return F.ARC_UNSUPPORTED_COMPRESSION.at(file=name, detail=text)
    return F.ARC_CORRUPT.at(file=name, detail=text)


_READ_ERRORS = (
    RuntimeError,
    NotImplementedError,
    pyzipper.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
)


@dataclass(frozen=True)
class MemberPlace:
    """Where one member's bytes sit in a ZIP, from its central-directory entry: enough to read that
    member alone (``read_member_at``) without the archive's directory or its other members."""

    name: str
    offset: int  # of the local file header
    compressed_size: int
    size: int
    crc32: int
    method: int
    flags: int

    @classmethod
    def of(cls, info: pyzipper.ZipInfo) -> MemberPlace:
        return cls(
            name=info.orig_filename,
            offset=info.header_offset,
            compressed_size=info.compress_size,
            size=info.file_size,
            crc32=info.CRC,
            method=info.compress_type,
            flags=info.flag_bits,
        )

    @property
    def direct(self) -> bool:
        """Readable on its own: neither encrypted nor using features the direct read does not handle."""
        return not self.flags & _UNSUPPORTED_FLAGS and self.method in _ALLOWED_METHODS

    def as_list(self) -> list[int | str]:
        return [self.name, self.offset, self.compressed_size, self.size, self.crc32, self.method, self.flags]

    @classmethod
    def from_list(cls, values: list[int | str]) -> MemberPlace:
        name, offset, compressed_size, size, crc32, method, flags = values
        return cls(str(name), int(offset), int(compressed_size), int(size), int(crc32), int(method), int(flags))


def compressed_member_at(handle: IO[bytes], place: MemberPlace) -> bytes:
    """The member's stored (compressed) bytes, after checking its local header names it."""
    name = place.name
    if not place.direct:
        raise MemberError(F.ARC_UNSUPPORTED_COMPRESSION.at(file=name, detail=str(place.method)))
    try:
        handle.seek(place.offset)
        header = handle.read(_zip.sizeFileHeader)
        if len(header) != _zip.sizeFileHeader:
            raise MemberError(F.ARC_CORRUPT.at(file=name, detail="truncated file header"))
        fields = struct.unpack(_zip.structFileHeader, header)
        if fields[_zip._FH_SIGNATURE] != _zip.stringFileHeader:
            raise MemberError(F.ARC_CORRUPT.at(file=name, detail="bad magic number for file header"))
        local_name = handle.read(fields[_zip._FH_FILENAME_LENGTH])
        if local_name.decode("utf-8" if place.flags & _UTF8_NAME else "cp437") != name:
            raise MemberError(F.ARC_CORRUPT.at(file=name, detail="file names in directory and header differ"))
        handle.seek(fields[_zip._FH_EXTRA_FIELD_LENGTH], os.SEEK_CUR)
        compressed = handle.read(place.compressed_size)
    except MemberError:
        raise
    except (OSError, ValueError, struct.error) as exc:  # ValueError: a negative seek, a bad name
        raise MemberError(F.ARC_CORRUPT.at(file=name, detail=str(exc))) from exc
    if len(compressed) != place.compressed_size:
        raise MemberError(F.ARC_CORRUPT.at(file=name, detail="truncated member"))
    return compressed


def inflate_member(compressed: bytes, place: MemberPlace, *, cap: int = DEFAULT_LIMITS.max_member_bytes) -> bytes:
    """A member's bytes from its stored bytes: inflated in one bounded call, size and CRC-32 checked."""
    name = place.name
    if place.method == pyzipper.ZIP_STORED:
        data = compressed[: cap + 1]
    else:
        try:
            inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            data = inflater.decompress(compressed, cap + 1)
        except zlib.error as exc:
            raise MemberError(F.ARC_CORRUPT.at(file=name, detail=str(exc))) from exc
        if len(data) <= cap and not inflater.eof:
            raise MemberError(F.ARC_CORRUPT.at(file=name, detail="truncated deflate stream"))
    if len(data) > cap:
        raise MemberError(F.ARC_MEMBER_TOO_LARGE.at(file=name))
    if len(data) > place.size:
        raise MemberError(F.ARC_SIZE_MISMATCH.at(file=name))
    if len(data) == place.size and zlib.crc32(data) != place.crc32:
        raise MemberError(F.ARC_CORRUPT.at(file=name, detail=f"Bad CRC-32 for file {name!r}"))
    return data


def read_member_at(handle: IO[bytes], place: MemberPlace, *, cap: int = DEFAULT_LIMITS.max_member_bytes) -> bytes:
    """One unencrypted stored or deflated member read alone from its place: local header, name, size
    cap, declared size and CRC-32 checked (``MemberError`` otherwise). Reads only that member's bytes."""
    return inflate_member(compressed_member_at(handle, place), place, cap=cap)


class GuardedArchive:
    """A ZIP that passed the directory checks; members are read through a byte counter."""

    def __init__(
        self,
        archive: pyzipper.AESZipFile,
        limits: ArchiveLimits,
        password: bytes | None,
        handle: IO[bytes] | None = None,
    ) -> None:
        self._zip = archive
        self._handle = handle
        self.limits = limits
        self.password = password
        self._read_total = 0

    def files(self) -> Iterator[pyzipper.ZipInfo]:
        return (info for info in self._zip.infolist() if not _is_dir(info))

    def names(self) -> list[str]:
        return [info.orig_filename for info in self._zip.infolist()]

    def read(self, info: pyzipper.ZipInfo, limit: int | None = None) -> bytes:
        """Read a member (or its first `limit` bytes), never more than the limits allow."""
        if limit is None and self._handle is not None and _plain(info):
            data = self._read_plain(info, self._handle)
            self._count(info, len(data))
            return data
        cap = self.limits.max_member_bytes if limit is None else limit
        chunks: list[bytes] = []
        size = 0
        try:
            with self._zip.open(info, pwd=self.password) as stream:
                while size < cap:
                    chunk = stream.read(min(_CHUNK, cap - size + 1))
                    if not chunk:
                        break
                    size += len(chunk)
                    chunks.append(chunk)
                    if limit is None and size > self.limits.max_member_bytes:
                        raise MemberError(F.ARC_MEMBER_TOO_LARGE.at(file=info.orig_filename))
                    if limit is None and size > info.file_size:
                        raise MemberError(F.ARC_SIZE_MISMATCH.at(file=info.orig_filename))
        except MemberError:
            raise
        except _READ_ERRORS as exc:
            raise MemberError(_exception_finding(info.orig_filename, exc)) from exc
        if limit is None:
            self._count(info, size)
        data = b"".join(chunks)
        return data if limit is None else data[:limit]

    def _count(self, info: pyzipper.ZipInfo, size: int) -> None:
        """A whole member was read: its size must be the declared one, the total within the limit."""
        if size != info.file_size:
            raise MemberError(F.ARC_SIZE_MISMATCH.at(file=info.orig_filename, detail=f"{size} ≠ {info.file_size}"))
        self._read_total += size
        if self._read_total > self.limits.max_total_bytes:
            raise MemberError(F.ARC_TOTAL_TOO_LARGE.at(file=info.orig_filename))

    def _read_plain(self, info: pyzipper.ZipInfo, handle: IO[bytes]) -> bytes:
        """A whole unencrypted stored or deflated member, inflated in one bounded call.

        The same checks as the streamed read (local header, name, size cap, declared size, CRC)
        without a stream object per member: intake reads two members per record.
        """
        return read_member_at(handle, MemberPlace.of(info), cap=self.limits.max_member_bytes)

    def place(self, info: pyzipper.ZipInfo) -> MemberPlace:
        """Where the member sits in the archive, to read it alone later (``read_member_at``)."""
        return MemberPlace.of(info)

    def close(self) -> None:
        self._zip.close()
        if self._handle is not None:
            self._handle.close()

    def __enter__(self) -> GuardedArchive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _spool(stream: IO[bytes], limits: ArchiveLimits) -> IO[bytes] | Finding:
    """Copy a caller's stream (seekable or not) into a spool we own, counting bytes."""
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115 - handed to the caller, closed by GuardedArchive
    size = 0
    while chunk := stream.read(_CHUNK):
        size += len(chunk)
        if size > limits.max_archive_bytes:
            spool.close()
            return F.ARC_TOO_LARGE.at(detail=f"> {limits.max_archive_bytes} bytes")
        spool.write(chunk)
    spool.seek(0)
    return spool


def _file_object(source: Source, limits: ArchiveLimits) -> tuple[IO[bytes] | None, Finding | None]:
    """A seekable binary handle we own (to close), or None with the finding that stops us."""
    if isinstance(source, (bytes, bytearray)):
        if len(source) > limits.max_archive_bytes:
            return None, F.ARC_TOO_LARGE.at(detail=f"{len(source)} bytes")
        return io.BytesIO(bytes(source)), None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            if path.stat().st_size > limits.max_archive_bytes:
                return None, F.ARC_TOO_LARGE.at(detail=f"{path.stat().st_size} bytes")
            return path.open("rb"), None
        except OSError as exc:
            return None, F.ARC_NOT_ZIP.at(file=path.name, detail=exc.strerror or str(exc))
    spooled = _spool(source, limits)
    if isinstance(spooled, Finding):
        return None, spooled
    return spooled, None


_EOCD_SIGNATURE = b"PK\x05\x06"
_EOCD_SIZE = 22
_EOCD_SEARCH = _EOCD_SIZE + 0xFFFF  # the record and the longest comment it may carry


def _trailing_bytes(handle: IO[bytes]) -> int:
    """How many bytes follow the end-of-central-directory record (with its comment) that a ZIP reader
    would use, the last one in the file; 0 when the record ends the file or is not found (the reader
    then reports the archive as corrupt)."""
    size = handle.seek(0, io.SEEK_END)
    start = max(size - _EOCD_SEARCH, 0)
    handle.seek(start)
    tail = handle.read()
    handle.seek(0)
    position = tail.rfind(_EOCD_SIGNATURE)
    if position < 0 or position + _EOCD_SIZE > len(tail):
        return 0
    comment_length = int.from_bytes(tail[position + 20 : position + 22], "little")
    return max(len(tail) - (position + _EOCD_SIZE + comment_length), 0)


def open_archive(
    source: Source, *, password: bytes | None = None, limits: ArchiveLimits = DEFAULT_LIMITS
) -> tuple[GuardedArchive | None, list[Finding]]:
    """Open and check a ZIP; the archive is None when a FATAL finding stops it."""
    handle, refused = _file_object(source, limits)
    if handle is None:
        return None, [refused or F.ARC_NOT_ZIP.at()]
    head = handle.read(4)
    handle.seek(0)
    if not head.startswith(ZIP_MAGIC):
        handle.close()
        return None, [F.ARC_NOT_ZIP.at()]
    trailing = _trailing_bytes(handle)
    if trailing:
        # Data hidden behind the archive is what a reader of the whole file would see and ours would not.
        handle.close()
        return None, [F.ARC_TRAILING_DATA.at(detail=f"{trailing} bytes")]
    try:
        archive = pyzipper.AESZipFile(handle)
        infos = archive.infolist()
    except (pyzipper.BadZipFile, pyzipper.LargeZipFile, OSError, ValueError, EOFError) as exc:
        handle.close()
        return None, [F.ARC_CORRUPT.at(detail=str(exc))]
    findings = directory_findings(infos, limits, password)
    if findings:
        archive.close()
        handle.close()
        return None, findings
    return GuardedArchive(archive, limits, password, handle), []
