"""Claims statements to insurers (費用請求書) and payment statements to institutions (支払通知).

Both are snapshots written once, at the closing of their month, and never changed (the database
refuses UPDATE and DELETE, ``billing.dbguards``). A claims statement has one line per record billed,
per 過誤 returned and per manual adjustment; each source can be on one line only (unique in the
database), so a checkup is never billed twice and a return never deducted twice. A record accepted
but not yet delivered to the insurer is listed at 0 with the reason it is held, and billed in the
month it is delivered.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from agency.models import Institution, Insurer
from intake.models import Record
from routing.models import InsurerReturn

from .periods import BillingMonth


class ClaimAdjustment(models.Model):
    """A manual correction of what an insurer is billed for an institution, applied at the next closing."""

    insurer = models.ForeignKey(Insurer, on_delete=models.PROTECT, related_name="claim_adjustments", verbose_name=_("保険者"))
    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="claim_adjustments", verbose_name=_("健診機関")
    )
    amount = models.BigIntegerField(_("調整額（円）"), help_text=_("請求に加える額。減額は負の数。"))
    reason = models.CharField(_("理由"), max_length=200)
    created_at = models.DateTimeField(_("登録日時"), db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_label = models.CharField(_("登録者"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("請求調整")
        verbose_name_plural = _("請求調整")
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=~Q(amount=0), name="billing_adjustment_not_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.insurer_id}/{self.institution_id} {self.amount}"


class ClaimsStatement(models.Model):
    """費用請求書: what one insurer is billed for one month, on behalf of the institutions."""

    month = models.ForeignKey(BillingMonth, on_delete=models.PROTECT, related_name="claims_statements", verbose_name=_("請求年月"))
    insurer = models.ForeignKey(Insurer, on_delete=models.PROTECT, related_name="claims_statements", verbose_name=_("保険者"))
    number = models.CharField(_("請求書番号"), max_length=24, unique=True)
    insurer_number = models.CharField(_("保険者番号"), max_length=8)
    insurer_name = models.CharField(_("保険者名"), max_length=200)
    issuer_name = models.CharField(_("発行者"), max_length=200)
    record_count = models.PositiveIntegerField(_("件数"))
    late_count = models.PositiveIntegerField(_("うち月遅れ"))
    return_count = models.PositiveIntegerField(_("過誤件数"))
    claims_total = models.BigIntegerField(_("請求額"))
    returns_total = models.BigIntegerField(_("過誤調整額"))
    adjustments_total = models.BigIntegerField(_("その他の調整額"))
    total = models.BigIntegerField(_("請求合計"))
    frozen_at = models.DateTimeField(_("確定日時"))

    class Meta:
        verbose_name = _("費用請求書")
        verbose_name_plural = _("費用請求書")
        ordering: ClassVar[list[str]] = ["-month__period", "insurer_number"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["month", "insurer"], name="billing_claims_statement_once"),
            models.CheckConstraint(
                condition=Q(total=models.F("claims_total") + models.F("returns_total") + models.F("adjustments_total")),
                name="billing_claims_statement_total",
            ),
            models.CheckConstraint(condition=Q(claims_total__gte=0) & Q(returns_total__lte=0), name="billing_claims_statement_signs"),
        ]

    def __str__(self) -> str:
        return self.number


class LineKind(models.TextChoices):
    CLAIM = "claim", _("請求")
    RETURN = "return", _("過誤")
    ADJUSTMENT = "adjustment", _("調整")
    HELD = "held", _("保留（保険者へ未送付）")


class ClaimsStatementLine(models.Model):
    """One line of a claims statement: a record billed (+), a 過誤 deducted (−), an adjustment (±), or a
    record accepted but held back (0: not delivered to the insurer yet, billed once it is; ``note`` says why)."""

    statement = models.ForeignKey(ClaimsStatement, on_delete=models.PROTECT, related_name="lines")
    kind = models.CharField(_("種類"), max_length=12, choices=LineKind.choices)
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="+", verbose_name=_("健診機関"))
    record = models.ForeignKey(Record, on_delete=models.PROTECT, null=True, blank=True, related_name="billing_lines")
    insurer_return = models.OneToOneField(
        InsurerReturn, on_delete=models.PROTECT, null=True, blank=True, related_name="billing_line"
    )
    adjustment = models.OneToOneField(
        ClaimAdjustment, on_delete=models.PROTECT, null=True, blank=True, related_name="billing_line"
    )
    amount = models.BigIntegerField(_("金額"))
    ticket_number = models.CharField(_("受診券整理番号"), max_length=11, blank=True)
    checkup_date = models.DateField(_("健診実施日"), null=True, blank=True)
    service_month = models.DateField(_("実施年月"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("受理日時"), null=True, blank=True)
    late = models.BooleanField(_("月遅れ"), default=False)
    note = models.CharField(_("摘要"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("費用請求書の明細")
        verbose_name_plural = _("費用請求書の明細")
        ordering: ClassVar[list[str]] = ["statement_id", "institution_id", "kind", "id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            # A checkup is billed once, whatever the month.
            models.UniqueConstraint(fields=["record"], condition=Q(kind="claim"), name="billing_record_billed_once"),
            models.CheckConstraint(
                condition=(Q(kind="claim") & Q(record__isnull=False) & Q(amount__gte=0) & Q(insurer_return__isnull=True) & Q(adjustment__isnull=True))
                | (Q(kind="return") & Q(record__isnull=False) & Q(insurer_return__isnull=False) & Q(amount__lte=0) & Q(adjustment__isnull=True))
                | (Q(kind="adjustment") & Q(adjustment__isnull=False) & Q(record__isnull=True) & Q(insurer_return__isnull=True))
                | (Q(kind="held") & Q(record__isnull=False) & Q(amount=0) & Q(insurer_return__isnull=True) & Q(adjustment__isnull=True)),
                name="billing_line_kind_shape",
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["statement", "institution"], name="billing_line_stmt_inst"),
        ]

    def __str__(self) -> str:
        return f"{self.statement_id}:{self.kind}:{self.amount}"


class PaymentStatement(models.Model):
    """支払通知: what one institution is owed for one month, over every insurer billed for it."""

    month = models.ForeignKey(BillingMonth, on_delete=models.PROTECT, related_name="payment_statements", verbose_name=_("請求年月"))
    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="payment_statements", verbose_name=_("健診機関")
    )
    number = models.CharField(_("支払通知番号"), max_length=24, unique=True)
    institution_number = models.CharField(_("機関番号"), max_length=10)
    institution_name = models.CharField(_("機関名"), max_length=200)
    issuer_name = models.CharField(_("発行者"), max_length=200)
    record_count = models.PositiveIntegerField(_("件数"))
    return_count = models.PositiveIntegerField(_("過誤件数"))
    claims_total = models.BigIntegerField(_("請求額"))
    returns_total = models.BigIntegerField(_("過誤調整額"))
    adjustments_total = models.BigIntegerField(_("その他の調整額"))
    total = models.BigIntegerField(_("支払予定額"))
    frozen_at = models.DateTimeField(_("確定日時"))

    class Meta:
        verbose_name = _("支払通知")
        verbose_name_plural = _("支払通知")
        ordering: ClassVar[list[str]] = ["-month__period", "institution_number"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["month", "institution"], name="billing_payment_statement_once"),
            models.CheckConstraint(
                condition=Q(total=models.F("claims_total") + models.F("returns_total") + models.F("adjustments_total")),
                name="billing_payment_statement_total",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class PaymentStatementLine(models.Model):
    """The part of one claims statement that belongs to one institution: paid to it once the insurer has paid."""

    payment_statement = models.ForeignKey(PaymentStatement, on_delete=models.PROTECT, related_name="lines")
    claims_statement = models.ForeignKey(ClaimsStatement, on_delete=models.PROTECT, related_name="parts")
    insurer = models.ForeignKey(Insurer, on_delete=models.PROTECT, related_name="+", verbose_name=_("保険者"))
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="+", verbose_name=_("健診機関"))
    record_count = models.PositiveIntegerField(_("件数"))
    return_count = models.PositiveIntegerField(_("過誤件数"))
    claims_total = models.BigIntegerField(_("請求額"))
    returns_total = models.BigIntegerField(_("過誤調整額"))
    adjustments_total = models.BigIntegerField(_("その他の調整額"))
    total = models.BigIntegerField(_("金額"))

    class Meta:
        verbose_name = _("支払通知の明細")
        verbose_name_plural = _("支払通知の明細")
        ordering: ClassVar[list[str]] = ["payment_statement_id", "insurer_id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["claims_statement", "institution"], name="billing_part_once"),
            models.CheckConstraint(
                condition=Q(total=models.F("claims_total") + models.F("returns_total") + models.F("adjustments_total")),
                name="billing_part_total",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.claims_statement_id}/{self.institution_id}: {self.total}"
