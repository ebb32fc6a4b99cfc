"""The accounts that act for the parties: users with roles, password history, admin-assisted resets,
maintenance windows."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .base import TimeStampedModel
from .parties import Institution, Insurer


class Role(models.TextChoices):
    AGENCY_ADMIN = "agency_admin", _("代行機関 管理者")
    AGENCY_CLERK = "agency_clerk", _("代行機関 事務点検担当")
    AUDITOR = "auditor", _("監査担当")
    INSURER_STAFF = "insurer_staff", _("保険者 担当者")
    INSTITUTION_STAFF = "institution_staff", _("健診機関 担当者")
    MAINTENANCE = "maintenance", _("保守担当")


class User(AbstractUser):
    role = models.CharField(_("役割"), max_length=32, choices=Role.choices)
    insurer = models.ForeignKey(
        Insurer, verbose_name=_("所属保険者"), on_delete=models.PROTECT, null=True, blank=True, related_name="users"
    )
    institution = models.ForeignKey(
        Institution,
        verbose_name=_("所属健診機関"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
    )
    full_name_kana = models.CharField(_("氏名（カナ）"), max_length=100, blank=True)
    birth_date = models.DateField(_("生年月日"), null=True, blank=True)
    phone = models.CharField(_("電話番号"), max_length=20, blank=True)
    must_change_password = models.BooleanField(
        _("次回ログイン時にパスワード変更"),
        default=False,
        help_text=_("管理者が設定した仮パスワードは、本人が最初のログインで変更するまで他の画面を使えません。"),
    )

    # createsuperuser asks for the role too (a superuser is an agency account that may also use the Django admin).
    REQUIRED_FIELDS: ClassVar[list[str]] = ["email", "role"]

    class Meta:
        verbose_name = _("利用者")
        verbose_name_plural = _("利用者")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=(Q(role=Role.INSURER_STAFF) & Q(insurer__isnull=False)) | (~Q(role=Role.INSURER_STAFF) & Q(insurer__isnull=True)),
                name="user_insurer_iff_insurer_staff",
            ),
            models.CheckConstraint(
                condition=(Q(role=Role.INSTITUTION_STAFF) & Q(institution__isnull=False))
                | (~Q(role=Role.INSTITUTION_STAFF) & Q(institution__isnull=True)),
                name="user_institution_iff_institution_staff",
            ),
        ]

    @property
    def tenant_label(self) -> str:
        """The party this user acts for, as written in audit events."""
        if self.role == Role.INSURER_STAFF and self.insurer_id:
            return f"insurer:{self.insurer.number}"
        if self.role == Role.INSTITUTION_STAFF and self.institution_id:
            return f"institution:{self.institution.number}"
        return "agency"

    @property
    def is_agency_staff(self) -> bool:
        return self.role in {Role.AGENCY_ADMIN, Role.AGENCY_CLERK, Role.AUDITOR, Role.MAINTENANCE}


class PasswordHistory(models.Model):
    """Hashes of a user's earlier passwords, for the reuse rule."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_history")
    encoded = models.CharField(max_length=256)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.created_at:%Y-%m-%d}"


class CredentialReset(models.Model):
    """本人確認記録: an administrator verified a person's identity and had a one-time password reset
    link sent to their registered address. Append-only in the database (``agency.dbguards``); it
    never holds a password or the link."""

    class Method(models.TextChoices):
        IN_PERSON = "in_person", _("対面（身分証明書）")
        CALL_BACK = "call_back", _("登録電話番号への折返し")
        DOCUMENT = "document", _("書面（申請書・押印）")

    user = models.ForeignKey(User, verbose_name=_("利用者"), on_delete=models.PROTECT, related_name="credential_resets")
    method = models.CharField(_("本人確認の方法"), max_length=16, choices=Method.choices)
    document_reference = models.CharField(
        _("確認書類・記録の番号"), max_length=200, help_text=_("身分証明書の種類と番号の下4桁、申請書番号、通話記録の番号など")
    )
    verified_at = models.DateTimeField(_("本人確認の日時"))
    verified_by = models.ForeignKey(
        User, verbose_name=_("確認した管理者"), on_delete=models.PROTECT, related_name="credential_resets_verified"
    )
    created_at = models.DateTimeField(_("記録日時"), default=timezone.now)

    class Meta:
        verbose_name = _("パスワード再設定の本人確認記録")
        verbose_name_plural = _("パスワード再設定の本人確認記録")
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user} {self.created_at:%Y-%m-%d %H:%M}"


class MaintenanceWindow(TimeStampedModel):
    """An approved period during which one maintenance account may be used."""

    user = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="maintenance_windows", limit_choices_to={"role": Role.MAINTENANCE}
    )
    ticket = models.CharField(_("作業申請番号"), max_length=64)
    purpose = models.CharField(_("作業内容"), max_length=300)
    approved_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", verbose_name=_("承認者"))
    starts_at = models.DateTimeField(_("開始"))
    ends_at = models.DateTimeField(_("終了"))
    closed_at = models.DateTimeField(_("終了処理日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("保守作業時間帯")
        verbose_name_plural = _("保守作業時間帯")
        ordering: ClassVar[list[str]] = ["-starts_at"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="maintenance_window_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket} ({self.starts_at:%Y-%m-%d %H:%M}〜{self.ends_at:%H:%M})"

    def is_open_at(self, moment: dt.datetime) -> bool:
        return self.closed_at is None and self.starts_at <= moment < self.ends_at
