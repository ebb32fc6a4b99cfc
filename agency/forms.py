from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from audit.models import Outcome
from audit.services import audit_record

from .models import Institution, Insurer, Role
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


class InsurerForm(forms.ModelForm):
    class Meta:
        model = Insurer
        fields = [
            "number", "name", "contract_start", "billing_postal_code", "billing_address", "billing_department",
            "billing_contact_name", "billing_email", "billing_phone", "is_active",
        ]
        widgets = {"contract_start": forms.DateInput(attrs={"type": "date"})}


class InstitutionForm(forms.ModelForm):
    class Meta:
        model = Institution
        fields = [
            "number", "name", "postal_code", "address", "phone", "bank_code", "branch_code", "account_type",
            "account_number", "account_holder_kana", "is_active",
        ]
