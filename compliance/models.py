"""Compliance records: checklist state, probe results, attestations, reviews, break-glass, backups, disposal.

The item texts of the checklist are not stored here (see ``compliance.checklist``); ``ControlItem``
keeps what people manage per item and the status last computed for it.
"""

from __future__ import annotations

from typing import Any, ClassVar, NoReturn

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class AppendOnlyError(Exception):
    """Raised when code tries to change or remove an append-only compliance record."""


class ProbeStatus(models.TextChoices):
    PASS = "pass", _("合格")
    WARN = "warn", _("要確認")
    FAIL = "fail", _("不合格")
    UNKNOWN = "unknown", _("判定不能")


class ItemStatus(models.TextChoices):
    DONE = "done", _("実施済")
    PLANNED = "planned", _("実施予定")


class ControlItem(models.Model):
    """What people manage for one checklist item, and its status as last computed."""

    code = models.CharField(_("項目コード"), max_length=32, unique=True)
    owner = models.CharField(_("責任者"), max_length=100, blank=True)
    planned_date = models.DateField(_("実施予定時期"), null=True, blank=True)
    review_interval_days = models.PositiveIntegerField(
        _("見直し間隔（日）"), null=True, blank=True, help_text=_("空欄のときは区分ごとの既定値")
    )
    status = models.CharField(_("状態"), max_length=16, choices=ItemStatus.choices, default=ItemStatus.PLANNED)
    status_since = models.DateTimeField(_("状態の変更日時"), null=True, blank=True)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("チェック項目の管理情報")
        verbose_name_plural = _("チェック項目の管理情報")
        ordering: ClassVar[list[str]] = ["code"]

    def __str__(self) -> str:
        return self.code


class Attestation(models.Model):
    """A person's statement that an organisational measure is in place, with its evidence."""

    code = models.CharField(_("項目コード"), max_length=32, db_index=True)
    statement = models.TextField(_("内容"))
    evidence_name = models.CharField(_("証跡ファイル名"), max_length=255, blank=True)
    evidence_sha256 = models.CharField(_("証跡ファイルのSHA-256"), max_length=64, blank=True)
    evidence_size = models.PositiveBigIntegerField(_("証跡ファイルのサイズ"), null=True, blank=True)
    attested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("確認者")
    )
    attested_at = models.DateTimeField(_("確認日時"))
    valid_until = models.DateField(_("次回見直し期限"))

    class Meta:
        verbose_name = _("実施確認")
        verbose_name_plural = _("実施確認")
        ordering: ClassVar[list[str]] = ["-attested_at", "-id"]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["code", "attested_at"], name="attestation_code_time")]

    def __str__(self) -> str:
        return f"{self.code} {self.attested_at:%Y-%m-%d}"


