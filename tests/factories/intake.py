"""Factories for received archives, their records and findings, as 受付 and 事務点検 would leave them.

A submission's figures and status follow its records, as the check sets them: every record made with
``RecordFactory`` recounts its submission (all accepted → 受理, some returned → 一部返戻, none
accepted → 受付不可, any pending → 点検中). ``SubmissionFactory(records=3)`` makes the records too
(``records__status=…``, ``records__insurer=…`` and so on apply to each).
"""

from __future__ import annotations

import hashlib
from typing import Any

import factory
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from agency.demo import AGENCY
from intake import storage
from intake.checks import RULE_SET_VERSION
from intake.models import Channel, Finding, Record, RecordStatus, StoredArchive, Submission, SubmissionStatus
from kenshin.naming import ArchiveName, MemberName

from .agency import InstitutionFactory, InsurerFactory

CHECKED = {SubmissionStatus.ACCEPTED, SubmissionStatus.PARTIALLY_ACCEPTED, SubmissionStatus.REJECTED}


class StoredArchiveFactory(factory.django.DjangoModelFactory):
    """Bytes stored once under their SHA-256: the row only, unless ``on_disk=True`` writes the bytes too."""

    class Meta:
        model = StoredArchive
        django_get_or_create = ("sha256",)

    content = factory.Sequence(lambda n: f"stored archive {n}".encode())
    on_disk = False
    sha256 = factory.LazyAttribute(lambda a: hashlib.sha256(a.content).hexdigest())
    size = factory.LazyAttribute(lambda a: len(a.content))

    @classmethod
    def _build(cls, model_class: type[StoredArchive], *args: Any, content: bytes, on_disk: bool, **kwargs: Any) -> StoredArchive:
        return super()._build(model_class, *args, **kwargs)

    @classmethod
    def _create(cls, model_class: type[StoredArchive], *args: Any, content: bytes, on_disk: bool, **kwargs: Any) -> StoredArchive:
        if on_disk:
            storage.store(content)
        return super()._create(model_class, *args, **kwargs)


def submission_recount(submission: Submission) -> Submission:
    """Set a submission's figures and status from its records, as the end of 事務点検 does."""
    totals = submission.records.aggregate(
        total=Count("pk"),
        pending=Count("pk", filter=Q(status=RecordStatus.PENDING)),
        accepted=Count("pk", filter=Q(status=RecordStatus.ACCEPTED)),
        returned=Count("pk", filter=Q(status=RecordStatus.RETURNED)),
        claimed=Sum("claim_amount"),
        amount_accepted=Sum("claim_amount", filter=Q(status=RecordStatus.ACCEPTED)),
        amount_returned=Sum("claim_amount", filter=Q(status=RecordStatus.RETURNED)),
        checked_at=Max("checked_at"),
    )
    submission.records_total = totals["total"]
    submission.file_count = 2 + 2 * totals["total"]  # the index and summary files, and two files per record
    submission.records_checked = totals["accepted"] + totals["returned"]
    submission.records_accepted = totals["accepted"]
    submission.records_returned = totals["returned"]
    submission.amount_claimed = totals["claimed"] or 0
    submission.amount_accepted = totals["amount_accepted"] or 0
    submission.amount_returned = totals["amount_returned"] or 0
    if totals["pending"]:
        submission.status, submission.checked_at = SubmissionStatus.CHECKING, None
    else:
        if totals["accepted"] == 0:
            submission.status = SubmissionStatus.REJECTED
        elif totals["returned"]:
            submission.status = SubmissionStatus.PARTIALLY_ACCEPTED
        else:
            submission.status = SubmissionStatus.ACCEPTED
        submission.checked_at = submission.checked_at or totals["checked_at"] or submission.received_at
    submission.save(update_fields=[
        "records_total", "file_count", "records_checked", "records_accepted", "records_returned", "amount_claimed",
        "amount_accepted", "amount_returned", "status", "checked_at",
    ])
    return submission


