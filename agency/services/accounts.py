"""Writes to accounts: users, passwords, admin-assisted resets, second factors, maintenance windows.
Each service audits its change in the same transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from agency.links import absolute_url
from agency.models import CredentialReset, Institution, Insurer, MaintenanceWindow, Role, User
from agency.otp_storage import backup_code_tag
from audit.models import Outcome
from audit.services import audit_record

# --- Accounts ----------------------------------------------------------------------------------------


def _check_tenant(role: str, insurer: Insurer | None, institution: Institution | None) -> None:
    """An insurer's staff belong to one insurer, an institution's to one institution, the agency's to neither."""
    errors: dict[str, str] = {}
    if role not in Role.values:
        errors["role"] = _("役割を選択してください。")
    if role == Role.INSURER_STAFF and insurer is None:
        errors["insurer"] = _("保険者の担当者には所属保険者を選択してください。")
    if role == Role.INSTITUTION_STAFF and institution is None:
        errors["institution"] = _("健診機関の担当者には所属健診機関を選択してください。")
    if role != Role.INSURER_STAFF and insurer is not None:
        errors["insurer"] = _("所属保険者を選べるのは保険者の担当者だけです。")
    if role != Role.INSTITUTION_STAFF and institution is not None:
        errors["institution"] = _("所属健診機関を選べるのは健診機関の担当者だけです。")
    if errors:
        raise ValidationError(errors, code="tenant")


def user_create(
    *,
    username: str,
    password: str | None,
    role: str,
    actor: User | None,
    insurer: Insurer | None = None,
    institution: Institution | None = None,
    fields: Mapping[str, Any] | None = None,
    temporary: bool = False,
    request: HttpRequest | None = None,
) -> User:
    """Create an account after checking the password against every rule in force.

    ``temporary``: the password was chosen by someone else (an administrator); the user must
    replace it at the first login before anything else is reachable. ``password=None``: no password
    yet; the person sets one through a reset link (``user_invite``).

    Accounts made here never reach the Django admin (``is_staff``/``is_superuser`` stay off): that is
    for superusers made with ``manage.py createsuperuser`` only.
    """
    _check_tenant(role, insurer, institution)
    user = User(username=username, role=role, insurer=insurer, institution=institution, **(fields or {}))
    user.must_change_password = temporary and password is not None
    if password is None:
        user.set_unusable_password()
    else:
        password_validation.validate_password(password, user)
        user.set_password(password)
    user.full_clean()
    with transaction.atomic():
        user.save()
        audit_record(
            action="account.created", actor=actor, request=request, object_type="user", object_ids=[user.pk],
            detail={"role": role, "tenant": user.tenant_label,
                    "setup": "reset_link" if password is None else "temporary" if temporary else "chosen"},
        )
    return user


def user_invite(
    *,
    username: str,
    role: str,
    actor: User,
    method: str,
    document_reference: str,
    verified_at: dt.datetime,
    request: HttpRequest,
    insurer: Insurer | None = None,
    institution: Institution | None = None,
    fields: Mapping[str, Any] | None = None,
) -> tuple[User, CredentialReset]:
    """Create an account without a password and, the person's identity verified (本人確認記録), e-mail them
    the one-time link to set it (``credential_reset_issue``): nobody else ever knows the password."""
    if not (fields or {}).get("email"):
        raise ValidationError({"email": _("再設定リンクを送るメールアドレスを入力してください。")}, code="no_email")
    with transaction.atomic():
        user = user_create(username=username, password=None, role=role, actor=actor, insurer=insurer,
                           institution=institution, fields=fields, request=request)
        entry = credential_reset_issue(user=user, actor=actor, method=method, document_reference=document_reference,
                                       verified_at=verified_at, request=request)
    return user, entry


USER_FIELDS = ("last_name", "first_name", "full_name_kana", "email", "phone", "birth_date")