class ProbeResult(models.Model):
    """One measurement of one automated probe."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("定期実行")
        MANUAL = "manual", _("手動実行")

    probe = models.CharField(_("確認項目"), max_length=40)
    status = models.CharField(_("結果"), max_length=8, choices=ProbeStatus.choices)
    value = models.CharField(_("測定値"), max_length=500)
    detail = models.JSONField(_("詳細"), default=dict, blank=True)
    measured_at = models.DateTimeField(_("測定日時"))
    trigger = models.CharField(_("実行契機"), max_length=16, choices=Trigger.choices, default=Trigger.SCHEDULE)

    class Meta:
        verbose_name = _("自動確認の結果")
        verbose_name_plural = _("自動確認の結果")
        ordering: ClassVar[list[str]] = ["-measured_at", "-id"]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["probe", "measured_at"], name="probe_result_probe_time")]

    def __str__(self) -> str:
        return f"{self.probe} {self.status} {self.measured_at:%Y-%m-%d %H:%M}"


class AuditReviewSignoff(models.Model):
    """A reviewer's sign-off that the audit log of a period was reviewed (技術的安全対策 7)."""

    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("確認者")
    )
    period_start = models.DateTimeField(_("対象期間の開始"))
    period_end = models.DateTimeField(_("対象期間の終了"))
    events_count = models.PositiveIntegerField(_("対象イベント数"))
    last_seq = models.PositiveBigIntegerField(_("最終イベントの連番"), null=True, blank=True)
    last_hash = models.CharField(_("最終イベントのハッシュ"), max_length=64, blank=True)
    chain_intact = models.BooleanField(_("ハッシュチェーン検証結果"))
    notes = models.TextField(_("所見"), blank=True)
    signed_at = models.DateTimeField(_("確認日時"))

    class Meta:
        verbose_name = _("監査ログ確認記録")
        verbose_name_plural = _("監査ログ確認記録")
        ordering: ClassVar[list[str]] = ["-signed_at", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(period_end__gt=F("period_start")), name="audit_review_period_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.period_start:%Y-%m-%d}〜{self.period_end:%Y-%m-%d}"


# --- Break-glass --------------------------------------------------------------------------------------


class Incident(models.Model):
    """A declared emergency (非常時). Declared by one officer, in force once a second one confirms."""

    class State(models.TextChoices):
        PENDING = "pending", _("宣言（確認待ち）")
        ACTIVE = "active", _("非常時対応中")
        CLOSED = "closed", _("正常復帰")

    reason = models.TextField(_("非常時と判断した理由"))
    state = models.CharField(_("状態"), max_length=16, choices=State.choices, default=State.PENDING)
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("宣言者")
    )
    declared_at = models.DateTimeField(_("宣言日時"))
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("確認者"),
    )
    confirmed_at = models.DateTimeField(_("確認日時"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("正常復帰の判断者"),
    )
    closed_at = models.DateTimeField(_("正常復帰日時"), null=True, blank=True)
    close_note = models.TextField(_("正常復帰の記録"), blank=True)

    class Meta:
        verbose_name = _("非常時")
        verbose_name_plural = _("非常時")
        ordering: ClassVar[list[str]] = ["-declared_at", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=Q(confirmed_by__isnull=True) | ~Q(confirmed_by=F("declared_by")),
                name="incident_two_officers",
            ),
            models.UniqueConstraint(fields=["state"], condition=Q(state="active"), name="incident_one_active"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_state_display()}"


class EmergencyAccount(models.Model):
    """A dedicated account kept disabled (is_active=False) except while activated during an incident."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="emergency_account", verbose_name=_("利用者")
    )
    label = models.CharField(_("名称"), max_length=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("登録者")
    )
    created_at = models.DateTimeField(_("登録日時"))

    class Meta:
        verbose_name = _("非常用アカウント")
        verbose_name_plural = _("非常用アカウント")
        ordering: ClassVar[list[str]] = ["label", "id"]

    def __str__(self) -> str:
        return self.label


class EmergencyActivation(models.Model):
    """One use of an emergency account: at most four hours, inside one incident."""

    class EndReason(models.TextChoices):
        EXPIRED = "expired", _("期限切れ")
        REVOKED = "revoked", _("手動で停止")
        INCIDENT_CLOSED = "incident_closed", _("正常復帰")

    account = models.ForeignKey(EmergencyAccount, on_delete=models.PROTECT, related_name="activations")
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="activations")
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("有効化した担当者")
    )
    reason = models.TextField(_("使用理由"))
    starts_at = models.DateTimeField(_("開始"))
    expires_at = models.DateTimeField(_("期限"))
    ended_at = models.DateTimeField(_("終了日時"), null=True, blank=True)
    end_reason = models.CharField(_("終了理由"), max_length=20, choices=EndReason.choices, blank=True)

    class Meta:
        verbose_name = _("非常用アカウントの有効化")
        verbose_name_plural = _("非常用アカウントの有効化")
        ordering: ClassVar[list[str]] = ["-starts_at", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(expires_at__gt=F("starts_at")), name="emergency_activation_ordered"),
            models.UniqueConstraint(
                fields=["account"], condition=Q(ended_at__isnull=True), name="emergency_activation_one_open"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.starts_at:%Y-%m-%d %H:%M}〜{self.expires_at:%H:%M}"


class AccessReview(models.Model):
    """A review of every action taken by emergency or maintenance accounts, opened automatically."""

    class Kind(models.TextChoices):
        BREAK_GLASS = "break_glass", _("非常用アカウントの使用")
        MAINTENANCE = "maintenance", _("保守作業")

    kind = models.CharField(_("種別"), max_length=16, choices=Kind.choices)
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, null=True, blank=True, related_name="reviews")
    window = models.ForeignKey(
        "agency.MaintenanceWindow", on_delete=models.PROTECT, null=True, blank=True, related_name="reviews"
    )
    subject_ids = models.JSONField(_("対象利用者ID"), default=list)
    period_start = models.DateTimeField(_("対象期間の開始"))
    period_end = models.DateTimeField(_("対象期間の終了"))
    opened_at = models.DateTimeField(_("作成日時"))
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("確認者"),
    )
    completed_at = models.DateTimeField(_("確認日時"), null=True, blank=True)
    notes = models.TextField(_("所見"), blank=True)

    class Meta:
        verbose_name = _("アクセス確認")
        verbose_name_plural = _("アクセス確認")
        ordering: ClassVar[list[str]] = ["-opened_at", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=(Q(kind="break_glass") & Q(incident__isnull=False))
                | (Q(kind="maintenance") & Q(window__isnull=False)),
                name="access_review_has_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


# --- Backups -----------------------------------------------------------------------------------------


class BackupGeneration(models.Model):
    """One encrypted ``pg_dump -Fc`` generation, with the figures the restore drill checks against."""

    path = models.CharField(_("ファイル"), max_length=500, unique=True)
    database = models.CharField(_("データベース"), max_length=128)
    taken_at = models.DateTimeField(_("取得時点"))
    finished_at = models.DateTimeField(_("完了日時"))
    size = models.PositiveBigIntegerField(_("サイズ（バイト）"))
    sha256 = models.CharField(_("暗号化ファイルのSHA-256"), max_length=64)
    row_counts = models.JSONField(_("テーブルごとの行数"), default=dict)
    audit_head_seq = models.PositiveBigIntegerField(_("監査ログ最終連番"), null=True, blank=True)
    audit_head_hash = models.CharField(_("監査ログ最終ハッシュ"), max_length=64, blank=True)
    pruned_at = models.DateTimeField(_("世代管理による削除日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("バックアップ世代")
        verbose_name_plural = _("バックアップ世代")
        ordering: ClassVar[list[str]] = ["-taken_at", "-id"]

    def __str__(self) -> str:
        return self.path


class RestoreDrill(models.Model):
    """One restore of a backup into a scratch database, with what was verified there."""

    backup = models.ForeignKey(BackupGeneration, on_delete=models.PROTECT, null=True, blank=True, related_name="drills")
    started_at = models.DateTimeField(_("開始日時"))
    finished_at = models.DateTimeField(_("終了日時"))
    duration_ms = models.PositiveBigIntegerField(_("所要時間（ミリ秒）"))
    data_age_seconds = models.PositiveBigIntegerField(_("データの古さ（秒）"), null=True, blank=True)
    succeeded = models.BooleanField(_("成功"))
    chain_intact = models.BooleanField(_("監査ログのハッシュチェーン"), null=True, blank=True)
    counts_match = models.BooleanField(_("行数の一致"), null=True, blank=True)
    scratch_database = models.CharField(_("検証用データベース"), max_length=128, blank=True)
    detail = models.JSONField(_("詳細"), default=dict, blank=True)

    class Meta:
        verbose_name = _("リストア訓練")
        verbose_name_plural = _("リストア訓練")
        ordering: ClassVar[list[str]] = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} {'OK' if self.succeeded else 'NG'}"


# --- Retention and disposal ---------------------------------------------------------------------------


class DataClass(models.TextChoices):
    SUBMISSION = "submission", _("受領データ（受付・健診レコード・点検結果・受領ファイル）")


class RetentionPolicy(models.Model):
    data_class = models.CharField(_("情報種別"), max_length=32, choices=DataClass.choices, unique=True)
    retention_years = models.PositiveSmallIntegerField(_("保存期間（年）"))
    legal_basis = models.CharField(_("根拠"), max_length=300)
    procedure = models.TextField(_("破棄の手順"), help_text=_("破棄を行う条件、破棄を行うことができる従業者、具体的な方法"))
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("更新者")
    )

    class Meta:
        verbose_name = _("保存期間")
        verbose_name_plural = _("保存期間")
        ordering: ClassVar[list[str]] = ["data_class"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(retention_years__gte=1), name="retention_at_least_one_year"),
        ]

    def __str__(self) -> str:
        return f"{self.get_data_class_display()}: {self.retention_years}"


class DisposalRequest(models.Model):
    """A list (manifest) of expired data to dispose of; executed only after two approvals."""

    class State(models.TextChoices):
        PENDING = "pending", _("承認待ち")
        EXECUTED = "executed", _("破棄済")
        CANCELLED = "cancelled", _("取消")

    data_class = models.CharField(_("情報種別"), max_length=32, choices=DataClass.choices)
    cutoff = models.DateTimeField(_("基準日時"), help_text=_("この日時より前の受付が対象"))
    manifest = models.JSONField(_("対象一覧"), default=list)
    manifest_sha256 = models.CharField(_("対象一覧のSHA-256"), max_length=64)
    counts = models.JSONField(_("件数"), default=dict)
    state = models.CharField(_("状態"), max_length=16, choices=State.choices, default=State.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("申請者")
    )
    requested_at = models.DateTimeField(_("申請日時"))
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("実行・取消した担当者"),
    )
    closed_at = models.DateTimeField(_("実行・取消日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("破棄申請")
        verbose_name_plural = _("破棄申請")
        ordering: ClassVar[list[str]] = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_data_class_display()}"


class DisposalApproval(models.Model):
    request = models.ForeignKey(DisposalRequest, on_delete=models.PROTECT, related_name="approvals")
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("承認者")
    )
    approved_at = models.DateTimeField(_("承認日時"))
    manifest_sha256 = models.CharField(_("承認した対象一覧のSHA-256"), max_length=64)

    class Meta:
        verbose_name = _("破棄の承認")
        verbose_name_plural = _("破棄の承認")
        ordering: ClassVar[list[str]] = ["approved_at", "id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["request", "approver"], name="disposal_approval_once_per_person"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.approver_id}"


class DisposalCertificateQuerySet(models.QuerySet["DisposalCertificate"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("disposal certificates cannot be updated")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("disposal certificates cannot be deleted")


class DisposalCertificate(models.Model):
    """The certificate of deletion (破棄証明). Append-only: the database rejects UPDATE and DELETE.

    ``certificate_hash`` = SHA-256 over ``prev_hash`` and the canonical content, so the certificates
    form a chain like the audit log.
    """

    seq = models.PositiveIntegerField(_("証明書番号"), unique=True)
    request = models.OneToOneField(DisposalRequest, on_delete=models.PROTECT, related_name="certificate")
    issued_at = models.DateTimeField(_("発行日時"))
    data_class = models.CharField(_("情報種別"), max_length=32, choices=DataClass.choices)
    method = models.CharField(_("破棄の方法"), max_length=300)
    counts = models.JSONField(_("件数"))
    manifest = models.JSONField(_("対象一覧"))
    manifest_sha256 = models.CharField(_("対象一覧のSHA-256"), max_length=64)
    requested_by = models.CharField(_("申請者"), max_length=150)
    approvers = models.JSONField(_("承認者"))
    executed_by = models.CharField(_("実行者"), max_length=150)
    backups_expire_by = models.DateField(_("対象を含むバックアップの消去予定日"), null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    certificate_hash = models.CharField(_("証明書のハッシュ"), max_length=64)

    objects = DisposalCertificateQuerySet.as_manager()

    class Meta:
        verbose_name = _("破棄証明書")
        verbose_name_plural = _("破棄証明書")
        ordering: ClassVar[list[str]] = ["-seq"]

    def __str__(self) -> str:
        return f"No.{self.seq}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None or not kwargs.get("force_insert", False):
            raise AppendOnlyError("disposal certificates are written only through compliance.services.disposal")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("disposal certificates cannot be deleted")


class TransportKind(models.TextChoices):
    """How a request reached the portal (``compliance.transport``)."""

    SECURE = "secure", _("TLS 1.3・クライアント証明書付きで nginx 経由")
    PUBLIC = "public", _("公開ページ（TLS 1.3、nginx 経由、証明書不要）")
    PLAIN_HTTP = "plain_http", _("平文 HTTP")
    DIRECT = "direct", _("TLS 終端プロキシを経由しない接続")
    UNCONFIGURED_PROXY = "unconfigured_proxy", _("ポータルの nginx 設定が適用されていないプロキシ経由")
    OLD_TLS = "old_tls", _("TLS 1.3 以外")
    NO_CLIENT_CERTIFICATE = "no_client_certificate", _("クライアント証明書なし")


class TransportSighting(models.Model):
    """How many requests reached the portal one way on one day, and when the last one did."""

    day = models.DateField(_("日付"))
    kind = models.CharField(_("経路"), max_length=24, choices=TransportKind.choices)
    count = models.PositiveBigIntegerField(_("件数"), default=0)
    last_seen_at = models.DateTimeField(_("最終確認日時"))
    last_detail = models.CharField(_("直近の例"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("通信経路の記録")
        verbose_name_plural = _("通信経路の記録")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["day", "kind"], name="transport_sighting_day_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.kind} {self.count}"
