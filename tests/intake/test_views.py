"""The intake pages: upload, receipts and downloads, tenant isolation, the workbench, overrides, the rules."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from agency.models import AgencyProfile, Contract, Role
from agency.permissions import Perm, role_has_perm
from audit.models import AuditEvent, Outcome
from audit.signals import SESSION_LAST_ACTIVITY
from intake import outputs, wording
from intake.checks import catalogue
from intake.models import Channel, Finding, Record, RecordStatus, Submission, SubmissionStatus
from kenshin.reader import read_archive
from kenshin.synth.generator import GeneratedArchive

from ..conftest import login_verified
from ..factories import UserFactory
from .helpers import make_archive, receive, warning_on

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_a(user_client: Callable[..., Client]) -> Client:
    return user_client(Role.INSTITUTION_STAFF)


@pytest.fixture
def staff_b(contract_b: Contract) -> Client:
    user = UserFactory(role=Role.INSTITUTION_STAFF, institution=contract_b.institution)
    return login_verified(Client(), user)


@pytest.fixture
def clerk(user_client: Callable[..., Client]) -> Client:
    return user_client(Role.AGENCY_CLERK)


def _upload(client: Client, archive: GeneratedArchive, capture: Callable[..., Any], **extra: Any) -> Any:
    with capture(execute=True):
        return client.post(
            reverse("intake:upload"),
            {"archives": SimpleUploadedFile(archive.filename, archive.data, content_type="application/zip")},
            **extra,
        )


def _submission_urls(submission: Submission) -> list[str]:
    names = [
        "submission_detail",
        "submission_progress",
        "receipt",
        "receipt_pdf",
        "receipt_json",
        "error_list_csv",
        "error_list_pdf",
        "returned_archive",
    ]
    return [reverse(f"intake:{name}", args=[submission.pk]) for name in names]


def _record_urls(record: Record) -> list[str]:
    return [reverse("intake:record_detail", args=[record.pk])]


# --- upload ---------------------------------------------------------------------------------------------------


def test_upload_is_received_checked_and_the_receipt_matches_the_records(
    staff_a: Client, archive_a: GeneratedArchive, contract_a: Contract, django_capture_on_commit_callbacks: Any
) -> None:
    response = _upload(staff_a, archive_a, django_capture_on_commit_callbacks)
    submission = Submission.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("intake:submission_detail", args=[submission.pk])
    assert submission.institution == contract_a.institution
    assert submission.channel == Channel.UPLOAD
    assert submission.received_by is not None and submission.received_by.role == Role.INSTITUTION_STAFF
    assert submission.status == SubmissionStatus.PARTIALLY_ACCEPTED

    records = Record.objects.filter(submission=submission)
    accepted = records.filter(status=RecordStatus.ACCEPTED)
    returned = records.filter(status=RecordStatus.RETURNED)
    receipt = staff_a.get(reverse("intake:receipt_json", args=[submission.pk])).json()
    assert receipt["receipt_number"] == submission.receipt_number
    assert receipt["counts"]["records_total"] == records.count() == 5
    assert receipt["counts"]["records_accepted"] == accepted.count()
    assert receipt["counts"]["records_returned"] == returned.count() == 2
    assert receipt["amounts"]["accepted"] == sum(r.claim_amount for r in accepted)
    assert receipt["amounts"]["returned"] == sum(r.claim_amount for r in returned)
    assert receipt["amounts"]["claimed"] == sum(r.claim_amount for r in records)

    page = staff_a.get(response["Location"])
    assert page.status_code == 200
    text = page.content.decode()
    assert submission.receipt_number in text
    assert "受付エラー連絡表" in text
    assert reverse("intake:returned_archive", args=[submission.pk]) in text
    assert f"{receipt['amounts']['claimed']:,}" in text
    assert "js/intake-progress.js" in text


def test_upload_by_script_answers_json_with_where_to_go(
    staff_a: Client, archive_a: GeneratedArchive, django_capture_on_commit_callbacks: Any
) -> None:
    response = _upload(staff_a, archive_a, django_capture_on_commit_callbacks, HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    submission = Submission.objects.get()
    assert response.status_code == 200
    body = response.json()
    assert body["redirect"] == reverse("intake:submission_detail", args=[submission.pk])
    assert body["results"][0]["receipt_number"] == submission.receipt_number
    assert body["results"][0]["duplicate"] is False


def test_upload_page_loads_its_script_and_no_inline_code(staff_a: Client, agency_profile: AgencyProfile) -> None:
    response = staff_a.get(reverse("intake:upload"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "js/intake-upload.js" in text
    assert 'enctype="multipart/form-data"' in text
    assert "<script>" not in text and " style=" not in text and "onclick" not in text


def test_upload_refuses_files_that_are_not_zip(staff_a: Client, agency_profile: AgencyProfile) -> None:
    response = staff_a.post(reverse("intake:upload"), {"archives": SimpleUploadedFile("data.xml", b"<x/>")})
    assert response.status_code == 200
    assert "ZIP" in response.content.decode()
    assert not Submission.objects.exists()
    scripted = staff_a.post(
        reverse("intake:upload"),
        {"archives": SimpleUploadedFile("data.xml", b"<x/>")},
        HTTP_X_REQUESTED_WITH="XMLHttpRequest",
    )
    assert scripted.status_code == 400
    assert scripted.json()["errors"]


def test_duplicate_upload_is_answered_with_the_first_receipt(
    staff_a: Client, archive_a: GeneratedArchive, django_capture_on_commit_callbacks: Any
) -> None:
    _upload(staff_a, archive_a, django_capture_on_commit_callbacks)
    first = Submission.objects.get()
    again = _upload(staff_a, archive_a, django_capture_on_commit_callbacks)
    assert Submission.objects.count() == 1
    assert again["Location"] == reverse("intake:submission_detail", args=[first.pk])
    page = staff_a.get(again["Location"]).content.decode()
    assert "既に受け付けています" in page
    assert first.receipt_number in page
    assert AuditEvent.objects.filter(action="intake.duplicate", object_ids=[str(first.pk)]).exists()


def test_same_bytes_from_another_institution_do_not_reveal_the_first_receipt(
    staff_a: Client, staff_b: Client, archive_a: GeneratedArchive, django_capture_on_commit_callbacks: Any
) -> None:
    _upload(staff_a, archive_a, django_capture_on_commit_callbacks)
    first = Submission.objects.get()
    response = _upload(staff_b, archive_a, django_capture_on_commit_callbacks)
    assert response["Location"] == reverse("intake:submission_list")
    page = staff_b.get(response["Location"]).content.decode()
    assert "既に受け付けられています" in page
    assert first.receipt_number not in page


def test_clerk_imports_media_on_behalf_of_an_institution(
    clerk: Client, archive_a: GeneratedArchive, contract_a: Contract, django_capture_on_commit_callbacks: Any
) -> None:
    form = clerk.get(reverse("intake:media_import"))
    assert form.status_code == 200
    assert contract_a.institution.number in form.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = clerk.post(
            reverse("intake:media_import"),
            {
                "institution": contract_a.institution.pk,
                "archive": SimpleUploadedFile(archive_a.filename, archive_a.data),
            },
        )
    submission = Submission.objects.get()
    assert response["Location"] == reverse("intake:submission_detail", args=[submission.pk])
    assert submission.channel == Channel.MEDIA
    assert submission.institution == contract_a.institution
    assert submission.received_by is not None and submission.received_by.role == Role.AGENCY_CLERK
    assert submission.status == SubmissionStatus.PARTIALLY_ACCEPTED


def test_institution_staff_cannot_import_media_and_clerks_cannot_upload(staff_a: Client, clerk: Client) -> None:
    assert staff_a.get(reverse("intake:media_import")).status_code == 403
    assert clerk.get(reverse("intake:upload")).status_code == 403


# --- own pages, downloads and their audit ----------------------------------------------------------------------


def test_own_pages_render_and_are_not_cached(staff_a: Client, submission_a: Submission) -> None:
    record = Record.objects.filter(submission=submission_a).first()
    for url in [reverse("intake:submission_list"), *_submission_urls(submission_a), *_record_urls(record)]:
        response = staff_a.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url
    listing = staff_a.get(reverse("intake:submission_list")).content.decode()
    assert submission_a.receipt_number in listing


def test_error_list_download_is_audited(staff_a: Client, submission_a: Submission) -> None:
    response = staff_a.get(reverse("intake:error_list_csv", args=[submission_a.pk]))
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, *rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert header[:7] == ["受領番号", "順番", "受診券整理番号", "保険者番号", "氏名カナ", "生年月日", "健診実施日"]
    shown = Finding.objects.filter(submission=submission_a).exclude(code__in=wording.AGENCY_CONFIGURATION_CODES)
    assert len(rows) == shown.count()
    event = AuditEvent.objects.filter(action="intake.error_list.export").get()
    assert event.outcome == Outcome.SUCCESS
    assert event.object_type == "submission"
    assert event.object_ids == [str(submission_a.pk)]

    pdf = staff_a.get(reverse("intake:error_list_pdf", args=[submission_a.pk]))
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert AuditEvent.objects.filter(action="intake.error_list.export").count() == 2


def test_returned_archive_download_is_a_standard_archive_and_audited(staff_a: Client, submission_a: Submission) -> None:
    response = staff_a.get(reverse("intake:returned_archive", args=[submission_a.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    returned = list(Record.objects.filter(submission=submission_a, status=RecordStatus.RETURNED).order_by("position"))
    filename = response["Content-Disposition"].split('filename="')[1].rstrip('"')
    result = read_archive(response.content, filename=filename, xsd_dir=None)
    assert result.index is not None and result.index.interaction_type == "2"
    assert sorted(m.path for m in result.checkups) == sorted(r.data_path for r in returned)
    assert all(m.record.agency_result is not None for m in result.claims)
    event = AuditEvent.objects.filter(action="intake.returned_archive.download").get()
    assert event.object_type == "record"
    assert sorted(event.object_ids) == sorted(str(r.pk) for r in returned)


def test_receipt_pdf_download(staff_a: Client, submission_a: Submission) -> None:
    response = staff_a.get(reverse("intake:receipt_pdf", args=[submission_a.pk]))
    assert response["Content-Type"] == "application/pdf"
    assert submission_a.receipt_number in response["Content-Disposition"]
    from pypdf import PdfReader

    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert submission_a.receipt_number in text


def test_record_page_is_audited_and_shows_findings_beside_content(staff_a: Client, submission_a: Submission) -> None:
    record = Record.objects.filter(submission=submission_a, status=RecordStatus.RETURNED).first()
    response = staff_a.get(reverse("intake:record_detail", args=[record.pk]))
    text = response.content.decode()
    for finding in record.findings.all():
        assert finding.code in text
    assert record.name_kana in text
    assert record.ticket_number in text
    content = outputs.record_content(record)
    assert content["available"]
    assert content["observations"]
    assert content["observations"][0]["code"] in text
    assert f"{content['settlement']['claim_amount']:,}" in text
    event = AuditEvent.objects.filter(action="intake.record.view").get()
    assert event.object_ids == [str(record.pk)]
    assert "警告を確認済みにする" not in text  # institution staff cannot override


def test_progress_endpoint_polling_does_not_extend_the_session(staff_a: Client, submission_a: Submission) -> None:
    session = staff_a.session
    before = time.time() - 60  # a minute idle: within the timeout
    session[SESSION_LAST_ACTIVITY] = before
    session.save()
    response = staff_a.get(reverse("intake:submission_progress", args=[submission_a.pk]), HTTP_X_PORTAL_POLL="1")
    assert response.status_code == 200
    body = response.json()
    assert body["final"] is True
    assert body["records_checked"] == body["records_total"] == 5
    assert body["percent"] == 100
    assert staff_a.session[SESSION_LAST_ACTIVITY] == before


def test_record_chain_is_shown_on_both_record_pages(
    clerk: Client, submission_a: Submission, contract_a: Contract, django_capture_on_commit_callbacks: Any
) -> None:
    original = Record.objects.filter(submission=submission_a, status=RecordStatus.RETURNED).first()
    corrected_submission = receive(
        make_archive(contract_a, records=1, seed=11, defects=()),
        contract_a.institution,
        django_capture_on_commit_callbacks,
    )
    corrected = Record.objects.get(submission=corrected_submission)
    Record.objects.filter(pk=corrected.pk).update(replaces=original)  # set by the intake rules in production
    later = clerk.get(reverse("intake:record_detail", args=[corrected.pk])).content.decode()
    earlier = clerk.get(reverse("intake:record_detail", args=[original.pk])).content.decode()
    assert reverse("intake:record_detail", args=[original.pk]) in later
    assert "再提出元" in later
    assert reverse("intake:record_detail", args=[corrected.pk]) in earlier
    assert "訂正後の再提出" in earlier
    plain = Record.objects.filter(submission=submission_a, status=RecordStatus.ACCEPTED).first()
    assert (
        'data-testid="record-chain"' not in clerk.get(reverse("intake:record_detail", args=[plain.pk])).content.decode()
    )


# --- tenant isolation -------------------------------------------------------------------------------------------


def test_another_institution_gets_404_and_an_audited_denial(staff_b: Client, submission_a: Submission) -> None:
    record = Record.objects.filter(submission=submission_a).first()
    targets = [(url, "submission", submission_a.pk) for url in _submission_urls(submission_a)]
    targets += [(url, "record", record.pk) for url in _record_urls(record)]
    for url, object_type, ident in targets:
        before = AuditEvent.objects.filter(outcome=Outcome.DENIED).count()
        response = staff_b.get(url)
        assert response.status_code == 404, url
        denied = AuditEvent.objects.filter(outcome=Outcome.DENIED).order_by("-seq")
        assert denied.count() == before + 1, url
        event = denied.first()
        assert event.object_type == object_type, url
        assert event.object_ids == [str(ident)], url
        assert event.path == url
    listing = staff_b.get(reverse("intake:submission_list")).content.decode()
    assert submission_a.receipt_number not in listing


def test_insurer_staff_cannot_see_submissions(user_client: Callable[..., Client], submission_a: Submission) -> None:
    client = user_client(Role.INSURER_STAFF)
    record = Record.objects.filter(submission=submission_a, status=RecordStatus.ACCEPTED).first()
    for url in [
        reverse("intake:submission_list"),
        reverse("intake:workbench"),
        *_submission_urls(submission_a),
        *_record_urls(record),
    ]:
        assert client.get(url).status_code == 403, url


# --- workbench and overrides --------------------------------------------------------------------------------------


def test_workbench_filters_by_rule_status_insurer_and_institution(
    clerk: Client, submission_a: Submission, contract_a: Contract, contract_b: Contract
) -> None:
    url = reverse("intake:workbench")
    expired = Record.objects.get(submission=submission_a, findings__code="REC_TICKET_EXPIRED")
    page = clerk.get(url, {"code": "REC_TICKET_EXPIRED"}).content.decode()
    assert f"{submission_a.receipt_number}#{expired.position}<" in page
    assert page.count(f"{submission_a.receipt_number}#") == 1
    returned = clerk.get(url, {"status": RecordStatus.RETURNED}).content.decode()
    assert returned.count(f"{submission_a.receipt_number}#") == 2
    insurer = clerk.get(url, {"insurer_number": contract_a.insurer.number}).content.decode()
    assert insurer.count(f"{submission_a.receipt_number}#") == 5
    other = clerk.get(url, {"institution": contract_b.institution.pk}).content.decode()
    assert f"{submission_a.receipt_number}#" not in other
    invalid = clerk.get(url, {"insurer_number": "abc"})
    assert invalid.status_code == 200
    assert f"{submission_a.receipt_number}#" not in invalid.content.decode()
    assert AuditEvent.objects.filter(action="intake.workbench.view").count() == 5


def test_clerk_overrides_a_warning_with_a_reason(clerk: Client, submission_a: Submission) -> None:
    warning = warning_on(submission_a)
    record_url = reverse("intake:record_detail", args=[warning.record_id])
    assert "警告を確認済みにする" in clerk.get(record_url).content.decode()
    override_url = reverse("intake:record_override", args=[warning.record_id])
    assert clerk.get(override_url).status_code == 200
    response = clerk.post(override_url, {"finding": warning.pk, "reason": "健診機関独自の追加項目で請求対象外"})
    assert response.status_code == 302
    assert response["Location"] == record_url
    warning.refresh_from_db()
    assert warning.overridden_at is not None
    assert warning.override_reason == "健診機関独自の追加項目で請求対象外"
    event = AuditEvent.objects.filter(action="intake.finding.override").get()
    assert event.object_ids == [str(warning.pk)]
    assert "健診機関独自の追加項目で請求対象外" in clerk.get(record_url).content.decode()
    # the page shows the person's record and warnings: every request to it is audited
    shown = AuditEvent.objects.filter(action="intake.warning_override.view").order_by("seq")
    assert [(e.method, e.object_ids, e.outcome) for e in shown] == [
        ("GET", [str(warning.record_id)], "success"), ("POST", [str(warning.record_id)], "success")]


def test_errors_cannot_be_overridden_from_the_page(clerk: Client, submission_a: Submission) -> None:
    error = (
        Finding.objects.filter(submission=submission_a, severity=Finding.Severity.ERROR).exclude(record=None).first()
    )
    url = reverse("intake:record_override", args=[error.record_id])
    response = clerk.post(url, {"finding": error.pk, "reason": "エラーを無視したい"})
    assert response.status_code == 200
    error.refresh_from_db()
    assert error.overridden_at is None
    assert not AuditEvent.objects.filter(action="intake.finding.override").exists()
    record = Record.objects.get(pk=error.record_id)
    assert record.status == RecordStatus.RETURNED


def test_institution_staff_cannot_override(staff_a: Client, submission_a: Submission) -> None:
    warning = warning_on(submission_a)
    url = reverse("intake:record_override", args=[warning.record_id])
    assert staff_a.get(url).status_code == 403
    assert staff_a.post(url, {"finding": warning.pk, "reason": "理由です"}).status_code == 403
    warning.refresh_from_db()
    assert warning.overridden_at is None
    refused = AuditEvent.objects.filter(action="intake.warning_override.view")
    assert refused.count() == 2
    assert {e.outcome for e in refused} == {"denied"}


# --- rule catalogue and navigation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_rule_catalogue_follows_the_matrix(role: Role, user_client: Callable[..., Client]) -> None:
    response = user_client(role).get(reverse("intake:rule_catalogue"))
    if role_has_perm(role, Perm.INTAKE_RULES):
        assert response.status_code == 200
        text = response.content.decode()
        for row in catalogue():
            assert row["code"] in text
            assert escape(row["source"]) in text  # every rule with the source it rests on
        assert "REC_TICKET_EXPIRED" in text and "有効期限外" in text
        assert "根拠" in text and "REC_ONCE_PER_FISCAL_YEAR" in text
    else:
        assert response.status_code == 403


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        (
            Role.INSTITUTION_STAFF,
            ["intake:upload", "intake:submission_list", "intake:rule_catalogue"],
            ["intake:workbench", "intake:media_import"],
        ),
        (Role.AGENCY_CLERK, ["intake:workbench", "intake:media_import", "intake:submission_list"], ["intake:upload"]),
        (
            Role.INSURER_STAFF,
            ["intake:rule_catalogue"],
            ["intake:submission_list", "intake:upload", "intake:workbench"],
        ),
    ],
)
def test_navigation_lists_the_intake_pages_per_role(
    role: Role, shown: list[str], hidden: list[str], user_client: Callable[..., Client]
) -> None:
    # The rule catalogue belongs to the 受付 group, whose entries the second row of the navigation lists.
    page = user_client(role).get(reverse("intake:rule_catalogue")).content.decode()
    for name in shown:
        assert f'href="{reverse(name)}"' in page, name
    for name in hidden:
        assert f'href="{reverse(name)}"' not in page, name


def test_returned_page_when_nothing_was_returned(
    staff_a: Client, agency_profile: AgencyProfile, contract_a: Contract, django_capture_on_commit_callbacks: Any
) -> None:
    submission = receive(
        make_archive(contract_a, records=2, seed=7, defects=()),
        contract_a.institution,
        django_capture_on_commit_callbacks,
    )
    response = staff_a.get(reverse("intake:returned_archive", args=[submission.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert outputs.returned_archive(submission) is None
