"""The TLS probe judges what is actually served (probe ``tls_served``, evidence from
``compliance.transport``): requests over plain HTTP, around the TLS proxy, through a proxy without the
portal's nginx configuration, with an older TLS or without a client certificate fail it — and the
別添 export then does not mark the item 実施済; requests as the portal's nginx passes them pass it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from compliance import probes, transport
from compliance.checklist import checklist
from compliance.export import as_text, form_context
from compliance.models import ProbeStatus, TransportKind, TransportSighting
from compliance.services.checklist import probes_run

pytestmark = pytest.mark.django_db

PROXY = "172.30.250.2"
LOGIN = reverse("accounts:login")
NGINX = {  # what the portal's nginx configuration sets for a request with a verified client certificate
    "REMOTE_ADDR": PROXY,
    "HTTP_X_FORWARDED_PROTO": "https",
    "HTTP_X_FORWARDED_FOR": "198.51.100.7",
    "HTTP_X_SSL_PROTOCOL": "TLSv1.3",
    "HTTP_X_SSL_CLIENT_VERIFY": "SUCCESS",
}


@pytest.fixture(autouse=True)
def _recording(settings: Any) -> Iterator[None]:
    settings.COMPLIANCE_TRANSPORT_RECORD = True
    settings.COMPLIANCE_TRANSPORT_RECORD_SECONDS = 0
    settings.TRUSTED_PROXIES = [f"{PROXY}/32"]
    settings.PORTAL_BASE_URL = "https://portal.example.jp"
    transport.forget()
    yield
    transport.forget()


def _get(path: str = LOGIN, **meta: str) -> None:
    Client().get(path, **meta)


def _exchange_12_marked_done() -> bool:
    item = checklist().items["exchange-12"]
    [line] = [line for line in as_text(form_context()).splitlines() if line.startswith(f"{item.no}.\t{item.text}\t")]
    return line.startswith(f"{item.no}.\t{item.text}\t■")


def test_requests_as_the_portals_nginx_passes_them_pass(settings: Any) -> None:
    _get(**NGINX)
    _get(reverse("healthz"))  # the container's own health check on loopback does not count
    _get("/disclosure/", **{**NGINX, "HTTP_X_SSL_CLIENT_VERIFY": "NONE"})  # the public server, no certificate needed

    result = probes.measure("tls_served")
    probes_run(keys=["tls_config", "tls_served"])

    assert result.status == ProbeStatus.PASS, result.value
    assert result.detail["counts"] == {TransportKind.SECURE: 1, TransportKind.PUBLIC: 1}
    assert _exchange_12_marked_done()


@pytest.mark.parametrize(
    ("meta", "kind"),
    [
        ({"REMOTE_ADDR": "198.51.100.7"}, TransportKind.PLAIN_HTTP),  # bin/portal serve, gunicorn reached directly
        ({**NGINX, "HTTP_X_FORWARDED_PROTO": "http"}, TransportKind.PLAIN_HTTP),  # the proxy took plain HTTP
        ({"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_PROTO": "https"}, TransportKind.UNCONFIGURED_PROXY),  # another nginx configuration
        ({**NGINX, "HTTP_X_SSL_PROTOCOL": "TLSv1.2"}, TransportKind.OLD_TLS),
        ({**NGINX, "HTTP_X_SSL_CLIENT_VERIFY": "NONE"}, TransportKind.NO_CLIENT_CERTIFICATE),
    ],
)
def test_anything_else_fails_and_the_item_is_not_done(meta: dict[str, str], kind: str) -> None:
    _get(**NGINX)  # good requests do not outweigh a bad one
    _get(**meta)

    result = probes.measure("tls_served")
    probes_run(keys=["tls_config", "tls_served"])

    assert result.status == ProbeStatus.FAIL
    assert result.detail["counts"][kind] == 1 and str(TransportKind(kind).label) in result.value
    assert not _exchange_12_marked_done()


def test_plain_http_is_recorded_before_the_https_redirect(settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = True
    Client().get(LOGIN, REMOTE_ADDR="198.51.100.7")

    assert TransportSighting.objects.get().kind == TransportKind.PLAIN_HTTP


def test_a_plain_http_address_for_users_fails(settings: Any) -> None:
    settings.PORTAL_BASE_URL = "http://127.0.0.1:8000"
    _get(**NGINX)

    result = probes.measure("tls_served")

    assert result.status == ProbeStatus.FAIL and "http://127.0.0.1:8000" in result.value


def test_without_traffic_through_the_proxy_nothing_is_claimed() -> None:
    result = probes.measure("tls_served")

    assert result.status == ProbeStatus.UNKNOWN
    probes_run(keys=["tls_config", "tls_served"])
    assert not _exchange_12_marked_done()


def test_counts_are_written_at_most_once_per_interval(settings: Any) -> None:
    settings.COMPLIANCE_TRANSPORT_RECORD_SECONDS = 3600
    for _ in range(3):
        _get(**NGINX)
    _get()

    rows = {row.kind: row.count for row in TransportSighting.objects.all()}
    assert rows == {TransportKind.SECURE: 1, TransportKind.PLAIN_HTTP: 1}  # the next two secure ones wait for the next write
