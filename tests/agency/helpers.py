"""Helpers for accounts and machine clients (maintenance windows, client certificates, API clients) and
for leases on background work (a worker that died holding one, the clock moved past its expiry)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.utils import timezone

from agency.leases import lease_claim, lease_key
from agency.models import ApiClient, ClientCertificate, MaintenanceWindow, WorkLease
from agency.services.clients import api_client_create, client_certificate_register

from ..factories import MaintenanceWindowFactory

PROXY = "127.0.0.1"  # the TLS proxy's address, trusted in the API tests


def open_window(user: Any, *, minutes: int = 120) -> MaintenanceWindow:
    """An approved maintenance window of ``user``, open from a minute ago for ``minutes`` more."""
    return MaintenanceWindowFactory(user=user, ends_at=timezone.now() + timedelta(minutes=minutes))


def make_certificate(
    common_name: str,
    *,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    ca: bool = False,
    usage: x509.ObjectIdentifier = ExtendedKeyUsageOID.CLIENT_AUTH,
    organisation_number: str = "",
) -> str:
    """A self-signed ECDSA P-256 certificate as PEM (the proxy has verified the chain already)."""
    key = ec.generate_private_key(ec.SECP256R1())
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "テスト健診センター"),
    ]
    if organisation_number:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, organisation_number))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    name = x509.Name(attributes)
    now = timezone.now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - dt.timedelta(days=1))
        .not_valid_after(not_after or now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode("ascii")


@dataclass
class Machine:
    """An API client with its token and one registered certificate."""

    client: ApiClient
    token: str
    pem: str
    certificate: ClientCertificate

    def headers(
        self, *, token: str | None = None, pem: str | None = None, peer: str = PROXY, verify: str = "SUCCESS"
    ) -> dict[str, str]:
        return {
            "REMOTE_ADDR": peer,
            "HTTP_AUTHORIZATION": f"Token {self.token if token is None else token}",
            "HTTP_X_SSL_CLIENT_VERIFY": verify,
            # nginx's $ssl_client_escaped_cert
            "HTTP_X_SSL_CLIENT_CERT": quote(self.pem if pem is None else pem, safe=""),
            "HTTP_X_SSL_PROTOCOL": "TLSv1.3",
        }

    def http_headers(self) -> dict[str, str]:
        """The same as HTTP header names, for clients other than Django's (a WSGI or HTTP client)."""
        return {
            "Authorization": f"Token {self.token}",
            "X-SSL-Client-Verify": "SUCCESS",
            "X-SSL-Client-Cert": quote(self.pem, safe=""),
            "X-SSL-Protocol": "TLSv1.3",
        }


def machine_for(*, actor: Any, institution: Any = None, insurer: Any = None, name: str = "受付システム") -> Machine:
    """An API client of ``institution`` or ``insurer`` with its token and one registered certificate."""
    client, token = api_client_create(name=name, institution=institution, insurer=insurer, actor=actor)
    pem = make_certificate(f"client-{client.pk}")
    return Machine(client, token, pem, client_certificate_register(api_client=client, pem=pem, actor=actor))

def held_by_dead_worker(task: str, args: list[Any], subject: str = "") -> WorkLease:
    """The lease of ``task(*args)`` as a worker killed in the middle of it leaves it: running, claimed
    by a holder that will never renew it or release it (it expires after WORK_LEASE_SECONDS)."""
    assert lease_claim(task=task, args=args, subject=subject) is not None
    return WorkLease.objects.get(key=lease_key(task, args))


def after(seconds: float) -> Any:
    """Travel ``seconds`` (plus one) ahead, the clock ticking on: ``with after(settings.WORK_LEASE_SECONDS):``."""
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds + 1))
