"""E-mail notification preferences and the record of what was sent (once per user and object).
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class NotificationKind(models.TextChoices):
    DELIVERY = "delivery", _("新しい送付データ（保険者）")
    RETURN = "return", _("過誤返戻（健診機関）")
    RECEIPT = "receipt", _("受付・点検完了（健診機関）")


class NotificationPreference(models.Model):
    """A user's opt-outs, one per notification kind (no row: every kind is sent)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference")
    opt_out_delivery = models.BooleanField(_("新しい送付データの通知を受け取らない"), default=False)
    opt_out_return = models.BooleanField(_("過誤返戻の通知を受け取らない"), default=False)
    opt_out_receipt = models.BooleanField(_("受付・点検完了の通知を受け取らない"), default=False)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    class Meta:
        verbose_name = _("通知設定")
        verbose_name_plural = _("通知設定")

    def __str__(self) -> str:
        return str(self.user_id)

    def opted_out(self, kind: str) -> bool:
        return bool(getattr(self, f"opt_out_{kind}", False))


class NotificationSent(models.Model):
    """One notification sent to one user about one object (unique: a re-run sends nothing twice)."""

    kind = models.CharField(_("種類"), max_length=16, choices=NotificationKind.choices)
    object_id = models.PositiveBigIntegerField(_("対象"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField(_("送信日時"), default=timezone.now)

    class Meta:
        verbose_name = _("送信済み通知")
        verbose_name_plural = _("送信済み通知")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["kind", "object_id", "user"], name="notification_sent_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.object_id} → {self.user_id}"
