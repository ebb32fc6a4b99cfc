"""The production nginx template on loopback: TLS 1.3 only, client certificates, header hygiene.

SECURITY.md §3.6 / control F1. The template under test is deploy/nginx/portal.conf.template,
rendered exactly as in the container; the upstream is a loopback echo server.
"""

from __future__ import annotations

import re
import ssl
import subprocess
import uuid
from typing import Any
from urllib.parse import quote

import pytest

from .nginx_harness import (
    IO_TIMEOUT,
    DevPki,
    EchoUpstream,
    NginxServer,
    Response,
    cert_serial_hex,
    https_request,
    pem_sha256,
    unescape_cert_header,
)

pytestmark = pytest.mark.tls

ALLOWED_TLS13_SUITES = {
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_128_CCM_SHA256",
}
HSTS = "max-age=31536000; includeSubDomains"
MiB = 1024 * 1024
GENERAL_LIMIT = 2 * MiB
UPLOAD_LIMIT = 210 * MiB


# --- TLS --------------------------------------------------------------------------


def test_tls13_with_registered_client_cert_reaches_upstream(
    portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream
) -> None:
    response = https_request(portal_edge, dev_pki.client_context(dev_pki.client), "/api/v1/ping")

    assert response.status == 200
    assert response.tls_version == "TLSv1.3"
    assert response.cipher == "TLS_AES_256_GCM_SHA384"  # server preference, 256-bit first
    [seen] = upstream.seen()
    assert seen.path == "/api/v1/ping"
    assert seen.header("X-SSL-Client-Verify") == "SUCCESS"
    assert seen.header("X-SSL-Protocol") == "TLSv1.3"
    assert seen.header("X-SSL-Cipher") in ALLOWED_TLS13_SUITES
    assert seen.header("X-Forwarded-Proto") == "https"
    assert seen.header("X-Forwarded-For") == "127.0.0.1"
    assert seen.header("X-SSL-Client-Serial") == cert_serial_hex(dev_pki.client.cert)

    pem = unescape_cert_header(seen.header("X-SSL-Client-Cert") or "")
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    assert pem_sha256(pem) == dev_pki.client.sha256

    # The Japanese O= attribute arrives escaped: the DN header is ASCII, the PEM is authoritative.
    subject = seen.header("X-SSL-Client-S-DN") or ""
    assert subject.isascii()
    assert "OU=1312345678" in subject
    assert "CN=Dev Agency Client Issuing CA" in (seen.header("X-SSL-Client-I-DN") or "")


def test_tls12_is_refused(portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream) -> None:
    context = dev_pki.client_context(dev_pki.client, maximum_version=ssl.TLSVersion.TLSv1_2)

    with pytest.raises(ssl.SSLError):
        https_request(portal_edge, context, "/")
    assert upstream.seen() == []


@pytest.mark.parametrize(
    ("suite", "accepted"),
    [
        ("TLS_AES_128_CCM_SHA256", True),
        ("TLS_CHACHA20_POLY1305_SHA256", True),
        ("TLS_AES_128_CCM_8_SHA256", False),
    ],
)
def test_tls13_cipher_suites_follow_the_high_security_profile(
    portal_edge: NginxServer, dev_pki: DevPki, suite: str, accepted: bool
) -> None:
    result = _s_client(portal_edge, dev_pki, "-ciphersuites", suite)

    assert (result.returncode == 0) is accepted, result.stdout + result.stderr
    if accepted:
        assert f"Cipher is {suite}" in result.stdout


@pytest.mark.parametrize(("groups", "accepted"), [("X25519", True), ("secp384r1", True), ("X448", False)])
def test_key_exchange_groups_are_limited(
    portal_edge: NginxServer, dev_pki: DevPki, groups: str, accepted: bool
) -> None:
    result = _s_client(portal_edge, dev_pki, "-groups", groups)

    assert (result.returncode == 0) is accepted, result.stdout + result.stderr


