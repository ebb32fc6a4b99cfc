"""Output shapes of the intake API (plain serializers, read-only) and the upload form."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api import ErrorSerializer

from ..checks import catalogue
from ..models import Finding, Submission
from ..selectors import PROCESSING_STATES, submission_processing


class UploadSerializer(serializers.Serializer):
    """multipart/form-data upload: the archive, and its password when it is locked."""

    file = serializers.FileField(help_text=_("標準様式のZIPアーカイブ"))
    password = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=256,
        write_only=True,
        trim_whitespace=False,
        help_text=_("パスワード付きアーカイブの場合のパスワード"),
    )


class ProgressSerializer(serializers.Serializer):
    records_checked = serializers.IntegerField(help_text=_("点検済みのレコード数"))
    records_total = serializers.IntegerField(help_text=_("アーカイブ内のレコード数（受診者数）"))


class ProcessingSerializer(serializers.Serializer):
    """Whether the check is really going on: ``queued`` (waiting for a worker), ``running``,
    ``resuming`` (its worker stopped; it is queued again automatically, nothing to resend),
    ``failed`` (not resumed automatically any more; the agency has been alerted), ``done``."""

    state = serializers.ChoiceField(choices=[(state, state) for state in PROCESSING_STATES])
    state_label = serializers.CharField(source="label", help_text=_("状態の表示名"))
    message = serializers.CharField(help_text=_("利用者への説明（完了時は空）"))
    resumed = serializers.IntegerField(help_text=_("中断から自動で再開した回数"))


class CountsSerializer(serializers.Serializer):
    files = serializers.IntegerField(source="file_count", help_text=_("アーカイブ内のファイル数"))
    records_total = serializers.IntegerField()
    records_accepted = serializers.IntegerField()
    records_returned = serializers.IntegerField()


class AmountsSerializer(serializers.Serializer):
    """Integer yen."""

    claimed = serializers.IntegerField(source="amount_claimed", help_text=_("請求額（円）"))
    accepted = serializers.IntegerField(source="amount_accepted", help_text=_("受理額（円）"))
    returned = serializers.IntegerField(source="amount_returned", help_text=_("返戻額（円）"))


class SubmissionStatusSerializer(serializers.Serializer):
    """Where a submission stands: its status, how far checking has come, the counts and amounts."""

    id = serializers.IntegerField()
    receipt_number = serializers.CharField(help_text=_("受領番号"))
    file_name = serializers.CharField()
    institution = serializers.CharField(source="institution.number", help_text=_("機関番号"))
    channel = serializers.ChoiceField(choices=Submission._meta.get_field("channel").choices)
    received_at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=Submission._meta.get_field("status").choices)
    is_final = serializers.BooleanField(help_text=_("点検が終わり、状態がこれ以上変わらないとき true"))
    checked_at = serializers.DateTimeField(allow_null=True)
    sha256 = serializers.CharField(source="archive.sha256")
    rule_set = serializers.CharField(help_text=_("点検ルール版"))
    progress = ProgressSerializer(source="*")
    processing = serializers.SerializerMethodField()
    counts = CountsSerializer(source="*")
    amounts = AmountsSerializer(source="*")

    @extend_schema_field(ProcessingSerializer)
    def get_processing(self, submission: Submission) -> dict[str, Any]:
        return dict(ProcessingSerializer(submission_processing(submission)).data)


class PartySerializer(serializers.Serializer):
    number = serializers.CharField()
    name = serializers.CharField()


class ReceiptSerializer(serializers.Serializer):
    """The receipt (受領書) of a submission."""

    receipt_number = serializers.CharField(help_text=_("受領番号"))
    received_at = serializers.DateTimeField(help_text=_("受付日時"))
    sha256 = serializers.CharField(source="archive.sha256", help_text=_("受領したファイルのSHA-256"))
    size = serializers.IntegerField(source="archive.size", help_text=_("受領したファイルのサイズ（バイト）"))
    file_name = serializers.CharField()
    channel = serializers.ChoiceField(choices=Submission._meta.get_field("channel").choices)
    institution = PartySerializer()
    status = serializers.ChoiceField(choices=Submission._meta.get_field("status").choices)
    is_final = serializers.BooleanField()
    checked_at = serializers.DateTimeField(allow_null=True)
    counts = CountsSerializer(source="*")
    amounts = AmountsSerializer(source="*")
    rule_set = serializers.CharField(help_text=_("点検ルール版"))


class FindingSerializer(serializers.Serializer):
    """One finding of 事務点検: on the archive (record_position null) or on one person's record."""

    code = serializers.CharField()
    severity = serializers.ChoiceField(choices=Finding.Severity.choices)
    return_reason = serializers.CharField(help_text=_("返戻理由コード（別表9）"))
    file = serializers.CharField()
    xpath = serializers.CharField()
    message = serializers.CharField()
    hint = serializers.SerializerMethodField()
    record_position = serializers.IntegerField(source="record.position", allow_null=True, read_only=True)
    overridden = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField())
    def get_hint(self, finding: Finding) -> str:
        hints: dict[str, str] = self.context.get("hints", {})
        return hints.get(finding.code, "")

    @extend_schema_field(serializers.BooleanField(help_text=_("警告を代行機関が確認済みのとき true")))
    def get_overridden(self, finding: Finding) -> bool:
        return finding.overridden_at is not None


__all__ = ["ErrorSerializer"]  # the API's one error shape, re-exported for the intake and routing views


def hints() -> dict[str, Any]:
    return {row["code"]: row["hint"] for row in catalogue()}
