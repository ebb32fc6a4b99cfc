"""Break-glass (emergency accounts during a declared incident) and maintenance windows.

- An incident is declared by one officer and in force once a second, different officer confirms.
- While it is in force, an emergency account can be activated for at most four hours: the account is
  enabled with a new one-time password (shown once to the activating officer), admins are alerted
  by e-mail, and every page shows a banner.
- Expiry is enforced on every request (``compliance.middleware``) and by a periodic sweep.
- Returning to normal ends every activation, disables every emergency account, makes its password
  unusable, removes its OTP devices, and opens a review listing every action the accounts took.
- Closing a maintenance window opens a review with the maintenance account's access report.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import string
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from agency.models import MaintenanceWindow, Role
from audit.models import Outcome
from audit.services import audit_record
from compliance.models import AccessReview, EmergencyAccount, EmergencyActivation, Incident

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger(__name__)

MAX_ACTIVATION = dt.timedelta(hours=4)
MAX_WINDOW = dt.timedelta(hours=24)
EMERGENCY_ROLES = (Role.AGENCY_ADMIN, Role.AGENCY_CLERK)


# --- Alerts --------------------------------------------------------------------------------------------


def _admin_addresses() -> list[str]:
    users = get_user_model().objects.filter(role=Role.AGENCY_ADMIN, is_active=True).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def _alert(subject: str, body: str) -> None:
    """E-mail every active agency admin after the transaction commits (never inside it)."""
    recipients = _admin_addresses()
    if not recipients:
        logger.warning("break-glass alert without recipients: %s", subject)
        return

    def send() -> None:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
        except Exception:
            logger.exception("break-glass alert could not be sent: %s", subject)

    transaction.on_commit(send)


def _local(moment: dt.datetime) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


# --- Emergency accounts -------------------------------------------------------------------------------


def _disable_user(user: Any) -> None:
    if user.is_active or user.has_usable_password():
        user.is_active = False
        user.set_unusable_password()
        user.save(update_fields=["is_active", "password"])
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


def emergency_account_create(
    *, username: str, label: str, role: str, email: str, actor: Any, request: HttpRequest | None = None
) -> EmergencyAccount:
    """Create a dedicated emergency account, disabled, with no usable password and no second factor."""
    if role not in EMERGENCY_ROLES:
        raise ValidationError(_("非常用アカウントの役割は代行機関の管理者または事務点検担当に限ります。"))
    user_model = get_user_model()
    # Like every portal account, an emergency account works in the portal; the Django admin is for superusers only.
    user = user_model(username=username, role=role, email=email, is_active=False)
    user.set_unusable_password()
    user.full_clean()
    with transaction.atomic():
        user.save()
        account = EmergencyAccount(user=user, label=label, created_by=actor, created_at=timezone.now())
        account.full_clean()
        account.save()
        audit_record(
            action="compliance.emergency.account_created", actor=actor, request=request, object_type="user",
            object_ids=[user.pk], detail={"label": label, "role": role},
        )
    return account


def incident_declare(*, reason: str, actor: Any, request: HttpRequest | None = None) -> Incident:
    if not reason.strip():
        raise ValidationError(_("非常時と判断した理由を入力してください。"))
    with transaction.atomic():
        if Incident.objects.select_for_update().exclude(state=Incident.State.CLOSED).exists():
            raise ValidationError(_("既に宣言中の非常時があります。"))
        incident = Incident(reason=reason.strip(), declared_by=actor, declared_at=timezone.now())
        incident.full_clean()
        incident.save()
        audit_record(action="compliance.incident.declared", actor=actor, request=request, object_type="incident",
                     object_ids=[incident.pk])
        _alert(_("[代行機関ポータル] 非常時の宣言（確認待ち）"),
               _("%(who)s が非常時を宣言しました。別の担当者の確認で非常時対応が始まります。\n理由: %(reason)s") % {
                   "who": actor.get_username(), "reason": incident.reason})
    return incident


def _lock_incident(incident: Incident) -> Incident:
    return Incident.objects.select_for_update().get(pk=incident.pk)


def incident_confirm(*, incident: Incident, actor: Any, request: HttpRequest | None = None) -> Incident:
    """The second officer's confirmation puts the incident in force."""
    with transaction.atomic():
        incident = _lock_incident(incident)
        if incident.state != Incident.State.PENDING:
            raise ValidationError(_("確認待ちの非常時ではありません。"))
        if incident.declared_by_id == actor.pk:
            raise ValidationError(_("宣言した本人は確認できません。別の担当者が確認してください。"))
        incident.state = Incident.State.ACTIVE
        incident.confirmed_by = actor
        incident.confirmed_at = timezone.now()
        incident.full_clean()
        incident.save(update_fields=["state", "confirmed_by", "confirmed_at"])
        audit_record(action="compliance.incident.confirmed", actor=actor, request=request, object_type="incident",
                     object_ids=[incident.pk], detail={"declared_by": incident.declared_by_id})
        _alert(_("[代行機関ポータル] 非常時対応を開始しました"),
               _("非常時対応が始まりました（宣言: %(a)s、確認: %(b)s）。\n理由: %(reason)s") % {
                   "a": incident.declared_by.get_username(), "b": actor.get_username(), "reason": incident.reason})
    return incident