def user_update(
    *,
    user: User,
    actor: User,
    role: str,
    insurer: Insurer | None = None,
    institution: Institution | None = None,
    fields: Mapping[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> User:
    """Change a person's details, role or the party they act for (audited with what changed; the values of
    personal details are not written to the audit log, only which ones changed)."""
    _check_tenant(role, insurer, institution)
    if user.pk == actor.pk and role != user.role:
        raise ValidationError({"role": _("自分自身の役割は変更できません。別の管理者に依頼してください。")}, code="own_role")
    if user.role == Role.AGENCY_ADMIN and role != Role.AGENCY_ADMIN:
        _keep_an_administrator(user)
    old_role, old_tenant = user.role, user.tenant_label
    changed = [name for name, value in (fields or {}).items() if name in USER_FIELDS and getattr(user, name) != value]
    for name in changed:
        setattr(user, name, (fields or {})[name])
    user.role, user.insurer, user.institution = role, insurer, institution
    user.full_clean()
    with transaction.atomic():
        user.save()
        detail: dict[str, Any] = {"changed": changed}
        if old_role != role:
            detail["role"] = {"old": old_role, "new": role}
        if old_tenant != user.tenant_label:
            detail["tenant"] = {"old": old_tenant, "new": user.tenant_label}
        audit_record(action="account.updated", actor=actor, request=request, object_type="user", object_ids=[user.pk],
                     detail=detail)
    return user


def _keep_an_administrator(user: User) -> None:
    others = User.objects.filter(role=Role.AGENCY_ADMIN, is_active=True).exclude(pk=user.pk)
    if not others.exists():
        raise ValidationError(_("有効な代行機関の管理者が他にいなくなるため、変更できません。"), code="last_admin")


def user_set_active(*, user: User, active: bool, reason: str, actor: User, request: HttpRequest | None = None) -> User:
    """Disable an account (it can no longer log in, and its open sessions end at their next request) or
    enable it again; the reason is kept in the audit log."""
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError({"reason": _("理由を入力してください。")}, code="reason_required")
    if user.is_active == active:
        raise ValidationError(_("この利用者は既に有効です。") if active else _("この利用者は既に無効です。"), code="unchanged")
    if not active:
        if user.pk == actor.pk:
            raise ValidationError(_("自分自身は無効にできません。"), code="self_disable")
        if user.role == Role.AGENCY_ADMIN:
            _keep_an_administrator(user)
    with transaction.atomic():
        user.is_active = active
        user.save(update_fields=["is_active"])
        audit_record(
            action="account.enabled" if active else "account.disabled", actor=actor, request=request, object_type="user",
            object_ids=[user.pk], detail={"reason": reason[:300]},
        )
    return user


def user_password_change(*, user: User, new_password: str, request: HttpRequest | None = None) -> User:
    password_validation.validate_password(new_password, user)
    with transaction.atomic():
        user.set_password(new_password)
        user.must_change_password = False
        user.save(update_fields=["password", "must_change_password"])
        audit_record(action="account.password_changed", actor=user, request=request, object_type="user", object_ids=[user.pk])
    return user


def credential_reset_check(*, user: User, actor: User) -> None:
    """Whether ``actor`` may have a reset link sent to ``user`` (ValidationError saying why not)."""
    if user.pk == actor.pk:
        raise ValidationError(_("自分自身のパスワード再設定は、別の管理者が本人確認を行ってください。"), code="self_reset")
    if not user.email:
        raise ValidationError(_("この利用者にはメールアドレスが登録されていません。"), code="no_email")


def credential_reset_issue(
    *,
    user: User,
    actor: User,
    method: str,
    document_reference: str,
    verified_at: dt.datetime,
    request: HttpRequest,
) -> CredentialReset:
    """After an administrator has verified the person's identity: record how (本人確認記録), disable
    the current password and e-mail a one-time link to the registered address. The link is valid
    for ``PASSWORD_RESET_TIMEOUT`` seconds and only until a password is set with it; nobody but the
    person ever chooses or sees the new password, and neither the ledger nor the audit log holds the link.
    """
    credential_reset_check(user=user, actor=actor)
    entry = CredentialReset(
        user=user, method=method, document_reference=document_reference.strip(), verified_at=verified_at, verified_by=actor
    )
    entry.full_clean()  # the method among the choices, a reference given
    with transaction.atomic():
        entry.save()
        user.set_unusable_password()
        user.must_change_password = False
        user.save(update_fields=["password", "must_change_password"])
        audit_record(
            action="account.reset_link_issued",
            actor=actor,
            request=request,
            object_type="user",
            object_ids=[user.pk],
            detail={"ledger": entry.pk, "method": method},
        )
        path = reverse(
            "accounts:password_reset_confirm",
            args=[urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)],
        )
        minutes = settings.PASSWORD_RESET_TIMEOUT // 60
        send_mail(
            _("[代行機関ポータル] パスワード再設定のご案内"),
            _(
                "%(name)s 様\n\n本人確認のうえ、パスワード再設定を受け付けました。次のリンクから %(minutes)s 分以内に"
                "新しいパスワードを設定してください（一度だけ使えます）。\n\n%(link)s\n\n"
                "お心当たりのない場合は、このメールを破棄し代行機関へご連絡ください。"
            )
            % {"name": user.get_full_name() or user.username, "minutes": minutes, "link": absolute_url(path, request)},
            None,
            [user.email],
        )
    return entry


# --- Second factor -----------------------------------------------------------------------------------


def otp_device_pending(*, user: User) -> TOTPDevice:
    """The unconfirmed TOTP device the user is enrolling (created on first use)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    return device


def otp_enrolment_confirm(*, user: User, token: str, request: HttpRequest) -> list[str] | None:
    """Confirm the pending device with its first valid code; return the new backup codes.

    Returns None (and audits the failure) when the code does not match.
    """
    device = otp_device_pending(user=user)
    if not device.verify_token(token):
        audit_record(action="auth.otp_enrolment_failed", actor=user, request=request, outcome=Outcome.FAILURE)
        return None
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        codes = backup_codes_regenerate(user=user)
        otp_login(request, device)
        audit_record(
            action="auth.otp_enrolled", actor=user, request=request, object_type="otp_device", object_ids=[device.pk]
        )
    return codes


def backup_codes_regenerate(*, user: User) -> list[str]:
    """Replace the user's single-use backup codes; the caller shows them once."""
    static, _created = StaticDevice.objects.get_or_create(user=user, name="backup")
    static.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(settings.OTP_BACKUP_CODE_COUNT)]
    # bulk_create sends no pre_save: each code is stored as its keyed hash here (agency.otp_storage)
    StaticToken.objects.bulk_create([StaticToken(device=static, token=backup_code_tag(code)) for code in codes])
    return codes


