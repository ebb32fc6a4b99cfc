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
from kenshin.synth.generator import GeneratedArchive, GeneratorConfig
from kenshin.synth.guidance import generate_guidance

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


def test_guidance_parts_go_in_as_g_files_with_their_own_serials(small_archive: GeneratedArchive, xsd_dir: Path) -> None:
    pair = next(generate_guidance(GeneratorConfig(year=2024, records=3, seed=12)))
    assert pair.evaluation is not None
    parts = [m.record for m in pair.start.submission.guidance] + [m.record for m in pair.evaluation.submission.guidance]
    checkups = [m.record for m in small_archive.submission.checkups]
    documents = [annual_report.anonymise(d, f"H{n}", created_on=MADE) for n, d in enumerate(checkups)]
    documents += [annual_report.anonymise(d, f"G{n}", created_on=MADE) for n, d in enumerate(parts)]
    _name, data = annual_report.write(insurer_number="06139993", receiver="00000000", created_on=MADE,
                                      documents=iter(documents), count=len(documents))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = sorted(n for n in archive.namelist() if "/DATA/" in n and not n.endswith("/"))
        parsed = [MemberName.parse(n.rsplit("/", 1)[1]) for n in names]
        serials = {prefix: sorted(m.serial for m in parsed if m is not None and m.prefix == prefix) for prefix in "hg"}
        assert serials == {"h": list(range(1, len(checkups) + 1)), "g": list(range(1, len(parts) + 1))}
        index = etree.fromstring(archive.read("06139993_00000000_202506300_3/ix08_V08.xml"))
        assert index.find("{*}totalRecordCount").get("value") == str(len(checkups) + len(parts))
        categories = []
        for name in names:
            root = etree.fromstring(archive.read(name))
            kind = FileKind.GUIDANCE if "/DATA/g" in name else FileKind.CHECKUP
            assert validate(xsd_dir, kind, root) == [], name
            if kind is FileKind.GUIDANCE:
                categories.append(root.find("{*}code").get("code"))
        text = b"".join(archive.read(n) for n in names).decode("utf-8")
    # 報告区分 keeps the 実施時点 (21 開始時, 22 実績評価時); names, addresses, cards and 利用券 are gone
    assert sorted(categories) == sorted(d.header.report_category for d in parts) and set(categories) == {"21", "22"}
    for document in parts:
        subject = document.subject
        assert subject.name_kana not in text and subject.card_number not in text
        assert not subject.address or subject.address not in text
        assert document.ticket is not None and document.ticket.number not in text
