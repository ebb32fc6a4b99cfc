"""The append-only, hash-chained audit log."""

from __future__ import annotations

from typing import Any, ClassVar, NoReturn

from django.db import models
from django.utils.translation import gettext_lazy as _


class Outcome(models.TextChoices):
    SUCCESS = "success", _("成功")
    DENIED = "denied", _("拒否")
    FAILURE = "failure", _("失敗")


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit events cannot be updated")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("audit events cannot be deleted")


class AppendOnlyError(Exception):
    """Raised when code tries to change or remove an audit event."""


class AuditEvent(models.Model):
    """One audited action. Rows are only ever inserted (the database rejects UPDATE and DELETE).

    ``row_hash`` = SHA-256 over ``prev_hash`` and the canonical form of the row (see ``audit.chain``),
    so any row altered or removed behind the application's back breaks the chain; ``row_mac`` seals
    the row with a key the database does not hold, and checkpoints outside the database record the
    head (``audit.checkpoints``), so that recomputed hashes, forged rows and a cut-off tail show too.
    """

    seq = models.PositiveBigIntegerField(_("連番"), unique=True)
    occurred_at = models.DateTimeField(_("発生日時"), db_index=True)
    actor_id = models.BigIntegerField(_("利用者ID"), null=True, blank=True, db_index=True)
    actor_label = models.CharField(_("利用者"), max_length=150, blank=True)
    actor_role = models.CharField(_("役割"), max_length=32, blank=True)
    tenant = models.CharField(_("所属"), max_length=40, blank=True, db_index=True)
    action = models.CharField(_("操作"), max_length=64, db_index=True)
    outcome = models.CharField(_("結果"), max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    object_type = models.CharField(_("対象種別"), max_length=64, blank=True)
    object_ids = models.JSONField(_("対象ID"), default=list, blank=True)
    ip = models.GenericIPAddressField(_("接続元IP"), null=True, blank=True)
    method = models.CharField(_("メソッド"), max_length=8, blank=True)
    path = models.CharField(_("パス"), max_length=500, blank=True)
    request_id = models.CharField(_("リクエストID"), max_length=64, blank=True)
    session_hash = models.CharField(_("セッション識別子"), max_length=64, blank=True)
    detail = models.JSONField(_("詳細"), default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    row_hash = models.CharField(max_length=64)
    # HMAC of row_hash under AUDIT_HMAC_KEY (not in the database): only the portal can seal a row.
    row_mac = models.CharField(max_length=64, blank=True, default="")

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("監査イベント")
        verbose_name_plural = _("監査イベント")
        ordering: ClassVar[list[str]] = ["-seq"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["tenant", "action", "occurred_at"], name="audit_tenant_action_time"),
            models.Index(fields=["actor_id", "occurred_at"], name="audit_actor_time"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.outcome}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None or not kwargs.get("force_insert", False):
            raise AppendOnlyError("audit events are written only through audit.services.audit_record")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit events cannot be deleted")
