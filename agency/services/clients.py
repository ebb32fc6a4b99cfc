"""Writes to machine clients of the REST API and their certificates, each audited in the same transaction.

A client's token is 32 random bytes (URL-safe base64), returned once by ``api_client_create``; only
its SHA-256 is stored. Certificates are registered from their PEM and identified from then on by
the SHA-256 of their DER encoding, which is what ``agency.clientcert`` computes from the
certificate nginx forwards.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from agency.models import ApiClient, ClientCertificate, Institution, Insurer
from audit.services import audit_record

TOKEN_BYTES = 32
# last_used_at is refreshed at most this often, so that a busy client does not write on every call.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_certificate(pem: str | bytes) -> x509.Certificate:
    """The first certificate of a PEM text; ``ValidationError`` when there is none."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        return x509.load_pem_x509_certificate(data.strip())
    except ValueError as error:
        raise ValidationError(_("PEM形式の証明書を読み取れません。"), code="invalid_pem") from error


def certificate_fingerprint(certificate: x509.Certificate) -> str:
    """Hex SHA-256 of the DER encoding (what ``openssl x509 -fingerprint -sha256`` shows, lower case)."""
    return certificate.fingerprint(hashes.SHA256()).hex()


def _serial_hex(certificate: x509.Certificate) -> str:
    # Upper-case hex with an even number of digits, as nginx's $ssl_client_serial writes it.
    text = f"{certificate.serial_number:X}"
    return text if len(text) % 2 == 0 else f"0{text}"


def _subject_numbers(certificate: x509.Certificate) -> list[str]:
    return [
        str(attribute.value)
        for attribute in certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    ]


def _check_usable(certificate: x509.Certificate, now: dt.datetime) -> None:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is not None and constraints.ca:
        raise ValidationError(_("CA証明書はクライアント証明書として登録できません。"), code="ca_certificate")
    try:
        usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usages = None
    if usages is not None and ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
        raise ValidationError(_("クライアント認証用（clientAuth）の証明書ではありません。"), code="not_client_auth")
    if certificate.not_valid_after_utc <= now:
        raise ValidationError(_("有効期間が終了した証明書は登録できません。"), code="expired")


# --- API clients -------------------------------------------------------------------------------------


def api_client_create(
    *,
    name: str,
    actor: Any,
    institution: Institution | None = None,
    insurer: Insurer | None = None,
    request: HttpRequest | None = None,
) -> tuple[ApiClient, str]:
    """Register a machine client of one institution or one insurer; return it and its token.

    The token is returned here only: store it in the client system, it cannot be shown again.
    """
    token = secrets.token_urlsafe(TOKEN_BYTES)
    client = ApiClient(
        name=name,
        institution=institution,
        insurer=insurer,
        token_hash=token_digest(token),
        created_by=actor if getattr(actor, "pk", None) is not None else None,
    )
    client.full_clean()
    with transaction.atomic():
        client.save()
        audit_record(
            action="api_client.created",
            actor=actor,
            request=request,
            object_type="api_client",
            object_ids=[client.pk],
            detail={"name": client.name, "party": client.party_label},
        )
    return client, token


def api_client_deactivate(*, api_client: ApiClient, actor: Any, request: HttpRequest | None = None) -> ApiClient:
    """Stop a client: its certificates and token are refused from now on."""
    if not api_client.is_active:
        return api_client
    api_client.is_active = False
    with transaction.atomic():
        api_client.save(update_fields=["is_active", "updated_at"])
        audit_record(
            action="api_client.deactivated",
            actor=actor,
            request=request,
            object_type="api_client",
            object_ids=[api_client.pk],
            detail={"party": api_client.party_label},
        )
    return api_client


def api_client_mark_used(*, api_client: ApiClient, now: dt.datetime | None = None) -> None:
    """Remember when the client last authenticated (not audited: each request is, where it matters)."""
    now = now or timezone.now()
    if api_client.last_used_at is not None and now - api_client.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiClient.objects.filter(pk=api_client.pk).update(last_used_at=now)
    api_client.last_used_at = now


# --- Client certificates -----------------------------------------------------------------------------


def client_certificate_inspect(pem: str | bytes) -> x509.Certificate:
    """The certificate in ``pem`` if it may be registered; ``ValidationError`` otherwise.

    Refused: unreadable PEM, CA certificates, certificates whose extended key usage excludes
    clientAuth, expired ones, and a certificate already registered (for any client).
    """
    certificate = parse_certificate(pem)
    _check_usable(certificate, timezone.now())
    if ClientCertificate.objects.filter(fingerprint_sha256=certificate_fingerprint(certificate)).exists():
        raise ValidationError(_("この証明書は既に登録されています。"), code="duplicate")
    return certificate


def client_certificate_register(
    *, api_client: ApiClient, pem: str | bytes, actor: Any, request: HttpRequest | None = None
) -> ClientCertificate:
    """Accept the certificate in ``pem`` for ``api_client`` (identified by the SHA-256 of its DER);
    see ``client_certificate_inspect`` for what is refused."""
    if not api_client.is_active:
        raise ValidationError(_("無効なAPIクライアントには証明書を登録できません。"), code="inactive_client")
    certificate = client_certificate_inspect(pem)
    fingerprint = certificate_fingerprint(certificate)
    registered = ClientCertificate(
        api_client=api_client,
        fingerprint_sha256=fingerprint,
        serial_hex=_serial_hex(certificate),
        subject_dn=certificate.subject.rfc4514_string(),
        issuer_dn=certificate.issuer.rfc4514_string(),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
    )
    registered.full_clean()
    party_number = (api_client.institution or api_client.insurer).number  # type: ignore[union-attr]
    with transaction.atomic():
        registered.save()
        audit_record(
            action="client_certificate.registered",
            actor=actor,
            request=request,
            object_type="client_certificate",
            object_ids=[registered.pk],
            detail={
                "api_client": api_client.pk,
                "party": api_client.party_label,
                "fingerprint_sha256": fingerprint,
                "serial": registered.serial_hex,
                "not_after": registered.not_after.isoformat(),
                # The organisation number in the subject (OU) is a cross-check only, never the identity.
                "subject_names_party": party_number in _subject_numbers(certificate),
            },
        )
    return registered


def client_certificate_revoke(
    *, certificate: ClientCertificate, reason: str, actor: Any, request: HttpRequest | None = None
) -> ClientCertificate:
    """Refuse the certificate from now on (the CRL at the TLS proxy is revoked separately)."""
    if certificate.revoked_at is not None:
        raise ValidationError(_("この証明書は既に失効しています。"), code="already_revoked")
    certificate.revoked_at = timezone.now()
    certificate.revoked_reason = reason[:200]
    certificate.full_clean()
    with transaction.atomic():
        certificate.save(update_fields=["revoked_at", "revoked_reason", "updated_at"])
        audit_record(
            action="client_certificate.revoked",
            actor=actor,
            request=request,
            object_type="client_certificate",
            object_ids=[certificate.pk],
            detail={
                "api_client": certificate.api_client_id,
                "fingerprint_sha256": certificate.fingerprint_sha256,
                "reason": certificate.revoked_reason,
            },
        )
    return certificate
