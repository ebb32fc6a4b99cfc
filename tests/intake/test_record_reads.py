"""Record views read the record's two members alone from the stored archive; the archives' hashes are
checked on a schedule, and a tampered archive shows to the agency's administrators and auditors."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from agency.models import Contract, Role
from audit.models import AuditEvent, Outcome
from compliance import probes
from compliance.models import ProbeStatus
from intake import outputs, storage
from intake.models import Record, RecordStatus, StoredArchive, Submission
from intake.reading import record_reading
from intake.services.integrity import archives_verify

from .helpers import make_archive, receive

pytestmark = pytest.mark.django_db


class _Counted:
    """A stored file opened for reading, counting the bytes read from it."""

    def __init__(self, handle: IO[bytes], counter: dict[str, int]) -> None:
        self._handle, self._counter = handle, counter

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._counter["bytes"] += len(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> _Counted:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._handle.close()


class _CountedPath(type(Path())):  # type: ignore[misc]
    counter: dict[str, int]

    def open(self, *args: Any, **kwargs: Any) -> Any:
        self.counter["opens"] += 1
        return _Counted(super().open(*args, **kwargs), self.counter)


@pytest.fixture
def bytes_read(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Every byte read from stored archives; reading a whole archive at once fails the test."""
    counter = {"bytes": 0, "opens": 0}
    real = storage.path_for

    def counted(sha256: str) -> Path:
        path = _CountedPath(real(sha256))
        path.counter = counter
        return path

    def whole(sha256: str) -> bytes:
        raise AssertionError("a record view read the whole archive")

    monkeypatch.setattr(storage, "path_for", counted)
    monkeypatch.setattr(storage, "read", whole)
    return counter


@pytest.fixture
def large_submission(agency_profile: Any, contract_a: Contract, django_capture_on_commit_callbacks: Any) -> Submission:
    return receive(make_archive(contract_a, records=60, seed=3), contract_a.institution, django_capture_on_commit_callbacks)


def _members_size(record: Record) -> int:
    """The two members' compressed bytes with their local headers (name and extra field at most 300 bytes each)."""
    return sum(place[2] + 30 + 300 for place in record.member_places.values())


def test_intake_keeps_each_members_place_in_the_stored_archive(large_submission: Submission) -> None:
    stored = storage.path_for(large_submission.archive.sha256)
    with zipfile.ZipFile(stored) as archive:
        infos = {info.filename: info for info in archive.infolist()}
    records = list(large_submission.records.all())
    assert len(records) == 60
    for record in records:
        assert set(record.member_places) == {record.data_path, record.claim_path}
        for values in record.member_places.values():
            name, offset, compressed, size, crc, _method, _flags = values
            info = infos[name]
            assert (offset, compressed, size, crc) == (info.header_offset, info.compress_size, info.file_size, info.CRC)


def test_a_record_page_reads_its_two_members_not_the_archive(
    user_client: Callable[..., Client], large_submission: Submission, bytes_read: dict[str, int]
) -> None:
    clerk = user_client(Role.AGENCY_CLERK)
    record = large_submission.records.filter(status=RecordStatus.ACCEPTED).order_by("position").last()
    response = clerk.get(reverse("intake:record_detail", args=[record.pk]))
    assert response.status_code == 200
    content = outputs.record_content(record)
    assert content["available"] and content["observations"]
    assert content["observations"][0]["code"] in response.content.decode()
    archive_size = large_submission.archive.size
    # The page and record_content above: two reads of two members each, nothing else.
    assert 0 < bytes_read["bytes"] <= 2 * _members_size(record)
    assert bytes_read["bytes"] < archive_size / 10


def test_the_insurer_record_page_reads_its_two_members(
    user_client: Callable[..., Client], large_submission: Submission, bytes_read: dict[str, int]
) -> None:
    record = large_submission.records.filter(status=RecordStatus.ACCEPTED).order_by("position").first()
    reading = record_reading(record)
    assert reading["readable"] and reading["person"]["name_kana"] == record.name_kana
    assert reading["claim"]["claim_amount"] == record.claim_amount
    assert 0 < bytes_read["bytes"] <= _members_size(record)


def test_a_record_received_before_places_were_kept_is_read_through_the_directory(
    user_client: Callable[..., Client], large_submission: Submission
) -> None:
    Record.objects.filter(submission=large_submission).update(member_places={})
    record = large_submission.records.filter(status=RecordStatus.ACCEPTED).first()
    content = outputs.record_content(record)
    assert content["available"] and content["observations"]


def _tamper(submission: Submission, record: Record) -> None:
    """Flip one byte inside the record's DATA member, behind the portal's back."""
    path = storage.path_for(submission.archive.sha256)
    _name, offset, compressed, *_rest = record.member_places[record.data_path]
    os.chmod(path, 0o640)
    with path.open("r+b") as handle:
        handle.seek(offset + 30 + len(_name.encode()) + compressed // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))


def test_a_tampered_member_is_not_shown_and_the_scheduled_check_reports_the_archive(
    user_client: Callable[..., Client], large_submission: Submission
) -> None:
    record = large_submission.records.filter(status=RecordStatus.ACCEPTED).first()
    other = large_submission.records.exclude(pk=record.pk).filter(status=RecordStatus.ACCEPTED).first()
    run = archives_verify()
    assert run.archives == StoredArchive.objects.count() and not run.failed
    assert probes.measure("archive_integrity").status == ProbeStatus.PASS

    _tamper(large_submission, record)
    assert not outputs.record_content(record)["available"]  # the CRC-32 of the member no longer matches
    assert outputs.record_content(other)["available"]  # the other records still read

    run = archives_verify()
    assert run.failed == [large_submission.archive.sha256]
    stored = StoredArchive.objects.get(pk=large_submission.archive_id)
    assert stored.intact is False and stored.verified_at is not None
    event = AuditEvent.objects.get(action="storage.integrity_failed")
    assert event.outcome == Outcome.FAILURE and event.detail["sha256"] == stored.sha256
    measured = probes.measure("archive_integrity")
    assert measured.status == ProbeStatus.FAIL
    assert measured.detail["failed_sha256"] == [stored.sha256]
    archives_verify()
    assert AuditEvent.objects.filter(action="storage.integrity_failed").count() == 1  # reported once


def test_the_scheduled_check_takes_the_longest_unchecked_first_within_its_budget(large_submission: Submission) -> None:
    extra = StoredArchive.objects.create(sha256=storage.store(b"other bytes").sha256, size=11)
    assert probes.measure("archive_integrity").status == ProbeStatus.WARN  # nothing checked yet
    first = archives_verify(budget_bytes=1)
    assert first.archives == 1
    second = archives_verify(budget_bytes=1)
    assert second.archives == 1
    checked = set(StoredArchive.objects.filter(verified_at__isnull=False).values_list("pk", flat=True))
    assert {large_submission.archive_id, extra.pk} <= checked


def test_records_received_before_places_were_kept_are_given_them(
    large_submission: Submission, bytes_read: dict[str, int]
) -> None:
    kept = {record.pk: record.member_places for record in large_submission.records.all()}
    Record.objects.filter(submission=large_submission).update(member_places={})
    out = io.StringIO()
    call_command("record_places_fill", stdout=out)
    assert out.getvalue().startswith("60 records")
    assert {record.pk: record.member_places for record in large_submission.records.all()} == kept
    assert bytes_read["bytes"] < large_submission.archive.size / 10  # the directory, not the members
    call_command("record_places_fill", stdout=out)
    assert out.getvalue().endswith("0 records given their members' places\n")
