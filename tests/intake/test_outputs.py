"""The 受領書, the 受付エラー連絡表 (CSV and PDF), the 種別 2 返戻 archive and the warning override service."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Sum

from agency.models import AgencyProfile, Contract, Institution, Role
from audit.models import AuditEvent
from intake import checks, outputs, wording
from intake.models import Channel, Finding, Record, RecordStatus, Submission, SubmissionStatus
from intake.services.review import finding_override_warning
from kenshin.codes import OID_AGENCY, OID_INSTITUTION
from kenshin.reader import read_archive
from kenshin.synth.generator import GeneratedArchive

from ..factories import FindingFactory, UserFactory
from .helpers import RETURN_DEFECTS, make_archive, receive, warning_on

pytestmark = pytest.mark.django_db

# The defects of ``helpers.RETURN_DEFECTS`` and the 別表9 code each record is returned with.
EXPECTED_REASONS = {"ticket_expired": "06", "copay_mismatch": "07"}


def injected_reason(archive: GeneratedArchive, record: Record) -> str:
    """The 別表9 code the defect injected into this record's files should be returned with."""
    for item in archive.defects:
        if item.member == record.data_path:
            return EXPECTED_REASONS[item.defect]
    raise AssertionError(f"no defect was injected into {record.data_path}")


# --- 受領書 ------------------------------------------------------------------------------------------------


def test_receipt_figures_match_the_records(submission_a: Submission, archive_a: GeneratedArchive) -> None:
    assert submission_a.status == SubmissionStatus.PARTIALLY_ACCEPTED
    data = outputs.receipt(submission_a)
    records = Record.objects.filter(submission=submission_a)
    accepted = records.filter(status=RecordStatus.ACCEPTED)
    returned = records.filter(status=RecordStatus.RETURNED)
    assert data["receipt_number"] == submission_a.receipt_number
    assert data["sha256"] == hashlib.sha256(archive_a.data).hexdigest()
    assert data["size"] == len(archive_a.data)
    assert data["file_name"] == archive_a.filename
    assert data["channel"] == Channel.UPLOAD
    assert data["institution"]["number"] == submission_a.institution.number
    assert data["received_at"].endswith("+09:00")
    assert data["rule_set"] == checks.RULE_SET_VERSION
    assert data["status"] == SubmissionStatus.PARTIALLY_ACCEPTED
    assert data["counts"] == {
        "files": 2 * records.count() + 2,  # h + c per person, ix08 and su08
        "records_total": records.count(),
        "records_checked": records.count(),
        "records_accepted": accepted.count(),
        "records_returned": returned.count(),
    }
    assert data["counts"]["records_returned"] == len(RETURN_DEFECTS)
    assert data["amounts"] == {
        "claimed": records.aggregate(s=Sum("claim_amount"))["s"],
        "accepted": accepted.aggregate(s=Sum("claim_amount"))["s"],
        "returned": returned.aggregate(s=Sum("claim_amount"))["s"],
    }
    assert all(isinstance(value, int) for value in data["amounts"].values())
    assert data["findings"]["error"] == Finding.objects.filter(submission=submission_a, severity="error").count()


def test_receipt_json_is_the_receipt(submission_a: Submission) -> None:
    assert json.loads(outputs.receipt_json(submission_a)) == outputs.receipt(submission_a)


# --- 受付エラー連絡表 -----------------------------------------------------------------------------------------


def _csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "Excel needs the UTF-8 byte-order mark"
    assert b"\r\n" in data
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_error_list_csv_names_the_person_the_reason_and_the_fix(submission_a: Submission, archive_a: GeneratedArchive) -> None:
    header, *rows = _csv_rows(outputs.error_list_csv(submission_a))
    assert header == [
        "受領番号", "順番", "受診券整理番号", "保険者番号", "氏名カナ", "生年月日", "健診実施日", "コード", "重大度",
        "返戻理由コード", "返戻理由", "内容", "対処方法", "ファイル", "XPath",
    ]
    column = {name: index for index, name in enumerate(header)}
    findings = Finding.objects.filter(submission=submission_a).exclude(code__in=wording.AGENCY_CONFIGURATION_CODES)
    assert len(rows) == findings.count()
    assert {row[0] for row in rows} == {submission_a.receipt_number}
    assert sorted(row[column["コード"]] for row in rows) == sorted(findings.values_list("code", flat=True))
    for record in Record.objects.filter(submission=submission_a, status=RecordStatus.RETURNED):
        mine = [row for row in rows if row[1] == str(record.position) and row[column["重大度"]] == "エラー"]
        assert mine, record.position
        row = mine[0]
        assert row[column["返戻理由コード"]] == injected_reason(archive_a, record)
        assert row[column["返戻理由"]] in {"有効期限外", "窓口負担金額不備"}
        assert (row[column["受診券整理番号"]], row[column["保険者番号"]], row[column["氏名カナ"]]) == (
            record.ticket_number, record.insurer_number, record.name_kana
        )
        assert row[column["生年月日"]] == record.birth_date.isoformat()
        assert row[column["健診実施日"]] == record.checkup_date.isoformat()
        assert row[column["対処方法"]], "every rule says what to do"
        assert not re.search(r"[a-z]+_[a-z]+", row[column["内容"]]), row[column["内容"]]
    archive_level = [row for row in rows if row[1] == ""]
    assert len(archive_level) == findings.filter(record__isnull=True).count()


