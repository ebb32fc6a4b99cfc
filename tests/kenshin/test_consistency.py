"""Cross-file checks of the reader and the re-packaging an agency does (種別 2, 3)."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from lxml import etree

from kenshin import xmlutil
from kenshin.assemble import agency_party, build_submission, return_to_institution, route_by_insurer
from kenshin.claim_read import read_claim
from kenshin.claim_write import claim_xml
from kenshin.codes import OID_AGENCY, OID_INSTITUTION, OID_INSURER, Namespace
from kenshin.naming import ArchiveName
from kenshin.reader import ReadResult, read_archive
from kenshin.records import AdjudicationResult, GuidanceDocument, Member, PartyId, Section, Submission
from kenshin.synth.generator import GeneratedArchive, GeneratorConfig, generate
from kenshin.writer import write_archive


@pytest.fixture(scope="module")
def mixed() -> GeneratedArchive:
    """Twelve records spread over several insurers."""
    return next(generate(GeneratorConfig(year=2024, records=12, seed=8, insurers=4)))


def _read(submission: Submission) -> ReadResult:
    return read_archive(write_archive(submission), filename=submission.name.filename, xsd_dir=None)


def test_routing_splits_per_insurer_with_type_3(mixed: GeneratedArchive) -> None:
    routed = route_by_insurer(mixed.submission, agency_number="99130015", submitted_on=date(2025, 1, 10))
    insurers = {member.record.subject.insurer_number for member in mixed.submission.claims}
    assert set(routed) == insurers and len(insurers) > 1
    assert sum(len(part.claims) for part in routed.values()) == 12
    for insurer, part in routed.items():
        assert part.index.interaction_type == "3"
        assert part.index.sender == PartyId(OID_AGENCY, "99130015")
        assert part.index.receiver == PartyId(OID_INSURER, insurer)
        assert part.name.filename == f"99130015_{insurer}_202501100_1.zip"
        assert part.summary is not None and part.summary.total_subject_count == len(part.claims)
        result = _read(part)
        assert result.codes() == {"XML_SCHEMA_UNAVAILABLE"}
        assert {member.record.subject.insurer_number for member in result.claims} == {insurer}


def test_returning_records_to_the_institution_with_type_2(mixed: GeneratedArchive) -> None:
    returned = mixed.submission.claims[0]
    reason = AdjudicationResult("2", date(2025, 1, 10), "05", "受診券整理番号不備")
    back = return_to_institution(
        mixed.submission, {returned.stem: reason}, agency_number="99130015", submitted_on=date(2025, 1, 10)
    )
    assert back.index.interaction_type == "2"
    assert back.index.receiver == PartyId(OID_INSTITUTION, mixed.institution)
    result = _read(back)
    assert result.codes() == {"XML_SCHEMA_UNAVAILABLE"}
    assert [member.record.agency_result for member in result.claims] == [reason]
    assert len(result.checkups) == 1


def test_results_only_archives_need_no_claims_nor_summary(mixed: GeneratedArchive) -> None:
    submission = build_submission(
        name=mixed.submission.name,
        interaction_type="1",
        sender=mixed.submission.index.sender,
        receiver=agency_party(mixed.submission.name.receiver),
        checkups=mixed.submission.checkups,
    )
    assert submission.summary is None and submission.index.total_record_count == 12
    assert _read(submission).codes() == {"XML_SCHEMA_UNAVAILABLE"}


def test_summary_missing_and_unexpected(mixed: GeneratedArchive) -> None:
    assert "ARC_SUMMARY_MISSING" in _read(replace(mixed.submission, summary=None)).codes()
    results_only = replace(mixed.submission, claims=(), index=replace(mixed.submission.index, total_record_count=12))
    assert "ARC_SUMMARY_UNEXPECTED" in _read(results_only).codes()


def test_claim_type_must_match_the_elements(mixed: GeneratedArchive) -> None:
    member = mixed.submission.claims[0]
    claim = member.record
    wrong = replace(claim, settlement=replace(claim.settlement, claim_type="5"))
    result = _read(replace(mixed.submission, claims=(Member(member.path, wrong), *mixed.submission.claims[1:])))
    assert [f.file for f in result.findings if f.code == "CLM_CLAIM_TYPE_INCONSISTENT"] == [member.path]


def test_internal_sums_of_a_claim(mixed: GeneratedArchive) -> None:
    member = mixed.submission.claims[0]
    claim = member.record
    wrong = replace(claim, settlement=replace(claim.settlement, unit_amount=claim.settlement.unit_amount + 1))
    submission = replace(mixed.submission, claims=(Member(member.path, wrong), *mixed.submission.claims[1:]))
    assert "CLM_AMOUNT_INCONSISTENT" in _read(submission).codes()


def test_index_parties_must_fit_the_interaction_type(mixed: GeneratedArchive) -> None:
    index = replace(mixed.submission.index, receiver=PartyId(OID_INSURER, mixed.submission.name.receiver))
    assert "IDX_OID_MISMATCH" in _read(replace(mixed.submission, index=index)).codes()
    broken_agency = replace(mixed.submission.index, receiver=PartyId(OID_AGENCY, "99130016"))
    name = replace(mixed.submission.name, receiver="99130016")
    assert "ID_AGENCY_CHECK_DIGIT" in _read(replace(mixed.submission, index=broken_agency, name=name)).codes()


def test_service_type_must_agree(mixed: GeneratedArchive) -> None:
    member = mixed.submission.claims[0]
    wrong = replace(member.record, service_event_type="2")
    result = _read(replace(mixed.submission, claims=(Member(member.path, wrong), *mixed.submission.claims[1:])))
    assert [f.file for f in result.findings if f.code == "IDX_SERVICE_MISMATCH"] == [member.path]


def test_ticket_mismatch_between_pair(mixed: GeneratedArchive) -> None:
    member = mixed.submission.claims[0]
    wrong = replace(member.record, ticket_number="24199999999")
    result = _read(replace(mixed.submission, claims=(Member(member.path, wrong), *mixed.submission.claims[1:])))
    assert "PAIR_TICKET_MISMATCH" in result.codes()
    assert next(f for f in result.findings if f.code == "PAIR_TICKET_MISMATCH").reason.value == "05"


def test_nonstandard_member_names_are_warnings(mixed: GeneratedArchive) -> None:
    document, claim = mixed.submission.checkups[0], mixed.submission.claims[0]
    renamed = replace(
        mixed.submission,
        checkups=(
            replace(document, path="DATA/h28133035892024052701_0059_00280081.xml"),
            *mixed.submission.checkups[1:],
        ),
        claims=(replace(claim, path="CLAIMS/c28133035892024052701_0059_00280081.xml"), *mixed.submission.claims[1:]),
    )
    result = _read(renamed)
    nonstandard = [f for f in result.findings if f.code == "ARC_MEMBER_NAME_NONSTANDARD"]
    assert len(nonstandard) == 2 and all(not f.blocking for f in nonstandard)
    assert result.accepted


def test_an_archive_name_from_another_party(mixed: GeneratedArchive) -> None:
    other = ArchiveName("2813300114", mixed.submission.name.receiver, date(2024, 6, 1), 0, "1")
    result = read_archive(write_archive(replace(mixed.submission, name=other)), filename=other.filename, xsd_dir=None)
    assert "IDX_NAME_MISMATCH" in result.codes()
    assert result.index is not None and result.index.sender == PartyId(OID_INSTITUTION, mixed.institution)


# --- one person at a time ----------------------------------------------------------------------------


def test_reading_one_person_at_a_time_gives_what_reading_all_gives() -> None:
    from kenshin.reader import ArchiveReading

    archive = next(generate(GeneratorConfig(year=2024, records=12, seed=23, defect_rate=0.4)))
    whole = read_archive(archive.data, filename=archive.filename, xsd_dir=None)
    with ArchiveReading(archive.data, filename=archive.filename, xsd_dir=None) as reading:
        records = list(reading.records())
        findings = [*reading.findings, *(f for r in records for f in r.findings), *reading.finish()]
    assert [r.pair.checkup.path for r in records if r.pair.checkup] == [m.path for m in whole.checkups]
    assert sorted(map(repr, findings)) == sorted(map(repr, whole.findings))
    for record in records:  # each record carries the findings on its own files only
        own = {record.pair.data_path, record.pair.claim_path}
        assert all(finding.file in own for finding in record.findings)


def test_claims_pair_with_their_data_files_whatever_the_member_order(members_of: Any) -> None:
    archive = next(generate(GeneratorConfig(year=2024, records=5, seed=24)))
    members = members_of(archive.data)
    claims = sorted((name for name in members if "/CLAIMS/" in name), reverse=True)
    others = [name for name in members if "/CLAIMS/" not in name]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as rebuilt:
        for name in [*claims, *others]:  # every claim before any data file, in the opposite order
            rebuilt.writestr(name, members[name])
    result = read_archive(buffer.getvalue(), filename=archive.filename, xsd_dir=None)
    assert result.accepted and "ARC_PAIR_MISSING" not in result.codes()
    assert {m.path: m.record for m in result.claims} == {m.path: m.record for m in archive.submission.claims}
    assert [f"{result.root}/{m.path}" for m in result.claims] == claims  # in the archive's order


# --- every defect of a file, the kind of a file from its content ----------------------------------------------------------


def _claim_without(mixed: GeneratedArchive, *tags: bytes) -> bytes:
    data = claim_xml(mixed.submission.claims[0].record)
    for tag in tags:
        start = data.index(b"<" + tag)
        data = data[:start] + data[data.index(b"/>", start) + 2 :]
    return data


def test_every_missing_field_of_a_claim_is_reported_then_counted(mixed: GeneratedArchive, monkeypatch: pytest.MonkeyPatch) -> None:
    root = etree.fromstring(_claim_without(mixed, b"birthTime", b"unitAmount", b"claimAmount"))
    with pytest.raises(xmlutil.FieldError) as raised:
        read_claim(root, "CLAIMS/c.xml", Namespace.MHLW_2024)
    assert [f.xpath for f in raised.value.findings] == [
        "/checkupClaim/subjectPerson/birthTime", "/checkupClaim/settlement/unitAmount", "/checkupClaim/settlement/claimAmount",
    ]
    monkeypatch.setattr(xmlutil, "MAX_FIELD_ERRORS", 1)
    with pytest.raises(xmlutil.FieldError) as raised:
        read_claim(root, "CLAIMS/c.xml", Namespace.MHLW_2024)
    assert len(raised.value.findings) == 2 and "ほかに2件" in raised.value.findings[-1].message


def test_a_guidance_document_named_as_a_checkup_is_read_as_guidance(mixed: GeneratedArchive) -> None:
    first = mixed.submission.checkups[0]
    header = replace(first.record.header, report_category="22")
    guidance = Member(first.path, GuidanceDocument(header=header, sections=(Section("90010", None, ()),)))
    result = _read(replace(mixed.submission, checkups=mixed.submission.checkups[1:], guidance=(guidance,)))
    assert {"XML_KIND_PREFIX_MISMATCH", "ARC_MIXED_SERVICE"} <= result.codes()
    assert [member.path for member in result.guidance] == [first.path]
    assert first.path not in {member.path for member in result.checkups}
