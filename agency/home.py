"""Figures on each role's home page, computed from the data that exists."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import AuditEvent, Outcome

from . import selectors
from .models import Role
from .services import maintenance_window_open_for


def _active_contracts(user: Any) -> Any:
    today = timezone.localdate()
    return selectors.contract_list(user=user).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=today), valid_from__lte=today
    )


def home_figures(user: Any) -> list[dict[str, Any]]:
    since = timezone.now() - timedelta(hours=24)
    if user.role in (Role.AGENCY_ADMIN, Role.AGENCY_CLERK):
        return [
            {"label": _("保険者"), "value": selectors.insurer_list(user=user).filter(is_active=True).count()},
            {"label": _("健診機関"), "value": selectors.institution_list(user=user).filter(is_active=True).count()},
            {"label": _("有効な契約"), "value": _active_contracts(user).count()},
            {"label": _("利用者"), "value": selectors.user_list(user=user).filter(is_active=True).count()},
        ]
    if user.role == Role.AUDITOR:
        recent = AuditEvent.objects.filter(occurred_at__gte=since).aggregate(
            total=Count("pk"),
            denied=Count("pk", filter=Q(outcome=Outcome.DENIED)),
            failed_logins=Count("pk", filter=Q(action="auth.login_failed")),
            lockouts=Count("pk", filter=Q(action="auth.lockout")),
        )
        return [
            {"label": _("監査イベント（24時間）"), "value": recent["total"]},
            {"label": _("拒否されたアクセス（24時間）"), "value": recent["denied"]},
            {"label": _("ログイン失敗（24時間）"), "value": recent["failed_logins"]},
            {"label": _("アカウントロック（24時間）"), "value": recent["lockouts"]},
        ]
    if user.role in (Role.INSURER_STAFF, Role.INSTITUTION_STAFF):
        counterpart = (
            selectors.institution_list(user=user) if user.role == Role.INSURER_STAFF else selectors.insurer_list(user=user)
        )
        label = _("契約健診機関") if user.role == Role.INSURER_STAFF else _("契約保険者")
        return [
            {"label": _("有効な契約"), "value": _active_contracts(user).count()},
            {"label": label, "value": counterpart.count()},
        ]
    if user.role == Role.MAINTENANCE:
        window = maintenance_window_open_for(user=user)
        return [
            {"label": _("作業申請番号"), "value": window.ticket if window else "—"},
            {"label": _("作業終了予定"), "value": timezone.localtime(window.ends_at).strftime("%Y-%m-%d %H:%M") if window else "—"},
        ]
    return []
