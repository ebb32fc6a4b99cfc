"""Forms of the billing pages: they validate and clean, services do the work."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agency.models import Institution, Insurer

from .calendar import parse_period, period_label
from .models import AgencyBankAccount, BillingMonth, FixedFeePeriod, PaymentSource
from .selectors import open_items

MAX_CSV_BYTES = 5 * 1024 * 1024


class DateInput(forms.DateInput):
    input_type = "date"


class PaymentForm(forms.Form):
    target = forms.ChoiceField(label=_("入金先の請求"))
    amount = forms.IntegerField(label=_("入金額（円）"), min_value=1)
    received_on = forms.DateField(label=_("入金日"), widget=DateInput)
    payer_name = forms.CharField(label=_("振込依頼人"), max_length=100, required=False)
    reference = forms.CharField(label=_("摘要"), max_length=200, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = [
            (item.key, f"{item.label}（{_('未入金')} {item.outstanding:,}円）") for item in open_items()
        ]
        self.fields["received_on"].initial = timezone.localdate()


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("理由"), max_length=200)


class BankCsvForm(forms.Form):
    file = forms.FileField(label=_("入金明細CSV"), help_text=_("見出し: 入金日, 金額, 振込依頼人名, 摘要（, 取引番号）"))

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_CSV_BYTES:
            raise forms.ValidationError(_("ファイルが大きすぎます。"))
        return upload


class CloseMonthForm(forms.Form):
    """The month to close, picked from the months that have data (``selectors.months_with_data``)."""

    month = forms.ChoiceField(label=_("締める月"))

    def __init__(self, *args: Any, months: list[dt.date], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["month"]).choices = [(m.strftime("%Y-%m"), period_label(m)) for m in months]

    def clean_month(self) -> dt.date:
        try:
            return parse_period(self.cleaned_data["month"])
        except ValueError:
            raise forms.ValidationError(_("一覧から月を選んでください。")) from None


class AdjustmentForm(forms.Form):
    insurer = forms.ModelChoiceField(label=_("保険者"), queryset=Insurer.objects.order_by("number"))
    institution = forms.ModelChoiceField(label=_("健診機関"), queryset=Institution.objects.order_by("number"))
    amount = forms.IntegerField(label=_("調整額（円、減額は負の数）"))
    reason = forms.CharField(label=_("理由"), max_length=200)

    def clean_amount(self) -> int:
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError(_("0円の調整は登録できません。"))
        return amount


class TransferForm(forms.Form):
    month = forms.ModelChoiceField(label=_("請求年月"), queryset=BillingMonth.objects.filter(status="closed").order_by("-period"))
    transfer_date = forms.DateField(label=_("振込指定日（取組日）"), widget=DateInput)


class TermsForm(forms.Form):
    fixed_fee_period = forms.ChoiceField(label=_("固定費の請求単位"), choices=FixedFeePeriod.choices)
    fee_initial = forms.IntegerField(label=_("初期費用（税込）"), min_value=0, required=False, help_text=_("空欄: 代行機関の料金表"))
    fee_fixed = forms.IntegerField(label=_("固定費（税込・請求単位あたり）"), min_value=0, required=False, help_text=_("空欄: 代行機関の料金表"))
    fee_per_checkup = forms.IntegerField(label=_("従量単価（税込）"), min_value=0, required=False, help_text=_("空欄: 代行機関の料金表"))
    fee_per_guidance = forms.IntegerField(
        label=_("特定保健指導の従量単価（税込・1件あたり）"), min_value=0, required=False,
        help_text=_("空欄: 請求しない。開始時・実績評価時の送付ごとに1件。"),
    )
    fee_other_checkups = forms.BooleanField(
        label=_("結果のみ・事業者健診等にも従量料金を請求する"), required=False,
        help_text=_("オフ: 決済情報のある特定健診だけが従量料金の対象。"),
    )


class BankAccountForm(forms.ModelForm):
    class Meta:
        model = AgencyBankAccount
        fields = ["requester_code", "requester_name_kana", "bank_code", "bank_name_kana", "branch_code", "branch_name_kana",
                  "account_type", "account_number"]


class ListFilterForm(forms.Form):
    """Filters of the billing lists: the month; for the agency's staff the insurer or institution; a status where
    the list has one. Fields a list does not use are left out."""

    month = forms.ChoiceField(label=_("請求年月"), required=False)
    insurer = forms.ModelChoiceField(label=_("保険者"), queryset=Insurer.objects.none(), required=False, empty_label=_("すべて"))
    institution = forms.ModelChoiceField(label=_("健診機関"), queryset=Institution.objects.none(), required=False, empty_label=_("すべて"))
    status = forms.ChoiceField(label=_("状態"), required=False)

    def __init__(
        self, data: Any = None, *, months: list[dt.date], insurers: Any = None, institutions: Any = None,
        statuses: list[tuple[str, Any]] | None = None,
    ) -> None:
        super().__init__(data)
        cast(forms.ChoiceField, self.fields["month"]).choices = [("", _("すべて")), *((period_label(m), period_label(m)) for m in months)]
        for name, queryset in (("insurer", insurers), ("institution", institutions)):
            if queryset is None:
                del self.fields[name]
            else:
                cast(forms.ModelChoiceField, self.fields[name]).queryset = queryset
        if statuses is None:
            del self.fields["status"]
        else:
            cast(forms.ChoiceField, self.fields["status"]).choices = [("", _("すべて")), *statuses]

    def clean_month(self) -> dt.date | None:
        text = self.cleaned_data.get("month") or ""
        return parse_period(text) if text else None


class PaymentFilterForm(forms.Form):
    """Filters of the insurer payments: the day received, the insurer, how it was entered."""

    received_from = forms.DateField(label=_("入金日（から）"), required=False, widget=DateInput)
    received_to = forms.DateField(label=_("入金日（まで）"), required=False, widget=DateInput)
    insurer = forms.ModelChoiceField(label=_("保険者"), queryset=Insurer.objects.none(), required=False, empty_label=_("すべて"))
    source = forms.ChoiceField(label=_("登録方法"), required=False)

    def __init__(self, data: Any = None, *, insurers: Any) -> None:
        super().__init__(data)
        cast(forms.ModelChoiceField, self.fields["insurer"]).queryset = insurers
        cast(forms.ChoiceField, self.fields["source"]).choices = [("", _("すべて")), *PaymentSource.choices]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("received_from") and data.get("received_to") and data["received_from"] > data["received_to"]:
            self.add_error("received_to", _("終了日は開始日以降にしてください。"))
        return data
