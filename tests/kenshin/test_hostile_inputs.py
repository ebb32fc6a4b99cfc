"""Hostile and broken uploads: each gives its coded finding and nothing raises."""

from __future__ import annotations

import io
import os
import struct
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kenshin.reader import ReadResult, read_archive
from kenshin.synth.generator import GeneratedArchive
from kenshin.writer import write_archive
from kenshin.zipguard import ArchiveLimits, MemberError, open_archive

ZipBuilder = Callable[..., bytes]
Rezip = Callable[[bytes, str, dict[str, bytes]], bytes]
ZipCrypto = Callable[[Iterable[tuple[str, bytes]], bytes], bytes]
MembersOf = Callable[[bytes], dict[str, bytes]]

_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def _root(archive: GeneratedArchive) -> str:
    return archive.filename[:-4]


def _index(archive: GeneratedArchive, members_of: MembersOf) -> bytes:
    return members_of(archive.data)[f"{_root(archive)}/ix08_V08.xml"]


def _read(
    data: bytes,
    filename: str | None = None,
    *,
    password: str | bytes | None = None,
    limits: ArchiveLimits | None = None,
) -> ReadResult:
    return read_archive(data, filename=filename, xsd_dir=None, password=password, limits=limits or ArchiveLimits())


# --- XML ---------------------------------------------------------------------------------------


def test_xxe_is_refused_and_the_entity_never_resolved(
    small_archive: GeneratedArchive, rezip: Rezip, members_of: MembersOf, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET", encoding="utf-8")
    body = _index(small_archive, members_of).split(b"\n", 1)[1]
    hostile = (
        _XML_DECLARATION
        + f'<!DOCTYPE index [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'.encode()
        + body.replace(b'value="1"/>', b'value="1"/><!-- &xxe; -->', 1)
    )
    result = _read(rezip(small_archive.data, _root(small_archive), {"ix08_V08.xml": hostile}), small_archive.filename)
    assert "XML_EXTERNAL_ENTITY" in result.codes()
    assert result.index is None
    assert "TOP-SECRET" not in repr(result)


def test_billion_laughs_is_refused(small_archive: GeneratedArchive, rezip: Rezip) -> None:
    entities = "".join(f'<!ENTITY l{n} "{("&l" + str(n - 1) + ";") * 10}">' for n in range(1, 12))
    hostile = _XML_DECLARATION + f'<!DOCTYPE index [<!ENTITY l0 "lol">{entities}]><index>&l11;</index>'.encode()
    result = _read(rezip(small_archive.data, _root(small_archive), {"ix08_V08.xml": hostile}), small_archive.filename)
    assert "XML_ENTITY_DECLARED" in result.codes()


def test_any_doctype_is_refused(small_archive: GeneratedArchive, rezip: Rezip) -> None:
    hostile = _XML_DECLARATION + b"<!DOCTYPE index><index/>"
    result = _read(rezip(small_archive.data, _root(small_archive), {"ix08_V08.xml": hostile}), small_archive.filename)
    assert "XML_DOCTYPE" in result.codes()


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ('<?xml version="1.0" encoding="Shift_JIS"?><index/>'.encode("shift_jis"), "XML_ENCODING"),
        (b'<?xml version="1.0" encoding="UTF-8"?><index>' + "ﾔﾏﾀﾞ".encode("shift_jis") + b"</index>", "XML_ENCODING"),
        ("<?xml version='1.0' encoding='UTF-16'?><index/>".encode("utf-16"), "XML_ENCODING"),
        (b"<index><unclosed></index>", "XML_MALFORMED"),
        (b"", "XML_MALFORMED"),
        (b"\xef\xbb\xbf<index xmlns='urn:wrong'/>", "XML_ROOT_UNEXPECTED"),
    ],
)
def test_broken_xml_members(small_archive: GeneratedArchive, rezip: Rezip, payload: bytes, code: str) -> None:
    data = rezip(small_archive.data, _root(small_archive), {"DATA/h99999999992024060101000001.xml": payload})
    result = _read(data, small_archive.filename)
    assert code in result.codes()
    assert len(result.checkups) == 6


def test_a_wrong_namespace_is_a_finding(small_archive: GeneratedArchive, rezip: Rezip, members_of: MembersOf) -> None:
    index = _index(small_archive, members_of).replace(
        b"https://www.mhlw.go.jp/stf/seisakunitsuite/bunya/0000161103.html", b"urn:example:other"
    )
    result = _read(rezip(small_archive.data, _root(small_archive), {"ix08_V08.xml": index}), small_archive.filename)
    assert "XML_NAMESPACE_UNKNOWN" in result.codes()
    assert "ARC_INDEX_MISSING" in result.codes()


# --- ZIP structure ------------------------------------------------------------------------------


