"""Django admin for machine clients of the REST API and their client certificates.

Every change goes through ``agency.services.clients`` (audited). A client's token is shown once,
on the page that answers its creation; certificates are registered from their PEM and revoked,
never edited or deleted.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from agency.models import ApiClient, ClientCertificate
from agency.services import clients as services_clients

_ISSUED_PAGE = """{% extends "admin/base_site.html" %}{% load i18n %}
{% block content %}
<h1>{% translate "APIクライアントを登録しました" %}</h1>
<p>{{ client }}</p>
<p><strong>{% translate "トークン（この画面でのみ表示します。APIクライアントの設定に控えてください）" %}</strong></p>
<p><code data-testid="api-token">{{ token }}</code></p>
<p><a href="{{ certificate_url }}">{% translate "続けてクライアント証明書を登録する" %}</a></p>
{% endblock %}
"""


def _adopt(target: Model, saved: Model) -> None:
    """Make the admin's unsaved form instance stand for the row the service saved."""
    target.__dict__.update({k: v for k, v in saved.__dict__.items() if k != "_state"})
    target._state.adding = False
    target._state.db = saved._state.db


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ("name", "institution", "insurer", "is_active", "last_used_at", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "institution__number", "institution__name", "insurer__number", "insurer__name")
    list_select_related = ("institution", "insurer")
    fields = ("name", "institution", "insurer")
    readonly_fields = ("created_by", "last_used_at", "created_at")
    actions = ["deactivate"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return self.fields
        return (*self.fields, "is_active", *self.readonly_fields)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # read-only once created; deactivate with the action

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: ApiClient, form: Any, change: bool) -> None:
        client, token = services_clients.api_client_create(
            name=obj.name, institution=obj.institution, insurer=obj.insurer, actor=request.user, request=request
        )
        _adopt(obj, client)
        request._issued_api_token = token  # type: ignore[attr-defined]

    def response_add(self, request: HttpRequest, obj: ApiClient, post_url_continue: Any = None) -> HttpResponse:
        token = getattr(request, "_issued_api_token", "")
        context = {
            **self.admin_site.each_context(request),
            "title": _("APIクライアントを登録しました"),
            "client": obj,
            "token": token,
            "certificate_url": f"{reverse('admin:agency_clientcertificate_add')}?api_client={obj.pk}",
        }
        return HttpResponse(engines["django"].from_string(_ISSUED_PAGE).render(context, request))

    @admin.action(description=_("選択したAPIクライアントを無効にする"))
    def deactivate(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        for client in queryset:
            services_clients.api_client_deactivate(api_client=client, actor=request.user, request=request)
        self.message_user(request, _("無効にしました。"), messages.SUCCESS)


class ClientCertificateForm(forms.ModelForm):
    pem = forms.CharField(
        label=_("証明書（PEM）"),
        widget=forms.Textarea(attrs={"rows": 12, "cols": 70}),
        help_text=_("-----BEGIN CERTIFICATE----- から始まるクライアント証明書。秘密鍵は貼り付けないでください。"),
    )

    class Meta:
        model = ClientCertificate
        fields = ("api_client",)

    def clean_pem(self) -> str:
        pem: str = self.cleaned_data["pem"]
        if "PRIVATE KEY" in pem:
            raise ValidationError(_("秘密鍵が含まれています。証明書だけを貼り付けてください。"))
        services_clients.client_certificate_inspect(pem)
        return pem


@admin.register(ClientCertificate)
class ClientCertificateAdmin(admin.ModelAdmin):
    form = ClientCertificateForm
    list_display = ("api_client", "subject_dn", "serial_hex", "not_after", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("fingerprint_sha256", "serial_hex", "subject_dn", "api_client__name")
    list_select_related = ("api_client__institution", "api_client__insurer")
    readonly_fields = (
        "api_client",
        "fingerprint_sha256",
        "serial_hex",
        "subject_dn",
        "issuer_dn",
        "not_before",
        "not_after",
        "revoked_at",
        "revoked_reason",
        "created_at",
    )
    actions = ["revoke"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("api_client", "pem")
        return self.readonly_fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else self.readonly_fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: ClientCertificate, form: Any, change: bool) -> None:
        registered = services_clients.client_certificate_register(
            api_client=obj.api_client, pem=form.cleaned_data["pem"], actor=request.user, request=request
        )
        _adopt(obj, registered)

    @admin.action(description=_("選択した証明書を失効させる"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ClientCertificate]) -> None:
        count = 0
        for certificate in queryset.filter(revoked_at__isnull=True):
            services_clients.client_certificate_revoke(
                certificate=certificate, reason=str(_("管理画面から失効")), actor=request.user, request=request
            )
            count += 1
        self.message_user(request, _("%(count)d 件の証明書を失効させました。") % {"count": count}, messages.SUCCESS)
