"""Per-request expiry of emergency-account sessions, and the record of how requests reach the portal.

At login (``compliance.signals``) an emergency account's session records when its activation ends;
the first request after that ends the session and disables the account. Normal accounts carry no
such mark, so this costs them no query.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils import timezone

from core.api import api_error_response

from . import transport
from .services.emergency_access import emergency_expire_due, emergency_login_refused

SESSION_EMERGENCY_UNTIL = "compliance_emergency_until"


class EmergencyAccessMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated:
            until = request.session.get(SESSION_EMERGENCY_UNTIL)
            if until is not None and timezone.now().timestamp() >= until:
                emergency_expire_due(user_id=user.pk)
                emergency_login_refused(user=user, request=request)
                request.logout_reason = "emergency_activation_expired"  # type: ignore[attr-defined]
                logout(request)
                if request.path.startswith("/api/"):
                    return api_error_response("非常時アクセスの期限が切れました。", "session_expired", 401,
                                              reason="emergency_activation_expired")
                return redirect_to_login(request.get_full_path(), resolve_url(settings.LOGIN_URL))
        return self.get_response(request)


class TransportEvidenceMiddleware:
    """Records how each request reached the portal (``compliance.transport``), before anything answers
    it (an HTTPS redirect included): the evidence of the probe ``tls_served``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        transport.observe(request)
        return self.get_response(request)
