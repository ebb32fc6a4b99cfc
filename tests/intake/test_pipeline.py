"""事務点検 end to end: generated archives through storage, the staged checks and the verdicts."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from agency.demo import seed_demo
from agency.models import Institution, Role
from agency.services import synthetic_parties_load
from audit.models import AuditEvent
from audit.selectors import audit_chain_verify
from intake import checks, pipeline
from intake.models import Channel, Finding, NotificationSent, Record, RecordStatus, Submission, SubmissionStatus
from intake.selectors import unconfirmed_warning_list
from intake.services import check, receive
from kenshin.synth.defects import DEFECTS, Stage
from kenshin.synth.generator import GeneratedArchive, GeneratorConfig, default_parties, generate

from ..factories import UserFactory

AGENCY = "91399055"

# Defects the reader lets through, and the intake rule that must catch each.
INTAKE_RULE_FOR = {
    "unknown_insurer": "REC_INSURER_UNKNOWN",
    "no_contract": "REC_NO_CONTRACT",
    "missing_required_item": "ITM_REQUIRED_MISSING",
    "value_out_of_input_range": "ITM_INPUT_RANGE",
    "bmi_inconsistent": "ITM_BMI_INCONSISTENT",
    "fasting_tg_without_fasting_code": "ITM_FASTING_TIMING",
    "duplicate_ticket": "REC_TICKET_REUSED",
    "ticket_expired": "REC_TICKET_EXPIRED",
    "copay_mismatch": "REC_COPAY_MISMATCH",
    "age_out_of_range": "REC_AGE_OUT_OF_RANGE",
    "second_checkup_in_fiscal_year": "REC_ONCE_PER_FISCAL_YEAR",
    "detail_billed_not_performed": "REC_DETAIL_NOT_PERFORMED",
    "detail_reason_missing": "ITM_DETAIL_REASON_MISSING",
    "ticket_missing": "REC_TICKET_INVALID",
    "value_on_input_bound": "ITM_INPUT_RANGE",
    "questionnaire_inconsistent": "QST_DRINKING_AMOUNT",
}


@pytest.fixture
def make_archive(db: Any) -> Callable[..., GeneratedArchive]:
    """Archives from the generator, whose parties exist in the database."""
    seed_demo()

    def make(*, records: int = 20, seed: int = 11, defects: tuple[str, ...] = (), **kwargs: Any) -> GeneratedArchive:
        config = GeneratorConfig(year=2024, records=records, seed=seed, defects=defects, agency_number=AGENCY, **kwargs)
        parties = default_parties(config)
        synthetic_parties_load(parties=parties, agency_number=AGENCY)
        return next(generate(config, parties))

    return make


_capture: Any = None


@pytest.fixture(autouse=True)
def _run_tasks_on_commit(django_capture_on_commit_callbacks: Any) -> None:
    """Tests run inside a transaction; run what would be enqueued after commit (Celery is eager)."""
    global _capture
    _capture = django_capture_on_commit_callbacks


def _receive(**kwargs: Any) -> Any:
    with _capture(execute=True):
        received = receive.submission_receive(**kwargs)
    received.submission.refresh_from_db()
    return received


def _intake(archive: GeneratedArchive, **kwargs: Any) -> Submission:
    institution = Institution.objects.get(number=archive.institution)
    return _receive(
        source=archive.data, file_name=archive.filename, institution=institution, channel=Channel.MEDIA, **kwargs
    ).submission


def _codes(submission: Submission) -> set[str]:
    return set(submission.findings.values_list("code", flat=True))


def test_a_clean_archive_is_accepted_whole(make_archive: Callable[..., GeneratedArchive]) -> None:
    archive = make_archive(records=30)
    submission = _intake(archive)
    assert submission.status == SubmissionStatus.ACCEPTED, list(submission.findings.values_list("code", "message"))
    assert submission.records_total == submission.records_accepted == 30
    assert submission.records_returned == 0 and submission.records_checked == 30
    claims = sum(member.record.settlement.claim_amount for member in archive.submission.claims)
    assert submission.amount_claimed == submission.amount_accepted == claims
    assert submission.archive.sha256 and submission.receipt_number.startswith("R")
    assert Record.objects.filter(submission=submission, status=RecordStatus.ACCEPTED, insurer__isnull=False).count() == 30
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"intake.received", "intake.checked"} <= actions
    assert audit_chain_verify() is None


def test_the_same_bytes_are_never_counted_twice(make_archive: Callable[..., GeneratedArchive]) -> None:
    archive = make_archive(records=5)
    first = _intake(archive)
    institution = Institution.objects.get(number=archive.institution)
    again = _receive(source=archive.data, file_name="renamed.zip", institution=institution, channel=Channel.UPLOAD)
    assert again.duplicate and again.submission.pk == first.pk
    assert Submission.objects.count() == 1 and Record.objects.count() == 5
    assert AuditEvent.objects.filter(action="intake.duplicate").exists()


def test_an_idempotency_key_makes_retries_safe(make_archive: Callable[..., GeneratedArchive]) -> None:
    archive = make_archive(records=3)
    first = _intake(archive, idempotency_key="retry-1")
    institution = Institution.objects.get(number=archive.institution)
    retry = _receive(
        source=archive.data, file_name=archive.filename, institution=institution, channel=Channel.API,
        idempotency_key="retry-1",
    )
    assert retry.duplicate and retry.submission.pk == first.pk


def test_a_reused_key_and_another_institutions_bytes_are_refused(
    make_archive: Callable[..., GeneratedArchive], institution_b: Any
) -> None:
    archive = make_archive(records=2)
    first = _intake(archive, idempotency_key="k-1")
    other = make_archive(records=2, seed=99)
    with pytest.raises(receive.IdempotencyKeyReused):
        _intake(replace(other, institution=archive.institution), idempotency_key="k-1")
    with pytest.raises(receive.ArchiveOfAnotherInstitution):
        receive.submission_receive(
            source=archive.data, file_name=archive.filename, institution=institution_b, channel=Channel.UPLOAD
        )
    assert Submission.objects.count() == 1
    assert Submission.objects.get() == first


def test_a_checkup_accepted_before_is_returned_as_duplicate(make_archive: Callable[..., GeneratedArchive]) -> None:
    archive = make_archive(records=4)
    _intake(archive)
    # The same people and checkups, sent again in a new archive (other bytes: a later same-day count).
    name = archive.submission.name
    from kenshin.writer import write_archive

    later = replace(archive.submission, name=replace(name, same_day_count=name.same_day_count + 1))
    data = write_archive(later)
    resent = _intake(replace(archive, filename=later.name.filename, data=data))
    assert resent.status == SubmissionStatus.REJECTED
    assert resent.records_returned == 4
    assert _codes(resent) >= {"REC_DUPLICATE"}
    assert Record.objects.filter(status=RecordStatus.ACCEPTED).count() == 4


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_every_named_defect_is_caught_with_its_code(name: str, make_archive: Callable[..., GeneratedArchive]) -> None:
    defect = DEFECTS[name]
    expected = defect.finding or INTAKE_RULE_FOR.get(name)
    assert expected, f"defect {name} is neither caught by the reader nor mapped to an intake rule"
    # A ticket can only repeat one issued earlier in the archive: spread that defect over every record.
    rate = 1.0 if name == "duplicate_ticket" else 0.0
    archive = make_archive(records=6, defects=(name,), seed=23, defect_rate=rate)
    assert any(injected.defect == name for injected in archive.defects), f"{name} was not injected"
    submission = _intake(archive)
    assert expected in _codes(submission), (name, _codes(submission))
    if defect.warning:
        # A warning: the record is accepted, the finding waits for the clerk's confirmation.
        assert submission.status == SubmissionStatus.ACCEPTED, _codes(submission)
        findings = list(Finding.objects.filter(submission=submission, code=expected).select_related("record"))
        assert findings and all(f.severity == Finding.Severity.WARNING and f.message and f.return_reason for f in findings)
        assert {f.record.status for f in findings} == {RecordStatus.ACCEPTED}
        assert set(findings) <= set(unconfirmed_warning_list())
    elif defect.stage is Stage.RECORD and name not in {"duplicate_ticket"}:
        returned = Record.objects.filter(submission=submission, status=RecordStatus.RETURNED)
        assert returned.exists() or submission.status == SubmissionStatus.REJECTED
        finding = Finding.objects.filter(submission=submission, code=expected).first()
        assert finding.return_reason and finding.message
    else:
        assert submission.status in (SubmissionStatus.REJECTED, SubmissionStatus.PARTIALLY_ACCEPTED)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"not a zip at all", "ARC_NOT_ZIP"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00truncated", "ARC_CORRUPT"),
    ],
)
def test_hostile_input_is_rejected_with_a_code_and_earlier_data_survives(
    make_archive: Callable[..., GeneratedArchive], data: bytes, code: str
) -> None:
    good = _intake(make_archive(records=3))
    institution = good.institution
    bad = _receive(source=data, file_name="x.zip", institution=institution, channel=Channel.UPLOAD)
    assert bad.submission.status == SubmissionStatus.REJECTED
    assert code in _codes(bad.submission)
    good.refresh_from_db()
    assert good.status == SubmissionStatus.ACCEPTED and good.records_accepted == 3


def test_a_worker_dying_mid_batch_loses_and_duplicates_nothing(
    make_archive: Callable[..., GeneratedArchive], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check, "CHUNK_SIZE", 5)
    archive = make_archive(records=12)
    submission = _intake(archive, enqueue=False)
    chunks = check.submission_check_archive(submission_id=submission.pk)
    assert chunks == [(1, 5), (6, 10), (11, 12)]
    assert check.submission_check_archive(submission_id=submission.pk) == chunks  # re-delivered: no new records
    assert Record.objects.filter(submission=submission).count() == 12

    original = checks.duplicate_findings
    calls = {"n": 0}

    def crash_once(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise SystemExit("worker lost")
        return original(*args, **kwargs)

    monkeypatch.setattr(checks, "duplicate_findings", crash_once)
    pipeline.check_records(submission.pk, 1, 5)
    with pytest.raises(SystemExit):
        pipeline.check_records(submission.pk, 6, 10)
    assert Record.objects.filter(submission=submission, status=RecordStatus.PENDING).count() == 7  # rolled back
    # The broker redelivers every unacknowledged chunk, the finished one included.
    for first, last in chunks:
        pipeline.check_records(submission.pk, first, last)
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.ACCEPTED
    assert submission.records_accepted == 12 and submission.records_checked == 12
    assert not Finding.objects.filter(submission=submission, severity__in=["error", "fatal"]).exists()
    assert pipeline.check_records(submission.pk, 1, 5) == 0


def test_command_line_contract(make_archive: Callable[..., GeneratedArchive], tmp_path: Path) -> None:
    archive = make_archive(records=4, defects=("age_out_of_range",))
    path = tmp_path / archive.filename
    path.write_bytes(archive.data)
    out = StringIO()
    call_command("intake_archive", str(path), "--channel", "media", "--institution", archive.institution, "--json", stdout=out)
    result = json.loads(out.getvalue().strip().splitlines()[0])
    assert set(result) >= {"archive", "sha256", "status", "records", "amounts", "findings", "rule_set"}
    assert result["status"] == "partially_accepted"
    assert result["records"] == {"total": 4, "accepted": 3, "returned": 1}
    assert result["amounts"]["claimed"] == result["amounts"]["accepted"] + result["amounts"]["returned"]
    assert {"code", "severity", "return_reason", "file", "xpath", "message"} <= set(result["findings"][0])
    assert result["rule_set"] == checks.RULE_SET_VERSION

    again = StringIO()
    call_command("intake_archive", str(path), "--institution", archive.institution, "--json", stdout=again)
    assert json.loads(again.getvalue())["status"] == "duplicate"

    with pytest.raises(CommandError) as excinfo:
        call_command("intake_archive", str(path), "--institution", "1311234567")
    assert excinfo.value.returncode == 2
    with pytest.raises(CommandError) as excinfo:
        call_command("intake_archive", str(tmp_path / "missing.zip"), "--institution", archive.institution)
    assert excinfo.value.returncode == 2


@override_settings(EMAIL_BACKEND="core.mail.StderrEmailBackend")  # the default outside tests
def test_json_output_stays_json_while_the_receipt_notice_is_printed(
    make_archive: Callable[..., GeneratedArchive], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checking an archive e-mails its receipt notice to the institution's users; printed by the
    development backend, that text goes to standard error, and standard output holds only JSON."""
    archive = make_archive(records=3)
    institution = Institution.objects.get(number=archive.institution)
    UserFactory(role=Role.INSTITUTION_STAFF, institution=institution, email="kenshin-staff@example.jp")
    path = tmp_path / archive.filename
    path.write_bytes(archive.data)
    with _capture(execute=True):
        call_command("intake_archive", str(path), "--institution", archive.institution, "--json")
    captured = capsys.readouterr()
    results = [json.loads(line) for line in captured.out.splitlines()]
    assert [(result["archive"], result["status"]) for result in results] == [(str(path), "accepted")]
    assert "To: kenshin-staff@example.jp" in captured.err
    assert "Subject: " in captured.err
    assert NotificationSent.objects.filter(kind="receipt", user__email="kenshin-staff@example.jp").exists()


