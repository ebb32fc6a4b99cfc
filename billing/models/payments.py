"""Money in (insurer payments) and money out (transfers to institutions, as 全銀 総合振込 batches).

Rows only, never updated totals: a payment entered by mistake is reversed by a new, negative row
that names it; what is paid and what is owed are sums (``billing.selectors``).
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from agency.models import Institution, Insurer

from .invoices import Invoice
from .periods import BillingMonth
from .statements import ClaimsStatement, PaymentStatementLine


class PaymentSource(models.TextChoices):
    MANUAL = "manual", _("手入力")
    BANK_CSV = "bank_csv", _("入金明細CSV")
    REVERSAL = "reversal", _("取消")


class InsurerPayment(models.Model):
    """An amount received from an insurer, against one claims statement or one fee invoice."""

    insurer = models.ForeignKey(Insurer, on_delete=models.PROTECT, related_name="billing_payments", verbose_name=_("保険者"))
    claims_statement = models.ForeignKey(
        ClaimsStatement, on_delete=models.PROTECT, null=True, blank=True, related_name="payments", verbose_name=_("費用請求書")
    )
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="payments", verbose_name=_("請求書")
    )
    amount = models.BigIntegerField(_("入金額"))
    received_on = models.DateField(_("入金日"))
    payer_name = models.CharField(_("振込依頼人"), max_length=100, blank=True)
    reference = models.CharField(_("摘要"), max_length=200, blank=True)
    source = models.CharField(_("登録方法"), max_length=12, choices=PaymentSource.choices)
    external_id = models.CharField(_("取込識別子"), max_length=80, null=True, blank=True, unique=True)
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversal", verbose_name=_("取消対象")
    )
    recorded_at = models.DateTimeField(_("登録日時"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    recorded_label = models.CharField(_("登録者"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("保険者からの入金")
        verbose_name_plural = _("保険者からの入金")
        ordering: ClassVar[list[str]] = ["-received_on", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=(Q(claims_statement__isnull=False) & Q(invoice__isnull=True))
                | (Q(claims_statement__isnull=True) & Q(invoice__isnull=False)),
                name="billing_payment_one_target",
            ),
            models.CheckConstraint(
                condition=(Q(reverses__isnull=True) & Q(amount__gt=0)) | (Q(reverses__isnull=False) & Q(amount__lt=0)),
                name="billing_payment_sign",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.insurer_id} {self.received_on} {self.amount}"


class TransferBatch(models.Model):
    """One 全銀協 総合振込 file: transfers to institutions from the agency's account, on one date."""

    month = models.ForeignKey(BillingMonth, on_delete=models.PROTECT, related_name="transfer_batches", verbose_name=_("請求年月"))
    transfer_date = models.DateField(_("振込指定日（取組日）"))
    created_at = models.DateTimeField(_("作成日時"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_label = models.CharField(_("作成者"), max_length=150, blank=True)
    # The payer, as it was when the batch was made.
    requester_code = models.CharField(_("依頼人コード"), max_length=10)
    requester_name_kana = models.CharField(_("依頼人名"), max_length=40)
    bank_code = models.CharField(_("仕向銀行番号"), max_length=4)
    bank_name_kana = models.CharField(_("仕向銀行名"), max_length=15)
    branch_code = models.CharField(_("仕向支店番号"), max_length=3)
    branch_name_kana = models.CharField(_("仕向支店名"), max_length=15)
    account_type = models.CharField(_("預金種目"), max_length=1)
    account_number = models.CharField(_("口座番号"), max_length=7)
    line_count = models.PositiveIntegerField(_("件数"))
    total_amount = models.PositiveBigIntegerField(_("合計金額"))

    class Meta:
        verbose_name = _("振込データ")
        verbose_name_plural = _("振込データ")
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.month} #{self.pk} {self.transfer_date}"


class TransferLine(models.Model):
    """One transfer to one institution (one data record of the 全銀 file)."""

    batch = models.ForeignKey(TransferBatch, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveIntegerField(_("順番"))
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="billing_transfers", verbose_name=_("健診機関"))
    amount = models.PositiveBigIntegerField(_("振込金額"))
    bank_code = models.CharField(_("被仕向銀行番号"), max_length=4)
    branch_code = models.CharField(_("被仕向支店番号"), max_length=3)
    account_type = models.CharField(_("預金種目"), max_length=1)
    account_number = models.CharField(_("口座番号"), max_length=7)
    holder_kana = models.CharField(_("受取人名"), max_length=30)
    customer_code = models.CharField(_("顧客コード"), max_length=10)

    class Meta:
        verbose_name = _("振込明細")
        verbose_name_plural = _("振込明細")
        ordering: ClassVar[list[str]] = ["batch_id", "position"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["batch", "position"], name="billing_transfer_line_position"),
            models.UniqueConstraint(fields=["batch", "institution"], name="billing_transfer_line_institution"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="billing_transfer_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}#{self.position} {self.amount}"


class TransferItem(models.Model):
    """Which statement part a transfer pays: each part is transferred once (unique in the database)."""

    line = models.ForeignKey(TransferLine, on_delete=models.PROTECT, related_name="items")
    part = models.OneToOneField(PaymentStatementLine, on_delete=models.PROTECT, related_name="transfer_item")

    class Meta:
        verbose_name = _("振込の内訳")
        verbose_name_plural = _("振込の内訳")

    def __str__(self) -> str:
        return f"{self.line_id} ← {self.part_id}"
