from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

from core.api import api_or_page_404

from .views import accounts, portal

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
        path("insurers/<str:number>/", portal.insurer_detail, name="insurer_detail"),
        path("institutions/", portal.institution_list, name="institution_list"),
        path("institutions/<str:number>/", portal.institution_detail, name="institution_detail"),
        path("contracts/", portal.contract_list, name="contract_list"),
        path("contracts/<int:contract_id>/", portal.contract_detail, name="contract_detail"),
        path("users/", portal.user_list, name="user_list"),
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
