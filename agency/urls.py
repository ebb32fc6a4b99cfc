from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

from core.api import api_or_page_404

from .views import accounts, administration, collective, portal

# Errors under /api/ answer in the API's error shape (JSON), everywhere else with the pages.
handler404 = "core.api.api_or_page_404"
handler500 = "core.api.api_or_page_500"

accounts_patterns = (
    [
        path("login/", accounts.login_view, name="login"),
        path("logout/", accounts.logout_view, name="logout"),
        path("otp/", accounts.otp_verify, name="otp_verify"),
        path("otp/setup/", accounts.otp_setup, name="otp_setup"),
        path("otp/backup-codes/", accounts.backup_codes, name="backup_codes"),
        path("otp/backup-codes/regenerate/", accounts.backup_codes_regenerate, name="backup_codes_regenerate"),
        path("password/", accounts.password_change, name="password_change"),
        path("locked/", accounts.locked_out, name="locked_out"),
        path("reset/<uidb64>/<token>/", accounts.password_reset_confirm, name="password_reset_confirm"),
        path("reset/done/", accounts.password_reset_complete, name="password_reset_complete"),
    ],
    "accounts",
)

parties_patterns = (
    [
        path("insurers/", portal.insurer_list, name="insurer_list"),
        path("insurers/new/", administration.insurer_create, name="insurer_create"),
        path("insurers/<str:number>/", portal.insurer_detail, name="insurer_detail"),
        path("insurers/<str:number>/edit/", administration.insurer_edit, name="insurer_edit"),
        path("institutions/", portal.institution_list, name="institution_list"),
        path("institutions/new/", administration.institution_create, name="institution_create"),
        path("institutions/<str:number>/", portal.institution_detail, name="institution_detail"),
        path("institutions/<str:number>/edit/", administration.institution_edit, name="institution_edit"),
        path("institutions/<str:number>/archive-password/", administration.institution_archive_password,
             name="institution_archive_password"),
        path("institutions/<str:number>/senders/", administration.institution_senders, name="institution_senders"),
        path("institutions/<str:number>/senders/<int:sender_id>/delete/", administration.institution_sender_delete,
             name="institution_sender_delete"),
        path("contracts/", portal.contract_list, name="contract_list"),
        path("contracts/new/", administration.contract_create, name="contract_create"),
        path("contracts/<int:contract_id>/", portal.contract_detail, name="contract_detail"),
        path("contracts/<int:contract_id>/edit/", administration.contract_edit, name="contract_edit"),
        path("contracts/<int:contract_id>/end/", administration.contract_end, name="contract_end"),
        path("collective/", collective.collective_list, name="collective_list"),
        path("collective/new/", collective.collective_create, name="collective_create"),
        path("collective/import/", collective.collective_import, name="collective_import"),
        path("collective/<int:contract_id>/", collective.collective_detail, name="collective_detail"),
        path("collective/<int:contract_id>/insurers/new/", collective.collective_insurer_add, name="collective_insurer_add"),
        path("collective/<int:contract_id>/insurers/<int:membership_id>/leave/", collective.collective_insurer_leave,
             name="collective_insurer_leave"),
        path("collective/<int:contract_id>/institutions/new/", collective.collective_institution_add,
             name="collective_institution_add"),
        path("collective/<int:contract_id>/prices/new/", collective.collective_price_add, name="collective_price_add"),
        path("collective/<int:contract_id>/prices/<int:table_id>/edit/", collective.collective_price_edit,
             name="collective_price_edit"),
        path("users/", portal.user_list, name="user_list"),
        path("users/new/", administration.user_create, name="user_create"),
        path("users/<int:user_id>/", administration.user_detail, name="user_detail"),
        path("users/<int:user_id>/edit/", administration.user_edit, name="user_edit"),
        path("users/<int:user_id>/status/", administration.user_status, name="user_status"),
        path("users/<int:user_id>/reset/", administration.user_reset, name="user_reset"),
        path("api-clients/", administration.api_client_list, name="api_client_list"),
        path("api-clients/new/", administration.api_client_create, name="api_client_create"),
        path("api-clients/<int:client_id>/", administration.api_client_detail, name="api_client_detail"),
        path("api-clients/<int:client_id>/deactivate/", administration.api_client_deactivate, name="api_client_deactivate"),
        path("api-clients/<int:client_id>/certificates/new/", administration.certificate_create, name="certificate_create"),
        path("certificates/<int:certificate_id>/revoke/", administration.certificate_revoke, name="certificate_revoke"),
    ],
    "parties",
)

api_v1_patterns = [
    path("", include("agency.api.urls")),
    path("", include("intake.api.urls")),
    path("", include("routing.api.urls")),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="api_schema"),
    # Anything else under /api/v1/ (an id that is not a number, a misspelt path): the JSON 404, also with DEBUG on.
    re_path(r"^", api_or_page_404, name="api_not_found"),
]

urlpatterns = [
    path("", include("portal.urls")),
    path("healthz", portal.healthz, name="healthz"),
    path("accounts/", include(accounts_patterns)),
    path("parties/", include(parties_patterns)),
    path("intake/", include("intake.urls")),
    path("billing/", include("billing.urls")),
    path("insurer/", include("routing.urls")),
    path("compliance/", include("compliance.urls")),
    path("audit/", include("compliance.urls.audit")),
    path("disclosure/", include("compliance.urls.public")),
    path("api/v1/", include(api_v1_patterns)),
    path("admin/", admin.site.urls),
]
