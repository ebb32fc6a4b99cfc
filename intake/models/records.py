"""The records inside a received archive and what 事務点検 found."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from agency.models import CollectivePriceTable, Contract, Institution, Insurer
from kenshin.stratification import Level

from .submissions import Submission

GUIDANCE_LEVELS = [(level.value, level.label) for level in Level]


class RecordStatus(models.TextChoices):
    PENDING = "pending", _("点検待ち")
    ACCEPTED = "accepted", _("受理")
    RETURNED = "returned", _("返戻")


class RecordKind(models.TextChoices):
    """What a record is: the 実施区分 of its archive and whether it carries a claim."""

    CHECKUP = "checkup", _("特定健診")
    GUIDANCE = "guidance", _("特定保健指導")
    RESULTS_ONLY = "results_only", _("特定健診（結果のみ）")
    OTHER_CHECKUP = "other_checkup", _("事業者健診等（他の健診結果）")


# 特定健診 and what counts as one for the 年度 (results only, 事業者健診等): once per person and 年度.
CHECKUP_KINDS = (RecordKind.CHECKUP, RecordKind.RESULTS_ONLY, RecordKind.OTHER_CHECKUP)
# What the agency bills as claims on the insurer's 費用請求書.
BILLED_KINDS = (RecordKind.CHECKUP, RecordKind.GUIDANCE)


class Record(models.Model):
    """One person's checkup in a submission: the DATA file, its CLAIMS file, and the verdict.

    ``fiscal_year`` (年度 of the checkup date) and ``person_key`` (``kenshin.rules.person_key``) carry the
    once-per-年度 guarantee in the database: among accepted records a person, and a 受診券, has one
    特定健診 per 年度 (records accepted before the rule existed and repeating an earlier one keep
    ``fiscal_year`` empty).

    The columns index the record; its full content stays in the stored archive, the one copy of the
    exact bytes received (``intake.selectors.record_parsed`` reads it back, one member at a time from
    ``member_places``).
    """

    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="records")
    position = models.PositiveIntegerField(_("順番"))
    data_path = models.CharField(_("健診結果ファイル"), max_length=255, blank=True)
    claim_path = models.CharField(_("決済ファイル"), max_length=255, blank=True)
    status = models.CharField(_("状態"), max_length=16, choices=RecordStatus.choices, default=RecordStatus.PENDING)
    # The sending institution; empty for an insurer's own upload (``submission.insurer``).
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, null=True, blank=True, related_name="records")
    insurer_number = models.CharField(_("保険者番号"), max_length=8, blank=True, db_index=True)
    insurer = models.ForeignKey(Insurer, on_delete=models.PROTECT, null=True, blank=True, related_name="records")
    ticket_number = models.CharField(_("受診券整理番号"), max_length=11, blank=True)
    checkup_date = models.DateField(_("健診実施日"), null=True, blank=True)
    fiscal_year = models.PositiveSmallIntegerField(_("年度"), null=True, blank=True)
    person_key = models.CharField(_("受診者キー"), max_length=64, blank=True)
    card_symbol = models.CharField(_("被保険者証等記号"), max_length=20, blank=True)
    card_number = models.CharField(_("被保険者証等番号"), max_length=20, blank=True)
    card_branch = models.CharField(_("枝番"), max_length=2, blank=True)
    name_kana = models.CharField(_("氏名（カナ）"), max_length=100, blank=True)
    sex = models.CharField(_("性別"), max_length=1, blank=True)
    birth_date = models.DateField(_("生年月日"), null=True, blank=True)
    claim_type = models.CharField(_("請求区分"), max_length=1, blank=True)
    unit_amount = models.PositiveIntegerField(_("単価合計"), default=0)
    payment_amount = models.PositiveIntegerField(_("窓口負担"), default=0)
    claim_amount = models.PositiveIntegerField(_("請求額"), default=0)
    replaces = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="replaced_by", verbose_name=_("再提出元")
    )
    checked_at = models.DateTimeField(_("点検日時"), null=True, blank=True)
    # The contract that priced the record (``agency.contracts``): the pair's own, or a collective one's table.
    contract = models.ForeignKey(
        Contract, on_delete=models.PROTECT, null=True, blank=True, related_name="records", verbose_name=_("個別契約")
    )
    collective_price_table = models.ForeignKey(
        CollectivePriceTable, on_delete=models.PROTECT, null=True, blank=True, related_name="records",
        verbose_name=_("集合契約の単価表"),
    )
    # 階層化 recomputed at intake (``kenshin.stratification``): the level (OID .3001 code), the rule
    # version it was computed with and why, one reason per line.
    stratified_level = models.CharField(_("保健指導レベル（再計算）"), max_length=1, choices=GUIDANCE_LEVELS, blank=True)
    stratification_rule = models.CharField(_("階層化の基準"), max_length=16, blank=True)
    stratification_reasons = models.TextField(_("階層化の理由"), blank=True)
    kind = models.CharField(_("種類"), max_length=16, choices=RecordKind.choices, default=RecordKind.CHECKUP)
    service_event_type = models.CharField(_("実施区分"), max_length=1, default="1")
    # 階層化 of a checkup (its 保健指導レベル 9N506) or the level of a guidance record (別表12).
    guidance_level = models.CharField(_("保健指導レベル・区分"), max_length=1, blank=True)
    # 別表11 保健指導実施時点 of a guidance record: 1 開始時, 2 実績評価時, 3 途中終了時, …
    guidance_timing = models.CharField(_("保健指導実施時点"), max_length=1, blank=True)
    guidance_first_date = models.DateField(_("初回面接日"), null=True, blank=True)
    payment_rate = models.PositiveSmallIntegerField(_("支払割合（%）"), null=True, blank=True)
    # Where the record's DATA and CLAIMS members sit in the stored archive, by path (kept at intake):
    # ``kenshin.zipguard.MemberPlace.as_list()`` — member name, offset of its local header, compressed
    # size, size, CRC-32, method, flags. A record view reads those two members alone; records received
    # before this existed (empty) are read through the archive's directory.
    member_places = models.JSONField(_("アーカイブ内の位置"), default=dict, blank=True, editable=False)

    class Meta:
        verbose_name = _("健診レコード")
        verbose_name_plural = _("健診レコード")
        ordering: ClassVar[list[str]] = ["submission_id", "position"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["submission", "position"], name="record_position_unique"),
            # A checkup is accepted once: the business key is unique among accepted records.
            models.UniqueConstraint(
                fields=["insurer_number", "ticket_number", "checkup_date"],
                condition=Q(status="accepted") & ~Q(ticket_number="") & ~Q(kind="guidance"),
                name="record_accepted_business_key_unique",
            ),
            # A guidance part is accepted once: one 利用券, one record per 実施時点 (開始時, 実績評価時, …).
            models.UniqueConstraint(
                fields=["insurer_number", "ticket_number", "guidance_timing"],
                condition=Q(status="accepted") & Q(kind="guidance") & ~Q(ticket_number=""),
                name="record_accepted_guidance_part_unique",
            ),
            # 特定健診 once per person and 年度 (保険者番号 + 記号 + 番号 + 枝番), whichever institution or day …
            models.UniqueConstraint(
                fields=["person_key", "fiscal_year"],
                condition=Q(status="accepted") & Q(fiscal_year__isnull=False) & ~Q(person_key="") & ~Q(kind="guidance"),
                name="record_accepted_person_year_unique",
            ),
            # … and one 受診券 once per 年度.
            models.UniqueConstraint(
                fields=["insurer_number", "ticket_number", "fiscal_year"],
                condition=Q(status="accepted") & Q(fiscal_year__isnull=False) & ~Q(ticket_number="") & ~Q(kind="guidance"),
                name="record_accepted_ticket_year_unique",
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["insurer_number", "ticket_number", "checkup_date"], name="record_business_key"),
            models.Index(fields=["submission", "status"], name="record_submission_status"),
            models.Index(fields=["insurer_number", "card_number"], name="record_person"),
            # The home pages' counts of the last days and months (点検日時 from a date on), at any size of the archive.
            models.Index(fields=["checked_at"], name="record_checked_at"),
            # The insurer's record search, newest checkup first (健診実施日, then id): the top 50 read backward by index.
            models.Index(fields=["checkup_date", "id"], name="record_checkup_date_id"),
        ]

    def __str__(self) -> str:
        return f"{self.submission.receipt_number}#{self.position}"


class Finding(models.Model):
    """One rule's verdict on a submission (record is null) or on a record."""

    class Severity(models.TextChoices):
        FATAL = "fatal", _("受付不可")
        ERROR = "error", _("エラー")
        WARNING = "warning", _("警告")
        INFO = "info", _("情報")

    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="findings")
    record = models.ForeignKey(Record, on_delete=models.PROTECT, null=True, blank=True, related_name="findings")
    code = models.CharField(_("コード"), max_length=40, db_index=True)
    severity = models.CharField(_("重大度"), max_length=8, choices=Severity.choices)
    return_reason = models.CharField(_("返戻理由コード"), max_length=2, blank=True)
    file = models.CharField(_("ファイル"), max_length=255, blank=True)
    xpath = models.CharField(_("XPath"), max_length=500, blank=True)
    message = models.CharField(_("内容"), max_length=500)
    overridden_at = models.DateTimeField(_("確認日時"), null=True, blank=True)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    override_reason = models.CharField(_("確認理由"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("点検結果")
        verbose_name_plural = _("点検結果")
        ordering: ClassVar[list[str]] = ["submission_id", "record_id", "id"]

    def __str__(self) -> str:
        return f"{self.code} {self.file}"