def test_the_rule_catalogue_names_every_rule() -> None:
    rows = checks.catalogue()
    codes = {row["code"] for row in rows}
    assert set(INTAKE_RULE_FOR.values()) <= codes
    assert all(row["return_reason"] in {f"0{n}" for n in range(1, 10)} for row in rows)
    assert all(row["message"] for row in rows)


def test_a_200_mb_archive_is_refused_with_a_code_and_nothing_is_kept(institution_a: Any, tmp_path: Path) -> None:
    chunk = b"\0" * (1024 * 1024)

    def two_hundred_megabytes() -> Any:
        yield b"PK\x03\x04"
        for _ in range(200):
            yield chunk

    with pytest.raises(receive.ArchiveTooLarge) as excinfo:
        receive.submission_receive(
            source=two_hundred_megabytes(), file_name="huge.zip", institution=institution_a, channel=Channel.MEDIA
        )
    assert excinfo.value.code == "ARC_TOO_LARGE"
    assert not Submission.objects.exists()
    assert AuditEvent.objects.get(action="intake.refused").detail["reason"] == "ARC_TOO_LARGE"
    from django.conf import settings

    leftovers = list((Path(settings.STORAGE_DIR) / "archives").glob(".incoming-*"))
    assert leftovers == []


def test_a_password_locked_archive_opens_with_the_institutions_registered_password(
    make_archive: Callable[..., GeneratedArchive],
) -> None:
    from agency.services import institution_archive_password_set

    archive = make_archive(records=3, seed=41, password="Lock#2024pw")
    institution = Institution.objects.get(number=archive.institution)
    locked = _intake(archive)
    assert locked.status == SubmissionStatus.REJECTED
    assert "ARC_PASSWORD_REQUIRED" in _codes(locked)

    institution_archive_password_set(institution=institution, password="Lock#2024pw", actor=None)
    institution.refresh_from_db()
    assert institution.archive_password and "Lock#2024pw" not in institution.archive_password
    again = make_archive(records=4, seed=41, password="Lock#2024pw")  # same parties, other bytes
    assert again.institution == archive.institution
    opened = _intake(again)
    assert opened.status == SubmissionStatus.ACCEPTED, _codes(opened)
    from intake.selectors import record_parsed

    record = Record.objects.filter(submission=opened).first()
    assert record_parsed(record)["checkup"]["header"]["subject"]["insurer_number"] == record.insurer_number
    assert AuditEvent.objects.filter(action="party.institution.archive_password_set").exists()


