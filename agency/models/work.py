"""Leases on background work: who holds a unit of work, until when, and whether it finished.

Every unit of background work (an archive's level 0, a level-1 chunk, a routing run, a month close)
has one row, keyed by its task name and arguments. A worker holds the lease while it works and
renews it; a lease that expires without having finished belongs to a worker that died, and the
sweeper (``agency.leases.leases_sweep``, a Celery beat entry) queues the task again.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _


class LeaseState(models.TextChoices):
    QUEUED = "queued", _("待機中")
    RUNNING = "running", _("処理中")
    DONE = "done", _("完了")
    FAILED = "failed", _("再開の上限に到達")


class WorkLease(models.Model):
    """One unit of background work and its lease."""

    key = models.CharField(_("作業キー"), max_length=200, unique=True)
    task = models.CharField(_("タスク名"), max_length=100)
    args = models.JSONField(_("引数"), default=list)
    # What the work is about ("submission:12"), so that its pages can say how far it has come.
    subject = models.CharField(_("対象"), max_length=100, blank=True, db_index=True)
    state = models.CharField(_("状態"), max_length=16, choices=LeaseState.choices, default=LeaseState.QUEUED)
    holder = models.CharField(_("保持者"), max_length=200, blank=True)
    attempts = models.PositiveIntegerField(_("開始回数"), default=0)
    resumed = models.PositiveIntegerField(_("自動再開の回数"), default=0)
    queued_at = models.DateTimeField(_("登録日時"))
    started_at = models.DateTimeField(_("開始日時"), null=True, blank=True)
    expires_at = models.DateTimeField(_("期限"))
    finished_at = models.DateTimeField(_("完了日時"), null=True, blank=True)
    last_error = models.CharField(_("直近のエラー"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("処理の保持")
        verbose_name_plural = _("処理の保持")
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["state", "expires_at"], name="worklease_state_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in {LeaseState.QUEUED, LeaseState.RUNNING}
