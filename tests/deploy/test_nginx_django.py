"""The real Django app behind the production nginx template: TLS 1.3, client certificates, API clients.

SECURITY.md F1/F2. nginx (deploy/nginx/portal.conf.template, rendered by the harness) runs on
loopback in front of pytest-django's ``live_server`` (a threaded WSGI server on the test database),
so what nginx forwards is exactly what the portal's authentication sees. The certificates are the
harness's dev PKI: ``client`` (valid), ``revoked`` (in nginx's CRL) and ``rogue`` (foreign CA).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from django.utils import timezone

from agency.models import ApiClient, Role
from agency.services.clients import api_client_create, client_certificate_register, client_certificate_revoke
from audit.models import AuditEvent
from intake.checks import contract_terms
from intake.models import Channel, Submission, SubmissionStatus
from kenshin.synth.generator import GeneratorConfig, generate
from kenshin.synth.parties import Parties, SynthContract, SynthInstitution, SynthInsurer

from ..factories import ContractFactory, InstitutionFactory, InsurerFactory, UserFactory
from .nginx_harness import DevPki, NginxServer, Response, https_request

pytestmark = [pytest.mark.tls, pytest.mark.django_db(transaction=True)]

API = "/api/v1/submissions/"


@pytest.fixture
def django_edge(live_server: Any, nginx_factory: Callable[..., NginxServer], settings: Any) -> NginxServer:
    """nginx in front of the live Django server; Django trusts the X-SSL-* headers from loopback only."""
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    port = urlsplit(live_server.url).port
    return nginx_factory(upstream=f"127.0.0.1:{port}")


@pytest.fixture
def contract() -> Any:
    return ContractFactory(
        insurer=InsurerFactory(name="TLS健康保険組合"), institution=InstitutionFactory(name="TLS健診センター")
    )


@pytest.fixture
def api_client(contract: Any) -> tuple[ApiClient, str]:
    admin = UserFactory(role=Role.AGENCY_ADMIN)
    return api_client_create(name="TLS受付システム", institution=contract.institution, actor=admin)


def _archive(contract: Any, seed: int) -> tuple[str, bytes]:
    institution, insurer = contract.institution, contract.insurer
    parties = Parties(
        insurers=(SynthInsurer(insurer.number, insurer.name),),
        institutions=(
            SynthInstitution(institution.number, institution.name, "100-0001", "東京都千代田区1-1", "03-0000-0000"),
        ),
        contracts=(
            SynthContract(
                insurer.number, institution.number, contract.valid_from, contract.valid_to, contract_terms(contract)
            ),
        ),
    )
    [archive] = generate(GeneratorConfig(year=2024, records=2, seed=seed), parties)
    return archive.filename, archive.data


def _register(client: ApiClient, pem: str) -> Any:
    return client_certificate_register(api_client=client, pem=pem, actor=client.created_by)


def _post(edge: NginxServer, context: ssl.SSLContext, token: str, name: str, data: bytes, **headers: str) -> Response:
    return https_request(
        edge,
        context,
        API,
        method="POST",
        headers=[
            ("Authorization", f"Token {token}"),
            ("Content-Type", "application/zip"),
            ("X-Filename", name),
            ("Idempotency-Key", "tls-test-1"),
            *headers.items(),
        ],
        body=data,
    )


def _get(edge: NginxServer, context: ssl.SSLContext, path: str, token: str | None = None) -> Response:
    headers: list[tuple[str, str]] = []
    if token is not None:
        headers.append(("Authorization", f"Token {token}"))
    return https_request(edge, context, path, headers=headers)


def _refusals() -> list[str]:
    return list(
        AuditEvent.objects.filter(action="api.auth_refused").order_by("seq").values_list("detail__reason", flat=True)
    )


# --- the TLS edge in front of Django ----------------------------------------------------------------


def test_tls12_is_refused(django_edge: NginxServer, dev_pki: DevPki) -> None:
    context = dev_pki.client_context(dev_pki.client, maximum_version=ssl.TLSVersion.TLSv1_2)

    with pytest.raises(ssl.SSLError):
        https_request(django_edge, context, API)


@pytest.mark.parametrize("identity", ["none", "revoked", "rogue"])
def test_nginx_refuses_missing_revoked_and_foreign_certificates(
    django_edge: NginxServer, dev_pki: DevPki, api_client: tuple[ApiClient, str], identity: str
) -> None:
    client, token = api_client
    certificate = {"none": None, "revoked": dev_pki.revoked, "rogue": dev_pki.rogue}[identity]
    if certificate is not None:
        # Even registered in Django, a certificate the edge does not accept never reaches it.
        _register(client, certificate.pem)

    response = _get(django_edge, dev_pki.client_context(certificate), API, token)

    assert response.status == 403
    assert response.body == b"client certificate required\n"
    assert _refusals() == []


# --- certificate → API client, in Django --------------------------------------------------------------


def test_registered_certificate_and_token_send_an_archive_for_their_institution(
    django_edge: NginxServer, dev_pki: DevPki, api_client: tuple[ApiClient, str], contract: Any
) -> None:
    client, token = api_client
    registered = _register(client, dev_pki.client.pem)
    assert registered.fingerprint_sha256 == dev_pki.client.sha256
    name, data = _archive(contract, seed=21)
    context = dev_pki.client_context(dev_pki.client)

    response = _post(django_edge, context, token, name, data)

    assert response.tls_version == "TLSv1.3"
    assert response.status == 201, response.body
    body = response.json()
    submission = Submission.objects.get()
    assert body["id"] == submission.pk
    assert body["institution"] == contract.institution.number
    assert submission.institution == contract.institution
    assert submission.channel == Channel.API
    assert submission.archive.size == len(data)
    received = AuditEvent.objects.get(action="intake.received")
    assert received.actor_label == f"api:{client.pk}"
    assert received.tenant == f"institution:{contract.institution.number}"
    assert received.ip == "127.0.0.1"

    # Checking ran after the commit; the retry with the same key is the same submission.
    status = _get(django_edge, context, f"{API}{submission.pk}/", token).json()
    assert status["status"] == SubmissionStatus.ACCEPTED
    assert status["progress"] == {"records_checked": 2, "records_total": 2}
    retry = _post(django_edge, context, token, name, data)
    assert retry.status == 200
    assert retry.json()["id"] == submission.pk
    assert Submission.objects.count() == 1
    client.refresh_from_db()
    assert client.last_used_at is not None and client.last_used_at <= timezone.now()


def test_certificate_unknown_to_django_is_refused(
    django_edge: NginxServer, dev_pki: DevPki, api_client: tuple[ApiClient, str]
) -> None:
    _, token = api_client  # no certificate registered

    response = _get(django_edge, dev_pki.client_context(dev_pki.client), API, token)

    assert response.status == 403
    assert response.json()["code"] == "unknown_cert"
    assert _refusals() == ["unknown_cert"]
    event = AuditEvent.objects.get(action="api.auth_refused")
    assert event.detail["fingerprint_sha256"] == dev_pki.client.sha256
    assert event.detail["tls"] == "TLSv1.3"


def test_certificate_revoked_in_django_is_refused(
    django_edge: NginxServer, dev_pki: DevPki, api_client: tuple[ApiClient, str]
) -> None:
    client, token = api_client
    registered = _register(client, dev_pki.client.pem)
    client_certificate_revoke(certificate=registered, reason="端末の入れ替え", actor=client.created_by)

    response = _get(django_edge, dev_pki.client_context(dev_pki.client), API, token)

    assert response.status == 403
    assert response.json()["code"] == "revoked"
    assert _refusals() == ["revoked"]


def test_certificate_without_the_clients_token_is_refused(
    django_edge: NginxServer, dev_pki: DevPki, api_client: tuple[ApiClient, str]
) -> None:
    client, _ = api_client
    _register(client, dev_pki.client.pem)
    context = dev_pki.client_context(dev_pki.client)

    wrong = _get(django_edge, context, API, "wrong-token")
    missing = _get(django_edge, context, API)

    assert wrong.status == 401
    assert wrong.json()["code"] == "token_mismatch"
    assert wrong.values("WWW-Authenticate") == ['Token realm="api"']
    assert missing.status == 401
    assert _refusals() == ["token_mismatch"]


def test_forged_certificate_header_is_replaced_by_the_edge(
    django_edge: NginxServer, dev_pki: DevPki, api_client: tuple[ApiClient, str], contract: Any
) -> None:
    """A client presenting an unregistered certificate cannot pass off a registered one in the header."""
    client, token = api_client
    _register(client, dev_pki.revoked.pem)  # registered in Django, but the edge refuses it on the wire
    name, data = _archive(contract, seed=22)

    response = _post(
        django_edge,
        dev_pki.client_context(dev_pki.client),
        token,
        name,
        data,
        **{"X-SSL-Client-Cert": quote(dev_pki.revoked.pem, safe=""), "X-SSL-Client-Verify": "SUCCESS"},
    )

    assert response.status == 403
    assert response.json()["code"] == "unknown_cert"
    assert AuditEvent.objects.get(action="api.auth_refused").detail["fingerprint_sha256"] == dev_pki.client.sha256
    assert not Submission.objects.exists()