def _one_time_password() -> str:
    """A random password meeting the portal's rules (letters, digits and symbols, 20 characters)."""
    alphabet = string.ascii_letters + string.digits + "!#$%&*+-=?@^_"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(20))
        if (any(c.islower() for c in candidate) and any(c.isupper() for c in candidate)
                and any(c.isdigit() for c in candidate) and any(not c.isalnum() for c in candidate)):
            return candidate


def emergency_activate(
    *,
    incident: Incident,
    account: EmergencyAccount,
    reason: str,
    minutes: int,
    actor: Any,
    request: HttpRequest | None = None,
) -> tuple[EmergencyActivation, str]:
    """Enable an emergency account for at most four hours; return the activation and its one-time password."""
    if not reason.strip():
        raise ValidationError(_("使用理由を入力してください。"))
    duration = dt.timedelta(minutes=minutes)
    if duration <= dt.timedelta(0) or duration > MAX_ACTIVATION:
        raise ValidationError(_("有効期間は1分以上4時間以内で指定してください。"))
    password = _one_time_password()
    now = timezone.now()
    with transaction.atomic():
        incident = _lock_incident(incident)
        if incident.state != Incident.State.ACTIVE:
            raise ValidationError(_("非常時対応中でなければ非常用アカウントは有効にできません。"))
        account = EmergencyAccount.objects.select_for_update().select_related("user").get(pk=account.pk)
        if account.activations.filter(ended_at__isnull=True).exists():
            raise ValidationError(_("このアカウントは既に有効です。"))
        user = account.user
        user.is_active = True
        user.set_password(password)
        user.save(update_fields=["is_active", "password"])
        activation = EmergencyActivation(
            account=account, incident=incident, activated_by=actor, reason=reason.strip(),
            starts_at=now, expires_at=now + duration,
        )
        activation.full_clean()
        activation.save()
        audit_record(
            action="compliance.emergency.activated", actor=actor, request=request, object_type="user",
            object_ids=[user.pk],
            detail={"activation": activation.pk, "incident": incident.pk, "expires_at": activation.expires_at,
                    "reason": activation.reason},
        )
        _alert(
            _("[代行機関ポータル] 非常用アカウント %(label)s が有効化されました") % {"label": account.label},
            _("非常用アカウント %(label)s（%(user)s）が %(who)s により有効化されました。\n期限: %(until)s\n理由: %(reason)s") % {
                "label": account.label, "user": user.get_username(), "who": actor.get_username(),
                "until": _local(activation.expires_at), "reason": activation.reason},
        )
    return activation, password


