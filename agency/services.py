"""Writes to parties and accounts. Each service audits its change in the same transaction."""

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
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import Outcome
from audit.services import audit_record

from .links import absolute_url
from .models import Contract, CredentialReset, Institution, Insurer, MaintenanceWindow, Role, User

# --- Parties ---------------------------------------------------------------------------------------


def _save_party(instance: Any, *, actor: User | None, action: str, request: HttpRequest | None) -> Any:
    created = instance.pk is None
    instance.full_clean()
    with transaction.atomic():
        instance.save()
        audit_record(
            action=f"{action}.{'created' if created else 'updated'}",
            actor=actor,
            request=request,
            object_type=action.split(".")[-1],
            object_ids=[instance.pk],
        )
    return instance


def insurer_save(*, insurer: Insurer, actor: User | None, request: HttpRequest | None = None) -> Insurer:
    return _save_party(insurer, actor=actor, action="party.insurer", request=request)


def institution_save(
    *, institution: Institution, actor: User | None, request: HttpRequest | None = None
) -> Institution:
    return _save_party(institution, actor=actor, action="party.institution", request=request)


def contract_save(*, contract: Contract, actor: User | None, request: HttpRequest | None = None) -> Contract:
    return _save_party(contract, actor=actor, action="party.contract", request=request)


def institution_archive_password_set(
    *, institution: Institution, password: str, actor: User | None, request: HttpRequest | None = None
) -> Institution:
    """Register (or, with an empty password, clear) the password the institution locks its archives with."""
    from .crypto import encrypt_text

    with transaction.atomic():
        institution.archive_password = encrypt_text(password) if password else ""
        institution.save(update_fields=["archive_password", "updated_at"])
        audit_record(
            action="party.institution.archive_password_set" if password else "party.institution.archive_password_cleared",
            actor=actor, request=request, object_type="institution", object_ids=[institution.pk],
        )
    return institution


# --- Accounts ----------------------------------------------------------------------------------------


def user_create(
    *,
    username: str,
    password: str,
    role: str,
    actor: User | None,
    insurer: Insurer | None = None,
    institution: Institution | None = None,
    fields: Mapping[str, Any] | None = None,
    temporary: bool = False,
) -> User:
    """Create an account after checking the password against every rule in force.

    ``temporary``: the password was chosen by someone else (an administrator); the user must
    replace it at the first login before anything else is reachable.
    """
    user = User(username=username, role=role, insurer=insurer, institution=institution, **(fields or {}))
    user.must_change_password = temporary
    user.is_staff = role == Role.AGENCY_ADMIN
    user.is_superuser = role == Role.AGENCY_ADMIN
    password_validation.validate_password(password, user)
    user.set_password(password)
    user.full_clean()
    with transaction.atomic():
        user.save()
        audit_record(
            action="account.created", actor=actor, object_type="user", object_ids=[user.pk], detail={"role": role}
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
    from django_otp import login as otp_login

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
    StaticToken.objects.bulk_create([StaticToken(device=static, token=code) for code in codes])
    return codes


def otp_verify(*, user: User, token: str, request: HttpRequest) -> bool:
    """Check a TOTP or backup code against the user's confirmed devices and mark the session."""
    from django_otp import login as otp_login
    from django_otp import match_token

    device = match_token(user, token.strip().replace(" ", ""))
    if device is None:
        audit_record(action="auth.otp_failed", actor=user, request=request, outcome=Outcome.FAILURE)
        return False
    otp_login(request, device)
    kind = "backup_code" if isinstance(device, StaticDevice) else "totp"
    audit_record(action="auth.otp_verified", actor=user, request=request, detail={"factor": kind})
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


# --- Synthetic parties (tests, benchmarks, demo archives) ---------------------------------------------


def contract_from_terms(
    *,
    insurer: Insurer,
    institution: Institution,
    terms: Any,
    valid_from: dt.date,
    valid_to: dt.date | None = None,
    actor: User | None = None,
) -> Contract:
    """A contract (with its additional-item prices) carrying the prices and copay rules of
    ``kenshin.copay.ContractTerms``; the inverse of ``terms_from_contract``."""
    from kenshin.copay import DETAIL_PRICE_FIELDS

    from .models import ContractOtherItem

    fields: dict[str, Any] = {
        "commission_type": int(terms.commission_type.value),
        "basic_price": terms.basic_price,
        **{name: terms.detail_prices.get(item, 0) for item, name in DETAIL_PRICE_FIELDS.items()},
    }
    for component in ("basic", "detail", "other"):
        rule = getattr(terms, f"{component}_copay")
        fields[f"{component}_copay_code"] = int(rule.code.value)
        fields[f"{component}_copay_amount"] = rule.amount
        fields[f"{component}_copay_rate"] = rule.rate
        fields[f"{component}_copay_cap"] = rule.cap
    contract = contract_save(
        contract=Contract(insurer=insurer, institution=institution, valid_from=valid_from, valid_to=valid_to, **fields),
        actor=actor,
    )
    items = [ContractOtherItem(contract=contract, item_code=code, price=price) for code, price in terms.other_prices.items()]
    for item in items:
        item.full_clean()
    ContractOtherItem.objects.bulk_create(items)
    return contract


def synthetic_parties_load(*, parties: Any, actor: User | None = None, agency_number: str | None = None) -> dict[str, int]:
    """Create the insurers, institutions and contracts of a synthetic ``Parties`` set that do not
    exist yet (idempotent), so generated archives meet real reference data.

    ``agency_number`` (the receiver written into the archives) is set as the agency's code when
    an agency profile exists.
    """
    from .models import AgencyProfile

    created = {"insurers": 0, "institutions": 0, "contracts": 0}
    with transaction.atomic():
        if agency_number:
            AgencyProfile.objects.exclude(agency_code=agency_number).update(agency_code=agency_number)
        for item in parties.insurers:
            if not Insurer.objects.filter(number=item.number).exists():
                insurer_save(insurer=Insurer(number=item.number, name=item.name, contract_start=dt.date(2020, 4, 1)), actor=actor)
                created["insurers"] += 1
        for item in parties.institutions:
            if not Institution.objects.filter(number=item.number).exists():
                institution_save(
                    institution=Institution(
                        number=item.number, name=item.name, postal_code=item.postal_code, address=item.address,
                        phone=item.telephone,
                    ),
                    actor=actor,
                )
                created["institutions"] += 1
        for item in parties.contracts:
            exists = Contract.objects.filter(
                insurer__number=item.insurer_number, institution__number=item.institution_number,
                commission_type=int(item.terms.commission_type.value), valid_from=item.valid_from,
            ).exists()
            if exists:
                continue
            contract_from_terms(
                insurer=Insurer.objects.get(number=item.insurer_number),
                institution=Institution.objects.get(number=item.institution_number),
                terms=item.terms, valid_from=item.valid_from, valid_to=item.valid_to, actor=actor,
            )
            created["contracts"] += 1
    return created
