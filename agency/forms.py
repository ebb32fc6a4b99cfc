from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audit.models import Outcome
from audit.services import audit_record
from kenshin.items import item_master

from .models import (
    CollectiveContract,
    CollectiveInstitution,
    CollectiveInsurer,
    CollectivePriceOtherItem,
    CollectivePriceTable,
    Contract,
    ContractOtherItem,
    CredentialReset,
    Institution,
    Insurer,
    Role,
    User,
)
from .services import maintenance_window_open_for


class LoginForm(AuthenticationForm):
    """Password step. Every refusal reads the same, whatever the reason."""

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if user.role == Role.MAINTENANCE and maintenance_window_open_for(user=user) is None:
            audit_record(
                action="auth.login_refused",
                actor=user,
                request=self.request,
                outcome=Outcome.DENIED,
                detail={"reason": "no_open_maintenance_window"},
            )
            raise ValidationError(self.error_messages["invalid_login"], code="invalid_login",
                                  params={"username": self.username_field.verbose_name})


class TokenForm(forms.Form):
    token = forms.CharField(
        label=_("確認コード"),
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
        help_text=_("認証アプリの6桁のコード、またはバックアップコード"),
    )


class ReauthenticationForm(forms.Form):
    """Proof that the person at the keyboard is the account's holder, before a sensitive change of
    their own credentials: the password, or a fresh code of the authenticator app."""

    password = forms.CharField(
        label=_("パスワード"), required=False, strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
    token = forms.CharField(
        label=_("または 認証アプリの確認コード"), required=False, max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text=_("認証アプリに表示されている6桁のコード（バックアップコードは使えません）"),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("password") and not (cleaned.get("token") or "").strip():
            raise ValidationError(_("パスワード、または認証アプリの確認コードを入力してください。"), code="required")
        return cleaned


class PortalPasswordChangeForm(PasswordChangeForm):
    pass


class _NumberFixedOnChange:
    """The identifying number is typed once, when the party is registered; afterwards it is shown, not edited."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        instance = getattr(self, "instance", None)
        if instance is not None and instance.pk is not None:
            field = self.fields["number"]  # type: ignore[attr-defined]
            field.disabled = True
            field.help_text = _("番号は登録後に変更できません。")


class InsurerForm(_NumberFixedOnChange, forms.ModelForm):
    class Meta:
        model = Insurer
        fields = [
            "number", "name", "contract_start", "billing_postal_code", "billing_address", "billing_department",
            "billing_contact_name", "billing_email", "billing_phone", "delivery_waits_for_confirmation", "is_active",
        ]
        widgets = {"contract_start": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}
        help_texts = {"number": _("8桁（国保の6桁番号は先頭に00を付けます）。末尾1桁の検証番号を確認します。")}


class InstitutionForm(_NumberFixedOnChange, forms.ModelForm):
    class Meta:
        model = Institution
        fields = [
            "number", "name", "postal_code", "address", "phone", "bank_code", "branch_code", "account_type",
            "account_number", "account_holder_kana", "is_active",
        ]
        help_texts = {
            "number": _("10桁（都道府県2桁・点数表1桁・医療機関コード7桁のうち末尾1桁が検証番号）。"),
            "account_holder_kana": _("全銀形式の振込データに使う半角カナ（例: ｹﾝｼﾝｾﾝﾀｰ）。"),
            "bank_code": _("4桁の金融機関コード。振込先口座は5項目すべてを入力するか、すべて空欄にします。"),
        }


class ArchivePasswordForm(forms.Form):
    password = forms.CharField(
        label=_("アーカイブのパスワード"), required=False, strip=False, widget=forms.PasswordInput(render_value=False),
        help_text=_("健診機関がアーカイブをパスワードロックする場合に登録します。暗号化して保存され、画面には表示されません。"),
    )
    clear = forms.BooleanField(label=_("登録済みのパスワードを削除する"), required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("clear") and cleaned.get("password"):
            raise ValidationError(_("パスワードの入力と削除は同時に指定できません。"))
        if not cleaned.get("clear") and not cleaned.get("password"):
            raise ValidationError(_("パスワードを入力するか、削除を選んでください。"))
        return cleaned


class EmailSenderForm(forms.Form):
    address = forms.EmailField(label=_("送信元メールアドレス"), help_text=_(
        "この健診機関がアーカイブを送ってくるメールアドレス。登録したアドレスからのメールだけを受け付けます。"))


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("理由"), max_length=300, widget=forms.Textarea(attrs={"rows": 3}))


class IdentityVerificationForm(forms.Form):
    """本人確認記録: how the person was identified before a reset link is sent to them."""

    method = forms.ChoiceField(label=_("本人確認の方法"), choices=CredentialReset.Method.choices)
    document_reference = forms.CharField(
        label=_("確認書類・記録の番号"), max_length=200,
        help_text=_("身分証明書の種類と番号の下4桁、申請書番号、通話記録の番号など"),
    )
    verified_at = forms.DateTimeField(
        label=_("本人確認の日時"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
    )

    def clean_verified_at(self) -> dt.datetime:
        value: dt.datetime = self.cleaned_data["verified_at"]
        if value > timezone.now():
            raise ValidationError(_("本人確認の日時に未来の日時は指定できません。"))
        if value < timezone.now() - dt.timedelta(days=30):
            raise ValidationError(_("本人確認から30日以上たっています。あらためて本人確認を行ってください。"))
        return value


class _PersonFields(forms.Form):
    last_name = forms.CharField(label=_("姓"), max_length=150)
    first_name = forms.CharField(label=_("名"), max_length=150)
    full_name_kana = forms.CharField(label=_("氏名（カナ）"), max_length=100, required=False)
    email = forms.EmailField(label=_("メールアドレス"), required=False,
                             help_text=_("通知と、パスワード再設定リンクの送り先です。"))
    phone = forms.CharField(label=_("電話番号"), max_length=20, required=False)
    role = forms.ChoiceField(label=_("役割"), choices=[("", "---------"), *Role.choices])
    insurer = forms.ModelChoiceField(label=_("所属保険者"), queryset=Insurer.objects.none(), required=False,
                                     help_text=_("役割が「保険者 担当者」のときだけ選びます。"))
    institution = forms.ModelChoiceField(label=_("所属健診機関"), queryset=Institution.objects.none(), required=False,
                                         help_text=_("役割が「健診機関 担当者」のときだけ選びます。"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["insurer"].queryset = Insurer.objects.filter(is_active=True)  # type: ignore[attr-defined]
        self.fields["institution"].queryset = Institution.objects.filter(is_active=True)  # type: ignore[attr-defined]

    def person_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in ("last_name", "first_name", "full_name_kana", "email", "phone")}


class UserCreateForm(_PersonFields):
    TEMPORARY, LINK = "temporary", "link"

    username = forms.CharField(
        label=_("利用者名（ログインID）"), max_length=150,
        validators=[RegexValidator(r"^[A-Za-z0-9._@+-]+$", _("利用者名は半角英数字と . _ @ + - で入力してください。"))],
    )
    password_mode = forms.ChoiceField(
        label=_("最初のパスワード"), widget=forms.RadioSelect, initial=LINK,
        choices=[(LINK, _("本人確認のうえ、本人にパスワード設定リンクをメールで送る（推奨）")),
                 (TEMPORARY, _("仮パスワードを設定する（本人が最初のログインで変更します）"))],
    )
    password1 = forms.CharField(label=_("仮パスワード"), required=False, strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                help_text=_("「仮パスワードを設定する」ときだけ入力します。13文字以上で、英字・数字・記号を含めてください。"))
    password2 = forms.CharField(label=_("仮パスワード（確認）"), required=False, strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    method = forms.ChoiceField(label=_("本人確認の方法"), choices=[("", "---------"), *CredentialReset.Method.choices],
                               required=False, help_text=_("「パスワード設定リンクを送る」ときは、本人確認の記録を入力します。"))
    field_order = ["username", "last_name", "first_name", "full_name_kana", "email", "phone", "role", "insurer",
                   "institution", "password_mode", "password1", "password2", "method", "document_reference", "verified_at"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["document_reference"] = forms.CharField(
            label=_("確認書類・記録の番号"), max_length=200, required=False,
            help_text=_("身分証明書の種類と番号の下4桁、申請書番号、通話記録の番号など"))
        self.fields["verified_at"] = forms.DateTimeField(
            label=_("本人確認の日時"), required=False,
            widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"])

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"]
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError(_("この利用者名は既に使われています。"))
        return username

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("password_mode") == self.TEMPORARY:
            if not cleaned.get("password1"):
                self.add_error("password1", _("仮パスワードを入力してください。"))
            elif cleaned.get("password1") != cleaned.get("password2"):
                self.add_error("password2", _("確認用のパスワードが一致しません。"))
        elif cleaned.get("password_mode") == self.LINK:
            if not cleaned.get("email"):
                self.add_error("email", _("パスワード設定リンクを送るメールアドレスを入力してください。"))
            for name, message in (("method", _("本人確認の方法を選択してください。")),
                                  ("document_reference", _("確認書類・記録の番号を入力してください。")),
                                  ("verified_at", _("本人確認の日時を入力してください。"))):
                if not cleaned.get(name):
                    self.add_error(name, message)
            verified = cleaned.get("verified_at")
            if verified is not None and verified > timezone.now():
                self.add_error("verified_at", _("本人確認の日時に未来の日時は指定できません。"))
        return cleaned


class UserEditForm(_PersonFields):
    birth_date = forms.DateField(label=_("生年月日"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def person_fields(self) -> dict[str, Any]:
        return {**super().person_fields(), "birth_date": self.cleaned_data["birth_date"]}


class ApiClientForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=100, help_text=_("例: 健診データ受信システム"))
    institution = forms.ModelChoiceField(label=_("健診機関"), queryset=Institution.objects.none(), required=False)
    insurer = forms.ModelChoiceField(label=_("保険者"), queryset=Insurer.objects.none(), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["insurer"].queryset = Insurer.objects.filter(is_active=True)  # type: ignore[attr-defined]
        self.fields["institution"].queryset = Institution.objects.filter(is_active=True)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if bool(cleaned.get("institution")) == bool(cleaned.get("insurer")):
            raise ValidationError(_("健診機関か保険者のどちらか一方だけを選んでください。"))
        return cleaned


class CertificateForm(forms.Form):
    pem = forms.CharField(
        label=_("クライアント証明書（PEM）"), widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
        help_text=_("-----BEGIN CERTIFICATE----- から始まる証明書。秘密鍵は貼り付けないでください。"),
    )

    def clean_pem(self) -> str:
        pem: str = self.cleaned_data["pem"]
        if "PRIVATE KEY" in pem:
            raise ValidationError(_("秘密鍵が含まれています。証明書だけを貼り付けてください。"))
        return pem



class ContractForm(forms.ModelForm):
    """A contract's period and unit prices. It states prices only: the person's 窓口負担 comes from the 受診券
    (the insurer's ticket data, or the claim's checkupCard)."""

    class Meta:
        model = Contract
        fields = [
            "insurer", "institution", "valid_from", "valid_to", "commission_type", "basic_price", "anemia_price",
            "ecg_price", "fundus_price", "creatinine_price", "dock_price", "issues_tickets",
            "guidance_active_price", "guidance_motivational_price", "results_only", "other_checkups",
        ]
        widgets = {
            "valid_from": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "valid_to": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
        labels = {"insurer": _("保険者"), "institution": _("健診機関")}
        help_texts = {"valid_to": _("空欄なら終了日なし。終了するときは「契約を終了」から終了日を入れます。")}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            for name in ("insurer", "institution"):
                self.fields[name].disabled = True
                self.fields[name].help_text = _("契約の当事者は変更できません。別の組合せは新しい契約として登録します。")


class OtherItemForm(forms.ModelForm):
    class Meta:
        model = ContractOtherItem
        fields = ["item_code", "price"]

    def clean_item_code(self) -> str:
        code: str = self.cleaned_data["item_code"].strip().upper()
        if item_master().get(code) is None:
            raise ValidationError(_("項目コード %(code)s は項目マスタにありません。"), params={"code": code})
        return code


OtherItemFormSet = forms.inlineformset_factory(
    Contract, ContractOtherItem, form=OtherItemForm, extra=2, can_delete=True, max_num=50, validate_max=True
)


class ContractEndForm(forms.Form):
    valid_to = forms.DateField(label=_("契約終了日"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                               help_text=_("この日までの健診が契約の対象です（この日を含む）。"))


# --- 集合契約 ---------------------------------------------------------------------------------------------------------


class CollectiveContractForm(forms.ModelForm):
    class Meta:
        model = CollectiveContract
        fields = ["name", "representative", "coordinator", "valid_from", "valid_to", "issues_tickets"]
        widgets = {"valid_from": forms.DateInput(attrs={"type": "date"}), "valid_to": forms.DateInput(attrs={"type": "date"})}


class CollectiveInsurerForm(forms.ModelForm):
    class Meta:
        model = CollectiveInsurer
        fields = ["insurer", "joined_on"]
        widgets = {"joined_on": forms.DateInput(attrs={"type": "date"})}


class CollectiveInsurerLeaveForm(forms.Form):
    left_on = forms.DateField(label=_("脱退日（最終日）"), widget=forms.DateInput(attrs={"type": "date"}),
                              help_text=_("この日までの健診はこの集合契約の単価、翌日以降の健診は他に適用される契約の単価になります。"))


class CollectiveInstitutionForm(forms.ModelForm):
    class Meta:
        model = CollectiveInstitution
        fields = ["institution", "price_group", "joined_on"]
        widgets = {"joined_on": forms.DateInput(attrs={"type": "date"})}


class CollectivePriceTableForm(forms.ModelForm):
    class Meta:
        model = CollectivePriceTable
        fields = ["price_group", "commission_type", "basic_price", "anemia_price", "ecg_price", "fundus_price",
                  "creatinine_price", "dock_price"]
        help_texts = {"dock_price": _("空欄は人間ドックの契約なし。")}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            for name in ("price_group", "commission_type"):
                self.fields[name].disabled = True


class CollectiveOtherItemForm(OtherItemForm):
    class Meta:
        model = CollectivePriceOtherItem
        fields = ["item_code", "price"]


CollectiveOtherItemFormSet = forms.inlineformset_factory(
    CollectivePriceTable, CollectivePriceOtherItem, form=CollectiveOtherItemForm, extra=2, can_delete=True, max_num=50,
    validate_max=True,
)


class CollectiveImportForm(forms.Form):
    kind = forms.ChoiceField(label=_("取り込む内容"), choices=[])
    file = forms.FileField(label=_("CSVファイル"), help_text=_("UTF-8 または Shift_JIS、1行目は見出し行。"))

    def __init__(self, *args: Any, kinds: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind_field = self.fields["kind"]
        assert isinstance(kind_field, forms.ChoiceField)  # noqa: S101 - declared above
        kind_field.choices = [(key, kind.label) for key, kind in kinds.items()]
