"""Forms of the insurer portal, routing and notification pages: they validate and clean; services act."""

from __future__ import annotations

import unicodedata
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from agency.models import Institution, Insurer
from intake.forms import clean_file_name
from intake.models import NotificationKind
from intake.services.eligibility import MAX_UPLOAD_BYTES

from .models import DeliveryStatus, InsurerReturnReason
from .services.returns import RETURN_NOTE_MAX

DATE_INPUT = forms.DateInput(attrs={"type": "date"})


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("状態"), choices=[("", _("すべて")), *DeliveryStatus.choices], required=False)


class RecordSearchForm(forms.Form):
    ticket_number = forms.RegexField(label=_("受診券整理番号"), regex=r"^\d{11}$", max_length=11, required=False,
                                     error_messages={"invalid": _("11桁の数字で入力してください。")})
    name_kana = forms.CharField(label=_("氏名（カナ）"), max_length=100, required=False,
                                help_text=_("姓・名の一部で検索できます（スペース区切りはすべてを含むもの）。"))
    birth_date = forms.DateField(label=_("生年月日"), required=False, widget=DATE_INPUT)
    institution = forms.ModelChoiceField(label=_("健診機関"), queryset=Institution.objects.none(), required=False)
    checkup_from = forms.DateField(label=_("健診実施日（から）"), required=False, widget=DATE_INPUT)
    checkup_to = forms.DateField(label=_("健診実施日（まで）"), required=False, widget=DATE_INPUT)

    def __init__(self, *args: Any, institutions: QuerySet[Institution], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["institution"].queryset = institutions

    def clean_name_kana(self) -> str:
        # Full-width spaces separate words too; the search matches full- and half-width katakana.
        return " ".join(unicodedata.normalize("NFKC", self.cleaned_data["name_kana"]).split())

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("checkup_from"), data.get("checkup_to")
        if start and end and start > end:
            self.add_error("checkup_to", _("終了日は開始日以降にしてください。"))
        return data

    def criteria(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "ticket_number": data.get("ticket_number") or "",
            "name_kana": data.get("name_kana") or "",
            "birth_date": data.get("birth_date"),
            "institution": data.get("institution"),
            "checkup_from": data.get("checkup_from"),
            "checkup_to": data.get("checkup_to"),
        }


class InsurerReturnForm(forms.Form):
    reason = forms.ChoiceField(label=_("過誤返戻理由（別表10）"), choices=InsurerReturnReason.choices)
    note = forms.CharField(
        label=_("理由の内容"),
        max_length=RETURN_NOTE_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": RETURN_NOTE_MAX}),
        help_text=_("健診機関に伝える内容（100文字以内、決済情報ファイルに記録されます）。「その他」の場合は必須です。"),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("reason") == InsurerReturnReason.OTHER and not (data.get("note") or "").strip():
            self.add_error("note", _("「その他」の場合は理由の内容を入力してください。"))
        return data


class OtherCheckupUploadForm(forms.Form):
    """An insurer's own archive of 事業者健診等 results (実施区分 4) for its 被保険者."""

    archive = forms.FileField(
        label=_("事業者健診等のアーカイブ（ZIP、実施区分4）"),
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
        help_text=_("ファイル名は 保険者番号_代行機関番号_作成日連番_4.zip。受け取ったままのバイト列で保存し、事務点検します。"),
    )
    password = forms.CharField(
        label=_("アーカイブのパスワード"), required=False, strip=False, widget=forms.PasswordInput(render_value=False),
        help_text=_("パスワード付きZIPの場合だけ入力してください。"),
    )

    def clean_archive(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["archive"]
        name = clean_file_name(upload.name or "")
        if not name.lower().endswith(".zip"):
            raise forms.ValidationError(_("ZIP形式（.zip）のアーカイブを選んでください。"))
        return upload


class EligibilityUploadForm(forms.Form):
    file = forms.FileField(
        label=_("受診券データ（CSV）"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        help_text=_("UTF-8 または Shift_JIS。1行目は見出し行です。全行を点検し、誤りが1件でもあれば登録しません。"),
    )

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        name = clean_file_name(upload.name or "")
        if not name.lower().endswith(".csv"):
            raise forms.ValidationError(_("CSV形式（.csv）のファイルを選んでください。"))
        if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("ファイルが大きすぎます（20MBまで）。"))
        return upload


class MediaPrepareForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("パスワードは一度だけ表示されることを確認しました"),
        help_text=_("パスワードは保険者に媒体とは別の経路で伝えてください。再作成すると新しいパスワードになります。"),
    )


class TrackingNumberForm(forms.Form):
    tracking_number = forms.RegexField(
        label=_("送り状番号（宅配便）"),
        regex=r"^[0-9A-Za-z-]{0,40}$",
        max_length=40,
        required=False,
        error_messages={"invalid": _("英数字とハイフンで40文字以内で入力してください。")},
    )


class ConfirmForm(forms.Form):
    """A POST that only needs the CSRF token (route now, acknowledge)."""

    confirm = forms.BooleanField(widget=forms.HiddenInput, initial=True)


class NotificationPreferenceForm(forms.Form):
    """One checkbox per notification kind the user's role receives: checked = send it."""

    def __init__(self, *args: Any, kinds: tuple[NotificationKind, ...], preference: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kinds = kinds
        for kind in kinds:
            self.fields[kind.value] = forms.BooleanField(
                label=kind.label, required=False, initial=not preference.opted_out(kind.value)
            )

    def opt_outs(self) -> dict[str, bool]:
        return {kind.value: not self.cleaned_data.get(kind.value, False) for kind in self.kinds}


class ReturnFilterForm(forms.Form):
    """過誤返戻: by reason (別表10), whether the corrected record came back, when it was returned; the agency's staff
    also by insurer and institution."""

    YES, NO = "yes", "no"

    reason = forms.ChoiceField(label=_("過誤返戻理由"), required=False, choices=[("", _("すべて")), *InsurerReturnReason.choices])
    resubmitted = forms.ChoiceField(label=_("再提出"), required=False,
                                    choices=[("", _("すべて")), (YES, _("再提出済")), (NO, _("未再提出"))])
    returned_from = forms.DateField(label=_("過誤返戻日（から）"), required=False, widget=DATE_INPUT)
    returned_to = forms.DateField(label=_("過誤返戻日（まで）"), required=False, widget=DATE_INPUT)
    insurer = forms.ModelChoiceField(label=_("保険者"), queryset=Insurer.objects.none(), required=False, empty_label=_("すべて"))
    institution = forms.ModelChoiceField(label=_("健診機関"), queryset=Institution.objects.none(), required=False, empty_label=_("すべて"))

    def __init__(self, *args: Any, insurers: QuerySet[Insurer] | None, institutions: QuerySet[Institution] | None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, queryset in (("insurer", insurers), ("institution", institutions)):
            if queryset is None:
                del self.fields[name]
            else:
                self.fields[name].queryset = queryset  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("returned_from") and data.get("returned_to") and data["returned_from"] > data["returned_to"]:
            self.add_error("returned_to", _("終了日は開始日以降にしてください。"))
        return data


class DeliveryListFilterForm(DeliveryFilterForm):
    created_from = forms.DateField(label=_("作成日（から）"), required=False, widget=DATE_INPUT)
    created_to = forms.DateField(label=_("作成日（まで）"), required=False, widget=DATE_INPUT)
    insurer = forms.ModelChoiceField(label=_("保険者"), queryset=Insurer.objects.none(), required=False, empty_label=_("すべて"))

    def __init__(self, *args: Any, insurers: QuerySet[Insurer] | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if insurers is None:
            del self.fields["insurer"]
        else:
            self.fields["insurer"].queryset = insurers  # type: ignore[attr-defined]


class GuidanceTargetForm(forms.Form):
    """特定保健指導の対象者リスト: the 年度 and, optionally, the month of the checkups."""

    year = forms.IntegerField(label=_("年度"), min_value=2008, max_value=2100)
    month = forms.TypedChoiceField(
        label=_("健診実施月"), coerce=int, empty_value=None, required=False,
        choices=[("", _("年度のすべて"))] + [(m, _("%(month)d月") % {"month": m}) for m in (*range(4, 13), 1, 2, 3)],
    )


class AnnualReportYearForm(forms.Form):
    year = forms.IntegerField(label=_("年度"), min_value=2008, max_value=2100)


class TargetPopulationForm(forms.Form):
    population = forms.IntegerField(label=_("特定健診の対象者数"), min_value=1, max_value=99_999_999,
                                    help_text=_("年度の特定健康診査の対象者数（実施率の分母）を入力してください。"))