def test_not_a_zip() -> None:
    for data in (b"", b"hello, this is text", b"%PDF-1.7 ..."):
        assert _read(data).codes() == {"XML_SCHEMA_UNAVAILABLE", "ARC_NOT_ZIP"}


def test_a_truncated_zip(small_archive: GeneratedArchive) -> None:
    result = _read(small_archive.data[: len(small_archive.data) // 2], small_archive.filename)
    assert "ARC_CORRUPT" in result.codes()
    assert result.fatal


def test_a_missing_file_path(tmp_path: Path) -> None:
    assert "ARC_NOT_ZIP" in read_archive(tmp_path / "absent.zip", xsd_dir=None).codes()


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("../x.xml", "ARC_MEMBER_TRAVERSAL"),
        ("root/../../x.xml", "ARC_MEMBER_TRAVERSAL"),
        ("..\\x.xml", "ARC_MEMBER_TRAVERSAL"),
        ("/abs.xml", "ARC_MEMBER_ABSOLUTE"),
        ("C:\\x.xml", "ARC_MEMBER_ABSOLUTE"),
        ("c:/x.xml", "ARC_MEMBER_ABSOLUTE"),
        ("root\\DATA\\x.xml", "ARC_MEMBER_BACKSLASH"),
        ("root/DATA/\x01x.xml", "ARC_MEMBER_BAD_NAME"),
    ],
)
def test_dangerous_member_names(make_zip: ZipBuilder, name: str, code: str) -> None:
    result = _read(make_zip([(name, b"<x/>")]))
    assert code in result.codes()
    assert result.fatal
    assert result.files == ()


def test_a_symlink_member(make_zip: ZipBuilder) -> None:
    result = _read(make_zip([("root/ix08_V08.xml", b"/etc/passwd", 0o120777)]))
    assert "ARC_MEMBER_SYMLINK" in result.codes()


def test_duplicate_member_names(make_zip: ZipBuilder) -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = make_zip([("root/ix08_V08.xml", b"<a/>"), ("root/ix08_V08.xml", b"<b/>")])
    assert "ARC_MEMBER_DUPLICATE" in _read(data).codes()
    assert (
        "ARC_MEMBER_DUPLICATE" in _read(make_zip([("root/DATA/a.xml", b"<a/>"), ("root/data/A.XML", b"<b/>")])).codes()
    )


def test_too_many_members(make_zip: ZipBuilder) -> None:
    data = make_zip([(f"root/DATA/h{n}.xml", b"<a/>") for n in range(11)])
    assert _read(data, limits=ArchiveLimits(max_members=10)).codes() == {
        "XML_SCHEMA_UNAVAILABLE",
        "ARC_TOO_MANY_MEMBERS",
    }


def test_zip_bomb_by_compression_ratio(make_zip: ZipBuilder) -> None:
    result = _read(make_zip([("root/XSD/padding.xsd", bytes(4 * 1024 * 1024))]))
    assert "ARC_COMPRESSION_RATIO" in result.codes()


def test_zip_bomb_by_size(make_zip: ZipBuilder) -> None:
    result = _read(make_zip([("root/XSD/padding.xsd", bytes(9 * 1024 * 1024))]))
    assert "ARC_MEMBER_TOO_LARGE" in result.codes()


def test_zip_bomb_by_total_size(make_zip: ZipBuilder) -> None:
    entries = [(f"root/XSD/{n}.xsd", os.urandom(64 * 1024)) for n in range(4)]
    result = _read(make_zip(entries), limits=ArchiveLimits(max_total_bytes=200 * 1024))
    assert "ARC_TOTAL_TOO_LARGE" in result.codes()


def _patch_declared_size(data: bytes, suffix: str, size: int) -> bytes:
    """Rewrite the uncompressed size the central directory declares for one member."""
    blob = bytearray(data)
    directory = struct.unpack_from("<I", blob, len(blob) - 22 + 16)[0]
    position = directory
    while blob[position : position + 4] == b"PK\x01\x02":
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", blob, position + 28)
        name = bytes(blob[position + 46 : position + 46 + name_length]).decode()
        if name.endswith(suffix):
            struct.pack_into("<I", blob, position + 24, size)
        position += 46 + name_length + extra_length + comment_length
    return bytes(blob)


@pytest.mark.parametrize("factor", [0.5, 2.0])
def test_declared_sizes_are_not_trusted(small_archive: GeneratedArchive, factor: float) -> None:
    """A member holding more (or less) data than its header declares is caught while reading."""
    with zipfile.ZipFile(io.BytesIO(small_archive.data)) as archive:
        size = archive.getinfo(f"{_root(small_archive)}/ix08_V08.xml").file_size
    patched = _patch_declared_size(small_archive.data, "/ix08_V08.xml", int(size * factor))
    result = _read(patched, small_archive.filename)
    assert result.codes() & {"ARC_CORRUPT", "ARC_SIZE_MISMATCH"}
    assert result.index is None


