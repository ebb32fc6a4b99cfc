"""振分 (routing to insurers) and 過誤 (returns from insurers).

A ``Delivery`` is one standard-format archive (種別 3) for one insurer; each routed record sits in
exactly one ``DeliveryItem`` (the one-to-one on the record is what makes routing idempotent, in the
database). Downloads are rows, never counters. ``InsurerReturn`` is an insurer's 過誤 of one routed
record (別表10), with the archive that carries it back to the institution.

The tables were created under the intake app and keep their names (``Meta.db_table``).
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agency.models import Institution, Insurer
from intake.models import Record, RecordKind, StoredArchive

MAX_SAME_DAY_COUNT = 9  # the archive name has one digit for the same-day send count (0–9)


class DeliveryStatus(models.TextChoices):
    READY = "ready", _("送付可能")
    DOWNLOADED = "downloaded", _("取得済")
    ACKNOWLEDGED = "acknowledged", _("受領確認済")


class DeliveryChannel(models.TextChoices):
    WEB = "web", _("画面")
    API = "api", _("API")
    MEDIA = "media", _("媒体")


class Delivery(models.Model):
    """One archive routed to one insurer: 種別 3, from this agency (…6.103) to the insurer (…6.101)."""

    insurer = models.ForeignKey(Insurer, on_delete=models.PROTECT, related_name="deliveries", verbose_name=_("保険者"))
    archive = models.OneToOneField(StoredArchive, on_delete=models.PROTECT, related_name="delivery")
    file_name = models.CharField(_("ファイル名"), max_length=64, unique=True)
    sender_code = models.CharField(_("送付元（代行機関番号）"), max_length=8)
    created_on = models.DateField(_("提出年月日"))
    same_day_count = models.PositiveSmallIntegerField(_("同日分割送信回数"))
    record_count = models.PositiveIntegerField(_("件数"))
    file_count = models.PositiveIntegerField(_("ファイル数"))
    unit_total = models.PositiveBigIntegerField(_("単価総計"))
    payment_total = models.PositiveBigIntegerField(_("窓口支払金額総計"))
    claim_total = models.PositiveBigIntegerField(_("請求金額総計"))
    created_at = models.DateTimeField(_("作成日時"), default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(_("状態"), max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.READY)
    # What the archive holds: one kind of record (intake.RecordKind) per delivery, never mixed.
    record_kind = models.CharField(_("種類"), max_length=16, choices=RecordKind.choices, default=RecordKind.CHECKUP)
    downloaded_at = models.DateTimeField(_("初回取得日時"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("受領確認日時"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_label = models.CharField(_("受領確認者"), max_length=150, blank=True)
    # Offline delivery on media: an AES password-locked copy; the password is shown once, kept hashed.
    media_archive = models.ForeignKey(
        StoredArchive, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    media_password_hash = models.CharField(_("媒体パスワード（ハッシュ）"), max_length=256, blank=True, editable=False)
    media_password_locked = models.BooleanField(_("パスワード付き"), default=False)
    media_prepared_at = models.DateTimeField(_("媒体作成日時"), null=True, blank=True)
    media_prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    media_tracking_number = models.CharField(_("送り状番号"), max_length=40, blank=True)
    media_shipped_at = models.DateTimeField(_("発送日時"), null=True, blank=True)

    class Meta:
        db_table = "intake_delivery"
        verbose_name = _("送付データ")
        verbose_name_plural = _("送付データ")
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["insurer", "created_on", "same_day_count"], name="delivery_name_unique"),
            models.CheckConstraint(condition=Q(same_day_count__lte=MAX_SAME_DAY_COUNT), name="delivery_same_day_count_digit"),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["insurer", "status", "created_at"], name="delivery_insurer_status"),
        ]

    def __str__(self) -> str:
        return self.file_name


class DeliveryDownload(models.Model):
    """One download of a delivery archive: who, when, from where, through which channel."""

    delivery = models.ForeignKey(Delivery, on_delete=models.PROTECT, related_name="downloads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    actor_label = models.CharField(_("取得者"), max_length=150)
    downloaded_at = models.DateTimeField(_("取得日時"), default=timezone.now)
    ip = models.GenericIPAddressField(_("接続元IPアドレス"), null=True, blank=True)
    channel = models.CharField(_("経路"), max_length=8, choices=DeliveryChannel.choices)

    class Meta:
        db_table = "intake_deliverydownload"
        verbose_name = _("送付データの取得")
        verbose_name_plural = _("送付データの取得")
        ordering: ClassVar[list[str]] = ["downloaded_at", "id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.actor_label} {self.downloaded_at:%Y-%m-%d %H:%M}"


class DeliveryItem(models.Model):
    """A record inside a delivery; the one-to-one on the record routes it exactly once."""

    delivery = models.ForeignKey(Delivery, on_delete=models.PROTECT, related_name="items")
    record = models.OneToOneField(Record, on_delete=models.PROTECT, related_name="delivery_item")
    position = models.PositiveIntegerField(_("順番"))
    data_name = models.CharField(_("健診結果ファイル"), max_length=255)
    claim_name = models.CharField(_("決済ファイル"), max_length=255)

    class Meta:
        db_table = "intake_deliveryitem"
        verbose_name = _("送付データの明細")
        verbose_name_plural = _("送付データの明細")
        ordering: ClassVar[list[str]] = ["delivery_id", "position"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["delivery", "data_name"], name="delivery_item_name_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id}#{self.position}"


class InsurerReturnReason(models.TextChoices):
    """過誤返戻理由コード 別表10 (OID 1.2.392.200119.6.1110)."""

    CARD_NUMBER = "01", _("01 被保険者証の記号・番号の誤り")
    TICKET_NUMBER = "02", _("02 受診券・利用券の整理番号の誤り")
    NAME = "03", _("03 受診者・利用者氏名の誤り")
    NO_SUCH_PERSON = "04", _("04 該当者なし")
    INSURER_SYMBOL = "05", _("05 保険者番号と記号の不一致")
    AFTER_LOSS = "06", _("06 資格喪失後の受診")
    DUPLICATE = "07", _("07 重複請求")
    WITHDRAWAL = "08", _("08 健診・指導機関からの取下げ依頼による")
    OTHER = "09", _("09 その他")


class InsurerReturn(models.Model):
    """An insurer's 過誤 of one routed record, and the archive that carries it to the institution."""

    record = models.OneToOneField(Record, on_delete=models.PROTECT, related_name="insurer_return")
    delivery = models.ForeignKey(Delivery, on_delete=models.PROTECT, related_name="returns")
    insurer = models.ForeignKey(Insurer, on_delete=models.PROTECT, related_name="returns")
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="insurer_returns")
    reason = models.CharField(_("過誤返戻理由"), max_length=2, choices=InsurerReturnReason.choices)
    note = models.CharField(_("理由の内容"), max_length=100, blank=True)
    returned_at = models.DateTimeField(_("過誤返戻日時"), default=timezone.now, db_index=True)
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    returned_label = models.CharField(_("過誤返戻者"), max_length=150)
    archive = models.OneToOneField(
        StoredArchive, on_delete=models.PROTECT, null=True, blank=True, related_name="insurer_return"
    )
    archive_file_name = models.CharField(_("返送ファイル名"), max_length=64, blank=True)

    class Meta:
        db_table = "intake_insurerreturn"
        verbose_name = _("過誤返戻")
        verbose_name_plural = _("過誤返戻")
        ordering: ClassVar[list[str]] = ["-returned_at", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(reason__in=[c.value for c in InsurerReturnReason]), name="insurer_return_reason_known"),
        ]

    def __str__(self) -> str:
        return f"{self.record_id} {self.reason}"