# --- level 0 a batch at a time ---------------------------------------------------------------------


def test_records_are_saved_a_batch_at_a_time_in_archive_order(
    make_archive: Callable[..., GeneratedArchive], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check, "CHUNK_SIZE", 3)
    archive = make_archive(records=8, seed=57, defects=("copay_mismatch",))
    submission = _intake(archive)
    records = list(Record.objects.filter(submission=submission).order_by("position"))
    assert [record.position for record in records] == list(range(1, 9))
    assert [record.data_path for record in records] == [member.path for member in archive.submission.checkups]
    assert submission.status == SubmissionStatus.PARTIALLY_ACCEPTED
    returned = [record for record in records if record.status == RecordStatus.RETURNED]
    assert len(returned) == 1
    assert set(returned[0].findings.values_list("code", flat=True)) == {"REC_COPAY_MISMATCH"}
    assert submission.amount_claimed == sum(member.record.settlement.claim_amount for member in archive.submission.claims)


def test_an_archive_rejected_by_its_totals_keeps_no_records(
    make_archive: Callable[..., GeneratedArchive], monkeypatch: pytest.MonkeyPatch
) -> None:
    """su08 is compared with the sums once every claim was read: the batches already saved go."""
    monkeypatch.setattr(check, "CHUNK_SIZE", 2)
    archive = make_archive(records=7, seed=58, defects=("su08_total_mismatch",))
    submission = _intake(archive)
    assert submission.status == SubmissionStatus.REJECTED
    assert not Record.objects.filter(submission=submission).exists()
    assert submission.records_total == submission.records_returned == 7
    assert submission.amount_claimed == submission.amount_returned > 0
    assert submission.file_count == 2 * 7 + 2
    assert "SUM_TOTAL_MISMATCH" in _codes(submission)
    assert not submission.findings.filter(record__isnull=False).exists()