def otp_verify(*, user: User, token: str, request: HttpRequest) -> bool:
    """Check a TOTP or backup code against the user's confirmed devices and mark the session."""
    device = match_token(user, token.strip().replace(" ", ""))
    if device is None:
        audit_record(action="auth.otp_failed", actor=user, request=request, outcome=Outcome.FAILURE)
        return False
    otp_login(request, device)
    kind = "backup_code" if isinstance(device, StaticDevice) else "totp"
    audit_record(action="auth.otp_verified", actor=user, request=request, detail={"factor": kind})
    return True


def user_reauthenticate(*, user: User, password: str, token: str, request: HttpRequest) -> bool:
    """Whether ``password`` is the user's, or ``token`` a fresh code of one of their confirmed TOTP
    devices (not one used before: django-otp refuses a replay; throttled after failures). Backup
    codes do not count. Audited either way."""
    factor = ""
    if password and user.check_password(password):
        factor = "password"
    elif token:
        for device in TOTPDevice.objects.filter(user=user, confirmed=True):
            allowed, _reason = device.verify_is_allowed()
            if allowed and device.verify_token(token.strip().replace(" ", "")):
                factor = "totp"
                break
    if not factor:
        audit_record(
            action="auth.reauthentication_failed", actor=user, request=request, outcome=Outcome.FAILURE,
            detail={"factor": "password" if password else "totp"},
        )
        return False
    audit_record(action="auth.reauthenticated", actor=user, request=request, detail={"factor": factor})
    return True


def user_has_confirmed_totp(*, user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


# --- Maintenance windows -----------------------------------------------------------------------------


def maintenance_window_open_for(*, user: User, at: dt.datetime | None = None) -> MaintenanceWindow | None:
    moment = at or timezone.now()
    return (
        MaintenanceWindow.objects.filter(user=user, closed_at__isnull=True, starts_at__lte=moment, ends_at__gt=moment)
        .order_by("starts_at")
        .first()
    )
