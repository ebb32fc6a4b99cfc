"""実施結果報告 (法定報告): an insurer's report for a 年度 (the 対象者数 it enters) and every archive
generated for it, kept with its hash."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from agency.models import Insurer

from .submissions import StoredArchive


class AnnualReport(models.Model):
    """One insurer's 実施結果報告 of one 年度."""

    insurer = models.ForeignKey(Insurer, on_delete=models.PROTECT, related_name="annual_reports")
    fiscal_year = models.PositiveSmallIntegerField(_("年度"))
    target_population = models.PositiveIntegerField(
        _("特定健診の対象者数"), null=True, blank=True, help_text=_("保険者が入力する、年度の特定健康診査の対象者数。実施率の分母です。")
    )
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    class Meta:
        verbose_name = _("実施結果報告")
        verbose_name_plural = _("実施結果報告")
        ordering: ClassVar[list[str]] = ["insurer_id", "-fiscal_year"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["insurer", "fiscal_year"], name="annual_report_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.insurer.number} {self.fiscal_year}年度"


class AnnualReportGeneration(models.Model):
    """One generated archive of a report (regenerated on demand; every generation is kept)."""

    report = models.ForeignKey(AnnualReport, on_delete=models.PROTECT, related_name="generations")
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("作成者"))
    archive = models.ForeignKey(StoredArchive, on_delete=models.PROTECT, related_name="+")
    file_name = models.CharField(_("ファイル名"), max_length=64)
    record_count = models.PositiveIntegerField(_("特定健診情報ファイル数"))
    counts = models.JSONField(_("集計"), default=dict)

    class Meta:
        verbose_name = _("実施結果報告の作成")
        verbose_name_plural = _("実施結果報告の作成")
        ordering: ClassVar[list[str]] = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.file_name

    @property
    def sha256(self) -> str:
        return self.archive.sha256
