"""Forms of the compliance pages: they validate and clean; services do the work."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agency.models import Role

from .models import DataClass, EmergencyAccount
from .services.emergency_access import EMERGENCY_ROLES, MAX_ACTIVATION

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format=DATETIME_LOCAL, **kwargs)


def _textarea(rows: int = 3) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, "cols": 60})


class ControlItemForm(forms.Form):
    owner = forms.CharField(label=_("責任者"), max_length=100, required=False)
    planned_date = forms.DateField(
        label=_("実施予定時期"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("実施予定の項目に印刷されます（別添様式の「実施予定(実施時期)」）。"),
    )
    review_interval_days = forms.IntegerField(
        label=_("見直し間隔（日）"), required=False, min_value=1, max_value=1095,
        help_text=_("実施確認の有効期間。空欄のときは区分ごとの既定値。"),
    )


class AttestationForm(forms.Form):
    statement = forms.CharField(label=_("確認した内容"), widget=_textarea(5), max_length=5000)
    evidence = forms.FileField(label=_("証跡ファイル（規程・記録など、任意）"), required=False)


class IncidentDeclareForm(forms.Form):
    reason = forms.CharField(label=_("非常時と判断した理由"), widget=_textarea(), max_length=2000)


class IncidentCloseForm(forms.Form):
    note = forms.CharField(label=_("正常復帰の判断と記録"), widget=_textarea(), max_length=2000)


class EmergencyActivateForm(forms.Form):
    account = forms.ModelChoiceField(label=_("非常用アカウント"), queryset=EmergencyAccount.objects.none())
    reason = forms.CharField(label=_("使用理由"), widget=_textarea(), max_length=2000)
    minutes = forms.IntegerField(
        label=_("有効期間（分）"), min_value=1, max_value=int(MAX_ACTIVATION.total_seconds() // 60),
        initial=int(MAX_ACTIVATION.total_seconds() // 60), help_text=_("最長4時間（240分）"),
    )

    def __init__(self, *args: Any, accounts: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = accounts  # type: ignore[attr-defined]


class EmergencyAccountForm(forms.Form):
    label = forms.CharField(label=_("名称"), max_length=100)
    username = forms.CharField(label=_("利用者名"), max_length=150)
    role = forms.ChoiceField(label=_("役割"), choices=[(r.value, r.label) for r in EMERGENCY_ROLES])
    email = forms.EmailField(label=_("メールアドレス"), required=False)


class ReasonlessConfirmForm(forms.Form):
    """A POST with nothing to fill in (the CSRF token is the whole form)."""


class MaintenanceWindowForm(forms.Form):
    user = forms.ModelChoiceField(label=_("保守担当アカウント"), queryset=get_user_model().objects.none())
    ticket = forms.CharField(label=_("作業申請番号"), max_length=64)
    purpose = forms.CharField(label=_("作業内容"), max_length=300)
    starts_at = forms.DateTimeField(label=_("開始"), input_formats=[DATETIME_LOCAL], widget=DateTimeLocalInput())
    ends_at = forms.DateTimeField(label=_("終了"), input_formats=[DATETIME_LOCAL], widget=DateTimeLocalInput())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = get_user_model().objects.filter(  # type: ignore[attr-defined]
            role=Role.MAINTENANCE, is_active=True
        ).order_by("username")
        if not self.is_bound:
            start = timezone.localtime().replace(second=0, microsecond=0)
            self.initial.setdefault("starts_at", start)
            self.initial.setdefault("ends_at", start + dt.timedelta(hours=2))


class ReviewCompleteForm(forms.Form):
    notes = forms.CharField(label=_("所見（確認した内容と結果）"), widget=_textarea(5), max_length=5000)


class RetentionPolicyForm(forms.Form):
    retention_years = forms.IntegerField(label=_("保存期間（年）"), min_value=1, max_value=100)
    legal_basis = forms.CharField(label=_("根拠"), max_length=300)
    procedure = forms.CharField(
        label=_("破棄の手順"), widget=_textarea(5), max_length=5000,
        help_text=_("破棄を行う条件、破棄を行うことができる従業者、具体的な破棄の方法"),
    )


class DisposalRequestForm(forms.Form):
    data_class = forms.ChoiceField(label=_("情報種別"), choices=DataClass.choices)


class AuditReviewSignForm(forms.Form):
    period_start = forms.DateField(label=_("対象期間（開始日）"), widget=forms.DateInput(attrs={"type": "date"}))
    period_end = forms.DateField(label=_("対象期間（終了日）"), widget=forms.DateInput(attrs={"type": "date"}))
    notes = forms.CharField(label=_("所見"), widget=_textarea(5), max_length=5000)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("period_start"), data.get("period_end")
        if start and end and end < start:
            raise forms.ValidationError(_("終了日は開始日以降にしてください。"))
        return data

    def period(self) -> tuple[dt.datetime, dt.datetime]:
        """The chosen days as [start 00:00, day after end 00:00) in local time."""
        start = timezone.make_aware(dt.datetime.combine(self.cleaned_data["period_start"], dt.time.min))
        end = timezone.make_aware(dt.datetime.combine(self.cleaned_data["period_end"] + dt.timedelta(days=1), dt.time.min))
        return start, end
