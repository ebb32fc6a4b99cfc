"""REST API authentication of machine clients: a verified TLS client certificate plus a token.

nginx terminates TLS 1.3, verifies the client certificate against the agency's CAs and CRL and
forwards it URL-encoded in ``X-SSL-Client-Cert`` (SECURITY.md §3.3/§3.4). Django believes those
headers only from an address in ``TRUSTED_PROXIES``. The certificate is identified by the SHA-256
of its DER encoding among the registered, unrevoked, unexpired certificates; the request must also
carry ``Authorization: Token <token>`` of the same client. Either factor alone is refused.

Requests without a ``Token`` authorization header are left to the next authentication class (the
portal session of a human user). Every refusal is audited as ``api.auth_refused`` with its reason.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any, NoReturn
from urllib.parse import unquote

from cryptography import x509
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication, get_authorization_header
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from audit.models import Outcome
from audit.services import audit_record
from core import tenancy
from core.http import is_trusted_proxy

from .models import ApiClient, ClientCertificate, Institution, Insurer, Role
from .scoping import tenant_scope
from .services.clients import api_client_mark_used, certificate_fingerprint, token_digest

KEYWORD = "Token"
VERIFY_HEADER = "HTTP_X_SSL_CLIENT_VERIFY"
CERT_HEADER = "HTTP_X_SSL_CLIENT_CERT"
PROTOCOL_HEADER = "HTTP_X_SSL_PROTOCOL"


class Refusal:
    """Reasons for refusing a machine client, as written to the audit log and the JSON answer."""

    UNTRUSTED_PEER = "untrusted_peer"
    NO_CERT = "no_cert"
    UNKNOWN_CERT = "unknown_cert"
    REVOKED = "revoked"
    EXPIRED = "expired"
    INACTIVE = "inactive"
    TOKEN_MISMATCH = "token_mismatch"  # noqa: S105 - a reason code, not a secret


_MESSAGES: dict[str, Promise] = {
    Refusal.UNTRUSTED_PEER: _("クライアント証明書は所定のTLS終端を経由した接続でのみ受け付けます。"),
    Refusal.NO_CERT: _("検証済みのクライアント証明書がありません。"),
    Refusal.UNKNOWN_CERT: _("クライアント証明書が登録されていません。"),
    Refusal.REVOKED: _("クライアント証明書は失効しています。"),
    Refusal.EXPIRED: _("クライアント証明書の有効期間外です。"),
    Refusal.INACTIVE: _("APIクライアントまたはその所属機関は無効です。"),
    Refusal.TOKEN_MISMATCH: _("トークンが証明書のAPIクライアントのものではありません。"),
}


class CertificateRefused(exceptions.PermissionDenied):
    """403: the certificate does not let this connection in, whatever the token."""


class TokenRefused(exceptions.AuthenticationFailed):
    """401: the certificate is acceptable, but the token does not belong to its client."""


class ApiClientPrincipal:
    """``request.user`` of a machine client: not stored, built per request from its certificate.

    It answers what ``PortalPermission``, the selectors and ``audit_record`` ask of a user: the role
    (staff of its one institution or insurer), the party ids, a name for the audit log. Its
    ``pk`` is None, so audit events carry no user id, only the label ``api:<client id>``.
    """

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    is_agency_staff = False
    is_machine_client = True
    pk = None
    id = None

    def __init__(self, api_client: ApiClient, certificate: ClientCertificate) -> None:
        self.api_client = api_client
        self.certificate = certificate

    def __str__(self) -> str:
        return self.get_username()

    def __repr__(self) -> str:
        return f"<ApiClientPrincipal {self.get_username()} {self.tenant_label}>"

    def get_username(self) -> str:
        return f"api:{self.api_client.pk}"

    @property
    def username(self) -> str:
        return self.get_username()

    def is_verified(self) -> bool:
        # The certificate verified by the TLS proxy and the token are this client's two factors.
        return True

    @property
    def role(self) -> str:
        return Role.INSTITUTION_STAFF if self.api_client.institution_id else Role.INSURER_STAFF

    @property
    def institution_id(self) -> int | None:
        return self.api_client.institution_id

    @property
    def insurer_id(self) -> int | None:
        return self.api_client.insurer_id

    @property
    def institution(self) -> Institution | None:
        return self.api_client.institution

    @property
    def insurer(self) -> Insurer | None:
        return self.api_client.insurer

    @property
    def tenant_label(self) -> str:
        return self.api_client.party_label

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False  # Django model permissions (the admin) are for agency staff only

    def has_perms(self, perms: Any, obj: Any = None) -> bool:
        return False

    def has_module_perms(self, app_label: str) -> bool:
        return False


def _party_active(api_client: ApiClient) -> bool:
    party = api_client.institution or api_client.insurer
    return bool(api_client.is_active and party is not None and party.is_active)


class ClientCertificateTokenAuthentication(BaseAuthentication):
    """``Authorization: Token …`` together with the client certificate forwarded by the TLS proxy."""

    def authenticate_header(self, request: Request) -> str:
        return f'{KEYWORD} realm="api"'

    def authenticate(self, request: Request) -> tuple[ApiClientPrincipal, ClientCertificate] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        http: HttpRequest = request._request
        meta = http.META
        if not is_trusted_proxy(meta.get("REMOTE_ADDR", "")):
            self._refuse(http, Refusal.UNTRUSTED_PEER)
        escaped = meta.get(CERT_HEADER, "")
        if meta.get(VERIFY_HEADER) != "SUCCESS" or not escaped:
            self._refuse(http, Refusal.NO_CERT, detail={"verify": meta.get(VERIFY_HEADER, "")[:100]})
        try:
            certificate = x509.load_pem_x509_certificate(unquote(escaped).strip().encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            self._refuse(http, Refusal.NO_CERT, detail={"verify": "unreadable"})
        fingerprint = certificate_fingerprint(certificate)
        registered = (
            ClientCertificate.objects.select_related("api_client__institution", "api_client__insurer")
            .filter(fingerprint_sha256=fingerprint)
            .first()
        )
        if registered is None:
            self._refuse(http, Refusal.UNKNOWN_CERT, fingerprint=fingerprint)
        client = registered.api_client
        if registered.revoked_at is not None:
            self._refuse(http, Refusal.REVOKED, fingerprint=fingerprint, registered=registered)
        now = timezone.now()
        if not registered.not_before <= now < registered.not_after:
            self._refuse(http, Refusal.EXPIRED, fingerprint=fingerprint, registered=registered)
        if not _party_active(client):
            self._refuse(http, Refusal.INACTIVE, fingerprint=fingerprint, registered=registered)
        token = parts[1].decode("latin-1") if len(parts) == 2 else ""
        if not token or not hmac.compare_digest(token_digest(token), client.token_hash):
            self._refuse(http, Refusal.TOKEN_MISMATCH, fingerprint=fingerprint, registered=registered)
        api_client_mark_used(api_client=client, now=now)
        principal = ApiClientPrincipal(client, registered)
        # From here on the request reads the tenant tables as this client's institution or insurer
        # (restored with the rest of the request's scope by TenantScopeMiddleware).
        tenancy.activate(tenant_scope(principal))
        return principal, registered

    @staticmethod
    def _refuse(
        http: HttpRequest,
        reason: str,
        *,
        fingerprint: str = "",
        registered: ClientCertificate | None = None,
        detail: dict[str, Any] | None = None,
    ) -> NoReturn:
        audit_record(
            action="api.auth_refused",
            request=http,
            outcome=Outcome.DENIED,
            object_type="client_certificate" if registered is not None else "",
            object_ids=[registered.pk] if registered is not None else [],
            actor_label=f"api:{registered.api_client_id}" if registered is not None else "",
            detail={
                "reason": reason,
                "peer": http.META.get("REMOTE_ADDR", ""),
                "tls": http.META.get(PROTOCOL_HEADER, "")[:16],
                **({"fingerprint_sha256": fingerprint} if fingerprint else {}),
                **(detail or {}),
            },
        )
        body = {"detail": _MESSAGES[reason], "code": reason}
        if reason == Refusal.TOKEN_MISMATCH:
            raise TokenRefused(body)
        raise CertificateRefused(body)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """REST framework's handler, except that a refusal of this module does not roll back.

    Under ``ATOMIC_REQUESTS`` the default handler marks the request's transaction for rollback,
    which would take the ``api.auth_refused`` event with it. Authentication runs before the view
    has written anything, so the refusal leaves nothing but that event to commit.
    """
    if isinstance(exc, CertificateRefused | TokenRefused):
        headers = {"WWW-Authenticate": exc.auth_header} if getattr(exc, "auth_header", None) else None
        return Response(exc.detail, status=exc.status_code, headers=headers)
    # api_settings imports the dotted path it is configured with; the stubs also allow the unimported string.
    return api_settings.EXCEPTION_HANDLER(exc, context)  # type: ignore[operator]


class ClientCertificateApiMixin:
    """For API views open to machine clients (certificate + token) and to portal sessions.

    The certificate+token class comes first, so that an unauthenticated request is challenged
    with ``WWW-Authenticate: Token`` (401).
    """

    authentication_classes: Sequence[type[BaseAuthentication]] = [ClientCertificateTokenAuthentication, SessionAuthentication]
    machine_clients = True

    def get_exception_handler(self) -> Any:
        return exception_handler


class PortalSessionApiMixin(ClientCertificateApiMixin):
    """For API views of the portal's own users only (the parties): a machine client is recognised by
    its certificate and token, then refused with 403 and the refusal audited (``PortalPermission``)."""

    machine_clients = False


class ClientCertificateTokenScheme(OpenApiAuthenticationExtension):
    """The OpenAPI description of the machine-client authentication."""

    target_class = "agency.clientcert.ClientCertificateTokenAuthentication"
    name = "clientCertificateToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "TLS 1.3 client certificate registered for the API client (verified by the TLS proxy) "
                "and `Authorization: Token <token>` issued to the same client. Both are required."
            ),
        }
