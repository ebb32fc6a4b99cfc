"""An insurer's own upload of the 事業者健診等 results of its 被保険者 (実施区分 4): received byte for byte,
checked, counted in its 実施率, never routed back to it and never billed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from agency.demo import seed_demo
from agency.models import Institution, Insurer, Role
from agency.services import synthetic_parties_load
from audit.models import AuditEvent
from billing.models import ClaimsStatementLine, InsurerBillingTerms, Invoice, InvoiceLineKind
from billing.services.closing import month_close
from intake import outputs, storage
from intake.models import Finding, Record, RecordKind, RecordStatus, Submission, SubmissionStatus
from intake.selectors import fiscal_year_checkups
from intake.services.receive import NotAnInsurerService, submission_receive
from kenshin.synth.generator import GeneratedArchive, GeneratorConfig, default_parties, generate
from kenshin.synth.guidance import NOT_OWN_INSURED, generate_employer, generate_insurer_employer
from kenshin.synth.parties import Parties
from routing.models import DeliveryItem
from routing.selectors import routing_plan
from routing.services import deliveries as delivery_services

from ..billing.conftest import at

AGENCY = "91399055"


@pytest.fixture
def parties(db: Any) -> Parties:
    seed_demo()
    made = default_parties(CONFIG)
    synthetic_parties_load(parties=made, agency_number=AGENCY)
    Insurer.objects.update(contract_start=dt.date(2024, 4, 1))
    return made


CONFIG = GeneratorConfig(year=2024, records=8, seed=31, agency_number=AGENCY, insurers=2)


def _insurer_with_checkups(parties: Parties) -> Insurer:
    """The insurer most of the generated people belong to."""
    counts: dict[str, int] = {}
    for archive in generate(CONFIG, parties):
        for member in archive.submission.checkups:
            counts[member.record.subject.insurer_number] = counts.get(member.record.subject.insurer_number, 0) + 1
    return Insurer.objects.get(number=max(counts, key=lambda number: counts[number]))


def upload(archive: GeneratedArchive, insurer: Insurer, capture: Callable[..., Any]) -> Submission:
    with capture(execute=True):
        result = submission_receive(source=archive.data, file_name=archive.filename, insurer=insurer, channel="upload")
    return Submission.objects.get(pk=result.submission.pk)


def test_an_insurers_upload_is_accepted_counted_and_neither_routed_nor_billed(parties: Parties, capture: Callable[..., Any]) -> None:
    insurer = _insurer_with_checkups(parties)
    archive = generate_insurer_employer(CONFIG, parties, insurer.number)
    own = len(archive.submission.checkups)
    InsurerBillingTerms.objects.create(insurer=insurer, fee_per_checkup=500, fee_other_checkups=True)
    with time_machine.travel(at("2024-10-16 10:00"), tick=True):
        submission = upload(archive, insurer, capture)
        delivery_services.deliveries_route()
    assert submission.status == SubmissionStatus.ACCEPTED, list(submission.findings.values_list("code", "message"))
    assert (submission.institution_id, submission.insurer_id, submission.service_event_type) == (None, insurer.pk, "4")
    assert storage.read(submission.archive.sha256) == archive.data  # kept byte for byte
    records = Record.objects.filter(submission=submission)
    assert records.count() == own > 0
    assert set(records.values_list("kind", "status", "insurer", "institution")) == {
        (RecordKind.OTHER_CHECKUP, RecordStatus.ACCEPTED, insurer.pk, None)
    }
    counts = fiscal_year_checkups(insurer=insurer, fiscal_year=2024)
    assert counts[RecordKind.OTHER_CHECKUP] == own
    # its own data: in its records and 実施率, not delivered back to it
    assert not DeliveryItem.objects.filter(record__in=records).exists()
    assert {row.code for row in routing_plan(submission)} == {"insurer_own"}
    with time_machine.travel(at("2024-11-10 09:00"), tick=True):
        month_close(period=dt.date(2024, 10, 1), now=at("2024-11-10 09:00"))
    assert not ClaimsStatementLine.objects.filter(record__in=records).exists()
    assert not any(
        line.kind == InvoiceLineKind.PER_CHECKUP for invoice in Invoice.objects.filter(insurer=insurer) for line in invoice.lines.all()
    )
    receipt = outputs.receipt(submission)
    assert receipt["institution"] == {"number": insurer.number, "name": insurer.name} and receipt["sent_by_insurer"]


def test_a_record_of_another_insurers_person_is_returned_with_its_reason(parties: Parties, capture: Callable[..., Any]) -> None:
    insurer = _insurer_with_checkups(parties)
    archive = generate_insurer_employer(CONFIG, parties, insurer.number, defects=[NOT_OWN_INSURED])
    [defect] = archive.defects
    submission = upload(archive, insurer, capture)
    assert submission.status == SubmissionStatus.PARTIALLY_ACCEPTED
    returned = Record.objects.get(submission=submission, status=RecordStatus.RETURNED)
    assert returned.data_path == defect.member
    assert returned.insurer_id is None  # never shown to the other insurer
    assert ("REC_NOT_OWN_INSURED", "09") in set(returned.findings.values_list("code", "return_reason"))
    rows = outputs.error_list_rows(submission)
    [row] = [row for row in rows if row["コード"] == "REC_NOT_OWN_INSURED"]
    assert row["順番"] == str(returned.position) and "被保険者" in row["内容"] and row["返戻理由コード"] == "09"
    assert outputs.returned_archive(submission) is None  # the error list says it; no 種別 2 archive to an institution
    assert Record.objects.filter(submission=submission, status=RecordStatus.ACCEPTED).count() == len(archive.submission.checkups) - 1


def test_an_institutions_archive_uploaded_by_an_insurer_is_rejected_with_reasons(parties: Parties, capture: Callable[..., Any]) -> None:
    insurer = _insurer_with_checkups(parties)
    archive = next(generate_employer(CONFIG, parties))  # named and sent as the institution's
    submission = upload(archive, insurer, capture)
    assert submission.status == SubmissionStatus.REJECTED
    codes = set(Finding.objects.filter(submission=submission, record__isnull=True).values_list("code", flat=True))
    assert {"AGY_INSURER_SENDER_MISMATCH", "AGY_INSURER_INTERACTION_TYPE"} <= codes


def test_an_insurer_cannot_upload_checkups_with_claims(parties: Parties, capture: Callable[..., Any]) -> None:
    insurer = _insurer_with_checkups(parties)
    archive = next(generate(CONFIG, parties))  # 実施区分 1
    with pytest.raises(NotAnInsurerService) as refused:
        upload(archive, insurer, capture)
    assert refused.value.code == "INS_UPLOAD_SERVICE"
    assert not Submission.objects.exists()


def test_the_same_person_is_counted_once_in_the_year(parties: Parties, capture: Callable[..., Any]) -> None:
    insurer = _insurer_with_checkups(parties)
    upload(generate_insurer_employer(CONFIG, parties, insurer.number), insurer, capture)
    again = generate_insurer_employer(CONFIG, parties, insurer.number, defects=[NOT_OWN_INSURED])
    second = upload(again, insurer, capture)
    assert second.status == SubmissionStatus.REJECTED
    assert Record.objects.filter(submission=second, status=RecordStatus.ACCEPTED).count() == 0
    assert "REC_NOT_OWN_INSURED" in set(Finding.objects.filter(submission=second).values_list("code", flat=True))
    assert fiscal_year_checkups(insurer=insurer, fiscal_year=2024)[RecordKind.OTHER_CHECKUP] == len(again.submission.checkups) - 1


def test_insurer_staff_upload_in_the_portal_and_read_their_own_receipt_and_errors(
    parties: Parties, capture: Callable[..., Any], user_client: Callable[..., Client]
) -> None:
    insurer = _insurer_with_checkups(parties)
    archive = generate_insurer_employer(CONFIG, parties, insurer.number, defects=[NOT_OWN_INSURED])
    client = user_client(Role.INSURER_STAFF, insurer=insurer)
    upload_file = SimpleUploadedFile(archive.filename, archive.data, content_type="application/zip")
    with capture(execute=True):
        posted = client.post(reverse("insurer:other_checkup_list"), {"archive": upload_file})
    submission = Submission.objects.get(insurer=insurer)
    assert posted.status_code == 302 and posted["Location"] == reverse("insurer:other_checkup_detail", args=[submission.pk])
    assert submission.received_by is not None and submission.received_by.insurer_id == insurer.pk
    [notice] = [m for m in mail.outbox if submission.receipt_number in m.subject]  # to its staff, naming the page
    assert notice.to == [submission.received_by.email] and "「事業者健診等の送付」" in notice.body
    page = client.get(posted["Location"])
    text = page.content.decode()
    assert page.status_code == 200 and submission.receipt_number in text and "一部返戻" in text
    assert "REC_NOT_OWN_INSURED" in text and "送付した保険者の被保険者の健診結果ではありません" in text
    csv_text = client.get(reverse("insurer:other_checkup_errors_csv", args=[submission.pk])).content.decode("utf-8-sig")
    assert "REC_NOT_OWN_INSURED" in csv_text
    assert set(
        AuditEvent.objects.filter(object_type="submission", action__startswith="routing.other_checkup").values_list("action", "outcome")
    ) == {("routing.other_checkup.view", "success"), ("routing.other_checkup.export", "success")}
    listing = client.get(reverse("insurer:other_checkup_list")).content.decode()
    assert submission.receipt_number in listing
    # its accepted people are among its records, without a delivery
    accepted = Record.objects.filter(submission=submission, status=RecordStatus.ACCEPTED).first()
    assert accepted is not None
    assert client.get(reverse("insurer:record_detail", args=[accepted.pk])).status_code == 200
    returned = Record.objects.get(submission=submission, status=RecordStatus.RETURNED)
    assert client.get(reverse("insurer:record_detail", args=[returned.pk])).status_code == 404


def test_another_insurer_and_institutions_never_see_an_insurers_upload(
    parties: Parties, capture: Callable[..., Any], user_client: Callable[..., Client]
) -> None:
    insurer = _insurer_with_checkups(parties)
    submission = upload(generate_insurer_employer(CONFIG, parties, insurer.number), insurer, capture)
    record = Record.objects.filter(submission=submission).first()
    assert record is not None
    other = Insurer.objects.exclude(pk=insurer.pk).first()
    assert other is not None
    stranger = user_client(Role.INSURER_STAFF, insurer=other)
    for name in ("insurer:other_checkup_detail", "insurer:other_checkup_errors_csv"):
        assert stranger.get(reverse(name, args=[submission.pk])).status_code == 404
    assert submission.receipt_number not in stranger.get(reverse("insurer:other_checkup_list")).content.decode()
    assert stranger.get(reverse("insurer:record_detail", args=[record.pk])).status_code == 404
    denied = AuditEvent.objects.filter(action="routing.other_checkup.view", outcome="denied")
    assert denied.exists()
    institution = Institution.objects.get(number=parties.institutions[0].number)
    clinic = user_client(Role.INSTITUTION_STAFF, institution=institution)
    assert clinic.get(reverse("intake:submission_detail", args=[submission.pk])).status_code == 404
    assert submission.receipt_number not in clinic.get(reverse("intake:submission_list")).content.decode()
    assert clinic.get(reverse("insurer:other_checkup_list")).status_code == 403


def test_agency_clerks_read_an_insurers_upload_on_the_intake_pages(
    parties: Parties, capture: Callable[..., Any], user_client: Callable[..., Client]
) -> None:
    insurer = _insurer_with_checkups(parties)
    submission = upload(generate_insurer_employer(CONFIG, parties, insurer.number, defects=[NOT_OWN_INSURED]), insurer, capture)
    clerk = user_client(Role.AGENCY_CLERK)
    for name in ("intake:submission_detail", "intake:receipt", "intake:error_list", "intake:error_list_csv"):
        page = clerk.get(reverse(name, args=[submission.pk]))
        assert page.status_code == 200, name
    assert insurer.number in clerk.get(reverse("intake:receipt", args=[submission.pk])).content.decode()
    assert submission.receipt_number in clerk.get(reverse("intake:submission_list")).content.decode()
    assert clerk.get(reverse("intake:submission_list_csv")).status_code == 200
    assert clerk.get(reverse("intake:record_search_csv")).status_code == 200
    assert clerk.get(reverse("insurer:routing_dry_run", args=[submission.pk])).status_code == 200
    # an insurer's own upload is not an archive an institution could take back: nothing to download
    page = clerk.get(reverse("intake:returned_archive", args=[submission.pk]))
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
