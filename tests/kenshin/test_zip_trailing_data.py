"""Bytes after the ZIP's end-of-central-directory record reject the archive (ARC_TRAILING_DATA): data
hidden behind an archive is what another reader of the whole file would see and ours would not."""

from __future__ import annotations

import io
import zipfile

import pytest

from kenshin.findings import FINDING_KINDS, Severity
from kenshin.reader import read_archive
from kenshin.synth.generator import GeneratedArchive
from kenshin.zipguard import open_archive


@pytest.mark.parametrize("tail", [b"\x00", b"hidden payload", b"PK\x03\x04" + b"\x00" * 4096])
def test_bytes_after_the_end_record_reject_the_archive(small_archive: GeneratedArchive, tail: bytes) -> None:
    archive, findings = open_archive(small_archive.data + tail)

    assert archive is None
    assert [f.code for f in findings] == ["ARC_TRAILING_DATA"] and f"{len(tail)} bytes" in findings[0].message
    assert FINDING_KINDS["ARC_TRAILING_DATA"].severity == Severity.FATAL
    assert "ARC_TRAILING_DATA" in read_archive(small_archive.data + tail, xsd_dir=None).codes()


def test_a_comment_inside_the_end_record_is_no_trailing_data(small_archive: GeneratedArchive) -> None:
    buffer = io.BytesIO(small_archive.data)
    with zipfile.ZipFile(buffer, "a") as commented:
        commented.comment = "特定健診".encode()
    archive, findings = open_archive(buffer.getvalue())

    assert findings == [] and archive is not None
    archive.close()


def test_trailing_data_past_the_search_window_is_a_corrupt_archive(small_archive: GeneratedArchive) -> None:
    _archive, findings = open_archive(small_archive.data + b"\x00" * 70_000)

    assert [f.code for f in findings] == ["ARC_CORRUPT"]