def _s_client(edge: NginxServer, pki: DevPki, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "openssl",
            "s_client",
            "-connect",
            f"{edge.host}:{edge.port}",
            "-tls1_3",
            "-CAfile",
            str(pki.ca),
            "-cert",
            str(pki.client.cert),
            "-key",
            str(pki.client.key),
            "-verify_return_error",
            *options,
        ],
        input="",
        capture_output=True,
        text=True,
        timeout=IO_TIMEOUT,
        check=False,
    )


# --- client certificate ---------------------------------------------------------------


@pytest.mark.parametrize("identity", ["none", "revoked", "rogue"])
def test_requests_without_a_valid_client_cert_are_forbidden(
    portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream, identity: str
) -> None:
    cert = None if identity == "none" else getattr(dev_pki, identity)
    response = https_request(portal_edge, dev_pki.client_context(cert), "/intake/")

    assert response.tls_version == "TLSv1.3"
    assert response.status == 403
    assert response.body == b"client certificate required\n"
    assert upstream.seen() == []
    entry = _log_entry_for(portal_edge, response)
    expected = "NONE" if identity == "none" else "FAILED:"
    assert entry["client_verify"].startswith(expected)


def test_static_files_also_require_a_client_cert(portal_edge: NginxServer, dev_pki: DevPki) -> None:
    response = https_request(portal_edge, dev_pki.client_context(None), "/static/portal-probe.css")

    assert response.status == 403


# --- header hygiene ----------------------------------------------------------------------


def test_client_cannot_inject_certificate_headers_without_a_cert(
    portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream
) -> None:
    response = https_request(
        portal_edge,
        dev_pki.client_context(None),
        "/api/v1/ping",
        headers=[
            ("X-SSL-Client-Verify", "SUCCESS"),
            ("X-SSL-Client-Cert", _escaped(dev_pki.client.pem)),
        ],
    )

    assert response.status == 403
    assert upstream.seen() == []


def test_client_sent_proxy_headers_are_overwritten(
    portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream
) -> None:
    spoofed_pem = _escaped(dev_pki.rogue.pem)
    response = https_request(
        portal_edge,
        dev_pki.client_context(dev_pki.client),
        "/api/v1/ping",
        headers=[
            ("X-SSL-Client-Verify", "SUCCESS, FAILED"),
            ("X-SSL-Client-Verify", "SPOOFED"),
            ("X-SSL-Client-S-DN", "CN=spoofed,OU=0000000000"),
            ("X-SSL-Client-I-DN", "CN=spoofed issuer"),
            ("X-SSL-Client-Serial", "00"),
            ("X-SSL-Client-Cert", spoofed_pem),
            ("X-SSL-Protocol", "TLSv1.2"),
            ("X-SSL-Cipher", "NULL"),
            ("X_SSL_Client_Verify", "SUCCESS"),
            ("X-Forwarded-For", "203.0.113.7"),
            ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-Host", "evil.example"),
            ("X-Forwarded-Ssl", "off"),
            ("Forwarded", "for=203.0.113.7;proto=http"),
            ("X-Request-ID", "client-chosen"),
        ],
    )

    assert response.status == 200
    [seen] = upstream.seen()
    # header() also fails if a header arrived twice
    assert seen.header("X-SSL-Client-Verify") == "SUCCESS"
    assert "spoofed" not in (seen.header("X-SSL-Client-S-DN") or "")
    assert "OU=1312345678" in (seen.header("X-SSL-Client-S-DN") or "")
    assert "spoofed" not in (seen.header("X-SSL-Client-I-DN") or "")
    assert seen.header("X-SSL-Client-Serial") == cert_serial_hex(dev_pki.client.cert)
    assert pem_sha256(unescape_cert_header(seen.header("X-SSL-Client-Cert") or "")) == dev_pki.client.sha256
    assert seen.header("X-SSL-Protocol") == "TLSv1.3"
    assert seen.header("X-SSL-Cipher") in ALLOWED_TLS13_SUITES
    assert seen.header("X-Forwarded-For") == "127.0.0.1"
    assert seen.header("X-Forwarded-Proto") == "https"
    assert seen.header("X-Request-ID") not in (None, "client-chosen")
    for dropped in ("X_SSL_Client_Verify", "X-Forwarded-Host", "X-Forwarded-Ssl", "Forwarded"):
        assert seen.values(dropped) == [], dropped


