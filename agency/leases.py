"""Leases on background work, and the sweeper that resumes what a dead worker left unfinished.

A unit of work is a Celery task with its arguments (an archive's level 0, one level-1 chunk, a
routing run, a month close). Its lease (``WorkLease``) is written when the work is queued, in the
same transaction as what asked for it (``lease_open``), so that nothing accepted can be forgotten
between a commit and the broker. A worker claims the lease when the task starts
(``LeasedTask``/``run_leased``), renews it from a heartbeat thread while it works and marks it done
when the work has committed. Every step of the work itself is idempotent, so doing a unit twice is
harmless; the lease makes sure it is done at least once:

* a worker killed in the middle (SIGKILL, the machine lost, a time limit) stops renewing; its
  transaction is rolled back by the database and, once the lease has expired, the sweeper
  (``leases_sweep``, a Celery beat entry every ``WORK_SWEEP_SECONDS``) queues the task again;
* a queued message that no worker ever started (lost with a worker that had prefetched it) is
  queued again once ``WORK_QUEUE_SECONDS`` have passed;
* a unit that failed ``WORK_MAX_ATTEMPTS`` times is not resumed again: it is marked failed, audited
  and the agency's administrators are alerted.

A claim finds a lease held by a live worker (running, not expired) and leaves it to that worker, so
a duplicate message does not run the same unit twice at once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from celery import Task
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import Outcome
from audit.services import audit_record
from core.exceptions import ApplicationError

from .alerts import staff_alert
from .celery import app
from .models import LeaseState, WorkLease

logger = logging.getLogger(__name__)

T = TypeVar("T")

OPEN_STATES = (LeaseState.QUEUED, LeaseState.RUNNING)
DONE_KEPT_DAYS = 30  # finished leases are kept this long (what ran, how often it was resumed), then pruned


def lease_key(task: str, args: Sequence[Any]) -> str:
    """The unit's identity: its task name and arguments."""
    return f"{task}:{json.dumps(list(args), separators=(',', ':'), default=str)}"[:200]


def _lease_seconds() -> dt.timedelta:
    return dt.timedelta(seconds=settings.WORK_LEASE_SECONDS)


def _queue_seconds() -> dt.timedelta:
    return dt.timedelta(seconds=settings.WORK_QUEUE_SECONDS)


def _send(task: str, args: Sequence[Any]) -> None:
    app.signature(task, args=list(args)).delay()


def _audit_target(lease: WorkLease) -> tuple[str, list[str]]:
    if ":" in lease.subject:
        kind, ident = lease.subject.split(":", 1)
        return kind, [ident]
    return "work", [lease.key]


# --- queueing ---------------------------------------------------------------------------------------


def lease_open(*, task: str, args: Sequence[Any], subject: str = "", send: bool = True, force: bool = False) -> WorkLease:
    """Register the unit ``task(*args)`` as queued and queue the task once the transaction commits.

    A unit held by a live worker is left to it. A unit already queued and not expired is not queued
    a second time unless ``force`` (its message may have been lost: the caller knows it is stuck).
    ``send=False`` registers the lease only (the caller runs the work itself, ``run_leased``).
    """
    now = timezone.now()
    key = lease_key(task, args)
    with transaction.atomic():
        lease, created = WorkLease.objects.select_for_update().get_or_create(
            key=key,
            defaults={"task": task, "args": list(args), "subject": subject, "queued_at": now, "expires_at": now + _queue_seconds()},
        )
        if not created:
            if lease.state == LeaseState.RUNNING and lease.expires_at > now:
                return lease
            if lease.state == LeaseState.QUEUED and lease.expires_at > now and not force:
                return lease
            if lease.state in (LeaseState.DONE, LeaseState.FAILED):
                lease.attempts = 0  # a new run of the same work (the next routing run, a manual retry)
            lease.state = LeaseState.QUEUED
            lease.holder = ""
            lease.queued_at = now
            lease.expires_at = now + _queue_seconds()
            lease.finished_at = None
            lease.save()
        if send:
            transaction.on_commit(lambda: _send(task, args))
    return lease


# --- holding ----------------------------------------------------------------------------------------


def lease_claim(*, task: str, args: Sequence[Any], subject: str = "") -> str | None:
    """Take the lease for this process; None when a live worker holds it already. Returns the
    holder's token (host, process, claim), which renewals and the release must present."""
    now = timezone.now()
    token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
    key = lease_key(task, args)
    with transaction.atomic():
        lease, created = WorkLease.objects.select_for_update().get_or_create(
            key=key,
            defaults={
                "task": task, "args": list(args), "subject": subject, "state": LeaseState.RUNNING, "holder": token,
                "attempts": 1, "queued_at": now, "started_at": now, "expires_at": now + _lease_seconds(),
            },
        )
        if created:
            return token
        if lease.state == LeaseState.RUNNING and lease.holder and lease.expires_at > now:
            logger.info("work %s is held by %s until %s; not started twice", key, lease.holder, lease.expires_at)
            return None
        if lease.state in (LeaseState.DONE, LeaseState.FAILED):
            lease.attempts = 0
        lease.state = LeaseState.RUNNING
        lease.holder = token
        lease.attempts += 1
        lease.started_at = now
        lease.expires_at = now + _lease_seconds()
        lease.finished_at = None
        lease.save()
    return token


