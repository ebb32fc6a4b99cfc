"""受診券 data an insurer has issued, loaded in ``EligibilityUpload`` batches and read by the
ticket checks of 事務点検.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agency.models import CopayCode, Insurer


class EligibilityUpload(models.Model):
    """One CSV of issued 受診券, imported whole or not at all."""

    insurer = models.ForeignKey(Insurer, on_delete=models.PROTECT, related_name="eligibility_uploads")
    file_name = models.CharField(_("ファイル名"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_at = models.DateTimeField(_("登録日時"), default=timezone.now)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    row_count = models.PositiveIntegerField(_("行数"))
    created_count = models.PositiveIntegerField(_("新規"))
    updated_count = models.PositiveIntegerField(_("更新"))

    class Meta:
        verbose_name = _("受診券データの登録")
        verbose_name_plural = _("受診券データの登録")
        ordering: ClassVar[list[str]] = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return f"{self.insurer_id} {self.file_name}"


class EligibilityTicket(models.Model):
    """A 受診券 (or 利用券) issued by an insurer: the person it belongs to, its validity and its copay terms.

    Copay per component as in ``agency.models.Contract``: code (別表6), fixed amount (yen), rate
    (percent × 1000) and the insurer's cap (yen). A 利用券 (特定保健指導) uses the 基本 component only.
    """

    class Kind(models.TextChoices):
        """券面種別 (OID …6.208)."""

        CHECKUP = "1", _("受診券")
        GUIDANCE = "2", _("利用券")

    insurer = models.ForeignKey(Insurer, on_delete=models.PROTECT, related_name="eligibility_tickets")
    upload = models.ForeignKey(EligibilityUpload, on_delete=models.PROTECT, related_name="tickets")
    kind = models.CharField(_("券面種別"), max_length=1, choices=Kind.choices, default=Kind.CHECKUP)
    ticket_number = models.CharField(_("受診券整理番号"), max_length=11)
    expires_on = models.DateField(_("有効期限"))
    card_symbol = models.CharField(_("被保険者証等記号"), max_length=20, blank=True)
    card_number = models.CharField(_("被保険者証等番号"), max_length=20)
    card_branch = models.CharField(_("枝番"), max_length=2, blank=True)
    birth_date = models.DateField(_("生年月日"))
    sex = models.CharField(_("性別"), max_length=1)
    basic_copay_code = models.PositiveSmallIntegerField(_("基本 窓口負担区分"), choices=CopayCode.choices, default=CopayCode.NONE)
    basic_copay_amount = models.PositiveIntegerField(_("基本 定額負担額"), default=0)
    basic_copay_rate = models.PositiveIntegerField(_("基本 負担率（%×1000）"), default=0)
    basic_copay_cap = models.PositiveIntegerField(_("基本 保険者負担上限額"), default=0)
    detail_copay_code = models.PositiveSmallIntegerField(_("詳細 窓口負担区分"), choices=CopayCode.choices, default=CopayCode.NONE)
    detail_copay_amount = models.PositiveIntegerField(_("詳細 定額負担額"), default=0)
    detail_copay_rate = models.PositiveIntegerField(_("詳細 負担率（%×1000）"), default=0)
    detail_copay_cap = models.PositiveIntegerField(_("詳細 保険者負担上限額"), default=0)
    other_copay_code = models.PositiveSmallIntegerField(_("追加 窓口負担区分"), choices=CopayCode.choices, default=CopayCode.NONE)
    other_copay_amount = models.PositiveIntegerField(_("追加 定額負担額"), default=0)
    other_copay_rate = models.PositiveIntegerField(_("追加 負担率（%×1000）"), default=0)
    other_copay_cap = models.PositiveIntegerField(_("追加 保険者負担上限額"), default=0)

    class Meta:
        verbose_name = _("受診券")
        verbose_name_plural = _("受診券")
        ordering: ClassVar[list[str]] = ["insurer_id", "ticket_number"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["insurer", "kind", "ticket_number"], name="eligibility_ticket_unique"),
            models.CheckConstraint(
                condition=Q(basic_copay_rate__lte=100000) & Q(detail_copay_rate__lte=100000) & Q(other_copay_rate__lte=100000),
                name="eligibility_copay_rate_at_most_100_percent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.insurer_id} {self.ticket_number}"
