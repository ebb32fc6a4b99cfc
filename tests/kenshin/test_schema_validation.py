"""Generated archives validate against the official 第4期 XSDs (KENSHIN_XSD_DIR)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from kenshin.reader import read_archive
from kenshin.schemas import FileKind, validate
from kenshin.synth.generator import GeneratedArchive, GeneratorConfig, generate

_KINDS = {"ix08_V08.xml": FileKind.INDEX, "su08_V08.xml": FileKind.SUMMARY, "h": FileKind.CHECKUP, "c": FileKind.CLAIM}


@pytest.fixture(scope="module")
def thousand_records(xsd_dir: Path) -> GeneratedArchive:
    return next(generate(GeneratorConfig(year=2024, records=1000, seed=2024, xsd_dir=xsd_dir)))


def test_every_member_of_a_1000_record_archive_validates(thousand_records: GeneratedArchive, xsd_dir: Path) -> None:
    hc08 = etree.XMLSchema(file=str(xsd_dir / "hc08_V08.xsd"))
    checked = 0
    with zipfile.ZipFile(io.BytesIO(thousand_records.data)) as archive:
        for info in archive.infolist():
            name = info.filename.split("/", 1)[1]
            if info.is_dir() or name.startswith("XSD/"):
                continue
            file_name = name.rsplit("/", 1)[-1]
            kind = _KINDS.get(file_name) or _KINDS[file_name[0]]
            root = etree.fromstring(archive.read(info))
            if kind is FileKind.CHECKUP:
                assert hc08.validate(root), hc08.error_log
            else:
                assert validate(xsd_dir, kind, root) == []
            checked += 1
    assert checked == 2 + 2 * 1000


def test_the_reader_accepts_the_1000_record_archive(thousand_records: GeneratedArchive, xsd_dir: Path) -> None:
    result = read_archive(thousand_records.data, filename=thousand_records.filename, xsd_dir=xsd_dir)
    assert result.findings == ()
    assert len(result.checkups) == len(result.claims) == 1000
    assert all(report.schema_valid for report in result.files)
    assert result.submission() == thousand_records.submission


def test_the_archive_carries_the_official_schemas_but_the_reader_ignores_them(
    thousand_records: GeneratedArchive, xsd_dir: Path
) -> None:
    with zipfile.ZipFile(io.BytesIO(thousand_records.data)) as archive:
        names = archive.namelist()
    root = thousand_records.filename[:-4]
    assert f"{root}/XSD/hc08_V08.xsd" in names
    assert f"{root}/XSD/coreschemas/voc_hcgv08.xsd" in names
    result = read_archive(thousand_records.data, filename=thousand_records.filename, xsd_dir=xsd_dir)
    assert not any(report.path.startswith("XSD/") for report in result.files)


def test_schema_errors_are_findings(
    small_archive: GeneratedArchive, xsd_dir: Path, rezip: Callable[..., bytes]
) -> None:
    root = small_archive.filename[:-4]
    broken_index = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<index xmlns="https://www.mhlw.go.jp/stf/seisakunitsuite/bunya/0000161103.html">'
        b'<interactionType code="99"/><creationTime value="20240601"/></index>'
    )
    data = rezip(small_archive.data, root, {"ix08_V08.xml": broken_index})
    result = read_archive(data, filename=small_archive.filename, xsd_dir=xsd_dir)
    schema_findings = [finding for finding in result.findings if finding.code == "XML_SCHEMA_INVALID"]
    assert {finding.xpath for finding in schema_findings} == {"/index/interactionType", "/index"}
    assert all(finding.file == "ix08_V08.xml" for finding in schema_findings)
    assert "XML_FIELD_MISSING" in result.codes()
    assert result.index is None


def test_without_schemas_the_reader_says_so(small_archive: GeneratedArchive) -> None:
    result = read_archive(small_archive.data, filename=small_archive.filename, xsd_dir=None)
    assert result.codes() == {"XML_SCHEMA_UNAVAILABLE"}
    assert all(report.schema_valid is None for report in result.files)
