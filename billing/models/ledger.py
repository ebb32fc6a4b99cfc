"""The ledger: every financial movement is one row, appended and never changed.

The database refuses UPDATE and DELETE (``billing.dbguards``). Balances and "paid" are sums over
these rows (``billing.selectors``), never stored totals. Amounts are integer yen, signed as follows:

==================  =========================================  ==============================
kind                what                                       amount
==================  =========================================  ==============================
claims_billed       a claims statement's part for one          + billed (− when returns
                    institution (insurer → agency → inst.)     exceed claims)
payment_received    money in from an insurer, against a        + received (− for a reversal)
                    claims statement or a fee invoice
transfer            money out to an institution                + transferred
fee_invoiced        a fee invoice issued                       + invoice total
credit_note         a credit note issued                       − (the negated total)
==================  =========================================  ==============================
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from agency.models import Institution, Insurer

from .invoices import Invoice
from .payments import InsurerPayment, TransferLine
from .periods import BillingMonth
from .statements import ClaimsStatement, PaymentStatementLine


class LedgerImmutable(Exception):
    """Ledger rows are appended, never changed or deleted."""


class LedgerKind(models.TextChoices):
    CLAIMS_BILLED = "claims_billed", _("請求代行（保険者へ請求）")
    PAYMENT_RECEIVED = "payment_received", _("保険者からの入金")
    TRANSFER = "transfer", _("健診機関への振込")
    FEE_INVOICED = "fee_invoiced", _("事務手数料の請求")
    CREDIT_NOTE = "credit_note", _("事務手数料の返還（赤伝）")


class LedgerEntry(models.Model):
    occurred_at = models.DateTimeField(_("日時"), db_index=True)
    kind = models.CharField(_("種類"), max_length=20, choices=LedgerKind.choices)
    amount = models.BigIntegerField(_("金額"))
    month = models.ForeignKey(BillingMonth, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries")
    insurer = models.ForeignKey(Insurer, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    claims_statement = models.ForeignKey(
        ClaimsStatement, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries"
    )
    statement_part = models.OneToOneField(
        PaymentStatementLine, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entry"
    )
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries")
    insurer_payment = models.OneToOneField(
        InsurerPayment, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entry"
    )
    transfer_line = models.OneToOneField(
        TransferLine, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entry"
    )
    memo = models.CharField(_("摘要"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("元帳")
        verbose_name_plural = _("元帳")
        ordering: ClassVar[list[str]] = ["occurred_at", "id"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["kind", "insurer"], name="billing_ledger_kind_insurer"),
            models.Index(fields=["kind", "institution"], name="billing_ledger_kind_inst"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d} {self.kind} {self.amount}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise LedgerImmutable("ledger rows are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise LedgerImmutable("ledger rows are never deleted")