def test_the_byte_counter_stops_an_oversized_member(small_archive: GeneratedArchive) -> None:
    archive, findings = open_archive(small_archive.data)
    assert archive is not None and findings == []
    with archive:
        archive.limits = ArchiveLimits(max_member_bytes=100)
        info = next(info for info in archive.files() if info.orig_filename.endswith(".xml"))
        with pytest.raises(MemberError) as stopped:
            archive.read(info)
    assert stopped.value.finding.code == "ARC_MEMBER_TOO_LARGE"


def test_an_archive_larger_than_allowed(small_archive: GeneratedArchive) -> None:
    result = _read(small_archive.data, small_archive.filename, limits=ArchiveLimits(max_archive_bytes=1000))
    assert "ARC_TOO_LARGE" in result.codes()


@pytest.mark.parametrize(
    "content",
    [
        b"MZ\x90\x00\x03\x00\x00\x00",
        b"\x7fELF\x02\x01\x01\x00",
        b"#!/bin/sh\nrm -rf /\n",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00",
        b"\xcf\xfa\xed\xfe\x07\x00\x00\x01",
    ],
)
def test_executables_are_found_by_content_whatever_their_name(
    small_archive: GeneratedArchive, rezip: Rezip, content: bytes
) -> None:
    for name in ("DATA/h99999999992024060101000009.xml", "XSD/extra.xsd"):
        result = _read(rezip(small_archive.data, _root(small_archive), {name: content}), small_archive.filename)
        assert "ARC_EXECUTABLE_MEMBER" in result.codes()
        assert result.checkups == ()


@pytest.mark.parametrize("name", ["DATA/setup.exe", "DATA/macro.xlsm", "run.bat", "XSD/report.docm"])
def test_executables_are_found_by_name(make_zip: ZipBuilder, name: str) -> None:
    assert "ARC_EXECUTABLE_MEMBER" in _read(make_zip([(f"root/{name}", b"harmless")])).codes()


def test_nested_archives(small_archive: GeneratedArchive, rezip: Rezip, make_zip: ZipBuilder) -> None:
    inner = make_zip([("inner.xml", b"<a/>")])
    disguised = _read(
        rezip(small_archive.data, _root(small_archive), {"XSD/schema.xsd": inner}), small_archive.filename
    )
    assert "ARC_NESTED_ARCHIVE" in disguised.codes()
    named = _read(rezip(small_archive.data, _root(small_archive), {"DATA/more.zip": b"not even a zip"}))
    assert "ARC_NESTED_ARCHIVE" in named.codes()
    gzip = _read(rezip(small_archive.data, _root(small_archive), {"CLAIMS/c.xml": b"\x1f\x8b\x08\x00rest"}))
    assert "ARC_NESTED_ARCHIVE" in gzip.codes()


def test_members_outside_the_layout_are_not_read(small_archive: GeneratedArchive, rezip: Rezip) -> None:
    result = _read(
        rezip(small_archive.data, _root(small_archive), {"notes.txt": b"hello", "DATA/sub/h.xml": b"<a/>"}),
        small_archive.filename,
    )
    unexpected = {finding.file for finding in result.findings if finding.code == "ARC_UNEXPECTED_MEMBER"}
    assert unexpected == {"notes.txt", "DATA/sub/h.xml"}
    assert len(result.checkups) == 6


def test_root_folder_must_match_the_archive_name(small_archive: GeneratedArchive) -> None:
    other = small_archive.filename.replace("_1.zip", "_2.zip")
    result = _read(small_archive.data, other)
    assert {"ARC_ROOT_INVALID", "IDX_NAME_MISMATCH"} <= result.codes()
    assert "ARC_NAME_INVALID" in _read(small_archive.data, "upload.zip").codes()


# --- passwords ------------------------------------------------------------------------------------


def test_aes_archive_with_the_right_and_wrong_password(small_archive: GeneratedArchive) -> None:
    locked = write_archive(small_archive.submission, password="s3cret-パスワード")
    opened = _read(locked, small_archive.filename, password="s3cret-パスワード")
    assert opened.codes() == {"XML_SCHEMA_UNAVAILABLE"}
    assert opened.submission() == small_archive.submission
    assert "ARC_PASSWORD_WRONG" in _read(locked, small_archive.filename, password="wrong").codes()
    assert "ARC_PASSWORD_REQUIRED" in _read(locked, small_archive.filename).codes()