class SubmissionFactory(factory.django.DjangoModelFactory):
    """A received archive of an institution, named as the standard names it (種別 1, to the agency).

    Without records it is just received (受付); records make it checked (see the module docstring).
    Receipt numbers are of the real form ``R<year>-<serial>``, from serials the receipt counter of a
    test never reaches.
    """

    class Meta:
        model = Submission
        skip_postgeneration_save = True

    institution = factory.SubFactory(InstitutionFactory)
    insurer = None  # an insurer's own upload of 事業者健診等: ``institution=None, insurer=…`` (実施区分 4)
    received_at = factory.LazyFunction(timezone.now)
    receipt_number = factory.LazyAttributeSequence(
        lambda s, n: f"R{timezone.localtime(s.received_at).year}-{9_000_000 + n:07d}"
    )
    archive = factory.SubFactory(StoredArchiveFactory)
    file_name = factory.LazyAttribute(
        lambda s: ArchiveName(
            (s.institution or s.insurer).number, AGENCY["agency_code"], timezone.localdate(s.received_at), 0,
            "1" if s.institution else "4",
        ).filename
    )
    channel = Channel.UPLOAD
    status = SubmissionStatus.RECEIVED
    checked_at = factory.LazyAttribute(lambda s: s.received_at if s.status in CHECKED else None)
    rule_set = RULE_SET_VERSION
    interaction_type = factory.LazyAttribute(lambda s: "1" if s.institution else "4")
    service_event_type = factory.LazyAttribute(lambda s: "1" if s.institution else "4")

    @factory.post_generation
    def records(self, create: bool, extracted: int | None, **kwargs: Any) -> None:
        if not create or not extracted:
            return
        if "insurer" not in kwargs:
            kwargs["insurer"] = InsurerFactory()  # one insurer for the lot
        for _ in range(extracted):
            RecordFactory(submission=self, recount=False, **kwargs)
        submission_recount(self)


def _member(record: Any, prefix: str) -> str:
    submission = record.submission
    return MemberName(
        prefix, submission.institution.number, timezone.localdate(submission.received_at), 0, "1", record.serial
    ).path


class RecordFactory(factory.django.DjangoModelFactory):
    """One person's checkup in a submission, accepted unless told otherwise, for an insurer with a valid
    number. Its institution is the submission's (``submission__institution=…`` to choose it); positions
    count up within the submission; ticket numbers and member file names are unique."""

    class Meta:
        model = Record
        skip_postgeneration_save = True

    class Params:
        serial = factory.Sequence(lambda n: n % 999_999 + 1)  # six digits in the member name

    submission = factory.SubFactory(SubmissionFactory)
    institution = factory.LazyAttribute(lambda r: r.submission.institution)
    position = factory.LazyAttribute(
        lambda r: (r.submission.records.aggregate(last=Max("position"))["last"] or 0) + 1
    )
    data_path = factory.LazyAttribute(lambda r: _member(r, "h"))
    claim_path = factory.LazyAttribute(lambda r: _member(r, "c"))
    status = RecordStatus.ACCEPTED
    insurer = factory.SubFactory(InsurerFactory)
    insurer_number = factory.LazyAttribute(lambda r: r.insurer.number if r.insurer else "")
    ticket_number = factory.Sequence(lambda n: f"99{n:09d}")
    checkup_date = factory.LazyAttribute(lambda r: timezone.localdate(r.submission.received_at))
    claim_amount = 0
    payment_amount = 0
    unit_amount = factory.LazyAttribute(lambda r: r.claim_amount + r.payment_amount)
    checked_at = factory.LazyAttribute(
        lambda r: None if r.status == RecordStatus.PENDING else r.submission.checked_at or r.submission.received_at
    )

    @factory.post_generation
    def recount(self, create: bool, extracted: bool | None, **kwargs: Any) -> None:
        """Bring the submission's figures and status up to date (``recount=False`` leaves them)."""
        if create and extracted is not False:
            submission_recount(self.submission)


class FindingFactory(factory.django.DjangoModelFactory):
    """A 事務点検 finding: a warning on ``record`` (in the record's file), or on the submission as a whole."""

    class Meta:
        model = Finding

    record = None
    submission = factory.Maybe(
        "record",
        yes_declaration=factory.LazyAttribute(lambda f: f.record.submission),
        no_declaration=factory.SubFactory(SubmissionFactory),
    )
    code = "OBS_UNKNOWN_CODE"
    severity = Finding.Severity.WARNING
    file = factory.LazyAttribute(lambda f: f.record.data_path if f.record else "")
    message = "項目マスタにない項目コードです"
