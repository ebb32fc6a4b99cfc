"""Billing months (the monthly closing), the agency's fee terms per insurer and its bank account."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from agency.models import Institution, Insurer
from agency.validators import (
    account_number_validator,
    bank_code_validator,
    branch_code_validator,
    validate_half_width_kana,
)

from ..calendar import period_label

requester_code_validator = RegexValidator(r"^\d{10}$", _("依頼人コードは10桁の数字です。"), code="requester_code")


class BillingMonthStatus(models.TextChoices):
    OPEN = "open", _("締め前")
    CLOSED = "closed", _("締め済")


class BillingMonth(models.Model):
    """One billing month (YYYY-MM). Closing freezes it: statements and invoices are then snapshots."""

    period = models.DateField(_("請求年月"), unique=True, help_text=_("月の初日"))
    cutoff_at = models.DateTimeField(_("締め日時"))
    status = models.CharField(_("状態"), max_length=8, choices=BillingMonthStatus.choices, default=BillingMonthStatus.OPEN)
    frozen_at = models.DateTimeField(_("確定日時"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_label = models.CharField(_("締め処理者"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)

    class Meta:
        verbose_name = _("請求月")
        verbose_name_plural = _("請求月")
        ordering: ClassVar[list[str]] = ["-period"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=(Q(status="open") & Q(frozen_at__isnull=True)) | (Q(status="closed") & Q(frozen_at__isnull=False)),
                name="billing_month_frozen_iff_closed",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return period_label(self.period)

    @property
    def is_closed(self) -> bool:
        return self.status == BillingMonthStatus.CLOSED


class FixedFeePeriod(models.TextChoices):
    YEARLY = "yearly", _("年額（契約応当月に請求）")
    MONTHLY = "monthly", _("月額（毎月請求）")


class InsurerBillingTerms(models.Model):
    """How the agency bills one insurer its fees. Without a row: yearly fixed fee, the agency's fee table.

    The amounts, when set, replace the agency's fee table (``AgencyProfile``) for this insurer; all
    are consumption tax included, integer yen. ``fee_fixed`` is the amount per period.
    """

    insurer = models.OneToOneField(Insurer, on_delete=models.PROTECT, related_name="billing_terms", verbose_name=_("保険者"))
    fixed_fee_period = models.CharField(
        _("固定費の請求単位"), max_length=8, choices=FixedFeePeriod.choices, default=FixedFeePeriod.YEARLY
    )
    fee_initial = models.PositiveIntegerField(_("初期費用（税込）"), null=True, blank=True, help_text=_("空欄: 代行機関の料金表"))
    fee_fixed = models.PositiveIntegerField(_("固定費（税込・請求単位あたり）"), null=True, blank=True, help_text=_("空欄: 代行機関の料金表"))
    fee_per_checkup = models.PositiveIntegerField(_("従量単価（税込）"), null=True, blank=True, help_text=_("空欄: 代行機関の料金表"))
    fee_per_guidance = models.PositiveIntegerField(
        _("特定保健指導の従量単価（税込・1件あたり）"), null=True, blank=True,
        help_text=_("空欄: 請求しない（料金表の従量単価は特定健診1件あたり）。開始時・実績評価時の送付ごとに1件。"),
    )
    fee_other_checkups = models.BooleanField(
        _("結果のみ・事業者健診等にも従量料金を請求する"), default=False,
        help_text=_("オフ: 特定健診（決済情報あり）だけが従量料金の対象。"),
    )
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    class Meta:
        verbose_name = _("保険者別の手数料設定")
        verbose_name_plural = _("保険者別の手数料設定")

    def __str__(self) -> str:
        return f"{self.insurer.number} {self.get_fixed_fee_period_display()}"


class AgencyBankAccount(models.Model):
    """The agency's account from which institutions are paid (the payer of the 全銀 transfer file).

    Several may be kept, one is active (the database allows only one active row).
    """

    requester_code = models.CharField(_("依頼人コード"), max_length=10, validators=[requester_code_validator])
    requester_name_kana = models.CharField(_("依頼人名（半角カナ）"), max_length=40, validators=[validate_half_width_kana])
    bank_code = models.CharField(_("仕向銀行番号"), max_length=4, validators=[bank_code_validator])
    bank_name_kana = models.CharField(_("仕向銀行名（半角カナ）"), max_length=15, validators=[validate_half_width_kana])
    branch_code = models.CharField(_("仕向支店番号"), max_length=3, validators=[branch_code_validator])
    branch_name_kana = models.CharField(_("仕向支店名（半角カナ）"), max_length=15, validators=[validate_half_width_kana])
    account_type = models.CharField(_("預金種目"), max_length=1, choices=Institution.AccountType.choices)
    account_number = models.CharField(_("口座番号"), max_length=7, validators=[account_number_validator])
    is_active = models.BooleanField(_("使用中"), default=True)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    class Meta:
        verbose_name = _("代行機関の振込元口座")
        verbose_name_plural = _("代行機関の振込元口座")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="billing_one_active_bank_account"),
            models.CheckConstraint(condition=Q(requester_code__regex=r"^[0-9]{10}$"), name="billing_requester_code_10_digits"),
        ]

    def __str__(self) -> str:
        return f"{self.bank_code}-{self.branch_code} {self.requester_name_kana}"