def _end_activation(activation: EmergencyActivation, *, reason: str, actor: Any, request: HttpRequest | None,
                    now: dt.datetime) -> None:
    activation.ended_at = now
    activation.end_reason = reason
    activation.save(update_fields=["ended_at", "end_reason"])
    _disable_user(activation.account.user)
    audit_record(
        action="compliance.emergency.deactivated", actor=actor, request=request,
        actor_label="" if actor else "system", object_type="user", object_ids=[activation.account.user_id],
        detail={"activation": activation.pk, "reason": reason},
    )


def emergency_revoke(*, activation: EmergencyActivation, actor: Any, request: HttpRequest | None = None) -> EmergencyActivation:
    with transaction.atomic():
        activation = EmergencyActivation.objects.select_for_update().select_related("account__user").get(pk=activation.pk)
        if activation.ended_at is not None:
            raise ValidationError(_("この有効化は既に終了しています。"))
        _end_activation(activation, reason=EmergencyActivation.EndReason.REVOKED, actor=actor, request=request,
                        now=timezone.now())
    return activation


def emergency_expire_due(*, user_id: int | None = None, now: dt.datetime | None = None) -> int:
    """End every activation past its expiry (of one user, or all); safe to run at any time."""
    now = now or timezone.now()
    ended = 0
    with transaction.atomic():
        due = EmergencyActivation.objects.select_for_update(skip_locked=True).select_related("account__user").filter(
            ended_at__isnull=True, expires_at__lte=now
        )
        if user_id is not None:
            due = due.filter(account__user_id=user_id)
        for activation in due:
            _end_activation(activation, reason=EmergencyActivation.EndReason.EXPIRED, actor=None, request=None, now=now)
            ended += 1
    return ended


def incident_close(*, incident: Incident, note: str, actor: Any, request: HttpRequest | None = None) -> AccessReview | None:
    """Return to normal: end and disable everything, and open the review of what the accounts did.

    Closing an incident that was never confirmed just withdraws the declaration (nothing to review).
    """
    now = timezone.now()
    with transaction.atomic():
        incident = _lock_incident(incident)
        if incident.state == Incident.State.CLOSED:
            raise ValidationError(_("この非常時は既に終了しています。"))
        was_active = incident.state == Incident.State.ACTIVE
        for activation in incident.activations.select_for_update().select_related("account__user").filter(ended_at__isnull=True):
            _end_activation(activation, reason=EmergencyActivation.EndReason.INCIDENT_CLOSED, actor=actor,
                            request=request, now=now)
        for account in EmergencyAccount.objects.select_related("user"):
            _disable_user(account.user)
        incident.state = Incident.State.CLOSED
        incident.closed_by = actor
        incident.closed_at = now
        incident.close_note = note.strip()
        incident.save(update_fields=["state", "closed_by", "closed_at", "close_note"])
        review = None
        if was_active:
            subjects = sorted(set(incident.activations.values_list("account__user_id", flat=True)))
            review = AccessReview(
                kind=AccessReview.Kind.BREAK_GLASS, incident=incident, subject_ids=subjects,
                period_start=incident.declared_at, period_end=now, opened_at=now,
            )
            review.full_clean()
            review.save()
        audit_record(
            action="compliance.incident.closed", actor=actor, request=request, object_type="incident",
            object_ids=[incident.pk], detail={"review": review.pk if review else None, "was_active": was_active},
        )
        if was_active:
            _alert(_("[代行機関ポータル] 正常復帰しました"),
                   _("非常時対応を終了しました（%(who)s）。非常用アカウントはすべて無効化され、使用内容の確認が作成されました。") % {
                       "who": actor.get_username()})
    return review


# --- Maintenance windows -------------------------------------------------------------------------------