def test_error_list_leaves_out_configuration_and_repeats(submission_a: Submission) -> None:
    record = Record.objects.filter(submission=submission_a, status=RecordStatus.RETURNED).first()
    FindingFactory(record=record, submission=submission_a, code="XML_SCHEMA_UNAVAILABLE", severity="warning",
                   message="XMLスキーマが設定されていないためスキーマ検証を行っていません（No such file: /etc/xsd）")
    blocking = Finding.objects.filter(record=record, severity="error").first()
    FindingFactory(record=record, submission=submission_a, code=blocking.code, severity="error",
                   return_reason=blocking.return_reason, message=blocking.message, file=blocking.file)
    FindingFactory(record=record, submission=submission_a, code="ITM_REQUIRED_MISSING", severity="error", return_reason="02",
                   message="必須の健診項目（またはいずれか必須の項目群）がありません（hdl, 9N001000000000001）")
    FindingFactory(record=record, submission=submission_a, code="XML_MALFORMED", severity="error", return_reason="01",
                   message="XMLとして正しくありません（12行目: Premature end of data in tag observation line 3）")
    rows = outputs.error_list_rows(submission_a)
    texts = [row["内容"] for row in rows if row["順番"] == str(record.position)]
    assert not any("スキーマが設定されていない" in text for text in texts)
    assert len([row for row in rows if row["順番"] == str(record.position) and row["コード"] == blocking.code]) == 1
    assert "必須の健診項目（またはいずれか必須の項目群）がありません（HDLコレステロール（いずれか）、身長）" in texts
    assert "XMLとして正しくありません（12行目）" in texts
    assert not any(re.search(r"Premature|hdl\b", text) for text in texts)


def test_error_list_csv_neutralises_spreadsheet_formulas(submission_a: Submission) -> None:
    record = Record.objects.filter(submission=submission_a).first()
    Record.objects.filter(pk=record.pk).update(name_kana="@SUM(1+1)")  # names and file names come from the upload
    FindingFactory(record=record, return_reason="01", file="=cmd|' /C calc'!A0")
    _, *rows = _csv_rows(outputs.error_list_csv(submission_a))
    cells = [cell for row in rows for cell in row]
    assert "'=cmd|' /C calc'!A0" in cells
    assert "'@SUM(1+1)" in cells
    assert not any(cell.startswith(("=", "@", "+")) for cell in cells)


# --- PDFs ---------------------------------------------------------------------------------------------------


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    assert data.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_receipt_pdf_carries_the_receipt_number_and_figures(submission_a: Submission) -> None:
    text = _pdf_text(outputs.receipt_pdf(submission_a))
    assert submission_a.receipt_number in text
    assert "受領書" in text
    assert f"{submission_a.amount_claimed:,}" in text
    assert f"{submission_a.amount_returned:,}" in text
    assert submission_a.archive.sha256[:16] in text.replace("\n", "")
    assert submission_a.institution.name in text


def test_error_list_pdf_lists_the_findings(submission_a: Submission) -> None:
    text = _pdf_text(outputs.error_list_pdf(submission_a))
    assert submission_a.receipt_number in text
    assert "受付エラー連絡表" in text
    for code in ("REC_TICKET_EXPIRED", "REC_COPAY_MISMATCH"):
        assert code in text.replace("\n", "")


# --- 返戻 archive ----------------------------------------------------------------------------------------------


