"""The agency's own invoices to insurers (適格請求書) and credit notes (適格返還請求書).

Because an issued invoice is a legal document that must not change, it copies everything it shows
(issuer, registration number, recipient, lines, totals per tax rate) at issue time and never reads
them through foreign keys when rendered. Once issued it cannot be changed or deleted: ``save()``
and ``delete()`` refuse, and so does the database (triggers in ``billing.dbguards``), for the
invoice, its lines and its tax totals. Numbers come from a locked counter row in the issuing
transaction, so they are sequential without gaps. A correction is a credit note: a new invoice
whose lines negate the original's; an invoice can be cancelled once (one-to-one in the database).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from agency.models import Insurer
from routing.models import DeliveryItem

from .periods import BillingMonth


class InvoiceImmutable(Exception):
    """An issued invoice (or its lines) cannot be changed or deleted; correct it with a credit note."""


class InvoiceKind(models.TextChoices):
    INVOICE = "invoice", _("請求書")
    CREDIT_NOTE = "credit_note", _("返還請求書（赤伝）")


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", _("作成中")
    ISSUED = "issued", _("発行済")


class Invoice(models.Model):
    kind = models.CharField(_("種類"), max_length=12, choices=InvoiceKind.choices, default=InvoiceKind.INVOICE)
    status = models.CharField(_("状態"), max_length=8, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT)
    sequence = models.PositiveIntegerField(_("連番"), null=True, blank=True, unique=True)
    number = models.CharField(_("請求書番号"), max_length=24, null=True, blank=True, unique=True)
    refers = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="credit_note", verbose_name=_("取消対象の請求書")
    )
    insurer = models.ForeignKey(Insurer, on_delete=models.PROTECT, related_name="fee_invoices", verbose_name=_("保険者"))
    month = models.ForeignKey(
        BillingMonth, on_delete=models.PROTECT, null=True, blank=True, related_name="invoices", verbose_name=_("請求年月")
    )
    issue_date = models.DateField(_("発行日"), null=True, blank=True)
    due_date = models.DateField(_("お支払期限"), null=True, blank=True)
    period_start = models.DateField(_("取引期間（自）"))
    period_end = models.DateField(_("取引期間（至）"))
    # The issuer (the agency) as it was at issue time.
    issuer_name = models.CharField(_("発行者"), max_length=200)
    issuer_address = models.CharField(_("発行者住所"), max_length=300)
    issuer_phone = models.CharField(_("発行者電話番号"), max_length=20, blank=True)
    registration_number = models.CharField(_("登録番号"), max_length=14)
    # The recipient (the insurer) as it was at issue time.
    recipient_number = models.CharField(_("保険者番号"), max_length=8)
    recipient_name = models.CharField(_("宛先"), max_length=200)
    recipient_postal_code = models.CharField(_("宛先郵便番号"), max_length=8, blank=True)
    recipient_address = models.CharField(_("宛先住所"), max_length=300, blank=True)
    recipient_department = models.CharField(_("宛先部署"), max_length=200, blank=True)
    recipient_contact = models.CharField(_("宛先担当者"), max_length=100, blank=True)
    total = models.BigIntegerField(_("合計（税込）"), default=0)
    tax_total = models.BigIntegerField(_("うち消費税"), default=0)
    rounding_note = models.CharField(_("端数処理"), max_length=200)
    note = models.CharField(_("備考"), max_length=300, blank=True)
    issued_at = models.DateTimeField(_("発行日時"), null=True, blank=True)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    issued_label = models.CharField(_("発行者（操作）"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)

    # The status as last read from or written to the database (set by from_db and save).
    _stored_status: str | None

    class Meta:
        verbose_name = _("請求書（事務手数料）")
        verbose_name_plural = _("請求書（事務手数料）")
        ordering: ClassVar[list[str]] = ["-sequence", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            # The closing issues one fee invoice per insurer and month (a second run finds it).
            models.UniqueConstraint(
                fields=["insurer", "month"], condition=Q(kind="invoice") & Q(month__isnull=False), name="billing_fee_invoice_once"
            ),
            models.CheckConstraint(
                condition=Q(status="draft")
                | (Q(number__isnull=False) & Q(sequence__isnull=False) & Q(issue_date__isnull=False) & Q(issued_at__isnull=False)),
                name="billing_invoice_issued_numbered",
            ),
            models.CheckConstraint(
                condition=(Q(kind="invoice") & Q(refers__isnull=True)) | (Q(kind="credit_note") & Q(refers__isnull=False)),
                name="billing_credit_note_refers",
            ),
            models.CheckConstraint(condition=Q(registration_number__regex=r"^T[0-9]{13}$"), name="billing_invoice_registration_number"),
        ]

    def __str__(self) -> str:
        return self.number or f"draft #{self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding and getattr(self, "_stored_status", None) == InvoiceStatus.ISSUED:
            raise InvoiceImmutable(f"invoice {self.number} is issued and cannot be changed")
        super().save(*args, **kwargs)
        self._stored_status = self.status

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise InvoiceImmutable("invoices are never deleted (numbers must stay without gaps)")

    @classmethod
    def from_db(cls, db: Any, field_names: Any, values: Any) -> Invoice:
        instance = super().from_db(db, field_names, values)
        instance._stored_status = instance.__dict__.get("status")
        return instance

    @property
    def is_issued(self) -> bool:
        return self.status == InvoiceStatus.ISSUED

    @property
    def is_credit_note(self) -> bool:
        return self.kind == InvoiceKind.CREDIT_NOTE


class InvoiceLineKind(models.TextChoices):
    INITIAL = "initial", _("初期費用")
    FIXED = "fixed", _("固定費")
    PER_CHECKUP = "per_checkup", _("従量料金")
    PER_GUIDANCE = "per_guidance", _("従量料金（特定保健指導）")
    OTHER = "other", _("その他")


def _invoice_is_issued(invoice_id: int | None) -> bool:
    if invoice_id is None:
        return False
    return Invoice.objects.filter(pk=invoice_id, status=InvoiceStatus.ISSUED).exists()


class InvoiceLine(models.Model):
    """One line, tax included. A credit note's line negates the unit price and amount of the original."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveSmallIntegerField(_("行"))
    kind = models.CharField(_("区分"), max_length=12, choices=InvoiceLineKind.choices)
    description = models.CharField(_("品目"), max_length=200)
    quantity = models.PositiveIntegerField(_("数量"))
    unit_price = models.BigIntegerField(_("単価（税込）"))
    amount = models.BigIntegerField(_("金額（税込）"))
    tax_rate = models.PositiveSmallIntegerField(_("税率（%）"), default=10)
    refers_line = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="credit_line", verbose_name=_("取消対象の行")
    )

    class Meta:
        verbose_name = _("請求書の明細")
        verbose_name_plural = _("請求書の明細")
        ordering: ClassVar[list[str]] = ["invoice_id", "position"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["invoice", "position"], name="billing_invoice_line_position"),
            models.CheckConstraint(condition=Q(amount=models.F("quantity") * models.F("unit_price")), name="billing_invoice_line_amount"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id}#{self.position} {self.amount}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if _invoice_is_issued(self.invoice_id):
            raise InvoiceImmutable("the lines of an issued invoice cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise InvoiceImmutable("invoice lines are never deleted")


class InvoiceTaxTotal(models.Model):
    """The tax-included total and the tax of one rate, computed once per invoice from that total."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="tax_totals")
    rate = models.PositiveSmallIntegerField(_("税率（%）"))
    total = models.BigIntegerField(_("対象額（税込）"))
    tax = models.BigIntegerField(_("消費税額"))

    class Meta:
        verbose_name = _("税率ごとの合計")
        verbose_name_plural = _("税率ごとの合計")
        ordering: ClassVar[list[str]] = ["invoice_id", "-rate"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["invoice", "rate"], name="billing_invoice_tax_rate_once"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.rate}%: {self.total} ({self.tax})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if _invoice_is_issued(self.invoice_id):
            raise InvoiceImmutable("the totals of an issued invoice cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise InvoiceImmutable("invoice totals are never deleted")


class InvoiceNumberCounter(models.Model):
    """The counter row of a number series, locked while a number is allocated (gap-free numbers)."""

    series = models.CharField(max_length=16, primary_key=True)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("請求書番号の採番")
        verbose_name_plural = _("請求書番号の採番")

    def __str__(self) -> str:
        return f"{self.series}: {self.last}"


class FeeChargedItem(models.Model):
    """A delivered checkup counted in a per-checkup fee line: each delivery item is charged once."""

    delivery_item = models.OneToOneField(DeliveryItem, on_delete=models.PROTECT, related_name="fee_charge")
    invoice_line = models.ForeignKey(InvoiceLine, on_delete=models.PROTECT, related_name="charged_items")

    class Meta:
        verbose_name = _("従量料金の対象")
        verbose_name_plural = _("従量料金の対象")

    def __str__(self) -> str:
        return f"{self.delivery_item_id} → {self.invoice_line_id}"
