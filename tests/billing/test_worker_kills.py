"""Interrupted work resumes by itself, with real processes: a Celery worker (with its embedded beat)
on Redis and PostgreSQL is killed with SIGKILL in the middle of level 0, then in the middle of a
level-1 chunk, then during routing; each time a new worker starts, its sweeper queues again what the
dead one left (once its lease expired), and at the end every record is decided once, routed once and
billed once.

The workers run ``tests/billing/paused_worker.py``, which stops at the named point (holding its
transaction and its renewed lease) and tells the test, which then kills the whole process group.
Short leases and sweeper period (3 s and 2 s) keep the test to well under a minute. It needs
PostgreSQL (``DATABASE_URL``) and a Redis broker (``CELERY_BROKER_URL``); elsewhere it is skipped.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from django.db.models import Count, Sum
from django.utils import timezone

from agency.celery import app
from agency.demo import seed_demo
from agency.leases import lease_open
from agency.models import Institution, LeaseState, WorkLease
from agency.services import synthetic_parties_load
from audit.models import AuditEvent
from billing.calendar import cutoff_for
from billing.models import ClaimsStatement, ClaimsStatementLine, LineKind
from billing.services import month_close
from intake import checks
from intake.models import Channel, Finding, Record, RecordStatus, Submission, SubmissionStatus
from intake.services.receive import submission_receive
from kenshin.synth.generator import GeneratorConfig, default_parties, generate
from routing.models import Delivery, DeliveryItem

from .conftest import with_account

AGENCY = "91399055"
REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("paused_worker.py")
LEASE_SECONDS, SWEEP_SECONDS, QUEUE_SECONDS = 3, 2, 10
CHUNK = 10  # records saved and decided at a time by the test's workers: two archives of 30, six chunks
DEADLINE = 120  # seconds a phase may take before the test gives up (a guard, not a measurement)

pytestmark = [pytest.mark.django_db(transaction=True)]


def _skip_unless_real_services() -> str:
    if not os.environ.get("DATABASE_URL") or connection.vendor != "postgresql":
        pytest.skip("the kill tests need PostgreSQL (DATABASE_URL): a worker process must share the test database")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker.startswith("redis://"):
        pytest.skip("the kill tests need a Redis broker (CELERY_BROKER_URL=redis://...)")
    return broker


class Workers:
    """Starts paused workers on a queue of this test's own and kills them with SIGKILL."""

    def __init__(self, broker: str, tmp: Path) -> None:
        self.tmp = tmp
        self.queue = f"kill-test-{uuid.uuid4().hex[:12]}"
        db = connection.settings_dict
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "agency.settings.dev",
            "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
            "CELERY_BROKER_URL": broker,
            "CELERY_QUEUE": self.queue,
            "DJANGO_SECRET_KEY": django_settings.SECRET_KEY,
            "STORAGE_DIR": str(django_settings.STORAGE_DIR),
            "PORTAL_VAR_DIR": str(tmp / "var"),
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "WORK_LEASE_SECONDS": str(LEASE_SECONDS),
            "WORK_SWEEP_SECONDS": str(SWEEP_SECONDS),
            "WORK_QUEUE_SECONDS": str(QUEUE_SECONDS),
            "KILL_TEST_CHUNK_SIZE": str(CHUNK),
        }
        self.current: subprocess.Popen[bytes] | None = None
        self.count = 0
        self.marker = tmp / "marker"

    def start(self, point: str) -> None:
        self.count += 1
        self.marker.unlink(missing_ok=True)
        log = (self.tmp / f"worker-{self.count}.log").open("wb")
        command = [
            sys.executable, str(WORKER), point, str(self.marker),
            "--pool=prefork", "--concurrency=1", "--loglevel=WARNING", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "-Q", self.queue, "-n", f"kill{self.count}@%h",
            "--beat", "--schedule", str(self.tmp / f"beat-{self.count}"),
        ]
        self.current = subprocess.Popen(
            command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_for_pause(self) -> None:
        self.until(self.marker.exists, "the worker to reach its pause point")

    def kill(self) -> None:
        assert self.current is not None
        os.killpg(self.current.pid, signal.SIGKILL)
        self.current.wait(timeout=30)
        self.current = None

    def until(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + DEADLINE
        while not condition():
            if self.current is not None and self.current.poll() is not None:
                pytest.fail(f"the worker stopped while waiting for {what}:\n{self.logs()}")
            if time.monotonic() > deadline:
                pytest.fail(f"gave up waiting for {what}; leases: {list(WorkLease.objects.values())}\n{self.logs()}")
            time.sleep(0.2)

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace")[-4000:] for path in sorted(self.tmp.glob("worker-*.log")))

    def stop(self) -> None:
        if self.current is not None:
            self.kill()
        self._forget_queue()

    def _forget_queue(self) -> None:
        """Remove this test's queue from the broker, with the messages the killed workers left unacknowledged."""
        broker = redis.Redis.from_url(self.env["CELERY_BROKER_URL"])
        for tag, raw in broker.hgetall("unacked").items():
            if json.loads(raw)[-1] == self.queue:
                broker.hdel("unacked", tag)
                broker.zrem("unacked_index", tag)
        broker.delete(self.queue, *broker.keys(f"_kombu.binding*.{self.queue}"))


@pytest.fixture
def workers(tmp_path: Path, settings: Any) -> Iterator[Workers]:
    broker = _skip_unless_real_services()
    pool = Workers(broker, tmp_path)
    # This process queues work on the same broker and queue, with the same lease lengths.
    settings.WORK_LEASE_SECONDS, settings.WORK_SWEEP_SECONDS, settings.WORK_QUEUE_SECONDS = LEASE_SECONDS, SWEEP_SECONDS, QUEUE_SECONDS
    saved = {key: app.conf[key] for key in ("task_always_eager", "task_default_queue", "broker_url")}
    app.conf.update(task_always_eager=False, task_default_queue=pool.queue, broker_url=broker)
    try:
        yield pool
    finally:
        pool.stop()
        app.conf.update(saved)


def _parties_and_archives() -> list[tuple[Institution, Any]]:
    """Two institutions of two insurers, an archive of 30 records from each."""
    seed_demo()
    config = GeneratorConfig(year=2024, records=30, seed=11, agency_number=AGENCY, institutions=2, insurers=2)
    parties = default_parties(config)
    synthetic_parties_load(parties=parties, agency_number=AGENCY)
    archives = list(generate(config, parties))
    assert len({contract.insurer_number for contract in parties.contracts}) == 2
    return [
        (with_account(Institution.objects.get(number=archive.institution), n), archive)
        for n, archive in enumerate(archives, start=1)
    ]


def _unfinished(task: str) -> list[WorkLease]:
    return list(WorkLease.objects.filter(task=task).exclude(state=LeaseState.DONE))


def _all_final() -> bool:
    return not Submission.objects.exclude(
        status__in=[SubmissionStatus.ACCEPTED, SubmissionStatus.PARTIALLY_ACCEPTED, SubmissionStatus.REJECTED]
    ).exists()


def test_killed_workers_leave_nothing_stuck_and_nothing_counted_twice(workers: Workers) -> None:
    arrivals = _parties_and_archives()

    # 1. Killed in the middle of level 0 of the first archive: its transaction is rolled back and the
    #    submission waits, as received; the second archive's message waits in the queue.
    workers.start("level0")
    for institution, archive in arrivals:
        submission_receive(source=archive.data, file_name=archive.filename, institution=institution, channel=Channel.MEDIA)
    workers.wait_for_pause()
    # While the worker lives, its heartbeat renews the lease: after more than two lease lengths and
    # a sweeper round the unit is still its own, started once and never queued again.
    [held] = [lease for lease in _unfinished("intake.check_archive") if lease.state == LeaseState.RUNNING]
    time.sleep(2 * LEASE_SECONDS + SWEEP_SECONDS)
    held_now = WorkLease.objects.get(pk=held.pk)
    assert (held_now.state, held_now.holder, held_now.attempts) == (LeaseState.RUNNING, held.holder, 1)
    assert held_now.expires_at > held.expires_at
    held_subject = held.subject.split(":")[1]
    assert not AuditEvent.objects.filter(action="work.resumed", object_ids=[held_subject]).exists()
    workers.kill()
    assert list(Submission.objects.values_list("status", flat=True)) == [SubmissionStatus.RECEIVED] * 2
    assert not Record.objects.exists()
    [level0] = [lease for lease in _unfinished("intake.check_archive") if lease.state == LeaseState.RUNNING]
    assert level0.attempts == 1

    # 2. A new worker checks the waiting archive and, once the dead worker's lease has expired, its
    #    sweeper queues the interrupted level 0 again; the worker is killed in the middle of a chunk.
    workers.start("chunk")
    workers.wait_for_pause()
    workers.kill()
    records = Record.objects.all()
    assert 0 < records.exclude(status=RecordStatus.PENDING).count() < records.count()
    assert any(lease.state == LeaseState.RUNNING for lease in _unfinished("intake.check_records"))

    # 3. The next worker resumes the chunk; once every record is decided, routing runs and the worker
    #    is killed while routing the second insurer.
    workers.start("routing")
    workers.until(_all_final, "the verdicts")
    lease_open(task="routing.route_deliveries", args=[])
    workers.wait_for_pause()
    workers.kill()
    assert Delivery.objects.count() == 1  # the first insurer's; the second one's was rolled back

    # 4. The last worker resumes routing; nothing is left open.
    workers.start("none")
    workers.until(lambda: not WorkLease.objects.exclude(state=LeaseState.DONE).exists(), "every unit of work to finish")
    workers.kill()

    records = Record.objects.all()
    accepted = records.filter(status=RecordStatus.ACCEPTED)
    # Decided exactly once: one record per person, none pending, none returned as its own duplicate.
    assert records.count() == 60
    for submission in Submission.objects.all():
        assert submission.records.values("position").distinct().count() == submission.records_total == 30
        assert submission.records_accepted + submission.records_returned == 30
        assert AuditEvent.objects.filter(action="intake.checked", object_ids=[str(submission.pk)]).count() == 1
    assert not records.filter(status=RecordStatus.PENDING).exists()
    assert not Finding.objects.filter(code=checks.DUPLICATE_ACCEPTED.code).exists()
    assert accepted.count() > 0
    # Routed exactly once: every accepted record in one delivery, one delivery per insurer.
    assert DeliveryItem.objects.count() == accepted.count()
    assert set(DeliveryItem.objects.values_list("record_id", flat=True)) == set(accepted.values_list("pk", flat=True))
    per_insurer = Delivery.objects.values("insurer").annotate(n=Count("pk"))
    assert sorted(row["n"] for row in per_insurer) == [1, 1]
    assert AuditEvent.objects.filter(action="routing.delivery.created").count() == 2
    # Each kill was resumed by a sweeper (level 0, the chunk, the routing run), audited.
    resumed = {detail["task"] for detail in AuditEvent.objects.filter(action="work.resumed").values_list("detail", flat=True)}
    assert {"intake.check_archive", "intake.check_records", "routing.route_deliveries"} <= resumed

    # Billed exactly once: the month closes after its cut-off with one claim line per accepted record.
    period = timezone.localdate().replace(day=1)
    summary = month_close(period=period, now=cutoff_for(period) + dt.timedelta(minutes=1))
    assert summary.closed_now
    lines = ClaimsStatementLine.objects.filter(kind=LineKind.CLAIM)
    assert lines.count() == accepted.count()
    assert lines.values("record").distinct().count() == accepted.count()
    claimed = accepted.aggregate(total=Sum("claim_amount"))["total"]
    assert ClaimsStatement.objects.aggregate(total=Sum("claims_total"))["total"] == claimed
    assert not month_close(period=period, now=cutoff_for(period) + dt.timedelta(minutes=2)).closed_now
    assert ClaimsStatementLine.objects.filter(kind=LineKind.CLAIM).count() == accepted.count()
