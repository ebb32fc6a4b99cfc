"""Interrupted intake resumes by itself: the sweeper queues again what a dead worker left, a repeat of
the same bytes resumes a stuck submission, and the pages say honestly how the work stands.

A worker "killed" here is a lease claimed and never renewed (``held_by_dead_worker``) and, for a
message lost with it, a task queued but never run (``capture(execute=False)`` drops it); the clock is
then moved past the lease. Tasks run eagerly. The same with real processes killed by SIGKILL is
``tests/billing/test_worker_kills.py``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from agency.leases import lease_key, leases_sweep
from agency.models import Contract, LeaseState, Role, WorkLease
from audit.models import AuditEvent, Outcome
from intake import checks, jobs
from intake.models import Channel, Finding, Record, RecordStatus, Submission, SubmissionStatus
from intake.services import check
from intake.services.receive import submission_receive
from intake.tasks import intake_check_archive_task, intake_check_records_task
from kenshin.synth.generator import GeneratedArchive

from ..agency.helpers import after, held_by_dead_worker

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_a(user_client: Callable[..., Client]) -> Client:
    return user_client(Role.INSTITUTION_STAFF)


def _received(archive: GeneratedArchive, institution: Any, capture: Callable[..., Any]) -> Submission:
    """Received, its level 0 queued; the message is lost (the worker that took it died)."""
    with capture(execute=False):
        result = submission_receive(
            source=archive.data, file_name=archive.filename, institution=institution, channel=Channel.UPLOAD
        )
    return result.submission


def _progress(client: Client, submission: Submission) -> dict[str, Any]:
    response = client.get(reverse("intake:submission_progress", args=[submission.pk]), HTTP_X_PORTAL_POLL="1")
    assert response.status_code == 200
    return dict(response.json())


def _events(action: str, submission: Submission) -> int:
    return AuditEvent.objects.filter(action=action, object_ids=[str(submission.pk)]).count()


def _decided_once(submission: Submission, total: int) -> None:
    """Every person of the archive has one record, decided; none was returned as its own duplicate."""
    submission.refresh_from_db()
    records = Record.objects.filter(submission=submission)
    assert records.count() == total
    assert not records.filter(status=RecordStatus.PENDING).exists()
    assert records.values("position").distinct().count() == total
    assert not Finding.objects.filter(submission=submission, code=checks.DUPLICATE_ACCEPTED.code).exists()
    assert submission.records_checked == total == submission.records_accepted + submission.records_returned
    assert _events("intake.checked", submission) == 1


def test_level_0_of_a_killed_worker_is_resumed_by_the_sweeper(
    staff_a: Client, archive_a: GeneratedArchive, contract_a: Contract, settings: Any, capture: Callable[..., Any]
) -> None:
    submission = _received(archive_a, contract_a.institution, capture)
    held_by_dead_worker(jobs.CHECK_ARCHIVE, [submission.pk], jobs.subject(submission.pk))
    assert _progress(staff_a, submission)["processing"] == "running"
    assert leases_sweep().resumed == []  # the lease has not expired: its worker may be alive

    with after(settings.WORK_LEASE_SECONDS):
        progress = _progress(staff_a, submission)
        page = staff_a.get(reverse("intake:submission_detail", args=[submission.pk])).content.decode()
        listed = staff_a.get(reverse("intake:submission_list")).content.decode()
        with capture(execute=True):
            swept = leases_sweep()

    assert progress["processing"] == "resuming" and progress["final"] is False
    assert "中断・自動再開待ち" in listed
    assert progress["status"] == SubmissionStatus.RECEIVED
    assert "自動で再開します" in page and "中断" in progress["processing_label"]
    assert swept.resumed == [lease_key(jobs.CHECK_ARCHIVE, [submission.pk])]
    _decided_once(submission, 5)
    assert submission.status == SubmissionStatus.PARTIALLY_ACCEPTED
    resumed = AuditEvent.objects.get(action="work.resumed")
    assert resumed.object_type == "submission" and resumed.object_ids == [str(submission.pk)]
    assert resumed.detail["was"] == LeaseState.RUNNING
    assert not WorkLease.objects.exclude(state=LeaseState.DONE).exists()
    assert _progress(staff_a, submission)["processing"] == "done"


def test_killed_chunk_and_lost_chunk_are_resumed_and_no_record_is_decided_twice(
    staff_a: Client,
    archive_a: GeneratedArchive,
    contract_a: Contract,
    settings: Any,
    capture: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(check, "CHUNK_SIZE", 2)  # five records: chunks 1-2, 3-4, 5
    settings.WORK_QUEUE_SECONDS = 600  # within the session's idle timeout, so that the page can be polled
    submission = _received(archive_a, contract_a.institution, capture)
    with capture(execute=False):  # level 0 done; the chunks' messages are lost
        assert intake_check_archive_task(submission.pk) == 3
    with capture(execute=True):
        assert intake_check_records_task(submission.pk, 1, 2) == 2
    held_by_dead_worker(jobs.CHECK_RECORDS, [submission.pk, 3, 4], jobs.subject(submission.pk))

    assert _progress(staff_a, submission)["processing"] == "running"
    with after(settings.WORK_QUEUE_SECONDS):
        assert _progress(staff_a, submission)["processing"] == "resuming"
        with capture(execute=True):
            swept = leases_sweep()

    assert sorted(swept.resumed) == sorted(
        [lease_key(jobs.CHECK_RECORDS, [submission.pk, 3, 4]), lease_key(jobs.CHECK_RECORDS, [submission.pk, 5, 5])]
    )
    _decided_once(submission, 5)
    assert submission.is_final
    assert WorkLease.objects.get(key=lease_key(jobs.CHECK_RECORDS, [submission.pk, 1, 2])).resumed == 0


def test_repeat_of_the_same_bytes_resumes_a_stuck_submission(
    staff_a: Client, archive_a: GeneratedArchive, contract_a: Contract, settings: Any, capture: Callable[..., Any]
) -> None:
    submission = _received(archive_a, contract_a.institution, capture)
    held_by_dead_worker(jobs.CHECK_ARCHIVE, [submission.pk], jobs.subject(submission.pk))

    with after(settings.WORK_LEASE_SECONDS), capture(execute=True):
        response = staff_a.post(
            reverse("intake:upload"),
            {"archives": SimpleUploadedFile(archive_a.filename, archive_a.data, content_type="application/zip")},
        )

    assert response.status_code == 302
    assert Submission.objects.count() == 1
    _decided_once(submission, 5)
    assert _events("intake.duplicate", submission) == 1
    resumed = AuditEvent.objects.get(action="intake.resumed")
    assert resumed.object_ids == [str(submission.pk)] and resumed.detail["was"] == "resuming"
    assert resumed.actor_role == Role.INSTITUTION_STAFF


def test_repeat_while_the_work_goes_on_leaves_it_to_its_worker(
    archive_a: GeneratedArchive, contract_a: Contract, capture: Callable[..., Any]
) -> None:
    submission = _received(archive_a, contract_a.institution, capture)
    lease = held_by_dead_worker(jobs.CHECK_ARCHIVE, [submission.pk], jobs.subject(submission.pk))

    with capture(execute=True) as callbacks:
        again = submission_receive(
            source=archive_a.data, file_name=archive_a.filename, institution=contract_a.institution, channel=Channel.MEDIA
        )

    assert again.duplicate and not again.resumed
    assert callbacks == []
    lease.refresh_from_db()
    assert lease.state == LeaseState.RUNNING and lease.attempts == 1
    assert not AuditEvent.objects.filter(action="intake.resumed").exists()


def test_unit_that_keeps_dying_is_given_up_with_an_alert_and_retried_by_command(
    staff_a: Client,
    archive_a: GeneratedArchive,
    contract_a: Contract,
    settings: Any,
    capture: Callable[..., Any],
    make_user: Callable[..., Any],
) -> None:
    settings.WORK_MAX_ATTEMPTS = 2
    make_user(Role.AGENCY_ADMIN, email="admin@agency.example.jp")
    submission = _received(archive_a, contract_a.institution, capture)
    key = lease_key(jobs.CHECK_ARCHIVE, [submission.pk])
    held_by_dead_worker(jobs.CHECK_ARCHIVE, [submission.pk], jobs.subject(submission.pk))
    with after(settings.WORK_LEASE_SECONDS):
        with capture(execute=False):  # queued again, and its next worker dies too
            assert leases_sweep().resumed == [key]
        held_by_dead_worker(jobs.CHECK_ARCHIVE, [submission.pk], jobs.subject(submission.pk))
    with after(2 * settings.WORK_LEASE_SECONDS + 2), capture(execute=True):
        swept = leases_sweep()
        progress = _progress(staff_a, submission)

    assert swept.failed == [key] and swept.resumed == []
    lease = WorkLease.objects.get(key=key)
    assert lease.state == LeaseState.FAILED and lease.attempts == 2
    failed = AuditEvent.objects.get(action="work.failed")
    assert failed.outcome == Outcome.FAILURE and failed.object_ids == [str(submission.pk)]
    [alert] = mail.outbox
    assert alert.to == ["admin@agency.example.jp"] and "再開できませんでした" in alert.subject
    assert key in alert.body
    assert progress["processing"] == "failed" and "代行機関" in progress["processing_message"]

    with capture(execute=True):
        call_command("resume_work", "--include-failed", "--json", stdout=io.StringIO())

    _decided_once(submission, 5)
    assert WorkLease.objects.get(key=key).state == LeaseState.DONE


def test_unfinished_submission_without_any_lease_is_given_one_by_the_sweeper(
    staff_a: Client, archive_a: GeneratedArchive, contract_a: Contract, settings: Any, capture: Callable[..., Any]
) -> None:
    submission = _received(archive_a, contract_a.institution, capture)
    WorkLease.objects.all().delete()  # received before leases existed, or restored from a backup mid-check

    assert _progress(staff_a, submission)["processing"] == "resuming"
    with after(settings.WORK_LEASE_SECONDS), capture(execute=True):
        swept = leases_sweep()

    assert swept.resumed == [jobs.subject(submission.pk)]
    _decided_once(submission, 5)
    assert AuditEvent.objects.get(action="intake.resumed").detail["was"] == "idle"


def test_resume_work_lists_open_units(archive_a: GeneratedArchive, contract_a: Contract, capture: Callable[..., Any]) -> None:
    submission = _received(archive_a, contract_a.institution, capture)
    out = io.StringIO()

    call_command("resume_work", "--list", "--json", stdout=out)

    [unit] = json.loads(out.getvalue())["units"]
    assert unit["key"] == lease_key(jobs.CHECK_ARCHIVE, [submission.pk]) and unit["state"] == "queued"
    assert unit["subject"] == jobs.subject(submission.pk) and unit["expired"] is False