def test_hsts_and_request_id_come_from_nginx(portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream) -> None:
    response = https_request(portal_edge, dev_pki.client_context(dev_pki.client), "/")

    assert response.status == 200
    # the upstream's own values (max-age=0, from-upstream) are hidden
    assert response.values("Strict-Transport-Security") == [HSTS]
    [request_id] = response.values("X-Request-ID")
    [seen] = upstream.seen()
    assert seen.header("X-Request-ID") == request_id
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)


def test_forbidden_responses_carry_hsts(portal_edge: NginxServer, dev_pki: DevPki) -> None:
    response = https_request(portal_edge, dev_pki.client_context(None), "/")

    assert response.status == 403
    assert response.values("Strict-Transport-Security") == [HSTS]


# --- body limits ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "declared"),
    [
        ("/", GENERAL_LIMIT + 1),
        ("/accounts/login/", GENERAL_LIMIT + 1),
        ("/api/v1/archives", UPLOAD_LIMIT + 1),
        ("/intake/upload", UPLOAD_LIMIT + 1),
    ],
)
def test_declared_body_over_the_limit_is_rejected(
    portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream, path: str, declared: int
) -> None:
    response = https_request(
        portal_edge, dev_pki.client_context(dev_pki.client), path, method="POST", declare_length=declared
    )

    assert response.status == 413
    assert upstream.seen() == []


def test_streamed_body_over_the_limit_is_rejected(
    portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream
) -> None:
    chunks = (b"x" * (256 * 1024) for _ in range(12))  # 3 MiB, no Content-Length

    response = https_request(
        portal_edge, dev_pki.client_context(dev_pki.client), "/", method="POST", body=chunks, chunked=True
    )

    assert response.status == 413
    assert upstream.seen() == []


@pytest.mark.parametrize("path", ["/api/v1/archives", "/intake/upload"])
def test_upload_paths_accept_bodies_over_the_general_limit(
    portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream, path: str
) -> None:
    body = b"PK" + b"\0" * (3 * MiB)

    response = https_request(portal_edge, dev_pki.client_context(dev_pki.client), path, method="POST", body=body)

    assert response.status == 200
    [seen] = upstream.seen()
    assert seen.body_length == len(body)


# --- static files and logs ---------------------------------------------------------------


def test_static_files_are_served_by_nginx(portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream) -> None:
    response = https_request(portal_edge, dev_pki.client_context(dev_pki.client), "/static/portal-probe.css")

    assert response.status == 200
    assert response.body == b"body { color: #123456; }\n"
    assert response.values("Strict-Transport-Security") == [HSTS]
    assert response.values("X-Content-Type-Options") == ["nosniff"]
    assert upstream.seen() == []


def test_access_log_has_no_query_string(portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream) -> None:
    secret = uuid.uuid4().hex
    response = https_request(
        portal_edge, dev_pki.client_context(dev_pki.client), f"/api/v1/members?insured_no={secret}"
    )

    assert response.status == 200
    [seen] = upstream.seen()
    assert seen.path.endswith(secret)  # Django still gets the query
    entry = _log_entry_for(portal_edge, response)
    assert entry["path"] == "/api/v1/members"
    assert entry["client_verify"] == "SUCCESS"
    assert entry["tls_protocol"] == "TLSv1.3"
    assert secret not in portal_edge.access_log.read_text()


# --- helpers -------------------------------------------------------------------------------


def _escaped(pem: str) -> str:
    return quote(pem, safe="")


def _log_entry_for(edge: NginxServer, response: Response) -> dict[str, Any]:
    [request_id] = response.values("X-Request-ID")
    return edge.wait_for_access_log(request_id)
