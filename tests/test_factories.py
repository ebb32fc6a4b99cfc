"""The factories make rows the portal itself could have made: valid numbers, consistent figures."""

from __future__ import annotations

import re
from typing import Any

import pytest

from intake import storage
from intake.models import RecordStatus, SubmissionStatus
from kenshin.checkdigits import is_valid_institution_number, is_valid_insurer_number
from kenshin.naming import ArchiveName, MemberName
from routing.models import DeliveryStatus

from .factories import (
    AccessReviewFactory,
    AgencyProfileFactory,
    CollectiveInstitutionFactory,
    CollectiveInsurerFactory,
    CollectivePriceTableFactory,
    DeliveryFactory,
    DeliveryItemFactory,
    FindingFactory,
    InsurerReturnFactory,
    RecordFactory,
    StoredArchiveFactory,
    SubmissionFactory,
)

pytestmark = pytest.mark.django_db


def test_rows_pass_model_validation() -> None:
    finding = FindingFactory(record=RecordFactory())
    returned = InsurerReturnFactory()
    institution = CollectiveInstitutionFactory()
    for row in (
        AgencyProfileFactory(), finding.submission, finding.record, finding, returned.delivery,
        returned.record.delivery_item, returned, AccessReviewFactory(), institution.contract, institution,
        CollectiveInsurerFactory(contract=institution.contract), CollectivePriceTableFactory(contract=institution.contract),
    ):
        row.full_clean()


def test_a_submission_is_named_numbered_and_counted_like_a_checked_one() -> None:
    submission = SubmissionFactory(records=3)
    other = SubmissionFactory(institution=submission.institution, received_at=submission.received_at)
    assert other.status == SubmissionStatus.RECEIVED and other.checked_at is None
    assert re.fullmatch(r"R20[0-9]{2}-[0-9]{7}", submission.receipt_number)
    assert submission.receipt_number != other.receipt_number
    assert ArchiveName.parse(submission.file_name) is not None
    assert is_valid_institution_number(submission.institution.number)
    records = list(submission.records.all())
    assert [r.position for r in records] == [1, 2, 3]
    assert len({r.ticket_number for r in records}) == 3 and all(len(r.ticket_number) == 11 for r in records)
    assert len({r.insurer_id for r in records}) == 1
    for record in records:
        assert record.institution == submission.institution and record.insurer_number == record.insurer.number
        assert is_valid_insurer_number(record.insurer_number)
        assert MemberName.parse(record.data_path.split("/")[-1]) is not None
        assert record.checked_at == submission.checked_at
    assert (submission.status, submission.records_total, submission.records_accepted) == (SubmissionStatus.ACCEPTED, 3, 3)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([RecordStatus.ACCEPTED, RecordStatus.RETURNED], SubmissionStatus.PARTIALLY_ACCEPTED),
        ([RecordStatus.RETURNED], SubmissionStatus.REJECTED),
        ([RecordStatus.ACCEPTED, RecordStatus.PENDING], SubmissionStatus.CHECKING),
    ],
)
def test_the_submission_follows_its_records(statuses: list[str], expected: str) -> None:
    submission = SubmissionFactory()
    for status in statuses:
        RecordFactory(submission=submission, status=status, claim_amount=1_000)
    submission.refresh_from_db()
    assert submission.status == expected
    assert submission.records_total == len(statuses)
    assert submission.records_returned == statuses.count(RecordStatus.RETURNED)
    assert submission.amount_claimed == 1_000 * len(statuses)
    assert (submission.checked_at is None) == (expected == SubmissionStatus.CHECKING)


def test_stored_bytes_are_written_only_when_asked() -> None:
    kept = StoredArchiveFactory(content=b"kept", on_disk=True)
    assert storage.read(kept.sha256) == b"kept" and kept.size == 4
    assert not storage.path_for(StoredArchiveFactory().sha256).exists()


def test_deliveries_count_their_records_and_take_the_next_same_day_count(insurer_a: Any) -> None:
    records = [RecordFactory(insurer=insurer_a, claim_amount=amount) for amount in (7_000, 8_000)]
    first = DeliveryFactory(insurer=insurer_a, records=records)
    second = DeliveryFactory(insurer=insurer_a, created_on=first.created_on)
    assert (first.same_day_count, second.same_day_count) == (0, 1)
    assert ArchiveName.parse(second.file_name).same_day_count == 1
    assert (first.record_count, first.file_count, first.claim_total) == (2, 4, 15_000)
    assert first.status == DeliveryStatus.READY
    item = DeliveryItemFactory(delivery=second)
    second.refresh_from_db()
    assert item.record.insurer == insurer_a and item.position == 1 and second.record_count == 1


def test_a_return_is_of_a_routed_record_and_marks_it_returned() -> None:
    returned = InsurerReturnFactory()
    item = returned.record.delivery_item
    assert (returned.delivery, returned.insurer) == (item.delivery, item.delivery.insurer)
    assert returned.institution == returned.record.institution
    returned.record.refresh_from_db()
    assert returned.record.status == RecordStatus.RETURNED
