"""The Django admin, for superusers only (made with ``manage.py createsuperuser``), behind the same second
factor as the portal; party writes go through services. People, including the agency's administrators, do
their work in the portal's pages (設定: ``agency.views.administration``)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, AdminUserCreationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_otp.admin import OTPAdminSite

from agency import services
from agency.models import (
    AgencyProfile,
    Contract,
    ContractOtherItem,
    CredentialReset,
    Institution,
    InstitutionEmailSender,
    Insurer,
    MaintenanceWindow,
    User,
)
from audit.admin import PersonalDataAdmin
from core.http import request_audit

from . import clients  # noqa: F401 - registers the admin pages of machine clients and their certificates


class PortalAdminSite(OTPAdminSite):
    """The admin behind the second factor, for active superusers only (everyone else, agency administrators
    included, is sent to its login page, which refuses them); its search-as-you-type answers (people's names)
    are audited."""

    def has_permission(self, request: Any) -> bool:
        return bool(super().has_permission(request) and request.user.is_superuser)

    def autocomplete_view(self, request: HttpRequest) -> HttpResponse:
        trail = request_audit(request)
        trail.action = "admin.autocomplete"
        trail.detail["model"] = request.GET.get("model_name", "")[:64]
        response = super().autocomplete_view(request)
        if isinstance(response, JsonResponse):
            results = json.loads(response.content).get("results", [])
            trail.touch(f"{request.GET.get('app_label', '')}.{request.GET.get('model_name', '')}"[:64],
                        [row.get("id") for row in results])
        return response


admin.site.__class__ = PortalAdminSite
admin.site.site_header = "代行機関ポータル 管理（システム管理者専用）"


class ServiceSaveAdmin(admin.ModelAdmin):
    save_service: Any = None

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        type(self).save_service(obj, actor=request.user, request=request)


@admin.register(Insurer)
class InsurerAdmin(ServiceSaveAdmin):
    list_display = ("number", "name", "contract_start", "is_active")
    search_fields = ("number", "name")
    save_service = staticmethod(lambda obj, **kw: services.insurer_save(insurer=obj, **kw))


class EmailSenderInline(admin.TabularInline):
    model = InstitutionEmailSender
    extra = 0


class InstitutionAdminForm(forms.ModelForm):
    new_archive_password = forms.CharField(
        label="アーカイブのパスワード（変更する場合のみ入力）", required=False, strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="健診機関がアーカイブをパスワードロックする場合に登録します。暗号化して保存され、表示されません。",
    )

    class Meta:
        model = Institution
        fields = [
            "number", "name", "postal_code", "address", "phone", "bank_code", "branch_code", "account_type",
            "account_number", "account_holder_kana", "is_active",
        ]


@admin.register(Institution)
class InstitutionAdmin(PersonalDataAdmin, ServiceSaveAdmin):
    form = InstitutionAdminForm
    list_display = ("number", "name", "is_active")
    search_fields = ("number", "name")
    inlines = [EmailSenderInline]
    save_service = staticmethod(lambda obj, **kw: services.institution_save(institution=obj, **kw))

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        password = form.cleaned_data.get("new_archive_password")
        if password:
            services.institution_archive_password_set(institution=obj, password=password, actor=request.user, request=request)


class OtherItemInline(admin.TabularInline):
    model = ContractOtherItem
    extra = 0


@admin.register(Contract)
class ContractAdmin(ServiceSaveAdmin):
    list_display = ("insurer", "institution", "commission_type", "valid_from", "valid_to", "basic_price")
    list_filter = ("commission_type",)
    inlines = [OtherItemInline]
    save_service = staticmethod(lambda obj, **kw: services.contract_save(contract=obj, **kw))


@admin.register(AgencyProfile)
class AgencyProfileAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: Any) -> bool:
        return not AgencyProfile.objects.exists()


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(PersonalDataAdmin):
    list_display = ("ticket", "user", "approved_by", "starts_at", "ends_at", "closed_at")


class _TemporaryPassword:
    """A password an administrator sets is temporary: its holder must replace it at the next login."""

    def save(self, commit: bool = True) -> Any:
        user = super().save(commit=False)  # type: ignore[misc]
        user.must_change_password = user.has_usable_password()
        if commit:
            user.save()
        return user


class TemporaryPasswordForm(_TemporaryPassword, AdminPasswordChangeForm):
    pass


class TemporaryPasswordCreationForm(_TemporaryPassword, AdminUserCreationForm):
    pass


@admin.register(User)
class PortalUserAdmin(PersonalDataAdmin, UserAdmin):
    list_display = ("username", "role", "insurer", "institution", "is_active", "must_change_password", "last_login")
    list_filter = ("role", "is_active", "must_change_password")
    fieldsets = (
        *UserAdmin.fieldsets,
        ("所属", {"fields": ("role", "insurer", "institution", "full_name_kana", "birth_date", "phone")}),
        ("パスワード", {"fields": ("must_change_password",)}),
    )
    add_form = TemporaryPasswordCreationForm
    change_password_form = TemporaryPasswordForm

class CredentialResetForm(forms.ModelForm):
    class Meta:
        model = CredentialReset
        fields = ("user", "method", "document_reference", "verified_at")


@admin.register(CredentialReset)
class CredentialResetAdmin(PersonalDataAdmin):
    """本人確認記録: adding one sends the person a one-time reset link; records are never changed."""

    form = CredentialResetForm
    list_display = ("created_at", "user", "method", "document_reference", "verified_at", "verified_by")
    list_filter = ("method",)
    search_fields = ("user__username", "document_reference")
    autocomplete_fields = ("user",)

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        entry = services.credential_reset_issue(
            user=obj.user,
            actor=request.user,
            method=obj.method,
            document_reference=obj.document_reference,
            verified_at=obj.verified_at,
            request=request,
        )
        obj.pk, obj.verified_by, obj.created_at = entry.pk, entry.verified_by, entry.created_at

    def get_form(self, request: Any, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        base = super().get_form(request, obj, change=change, **kwargs)

        class WithAdmin(base):  # type: ignore[misc, valid-type]
            def clean(self) -> dict[str, Any]:
                cleaned = super().clean()
                if cleaned.get("user") is not None:
                    try:
                        services.credential_reset_check(user=cleaned["user"], actor=request.user)
                    except ValidationError as refused:
                        self.add_error("user", refused)
                return cleaned

        return WithAdmin


