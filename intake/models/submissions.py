"""Received archives: the stored bytes, the submission and its receipt number."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from agency.models import Institution, Insurer


class StoredArchive(models.Model):
    """The exact bytes of a received archive, stored once under their SHA-256."""

    sha256 = models.CharField(_("SHA-256"), max_length=64, unique=True)
    size = models.PositiveBigIntegerField(_("サイズ（バイト）"))
    stored_at = models.DateTimeField(_("保存日時"), auto_now_add=True)
    # The scheduled check of the stored bytes against their SHA-256 (``intake.services.integrity``):
    # when it last ran and whether they matched (None: not checked yet).
    verified_at = models.DateTimeField(_("ハッシュ検証日時"), null=True, blank=True)
    intact = models.BooleanField(_("改ざんなし"), null=True, blank=True)

    class Meta:
        verbose_name = _("受領ファイル")
        verbose_name_plural = _("受領ファイル")
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["verified_at", "id"], name="storedarchive_verified"),
        ]

    def __str__(self) -> str:
        return self.sha256


class Channel(models.TextChoices):
    UPLOAD = "upload", _("ブラウザ")
    API = "api", _("API")
    MEDIA = "media", _("媒体（宅急便）")
    EMAIL = "email", _("電子メール")


class SubmissionStatus(models.TextChoices):
    RECEIVED = "received", _("受付")
    CHECKING = "checking", _("点検中")
    ACCEPTED = "accepted", _("受理")
    PARTIALLY_ACCEPTED = "partially_accepted", _("一部返戻")
    REJECTED = "rejected", _("受付不可")


class Submission(models.Model):
    """One received archive. Its receipt (受領書) number is allocated when it is received."""

    receipt_number = models.CharField(_("受領番号"), max_length=20, unique=True)
    archive = models.OneToOneField(StoredArchive, on_delete=models.PROTECT, related_name="submission")
    file_name = models.CharField(_("ファイル名"), max_length=255)
    # Who sent the archive: an institution (every 実施区分 it may send), or an insurer uploading the
    # 事業者健診等 results (実施区分 4) of its own 被保険者. Exactly one of the two.
    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, null=True, blank=True, related_name="submissions"
    )
    insurer = models.ForeignKey(
        Insurer, on_delete=models.PROTECT, null=True, blank=True, related_name="own_submissions",
        verbose_name=_("送付元保険者"),
    )
    channel = models.CharField(_("受付経路"), max_length=16, choices=Channel.choices)
    received_at = models.DateTimeField(_("受付日時"), db_index=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    idempotency_key = models.CharField(_("冪等キー"), max_length=128, blank=True)
    status = models.CharField(
        _("状態"), max_length=24, choices=SubmissionStatus.choices, default=SubmissionStatus.RECEIVED
    )
    rule_set = models.CharField(_("点検ルール版"), max_length=32)
    interaction_type = models.CharField(_("種別"), max_length=2, blank=True)
    service_event_type = models.CharField(_("実施区分"), max_length=1, blank=True)
    file_count = models.PositiveIntegerField(_("ファイル数"), default=0)
    records_total = models.PositiveIntegerField(_("レコード数"), default=0)
    records_checked = models.PositiveIntegerField(_("点検済"), default=0)
    records_accepted = models.PositiveIntegerField(_("受理"), default=0)
    records_returned = models.PositiveIntegerField(_("返戻"), default=0)
    amount_claimed = models.PositiveBigIntegerField(_("請求額"), default=0)
    amount_accepted = models.PositiveBigIntegerField(_("受理額"), default=0)
    amount_returned = models.PositiveBigIntegerField(_("返戻額"), default=0)
    checked_at = models.DateTimeField(_("点検完了日時"), null=True, blank=True)
    archive_password = models.TextField(_("アーカイブのパスワード（暗号化）"), blank=True, editable=False)

    class Meta:
        verbose_name = _("受付")
        verbose_name_plural = _("受付")
        ordering: ClassVar[list[str]] = ["-received_at", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["institution", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="submission_idempotency_key_unique",
            ),
            models.CheckConstraint(
                condition=Q(institution__isnull=False, insurer__isnull=True) | Q(institution__isnull=True, insurer__isnull=False),
                name="submission_one_sender",
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["institution", "status", "received_at"], name="submission_inst_status"),
            # Record lists newest received first (受付日時, then id): records are read one submission at a time from the top.
            models.Index(fields=["received_at", "id"], name="submission_received_id"),
        ]

    def __str__(self) -> str:
        return f"{self.receipt_number} {self.file_name}"

    @property
    def sent_by_insurer(self) -> bool:
        """An insurer's own upload (事業者健診等 of its 被保険者), not an institution's archive."""
        return self.insurer_id is not None

    @property
    def sender_number(self) -> str:
        """The sender's 医療機関コード or 保険者番号."""
        sender = self.institution or self.insurer
        return sender.number if sender is not None else ""

    @property
    def sender_name(self) -> str:
        sender = self.institution or self.insurer
        return sender.name if sender is not None else ""

    @property
    def is_final(self) -> bool:
        return self.status in {SubmissionStatus.ACCEPTED, SubmissionStatus.PARTIALLY_ACCEPTED, SubmissionStatus.REJECTED}


class ReceiptCounter(models.Model):
    """Per-year counter row for gap-free receipt numbers (locked while a number is allocated)."""

    year = models.PositiveIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"
