"""Forms of the intake pages: they validate and clean, the services do the work."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from agency.models import Institution, Insurer
from kenshin.codes import ReturnReason

from .models import Finding, RecordStatus, SubmissionStatus


def clean_file_name(name: str) -> str:
    """The file's own name: browsers send no folder, but strip one if a client does."""
    return name.replace("\\", "/").rsplit("/", 1)[-1].strip()[:255]


def _check_archive(upload: UploadedFile) -> UploadedFile:
    name = clean_file_name(upload.name or "")
    if not name.lower().endswith(".zip"):
        raise forms.ValidationError(_("%(name)s: ZIP形式（.zip）のアーカイブを選んでください。"), params={"name": name or "—"})
    limit = settings.INTAKE_MAX_ARCHIVE_BYTES
    if upload.size is not None and upload.size > limit:
        raise forms.ValidationError(
            _("%(name)s: ファイルが大きすぎます（上限 %(limit)s）。"), params={"name": name, "limit": filesizeformat(limit)}
        )
    if not upload.size:
        raise forms.ValidationError(_("%(name)s: ファイルが空です。"), params={"name": name})
    return upload


class MultipleArchiveInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleArchiveField(forms.FileField):
    """One or more ZIP archives from a single ``<input type=file multiple>``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleArchiveInput(attrs={"accept": ".zip,application/zip", "multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        single = super().clean
        uploads = [single(item, initial) for item in data] if isinstance(data, list | tuple) else [single(data, initial)]
        errors: list[forms.ValidationError] = []
        for upload in uploads:
            try:
                _check_archive(upload)
            except forms.ValidationError as error:
                errors.append(error)
        if errors:
            raise forms.ValidationError(errors)
        return uploads


def archive_password_field() -> forms.CharField:
    """The password of a locked archive (データのパスワードロック); kept encrypted with the submission."""
    return forms.CharField(
        label=_("パスワード（パスワード付きアーカイブの場合）"),
        required=False,
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=_("パスワードでロックしたアーカイブを送るときに入力してください。空欄のときは健診機関に登録されたパスワードで開きます。"),
    )


class UploadForm(forms.Form):
    archives = MultipleArchiveField(
        label=_("送付用ファイルアーカイブ（ZIP）"),
        help_text=_("複数のファイルを一度に選べます。ここにドラッグ＆ドロップすることもできます。"),
    )
    password = archive_password_field()


class MediaImportForm(forms.Form):
    institution = forms.ModelChoiceField(label=_("送付元の健診機関"), queryset=Institution.objects.none())
    archive = forms.FileField(
        label=_("媒体から取り込んだアーカイブ（ZIP）"),
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )
    password = archive_password_field()

    def __init__(self, *args: Any, institutions: QuerySet[Institution], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["institution"].queryset = institutions

    def clean_archive(self) -> UploadedFile:
        return _check_archive(self.cleaned_data["archive"])


class WorkbenchFilterForm(forms.Form):
    institution = forms.ModelChoiceField(label=_("健診機関"), queryset=Institution.objects.none(), required=False)
    insurer_number = forms.RegexField(label=_("保険者番号"), regex=r"^\d{6,8}$", max_length=8, required=False)
    status = forms.ChoiceField(label=_("状態"), choices=[("", _("すべて")), *RecordStatus.choices], required=False)
    submission_status = forms.ChoiceField(
        label=_("受付の状態"), choices=[("", _("すべて")), *SubmissionStatus.choices], required=False
    )
    code = forms.ChoiceField(label=_("点検ルール"), choices=[], required=False)

    def __init__(self, *args: Any, institutions: QuerySet[Institution], codes: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["institution"].queryset = institutions
        self.fields["code"].choices = [("", _("すべて")), *((code, code) for code in codes)]


class RecordStatusFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("レコードの状態"), choices=[("", _("すべて")), *RecordStatus.choices], required=False)


class SubmissionFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("状態"), choices=[("", _("すべて")), *SubmissionStatus.choices], required=False)
    received_from = forms.DateField(label=_("受付日（から）"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    received_to = forms.DateField(label=_("受付日（まで）"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("received_from") and data.get("received_to") and data["received_from"] > data["received_to"]:
            self.add_error("received_to", _("終了日は開始日以降にしてください。"))
        return data


class WarningOverrideForm(forms.Form):
    finding = forms.ModelChoiceField(label=_("確認する警告"), queryset=Finding.objects.none(), empty_label=None)
    reason = forms.CharField(
        label=_("確認理由"),
        max_length=300,
        min_length=4,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("警告を確認済みとする理由を記入してください（監査記録に残ります）。"),
    )

    def __init__(self, *args: Any, warnings: QuerySet[Finding], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["finding"].queryset = warnings
        self.fields["finding"].label_from_instance = lambda f: f"{f.code} — {f.message}"


MONTH_FORMAT = "%Y-%m"


def _choice(form: forms.Form, name: str) -> forms.ChoiceField:
    return cast(forms.ChoiceField, form.fields[name])


def _model(form: forms.Form, name: str) -> forms.ModelChoiceField[Any]:
    return cast("forms.ModelChoiceField[Any]", form.fields[name])


def _month_choices(months: list[Any]) -> list[tuple[str, Any]]:
    return [("", _("すべて")), *((m.strftime(MONTH_FORMAT), f"{m.year}年{m.month}月") for m in months)]


class ReturnFilterForm(forms.Form):
    """返戻一覧: by 別表9 reason, insurer, month received, kind, resubmission (and institution for the agency)."""

    reason = forms.ChoiceField(label=_("返戻理由"), required=False)
    insurer = forms.ModelChoiceField(label=_("保険者"), queryset=Insurer.objects.none(), required=False)
    month = forms.ChoiceField(label=_("受付月"), required=False)
    kind = forms.ChoiceField(
        label=_("種類"), required=False,
        choices=[("", _("すべて")), ("check", _("事務点検による返戻")), ("insurer", _("保険者からの過誤返戻"))],
    )
    resubmitted = forms.ChoiceField(
        label=_("再提出"), required=False,
        choices=[("", _("すべて")), ("no", _("未再提出")), ("yes", _("再提出済"))],
    )
    institution = forms.ModelChoiceField(label=_("健診機関"), queryset=Institution.objects.none(), required=False)

    def __init__(self, *args: Any, insurers: QuerySet[Insurer], months: list[Any],
                 institutions: QuerySet[Institution] | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice(self, "reason").choices = [("", _("すべて")), *((r.value, f"{r.label}（{r.value}）") for r in ReturnReason)]
        _model(self, "insurer").queryset = insurers
        _choice(self, "month").choices = _month_choices(months)
        if institutions is None:
            del self.fields["institution"]
        else:
            _model(self, "institution").queryset = institutions

    def month_value(self) -> dt.date | None:
        value = self.cleaned_data.get("month")
        return dt.datetime.strptime(value, MONTH_FORMAT).date() if value else None  # noqa: DTZ007 - a calendar month


class OwnRecordSearchForm(forms.Form):
    """健診データ検索 of an institution's own records."""

    ticket_number = forms.RegexField(label=_("受診券整理番号"), regex=r"^\d{1,11}$", max_length=11, required=False)
    name_kana = forms.CharField(label=_("氏名（カナ）"), max_length=50, required=False)
    birth_date = forms.DateField(label=_("生年月日"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    checkup_from = forms.DateField(label=_("健診実施日（から）"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    checkup_to = forms.DateField(label=_("健診実施日（まで）"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    status = forms.ChoiceField(label=_("状態"), choices=[("", _("すべて")), *RecordStatus.choices], required=False)

    def has_criteria(self) -> bool:
        return any(self.cleaned_data.get(name) for name in self.fields)


class WarningQueueFilterForm(forms.Form):
    """未確認の警告: by institution, insurer and rule."""

    institution = forms.ModelChoiceField(label=_("健診機関"), queryset=Institution.objects.none(), required=False)
    insurer = forms.ModelChoiceField(label=_("保険者"), queryset=Insurer.objects.none(), required=False)
    code = forms.ChoiceField(label=_("点検ルール"), choices=[], required=False)

    def __init__(self, *args: Any, institutions: QuerySet[Institution], insurers: QuerySet[Insurer],
                 codes: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _model(self, "institution").queryset = institutions
        _model(self, "insurer").queryset = insurers
        _choice(self, "code").choices = [("", _("すべて")), *codes]
