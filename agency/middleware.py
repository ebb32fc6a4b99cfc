"""Session rules of the guideline: timeouts, mandatory second factor, maintenance windows, no-store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _

from audit.signals import SESSION_LAST_ACTIVITY, SESSION_LOGIN_AT
from core import tenancy
from core.api import api_error_response, is_api

from .models import Role
from .scoping import tenant_scope
from .services import maintenance_window_open_for

PASSIVE_REQUEST_HEADER = "HTTP_X_PORTAL_POLL"


def _is_api(request: HttpRequest) -> bool:
    return is_api(request)


def _end_session(request: HttpRequest, reason: str) -> HttpResponse:
    request.logout_reason = reason  # type: ignore[attr-defined]
    logout(request)
    if _is_api(request):
        return api_error_response(_("セッションの有効期限が切れました。もう一度ログインしてください。"), "session_expired", 401,
                                  reason=reason)
    return redirect_to_login(request.get_full_path(), resolve_url(settings.LOGIN_URL))


class TenantScopeMiddleware:
    """The request's tenant scope for row-level security (``core.tenancy``): the logged-in user's,
    set before the view's transaction begins and restored when the response is done."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = tenancy.activate(tenant_scope(request.user))
        try:
            return self.get_response(request)
        finally:
            tenancy.restore(token)


class SessionTimeoutMiddleware:
    """Idle timeout and absolute session lifetime, each audited when it ends a session. The last activity is
    recorded once per ``SESSION_ACTIVITY_RESOLUTION`` (not on every request, which would write the session row)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = timezone.now().timestamp()
            login_at = request.session.get(SESSION_LOGIN_AT, now)
            last_activity = request.session.get(SESSION_LAST_ACTIVITY, now)
            if now - last_activity > settings.SESSION_IDLE_TIMEOUT.total_seconds():
                return _end_session(request, "idle_timeout")
            if now - login_at > settings.SESSION_ABSOLUTE_TIMEOUT.total_seconds():
                return _end_session(request, "absolute_timeout")
            resolution = settings.SESSION_ACTIVITY_RESOLUTION.total_seconds()
            stale = SESSION_LAST_ACTIVITY not in request.session or now - last_activity >= resolution
            if stale and not request.META.get(PASSIVE_REQUEST_HEADER):
                request.session[SESSION_LAST_ACTIVITY] = now  # the session row is written only when this changes
        return self.get_response(request)


class PortalLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Every page needs a login; the REST API answers 401/403 itself instead of redirecting."""

    def process_view(self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any) -> Any:
        if _is_api(request):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


def otp_exempt(view: Any) -> Any:
    """Allow a password-only (not yet second-factor verified) session to reach this view."""
    view.otp_exempt = True
    return view


class _ViewGate:
    """A middleware that decides in ``process_view`` (it needs the view's exemption markers)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)


class RequireOTPMiddleware(_ViewGate):
    """A session authenticated by password alone reaches nothing but the second-factor pages."""

    def process_view(self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any) -> Any:
        user = request.user
        if not user.is_authenticated or user.is_verified() or getattr(view_func, "otp_exempt", False):
            return None
        if _is_api(request):
            return api_error_response(_("二要素認証が済んでいません。"), "otp_required", 403)
        return redirect_to_login(request.get_full_path(), resolve_url(settings.OTP_VERIFY_URL))


def password_change_exempt(view: Any) -> Any:
    """Reachable while the account still carries a temporary password (the change form, logout)."""
    view.password_change_exempt = True
    return view


class PasswordChangeRequiredMiddleware(_ViewGate):
    """An account given a temporary password by an administrator reaches nothing but the password
    change form (and logout) until its holder has chosen a password of their own."""

    def process_view(self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any) -> Any:
        user = request.user
        if not user.is_authenticated or not getattr(user, "must_change_password", False):
            return None
        if getattr(view_func, "password_change_exempt", False) or getattr(view_func, "otp_exempt", False):
            return None
        if _is_api(request):
            return api_error_response(_("仮のパスワードを変更するまで利用できません。"), "password_change_required", 403)
        return redirect_to_login(request.get_full_path(), resolve_url("accounts:password_change"))


class MaintenanceWindowMiddleware:
    """A maintenance account's session ends as soon as its approved window is no longer open."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and user.role == Role.MAINTENANCE and maintenance_window_open_for(user=user) is None:
            return _end_session(request, "maintenance_window_closed")
        return self.get_response(request)


class NoStoreMiddleware:
    """Nothing shown to a logged-in user is kept in browser or proxy caches."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.user.is_authenticated:
            patch_cache_control(response, no_store=True, no_cache=True, private=True, max_age=0)
            response.headers["Pragma"] = "no-cache"
        return response