def test_returned_archive_is_a_type_2_standard_archive_of_the_returned_records(
    submission_a: Submission, archive_a: GeneratedArchive, agency_profile: AgencyProfile
) -> None:
    xsd_dir = os.environ.get("KENSHIN_XSD_DIR") or None
    returned = outputs.returned_archive(submission_a)
    assert returned is not None
    records = list(Record.objects.filter(submission=submission_a, status=RecordStatus.RETURNED).order_by("position"))
    assert list(returned.record_ids) == [r.pk for r in records]
    assert returned.missing_record_ids == ()
    institution = submission_a.institution.number
    assert returned.filename.startswith(f"{agency_profile.agency_code}_{institution}_")

    result = read_archive(returned.data, filename=returned.filename, xsd_dir=xsd_dir)
    blocking = [f for f in result.findings if f.blocking]
    assert blocking == [], blocking
    if xsd_dir:
        assert all(report.schema_valid for report in result.files), result.files
    index = result.index
    assert index is not None
    assert index.interaction_type == "2"
    assert (index.sender.root, index.sender.extension) == (OID_AGENCY, agency_profile.agency_code)
    assert index.receiver is not None
    assert (index.receiver.root, index.receiver.extension) == (OID_INSTITUTION, institution)
    assert sorted(m.path for m in result.checkups) == sorted(r.data_path for r in records)
    assert sorted(m.path for m in result.claims) == sorted(r.claim_path for r in records)
    by_claim = {r.claim_path: r for r in records}
    for member in result.claims:
        adjudication = member.record.agency_result
        assert adjudication is not None
        assert adjudication.interaction_type == "2"
        assert adjudication.reason_code == injected_reason(archive_a, by_claim[member.path])
        assert adjudication.reason_text
        assert len(adjudication.reason_text) <= 100
        assert adjudication.recorded_on == submission_a.checked_at.astimezone(outputs.JST).date()
    assert result.summary is not None
    assert result.summary.total_claim_amount == sum(r.claim_amount for r in records)
    assert result.summary.total_subject_count == len(records)


def test_returned_archive_is_the_same_every_time(submission_a: Submission) -> None:
    first = outputs.returned_archive(submission_a)
    second = outputs.returned_archive(submission_a)
    assert first is not None and second is not None
    assert first.data == second.data


def test_no_returned_archive_when_everything_was_accepted(
    agency_profile: AgencyProfile, contract_a: Contract, django_capture_on_commit_callbacks: Any
) -> None:
    submission = receive(
        make_archive(contract_a, records=2, seed=7, defects=()),
        contract_a.institution,
        django_capture_on_commit_callbacks,
    )
    assert submission.status == SubmissionStatus.ACCEPTED
    assert outputs.returned_archive(submission) is None
    _, *rows = _csv_rows(outputs.error_list_csv(submission))
    assert all(row[5] != "エラー" for row in rows)


# --- warning override ------------------------------------------------------------------------------------------


def test_overriding_a_warning_is_recorded_and_audited(submission_a: Submission) -> None:
    clerk = UserFactory(role=Role.AGENCY_CLERK)
    warning = warning_on(submission_a)
    finding_override_warning(finding=warning, reason="  院内独自項目のため問題なし  ", actor=clerk)
    warning.refresh_from_db()
    assert warning.overridden_by == clerk
    assert warning.overridden_at is not None
    assert warning.override_reason == "院内独自項目のため問題なし"
    event = AuditEvent.objects.filter(action="intake.finding.override").get()
    assert event.object_ids == [str(warning.pk)]
    assert event.actor_id == clerk.pk
    assert event.detail["code"] == "OBS_UNKNOWN_CODE"
    assert event.detail["record"] == warning.record_id
    with pytest.raises(ValidationError):
        finding_override_warning(finding=warning, reason="二度目", actor=clerk)
    assert AuditEvent.objects.filter(action="intake.finding.override").count() == 1


def test_errors_cannot_be_overridden(submission_a: Submission) -> None:
    clerk = UserFactory(role=Role.AGENCY_CLERK)
    error = Finding.objects.filter(submission=submission_a, severity=Finding.Severity.ERROR).first()
    with pytest.raises(ValidationError):
        finding_override_warning(finding=error, reason="理由", actor=clerk)
    error.refresh_from_db()
    assert error.overridden_at is None
    assert not AuditEvent.objects.filter(action="intake.finding.override").exists()


def test_override_needs_the_permission_and_a_reason(submission_a: Submission, institution_a: Institution) -> None:
    warning = warning_on(submission_a)
    staff = UserFactory(role=Role.INSTITUTION_STAFF, institution=institution_a)
    with pytest.raises(PermissionDenied):
        finding_override_warning(finding=warning, reason="理由", actor=staff)
    with pytest.raises(ValidationError):
        finding_override_warning(finding=warning, reason="   ", actor=UserFactory(role=Role.AGENCY_CLERK))
    warning.refresh_from_db()
    assert warning.overridden_at is None
