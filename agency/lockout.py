"""Lockout after repeated failed logins (django-axes), counted per user name and address together.

Five failures lock that user name from that address only (``AXES_LOCKOUT_PARAMETERS``): nobody can
lock another person out from everywhere by typing their user name. The lock lasts
``AXES_COOLOFF_BASE`` and doubles with every further five failures of the same pair within
``LOCKOUT_MEMORY`` since its last successful login there (``cool_off``, django-axes'
``AXES_COOLOFF_TIME``), up to ``AXES_COOLOFF_MAX``. Each lockout alerts the agency's administrators once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from axes.models import AccessFailureLog, AccessLog
from axes.signals import user_locked_out
from django.conf import settings
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from core.http import client_ip

from .alerts import staff_alert

LOCKOUT_MEMORY = dt.timedelta(hours=24)


def _username(request: HttpRequest | None) -> str:
    if request is None:
        return ""
    credentials = getattr(request, "axes_credentials", None) or {}
    return str(credentials.get("username") or request.POST.get("username", ""))[:255]


def failures_of(username: str, address: str, now: dt.datetime | None = None) -> int:
    """Failed logins of ``username`` from ``address`` within LOCKOUT_MEMORY and after its last success there."""
    now = now or timezone.now()
    since = now - LOCKOUT_MEMORY
    last_success = (
        AccessLog.objects.filter(username=username, ip_address=address, attempt_time__gte=since)
        .order_by("-attempt_time")
        .values_list("attempt_time", flat=True)
        .first()
    )
    return AccessFailureLog.objects.filter(
        username=username, ip_address=address, attempt_time__gte=max(since, last_success or since)
    ).count()


def cool_off(request: HttpRequest | None = None) -> dt.timedelta:
    """How long the pair of this request stays locked: the base, doubled for every further lockout."""
    base: dt.timedelta = settings.AXES_COOLOFF_BASE
    if request is None:
        return base
    username, address = _username(request), client_ip(request)
    if not username or not address:
        return base
    lockouts = failures_of(username, address) // settings.AXES_FAILURE_LIMIT
    return min(base * 2 ** max(lockouts - 1, 0), settings.AXES_COOLOFF_MAX)


@receiver(user_locked_out)
def alert_staff(sender: Any, request: Any, username: str | None = None, ip_address: str | None = None, **kwargs: Any) -> None:
    """The administrators learn of a lockout when it happens (not again for each refused attempt)."""
    if getattr(request, "axes_failures_since_start", None) != settings.AXES_FAILURE_LIMIT:
        return
    locked_for = cool_off(request)
    staff_alert(
        _("ログイン失敗によるアカウントロック"),
        _(
            "利用者 %(username)s のログインが、接続元 %(address)s から %(limit)d 回続けて失敗したため、"
            "この接続元からのログインを %(minutes)d 分間停止しました（他の接続元からは利用できます）。\n"
            "日時: %(time)s\n\n"
            "心当たりがない場合はパスワードの推測が試みられている可能性があります。監査ログ（auth.lockout）を確認してください。"
        )
        % {
            "username": username or "-", "address": ip_address or "-", "limit": settings.AXES_FAILURE_LIMIT,
            "minutes": int(locked_for.total_seconds() // 60),
            "time": timezone.localtime().strftime("%Y-%m-%d %H:%M"),
        },
    )
