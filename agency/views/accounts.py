"""Login, second factor (enrolment and verification), backup codes, logout, password change."""

from __future__ import annotations

from base64 import b32encode
from io import BytesIO
from typing import Any, cast

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from audit.models import Outcome
from audit.services import audit_record

from .. import services
from ..forms import LoginForm, PortalPasswordChangeForm, ReauthenticationForm, TokenForm
from ..middleware import otp_exempt, password_change_exempt
from ..models import User

SESSION_BACKUP_CODES = "portal_backup_codes"
SESSION_REAUTH_FAILURES = "portal_reauth_failures"
REAUTH_ATTEMPTS = 5


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()}):
        return candidate
    return ""


@method_decorator(otp_exempt, name="dispatch")
class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = False

    def get_success_url(self) -> str:
        next_url = self.get_redirect_url()
        suffix = f"?next={next_url}" if next_url else ""
        return reverse("accounts:otp_verify") + suffix


login_view = otp_exempt(LoginView.as_view())


@otp_exempt
@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    return auth_views.LogoutView.as_view()(request)


@otp_exempt
@sensitive_post_parameters("token")
@require_http_methods(["GET", "POST"])
def otp_verify(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.is_verified():
        return redirect(_next_url(request) or "home")
    if not services.user_has_confirmed_totp(user=user):
        return redirect("accounts:otp_setup")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if services.otp_verify(user=user, token=form.cleaned_data["token"], request=request):
            return redirect(_next_url(request) or "home")
        form.add_error("token", _("確認コードが正しくないか、有効期限が切れています。"))
    return render(request, "accounts/otp_verify.html", {"form": form, "next": _next_url(request)})


def _qr_svg(data: str) -> str:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode("utf-8")


@otp_exempt
@sensitive_post_parameters("token")
@require_http_methods(["GET", "POST"])
def otp_setup(request: HttpRequest) -> HttpResponse:
    user = request.user
    if services.user_has_confirmed_totp(user=user):
        return redirect("accounts:otp_verify")
    device = services.otp_device_pending(user=user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = services.otp_enrolment_confirm(user=user, token=form.cleaned_data["token"], request=request)
        if codes is not None:
            request.session[SESSION_BACKUP_CODES] = codes
            return redirect("accounts:backup_codes")
        form.add_error("token", _("確認コードが一致しません。端末の時刻と入力したコードを確認してください。"))

    secret = b32encode(device.bin_key).decode("ascii")
    return render(
        request,
        "accounts/otp_setup.html",
        {"form": form, "qr_svg": _qr_svg(device.config_url), "secret": secret},
    )


@require_http_methods(["GET"])
def backup_codes(request: HttpRequest) -> HttpResponse:
    codes = request.session.pop(SESSION_BACKUP_CODES, None)
    if not codes:
        return redirect("home")
    return render(request, "accounts/backup_codes.html", {"codes": codes})


@sensitive_post_parameters("password", "token")
@require_http_methods(["GET", "POST"])
def backup_codes_regenerate(request: HttpRequest) -> HttpResponse:
    """New backup codes only after the password or a fresh authenticator code: a session left open
    must not be enough to take over the second factor. After REAUTH_ATTEMPTS wrong answers the
    session is ended."""
    user = cast(User, request.user)  # behind the login and second-factor middleware
    form = ReauthenticationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if services.user_reauthenticate(
            user=user, password=form.cleaned_data["password"], token=form.cleaned_data["token"], request=request
        ):
            request.session.pop(SESSION_REAUTH_FAILURES, None)
            request.session[SESSION_BACKUP_CODES] = services.backup_codes_regenerate(user=user)
            audit_record(action="auth.backup_codes_regenerated", request=request)
            return redirect("accounts:backup_codes")
        failures = request.session.get(SESSION_REAUTH_FAILURES, 0) + 1
        if failures >= REAUTH_ATTEMPTS:
            audit_record(action="auth.logout_forced", request=request, outcome=Outcome.DENIED, detail={"reason": "reauthentication_failed"})
            logout(request)
            return redirect("accounts:login")
        request.session[SESSION_REAUTH_FAILURES] = failures
        form.add_error(None, _("パスワードまたは確認コードが正しくありません。"))
    return render(request, "accounts/backup_codes_regenerate.html", {"form": form})


@password_change_exempt
@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    form = PortalPasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_password_change(user=request.user, new_password=form.cleaned_data["new_password1"], request=request)
        except ValidationError as error:
            form.add_error("new_password1", error)
        else:
            update_session_auth_hash(request, request.user)
            messages.success(request, _("パスワードを変更しました。"))
            return redirect(_next_url(request) or "home")
    return render(
        request,
        "accounts/password_change.html",
        {"form": form, "temporary": request.user.must_change_password, "next": _next_url(request)},
    )


class _PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """The one-time link an administrator had sent: the person chooses a password under every rule
    in force (history included); the link dies with the password it sets, or after
    ``PASSWORD_RESET_TIMEOUT``."""

    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form: SetPasswordForm) -> HttpResponse:
        try:
            services.user_password_change(user=form.user, new_password=form.cleaned_data["new_password1"], request=self.request)
        except ValidationError as error:
            form.add_error("new_password1", error)
            return self.form_invalid(form)
        self.request.session.pop(auth_views.INTERNAL_RESET_SESSION_TOKEN, None)
        return redirect(self.success_url)


def _reachable_without_login(view: Any) -> Any:
    return login_not_required(otp_exempt(password_change_exempt(view)))


password_reset_confirm = _reachable_without_login(
    sensitive_post_parameters("new_password1", "new_password2")(_PasswordResetConfirmView.as_view())
)
password_reset_complete = _reachable_without_login(
    auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html")
)


@login_not_required
def locked_out(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/locked_out.html", status=429)