def maintenance_window_approve(
    *,
    user: Any,
    ticket: str,
    purpose: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    actor: Any,
    request: HttpRequest | None = None,
) -> MaintenanceWindow:
    """Approve one maintenance account's work window (at most one day, approved by someone else)."""
    if user.role != Role.MAINTENANCE or not user.is_active:
        raise ValidationError(_("有効な保守担当アカウントを選んでください。"))
    if user.pk == actor.pk:
        raise ValidationError(_("自分の作業時間帯は承認できません。"))
    if ends_at <= starts_at:
        raise ValidationError(_("終了は開始より後にしてください。"))
    if ends_at - starts_at > MAX_WINDOW:
        raise ValidationError(_("作業時間帯は1日（24時間）以内で申請してください。"))
    if ends_at <= timezone.now():
        raise ValidationError(_("既に終わった時間帯は承認できません。"))
    window = MaintenanceWindow(user=user, ticket=ticket.strip(), purpose=purpose.strip(), approved_by=actor,
                               starts_at=starts_at, ends_at=ends_at)
    window.full_clean()
    with transaction.atomic():
        overlapping = MaintenanceWindow.objects.select_for_update().filter(
            user=user, closed_at__isnull=True, starts_at__lt=ends_at, ends_at__gt=starts_at
        )
        if overlapping.exists():
            raise ValidationError(_("同じ保守担当の承認済み時間帯と重なっています。"))
        window.save()
        audit_record(
            action="compliance.maintenance.approved", actor=actor, request=request, object_type="maintenance_window",
            object_ids=[window.pk],
            detail={"user": user.pk, "ticket": window.ticket, "starts_at": starts_at, "ends_at": ends_at},
        )
    return window


def maintenance_window_close(
    *, window: MaintenanceWindow, actor: Any, request: HttpRequest | None = None, now: dt.datetime | None = None
) -> AccessReview:
    """Close the window (no further logins, sessions end) and open the review of its access report."""
    now = now or timezone.now()
    with transaction.atomic():
        window = MaintenanceWindow.objects.select_for_update().get(pk=window.pk)
        if window.closed_at is not None:
            raise ValidationError(_("この作業時間帯は既に終了処理されています。"))
        window.closed_at = now
        window.save(update_fields=["closed_at", "updated_at"])
        review = AccessReview(
            kind=AccessReview.Kind.MAINTENANCE, window=window, subject_ids=[window.user_id],
            period_start=window.starts_at, period_end=max(window.starts_at, min(now, window.ends_at)), opened_at=now,
        )
        review.full_clean()
        review.save()
        audit_record(
            action="compliance.maintenance.closed", actor=actor, request=request, actor_label="" if actor else "system",
            object_type="maintenance_window", object_ids=[window.pk], detail={"review": review.pk},
        )
    return review


def maintenance_close_expired(*, now: dt.datetime | None = None) -> int:
    """Close every window past its end that nobody closed (each opens its review)."""
    now = now or timezone.now()
    closed = 0
    for window in MaintenanceWindow.objects.filter(closed_at__isnull=True, ends_at__lte=now).order_by("pk"):
        try:
            maintenance_window_close(window=window, actor=None, now=now)
        except ValidationError:
            continue  # closed meanwhile by someone else
        closed += 1
    return closed


# --- Reviews -------------------------------------------------------------------------------------------


def access_review_complete(*, review: AccessReview, notes: str, actor: Any, request: HttpRequest | None = None) -> AccessReview:
    if not notes.strip():
        raise ValidationError(_("確認した内容（所見）を入力してください。"))
    with transaction.atomic():
        review = AccessReview.objects.select_for_update().get(pk=review.pk)
        if review.completed_at is not None:
            raise ValidationError(_("この確認は既に完了しています。"))
        if actor.pk in review.subject_ids:
            raise ValidationError(_("確認の対象者は自分の作業を確認できません。"))
        review.completed_by = actor
        review.completed_at = timezone.now()
        review.notes = notes.strip()
        review.save(update_fields=["completed_by", "completed_at", "notes"])
        audit_record(action="compliance.review.completed", actor=actor, request=request, object_type="access_review",
                     object_ids=[review.pk], detail={"kind": review.kind})
    return review


def emergency_login_refused(*, user: Any, request: HttpRequest | None) -> None:
    """Audit the end of an emergency session whose activation has expired."""
    audit_record(action="compliance.emergency.session_ended", actor=user, request=request, outcome=Outcome.DENIED,
                 detail={"reason": "activation_expired"})


def subjects_of(reviews: Iterable[AccessReview]) -> set[int]:
    return {uid for review in reviews for uid in review.subject_ids}