def lease_renew(key: str, token: str) -> bool:
    """Extend the lease of its holder; False when the lease is no longer this holder's."""
    return bool(
        WorkLease.objects.filter(key=key, holder=token, state=LeaseState.RUNNING).update(
            expires_at=timezone.now() + _lease_seconds()
        )
    )


def lease_release(key: str, token: str, *, error: BaseException | None = None, refusal: BaseException | None = None) -> None:
    """The holder's work ended: done (also when it was refused, the refusal kept), or (after
    ``error``) queued again with a back-off, for the sweeper (a task that Celery retries by itself
    claims it again before that)."""
    now = timezone.now()
    held = WorkLease.objects.filter(key=key, holder=token)
    if error is None:
        held.update(state=LeaseState.DONE, holder="", finished_at=now, last_error=str(refusal or "")[:500])
        return
    lease = held.first()
    if lease is None:
        return
    backoff = _lease_seconds() * max(lease.attempts, 1)
    held.update(
        state=LeaseState.QUEUED, holder="", expires_at=now + backoff, last_error=f"{type(error).__name__}: {error}"[:500]
    )


class _Heartbeat(threading.Thread):
    """Renews a lease while the work runs (its own database connection, in autocommit)."""

    def __init__(self, key: str, token: str) -> None:
        super().__init__(name=f"lease-heartbeat {key}", daemon=True)
        self.key, self.token = key, token
        self.stopped = threading.Event()

    def run(self) -> None:
        interval = max(settings.WORK_LEASE_SECONDS / 3, 0.5)
        try:
            while not self.stopped.wait(interval):
                try:
                    if not lease_renew(self.key, self.token):
                        logger.warning("lease of %s was taken over; no longer renewed", self.key)
                        return
                except Exception:  # a database hiccup: try again at the next beat
                    logger.exception("lease of %s could not be renewed", self.key)
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)


def _renews() -> bool:
    """Renewal needs a second connection working beside the task's open transaction: not where
    tasks run inline (the request's process) and not on SQLite (one writer at a time)."""
    return not app.conf.task_always_eager and connection.vendor != "sqlite"


def run_leased(*, task: str, args: Sequence[Any], work: Callable[[], T], subject: str = "") -> T | None:
    """Run ``work`` holding the lease of ``task(*args)``; None (without running) when a live worker
    holds it. The lease is renewed while the work runs and released when it returns or raises."""
    key = lease_key(task, args)
    token = lease_claim(task=task, args=args, subject=subject)
    if token is None:
        return None
    heartbeat = _Heartbeat(key, token) if _renews() else None
    if heartbeat is not None:
        heartbeat.start()
    try:
        result = work()
    except ApplicationError as refusal:
        # A refusal of the domain (a month closed too early, a delivery that cannot be built) ends
        # the unit: running it again would be refused again.
        if heartbeat is not None:
            heartbeat.stop()
        lease_release(key, token, refusal=refusal)
        raise
    except BaseException as error:
        if heartbeat is not None:
            heartbeat.stop()
        lease_release(key, token, error=error)
        raise
    if heartbeat is not None:
        heartbeat.stop()
    lease_release(key, token)
    return result


class LeasedTask(Task):
    """Base of every task that is a unit of work: its body runs holding the unit's lease.

    ``lease_subject`` (a class option of ``shared_task``) names what the first argument identifies
    ("submission" → "submission:<id>"), so that pages can say how the work on it stands.
    """

    abstract = True
    lease_subject = ""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        subject = f"{self.lease_subject}:{args[0]}" if self.lease_subject and args else ""
        return run_leased(task=self.name, args=args, subject=subject, work=lambda: Task.__call__(self, *args, **kwargs))


# --- the sweeper ------------------------------------------------------------------------------------

# Higher apps register a function that opens a lease for work of theirs that has none although it is
# unfinished (intake: a submission without a verdict); the sweeper calls each once per round.
_reconcilers: dict[str, Callable[[dt.datetime], list[str]]] = {}


def register_reconciler(name: str, reconcile: Callable[[dt.datetime], list[str]]) -> None:
    _reconcilers[name] = reconcile



@dataclass
class SweepResult:
    resumed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    pruned: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"resumed": self.resumed, "failed": self.failed, "pruned": self.pruned}