def test_zipcrypto_archive_with_the_right_and_wrong_password(
    small_archive: GeneratedArchive, members_of: MembersOf, zipcrypto_zip: ZipCrypto
) -> None:
    locked = zipcrypto_zip(members_of(small_archive.data).items(), b"letmein")
    opened = _read(locked, small_archive.filename, password=b"letmein")
    assert opened.codes() == {"XML_SCHEMA_UNAVAILABLE"}
    assert opened.submission() == small_archive.submission
    assert "ARC_PASSWORD_WRONG" in _read(locked, small_archive.filename, password="letmeout").codes()
    assert "ARC_PASSWORD_REQUIRED" in _read(locked, small_archive.filename).codes()


def test_streams_are_read_too(small_archive: GeneratedArchive) -> None:
    class Unseekable(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            chunk = self._inner.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    result = read_archive(Unseekable(small_archive.data), filename=small_archive.filename, xsd_dir=None)  # type: ignore[arg-type]
    assert result.submission() == small_archive.submission


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupted_archives_never_raise(small_archive: GeneratedArchive, data: st.DataObject) -> None:
    blob = bytearray(small_archive.data)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(blob) - 1))
        blob[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(blob) // 2, len(blob)))
    result = read_archive(bytes(blob[:cut]), filename=small_archive.filename, xsd_dir=None)
    assert isinstance(result.findings, tuple)


# --- the direct member read (unencrypted stored / deflated members) ---------------------------------


class _Unseekable(io.RawIOBase):
    """A write-only stream: zipfile then writes data descriptors after each member."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        return self.buffer.write(data)


def _mixed_zip() -> bytes:
    """Stored, deflated and (streamed) data-descriptor members, with a non-ASCII name."""
    target = _Unseekable()
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr(zipfile.ZipInfo("root/stored.xml"), b"<a>" + b"x" * 5000 + b"</a>")  # stored: ratio 1
        deflated = zipfile.ZipInfo("root/受診者.xml")
        deflated.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(deflated, "<b>" + "".join(chr(0x5000 + byte) for byte in os.urandom(4000)) + "</b>")
        with archive.open("root/streamed.xml", "w", force_zip64=False) as stream:
            stream.write(b"<c>" + os.urandom(3000).hex().encode() + b"</c>")
        archive.writestr(zipfile.ZipInfo("root/empty.xml"), b"")
    return target.buffer.getvalue()


def test_members_read_directly_equal_the_standard_library() -> None:
    data = _mixed_zip()
    archive, findings = open_archive(data)
    assert archive is not None and findings == []
    with archive, zipfile.ZipFile(io.BytesIO(data)) as reference:
        for info in archive.files():
            assert archive.read(info) == reference.read(info.orig_filename)
            assert archive.read(info, limit=8) == reference.read(info.orig_filename)[:8]


def _flip_member_byte(data: bytes, name: str) -> bytes:
    """Change the first byte of a stored member's data (its CRC no longer matches)."""
    blob = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(name)
    name_length, extra_length = struct.unpack_from("<HH", blob, info.header_offset + 26)
    blob[info.header_offset + 30 + name_length + extra_length] ^= 0xFF
    return bytes(blob)


def test_a_wrong_crc_is_corrupt() -> None:
    archive, _ = open_archive(_flip_member_byte(_mixed_zip(), "root/stored.xml"))
    assert archive is not None
    with archive, pytest.raises(MemberError) as stopped:
        archive.read(next(info for info in archive.files() if info.orig_filename == "root/stored.xml"))
    assert stopped.value.finding.code == "ARC_CORRUPT"
    assert "CRC" in stopped.value.finding.message


def test_a_local_header_naming_another_file_is_corrupt() -> None:
    data = _mixed_zip()
    renamed = data.replace(b"root/stored.xml", b"root/STORED.xml", 1)  # the local header comes first
    archive, _ = open_archive(renamed)
    assert archive is not None
    with archive, pytest.raises(MemberError) as stopped:
        archive.read(next(info for info in archive.files() if info.orig_filename == "root/stored.xml"))
    assert stopped.value.finding.code == "ARC_CORRUPT"


def test_dangerous_xml_members_stop_the_archive_before_anything_counts(
    small_archive: GeneratedArchive, rezip: Rezip
) -> None:
    """Content sniffed on the bytes read for parsing: every dangerous member is named, nothing
    parsed before it is kept."""
    changes = {
        "DATA/h99999999992024060101000009.xml": b"MZ\x90\x00\x03\x00\x00\x00",
        "CLAIMS/c99999999992024060101000009.xml": b"\x7fELF\x02\x01\x01\x00",
    }
    result = _read(rezip(small_archive.data, _root(small_archive), changes), small_archive.filename)
    dangerous = {finding.file for finding in result.findings if finding.code == "ARC_EXECUTABLE_MEMBER"}
    assert dangerous == {f"{_root(small_archive)}/{name}" for name in changes}
    assert result.fatal
    assert (result.index, result.summary, result.checkups, result.claims, result.files) == (None, None, (), (), ())
