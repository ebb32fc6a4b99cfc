"""実施結果報告 archive (実施区分 3): anonymised documents, names, ix08 counts, XSD validity, and the counts."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from kenshin import annual_report
from kenshin.annual_report import Person
from kenshin.naming import MemberName
from kenshin.schemas import FileKind, validate
from kenshin.synth.generator import GeneratedArchive

MADE = date(2025, 6, 30)


def _report(small_archive: GeneratedArchive) -> tuple[list[str], bytes]:
    documents = [member.record for member in small_archive.submission.checkups]
    pseudonyms = [f"P{n:019d}" for n in range(len(documents))]
    anonymised = [annual_report.anonymise(d, p, created_on=MADE) for d, p in zip(documents, pseudonyms, strict=True)]
    _name, data = annual_report.write(insurer_number="06139993", receiver="00000000", created_on=MADE,
                                      documents=iter(anonymised), count=len(anonymised))
    return pseudonyms, data


def test_archive_is_named_counted_and_anonymised(small_archive: GeneratedArchive) -> None:
    pseudonyms, data = _report(small_archive)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        root = "06139993_00000000_202506300_3"
        assert all(name.startswith(f"{root}/") for name in names)
        data_files = sorted(n for n in names if "/DATA/" in n)
        assert len(data_files) == len(pseudonyms) and not any("/CLAIMS/" in n for n in names)
        assert f"{root}/su08_V08.xml" not in names
        first = MemberName.parse(data_files[0].rsplit("/", 1)[1])
        assert first is not None
        assert (first.prefix, first.institution, first.service_event_type, first.serial) == ("h", "0006139993", "3", 1)
        index = etree.fromstring(archive.read(f"{root}/ix08_V08.xml"))
        values = {etree.QName(e).localname: e.get("value") or e.get("code") for e in index}
        assert values["interactionType"] == "10" and values["serviceEventType"] == "3"
        assert values["totalRecordCount"] == str(len(pseudonyms))
        text = b"".join(archive.read(n) for n in data_files).decode("utf-8")
    originals = [m.record for m in small_archive.submission.checkups]
    for document in originals:
        subject = document.subject
        assert subject.name_kana not in text and subject.card_number not in text and subject.address not in text
        if document.ticket is not None:
            assert document.ticket.number not in text
    assert all(p in text for p in pseudonyms)


def test_every_file_validates_against_the_official_xsds(small_archive: GeneratedArchive, xsd_dir: Path) -> None:
    _pseudonyms, data = _report(small_archive)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.endswith("/"):
                continue
            kind = FileKind.INDEX if name.endswith("ix08_V08.xml") else FileKind.CHECKUP
            assert validate(xsd_dir, kind, etree.fromstring(archive.read(name))) == [], name


def test_counts_by_sex_and_age_band() -> None:
    people = [Person("1", 40, "1"), Person("1", 44, "2"), Person("2", 65, "2"), Person("2", 74, ""), Person("1", 39, "1"),
              Person("2", 75, "3"), Person("1", 50, "3")]
    found = annual_report.counts(people)
    assert found.examinees == {("1", "40-44"): 2, ("2", "65-69"): 1, ("2", "70-74"): 1, ("1", "50-54"): 1}
    assert found.targets == {("1", "40-44"): 1, ("2", "40-44"): 1, ("2", "65-69"): 1}
    assert (found.total_examinees, found.total_targets) == (5, 3)


def test_the_announced_count_must_be_written(small_archive: GeneratedArchive) -> None:
    document = small_archive.submission.checkups[0].record
    with pytest.raises(ValueError, match="1 documents written, 2 announced"):
        annual_report.write(insurer_number="06139993", receiver="00000000", created_on=MADE,
                            documents=[annual_report.anonymise(document, "P1", created_on=MADE)], count=2)
    with pytest.raises(ValueError, match="do not fit one archive"):
        annual_report.write(insurer_number="06139993", receiver="00000000", created_on=MADE, documents=[],
                            count=annual_report.MAX_FILES + 1)
