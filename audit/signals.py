"""Authentication events recorded in the audit log."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.utils import timezone

from .models import Outcome
from .services import audit_record

SESSION_LOGIN_AT = "portal_login_at"
SESSION_LAST_ACTIVITY = "portal_last_activity"


@receiver(user_logged_in)
def on_logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    now = timezone.now().timestamp()
    request.session[SESSION_LOGIN_AT] = now
    request.session[SESSION_LAST_ACTIVITY] = now
    audit_record(action="auth.login", actor=user, request=request)


@receiver(user_logged_out)
def on_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is None:
        return
    reason = getattr(request, "logout_reason", "user")
    action = "auth.session_timeout" if reason.endswith("timeout") else "auth.logout"
    audit_record(action=action, actor=user, request=request, detail={"reason": reason})


@receiver(user_login_failed)
def on_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    username = str(credentials.get("username", ""))
    audit_record(
        action="auth.login_failed", request=request, outcome=Outcome.FAILURE, actor_label=username
    )


@receiver(user_locked_out)
def on_locked_out(sender: Any, request: Any, username: str | None = None, ip_address: str | None = None, **kwargs: Any) -> None:
    audit_record(
        action="auth.lockout", request=request, outcome=Outcome.DENIED, actor_label=username or "",
    )