def leases_sweep(*, now: dt.datetime | None = None, limit: int = 1000) -> SweepResult:
    """Queue again every unit whose lease expired before it finished (its worker died, or its message
    was lost); a unit that already started ``WORK_MAX_ATTEMPTS`` times is marked failed instead and
    the administrators are alerted. Safe to run concurrently (a lease is taken by one sweeper)."""
    now = now or timezone.now()
    result = SweepResult()
    for reconcile in _reconcilers.values():
        result.resumed += reconcile(now)
    expired = list(
        WorkLease.objects.filter(state__in=OPEN_STATES, expires_at__lt=now).order_by("expires_at").values_list("pk", flat=True)[:limit]
    )
    for pk in expired:
        with transaction.atomic():
            lease = (
                WorkLease.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, state__in=OPEN_STATES, expires_at__lt=now)
                .first()
            )
            if lease is None:
                continue
            if lease.attempts >= settings.WORK_MAX_ATTEMPTS:
                _fail(lease, now)
                result.failed.append(lease.key)
                continue
            was = lease.state
            lease.state = LeaseState.QUEUED
            lease.holder = ""
            lease.resumed += 1
            lease.queued_at = now
            lease.expires_at = now + _queue_seconds()
            lease.save()
            object_type, object_ids = _audit_target(lease)
            audit_record(
                action="work.resumed", actor_label="system", object_type=object_type, object_ids=object_ids,
                detail={"task": lease.task, "args": lease.args, "was": was, "attempts": lease.attempts, "resumed": lease.resumed},
            )
            task, args = lease.task, list(lease.args)
            transaction.on_commit(lambda task=task, args=args: _send(task, args))  # type: ignore[misc]
            result.resumed.append(lease.key)
    result.pruned, _kinds = WorkLease.objects.filter(
        state=LeaseState.DONE, finished_at__lt=now - dt.timedelta(days=DONE_KEPT_DAYS)
    ).delete()
    if result.resumed or result.failed:
        logger.warning("work resumed: %s; failed: %s", result.resumed, result.failed)
    return result


def _fail(lease: WorkLease, now: dt.datetime) -> None:
    lease.state = LeaseState.FAILED
    lease.holder = ""
    lease.finished_at = now
    lease.save()
    object_type, object_ids = _audit_target(lease)
    audit_record(
        action="work.failed", actor_label="system", outcome=Outcome.FAILURE, object_type=object_type, object_ids=object_ids,
        detail={"task": lease.task, "args": lease.args, "attempts": lease.attempts, "last_error": lease.last_error},
    )
    staff_alert(
        _("バックグラウンド処理を再開できませんでした"),
        _(
            "次の処理は %(attempts)d 回開始されましたが完了していません。自動再開を停止しました。\n"
            "処理: %(task)s\n対象: %(subject)s\n直近のエラー: %(error)s\n\n"
            "原因を取り除いたのち manage.py resume_work --include-failed で再開してください。"
        ) % {"attempts": lease.attempts, "task": lease.key, "subject": lease.subject or "-", "error": lease.last_error or "-"},
    )


def leases_retry_failed() -> list[str]:
    """Queue every failed unit again with a fresh count of attempts (after its cause was removed)."""
    retried: list[str] = []
    for lease in WorkLease.objects.filter(state=LeaseState.FAILED).order_by("pk"):
        lease_open(task=lease.task, args=lease.args, subject=lease.subject)
        audit_record(
            action="work.retried", actor_label="system", object_type=_audit_target(lease)[0], object_ids=_audit_target(lease)[1],
            detail={"task": lease.task, "args": lease.args},
        )
        retried.append(lease.key)
    return retried


# --- how the work on something stands -----------------------------------------------------------------


class WorkState:
    QUEUED = "queued"
    RUNNING = "running"
    RESUMING = "resuming"
    FAILED = "failed"
    IDLE = "idle"


@dataclass(frozen=True)
class SubjectWork:
    """How the unfinished work on one subject stands, from its leases."""

    state: str
    attempts: int = 0
    resumed: int = 0
    expires_at: dt.datetime | None = None


def subject_work(subject: str, *, now: dt.datetime | None = None) -> SubjectWork:
    """``failed`` if a unit gave up; ``running`` while a live worker holds one; ``queued`` while one
    waits for a worker; ``resuming`` when open units have expired (their worker died: the sweeper
    queues them again); ``idle`` when no unit is open."""
    now = now or timezone.now()
    leases = list(WorkLease.objects.filter(subject=subject).exclude(state=LeaseState.DONE))
    attempts = max((lease.attempts for lease in leases), default=0)
    resumed = sum(lease.resumed for lease in leases)
    if any(lease.state == LeaseState.FAILED for lease in leases):
        return SubjectWork(WorkState.FAILED, attempts, resumed)
    live = [lease for lease in leases if lease.expires_at > now]
    running = [lease for lease in live if lease.state == LeaseState.RUNNING]
    if running:
        return SubjectWork(WorkState.RUNNING, attempts, resumed, max(lease.expires_at for lease in running))
    if live:
        return SubjectWork(WorkState.QUEUED, attempts, resumed, max(lease.expires_at for lease in live))
    if leases:
        return SubjectWork(WorkState.RESUMING, attempts, resumed)
    return SubjectWork(WorkState.IDLE, attempts, resumed)
