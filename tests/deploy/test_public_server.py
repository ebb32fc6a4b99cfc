"""The public disclosure server of the nginx template: no client certificate, /disclosure/ only.

The same rendered template (deploy/nginx/portal.conf.template) runs a second server for
``PORTAL_PUBLIC_SERVER_NAME`` (here ``PUBLIC_SERVER_NAME``), reached by SNI and Host on the same
loopback port as the certificate-protected portal; the upstream is the loopback echo server.
"""

from __future__ import annotations

import re
import ssl
import subprocess
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from .nginx_harness import IO_TIMEOUT, PUBLIC_SERVER_NAME, DevPki, EchoUpstream, NginxServer, Response, https_request

pytestmark = pytest.mark.tls

HSTS = "max-age=31536000; includeSubDomains"


def _public(
    edge: NginxServer, pki: DevPki, path: str, *, context: ssl.SSLContext | None = None, **kwargs: Any
) -> Response:
    """A request to the public server name, without a client certificate unless ``context`` has one."""
    return https_request(edge, context or pki.client_context(None), path, server_name=PUBLIC_SERVER_NAME, **kwargs)


# --- what the public may reach ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "forwarded"),
    [
        ("/disclosure/", "/disclosure/"),
        ("/disclosure/checklist/", "/disclosure/checklist/"),
        ("/disclosure/?lang=ja", "/disclosure/?lang=ja"),
    ],
)
def test_disclosure_reaches_the_upstream_without_a_client_cert(
    portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream, path: str, forwarded: str
) -> None:
    response = _public(portal_edge, dev_pki, path)

    assert response.status == 200
    assert response.tls_version == "TLSv1.3"
    assert response.cipher == "TLS_AES_256_GCM_SHA384"
    [seen] = upstream.seen()
    assert seen.method == "GET"
    assert seen.path == forwarded
    assert seen.header("Host") == PUBLIC_SERVER_NAME
    assert seen.header("X-Forwarded-Proto") == "https"
    assert seen.header("X-Forwarded-For") == "127.0.0.1"
    assert seen.header("X-SSL-Protocol") == "TLSv1.3"


def test_head_of_disclosure_is_forwarded(portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream) -> None:
    response = _public(portal_edge, dev_pki, "/disclosure/", method="HEAD")

    assert response.status == 200
    assert response.body == b""
    [seen] = upstream.seen()
    assert seen.method == "HEAD"


def test_static_files_are_served_without_a_client_cert(
    portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream
) -> None:
    response = _public(portal_edge, dev_pki, "/static/portal-probe.css")

    assert response.status == 200
    assert response.body == b"body { color: #123456; }\n"
    assert response.values("Strict-Transport-Security") == [HSTS]
    assert response.values("X-Content-Type-Options") == ["nosniff"]
    assert upstream.seen() == []


# --- what it may not -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/accounts/login/",
        "/api/v1/submissions/",
        "/admin/",
        "/intake/",
        "/healthz",
        "/disclosures/",
        "/disclosure/../admin/",
        "/disclosure/%2e%2e/admin/",
        "/disclosure/..%2Faccounts/login/",
    ],
)
def test_every_other_path_answers_404(
    portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream, path: str
) -> None:
    response = _public(portal_edge, dev_pki, path)

    assert response.status == 404
    assert response.values("Strict-Transport-Security") == [HSTS]
    assert upstream.seen() == []


def test_disclosure_without_slash_redirects_to_the_page(
    portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream
) -> None:
    response = _public(portal_edge, dev_pki, "/disclosure")

    assert response.status == 301
    [location] = response.values("Location")
    assert location.endswith(f"{PUBLIC_SERVER_NAME}:{portal_edge.port}/disclosure/")
    assert upstream.seen() == []


def test_other_paths_answer_404_with_a_client_cert_too(
    portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream
) -> None:
    response = _public(portal_edge, dev_pki, "/api/v1/submissions/", context=dev_pki.client_context(dev_pki.client))

    assert response.status == 404
    assert upstream.seen() == []


def test_upstream_receives_the_normalised_path(
    portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream
) -> None:
    # nginx matches /disclosure/ after resolving the dot segments; Django must see that path,
    # not the raw one, which its URL resolver would route to the admin site.
    response = _public(portal_edge, dev_pki, "/admin/../disclosure/")

    assert response.status == 200
    [seen] = upstream.seen()
    assert seen.path == "/disclosure/"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_only_get_and_head_are_allowed(
    portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream, method: str
) -> None:
    response = _public(portal_edge, dev_pki, "/disclosure/", method=method, body=b"a=1")

    assert response.status == 405
    assert response.values("Allow") == ["GET, HEAD"]
    assert response.values("Strict-Transport-Security") == [HSTS]
    assert len(response.values("X-Request-ID")) == 1
    assert upstream.seen() == []


def test_post_elsewhere_answers_404(portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream) -> None:
    response = _public(portal_edge, dev_pki, "/accounts/login/", method="POST", body=b"username=a&password=b")

    assert response.status == 404
    assert upstream.seen() == []


def test_tls12_is_refused(portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream) -> None:
    context = dev_pki.client_context(None, maximum_version=ssl.TLSVersion.TLSv1_2)

    with pytest.raises(ssl.SSLError):
        _public(portal_edge, dev_pki, "/disclosure/", context=context)
    assert upstream.seen() == []


@pytest.mark.parametrize(
    ("options", "accepted"),
    [
        (("-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"), True),
        (("-ciphersuites", "TLS_AES_128_CCM_8_SHA256"), False),
        (("-groups", "X25519"), True),
        (("-groups", "X448"), False),
    ],
)
def test_tls_profile_is_the_portals(
    portal_edge: NginxServer, dev_pki: DevPki, options: tuple[str, str], accepted: bool
) -> None:
    result = _s_client(portal_edge, dev_pki, PUBLIC_SERVER_NAME, *options)

    assert (result.returncode == 0) is accepted, result.stdout + result.stderr


def test_no_client_certificate_is_requested(portal_edge: NginxServer, dev_pki: DevPki) -> None:
    # so that browsers of the public show no certificate prompt; the portal name still asks
    public = _s_client(portal_edge, dev_pki, PUBLIC_SERVER_NAME)
    portal = _s_client(portal_edge, dev_pki, "localhost")

    assert public.returncode == 0, public.stdout + public.stderr
    assert "No client certificate CA names sent" in public.stdout
    assert "Requested Signature Algorithms" not in public.stdout
    assert portal.returncode == 0, portal.stdout + portal.stderr
    assert "Acceptable client certificate CA names" in portal.stdout


def _s_client(edge: NginxServer, pki: DevPki, server_name: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "openssl",
            "s_client",
            "-connect",
            f"{edge.host}:{edge.port}",
            "-servername",
            server_name,
            "-verify_hostname",
            server_name,
            "-tls1_3",
            "-CAfile",
            str(pki.ca),
            "-verify_return_error",
            *options,
        ],
        input="",
        capture_output=True,
        text=True,
        timeout=IO_TIMEOUT,
        check=False,
    )


# --- header hygiene --------------------------------------------------------------------------


def test_spoofed_certificate_headers_do_not_reach_the_upstream(
    portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream
) -> None:
    response = _public(
        portal_edge,
        dev_pki,
        "/disclosure/",
        headers=[
            ("X-SSL-Client-Verify", "SUCCESS"),
            ("X-SSL-Client-S-DN", "CN=spoofed,OU=1312345678"),
            ("X-SSL-Client-I-DN", "CN=Dev Agency Client Issuing CA"),
            ("X-SSL-Client-Serial", "01"),
            ("X-SSL-Client-Cert", "-----BEGIN%20CERTIFICATE-----"),
            ("X-SSL-Protocol", "TLSv1.2"),
            ("X_SSL_Client_Verify", "SUCCESS"),
            ("X-Forwarded-For", "203.0.113.7"),
            ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-Host", "evil.example"),
            ("Forwarded", "for=203.0.113.7;proto=http"),
            ("X-Request-ID", "client-chosen"),
            ("Cookie", "sessionid=stolen"),
            ("Authorization", "Token stolen"),
        ],
    )

    assert response.status == 200
    [seen] = upstream.seen()
    for dropped in (
        "X-SSL-Client-Verify",
        "X-SSL-Client-S-DN",
        "X-SSL-Client-I-DN",
        "X-SSL-Client-Serial",
        "X-SSL-Client-Cert",
        "X_SSL_Client_Verify",
        "X-Forwarded-Host",
        "Forwarded",
        "Cookie",
        "Authorization",
    ):
        assert seen.values(dropped) == [], dropped
    assert seen.header("X-SSL-Protocol") == "TLSv1.3"
    assert seen.header("X-Forwarded-For") == "127.0.0.1"
    assert seen.header("X-Forwarded-Proto") == "https"
    assert seen.header("X-Request-ID") not in (None, "client-chosen")


def test_a_client_cert_is_not_forwarded_either(
    portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream
) -> None:
    response = _public(portal_edge, dev_pki, "/disclosure/", context=dev_pki.client_context(dev_pki.client))

    assert response.status == 200
    [seen] = upstream.seen()
    assert [name for name, _ in seen.headers if name.lower().startswith("x-ssl-client")] == []


def test_hsts_and_request_id_come_from_nginx(portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream) -> None:
    response = _public(portal_edge, dev_pki, "/disclosure/")

    assert response.status == 200
    assert response.values("Strict-Transport-Security") == [HSTS]
    [request_id] = response.values("X-Request-ID")
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    [seen] = upstream.seen()
    assert seen.header("X-Request-ID") == request_id
    entry = portal_edge.wait_for_access_log(request_id)
    assert entry["path"] == "/disclosure/"
    assert entry["tls_protocol"] == "TLSv1.3"
    assert entry["client_verify"] == "NONE"


# --- the portal is unchanged -------------------------------------------------------------------


def test_protected_server_still_requires_a_client_cert(
    portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream
) -> None:
    for server_name in (None, "localhost"):
        response = https_request(portal_edge, dev_pki.client_context(None), "/disclosure/", server_name=server_name)

        assert response.status == 403, server_name
        assert response.body == b"client certificate required\n"
    assert upstream.seen() == []


def test_protected_server_still_accepts_a_client_cert(
    portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream
) -> None:
    response = https_request(
        portal_edge, dev_pki.client_context(dev_pki.client), "/api/v1/ping", server_name="localhost"
    )

    assert response.status == 200
    [seen] = upstream.seen()
    assert seen.header("X-SSL-Client-Verify") == "SUCCESS"


@pytest.mark.parametrize("host", ["localhost", "unknown.portal.test"])
def test_public_sni_cannot_address_another_server(
    portal_edge: NginxServer, dev_pki: DevPki, upstream: EchoUpstream, host: str
) -> None:
    # SNI names the public server (no certificate requested), Host names the portal or an
    # unknown name (the portal is the default server): nginx refuses with 421.
    response = _public(portal_edge, dev_pki, "/api/v1/ping", headers=[("Host", host)])

    assert response.status == 421
    assert upstream.seen() == []


# --- the real Django app behind the public server ------------------------------------------------


@pytest.fixture
def public_django_edge(live_server: Any, nginx_factory: Callable[..., NginxServer], settings: Any) -> NginxServer:
    """nginx in front of the live Django server; the public name is an allowed host."""
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, PUBLIC_SERVER_NAME]
    port = urlsplit(live_server.url).port
    return nginx_factory(upstream=f"127.0.0.1:{port}")


@pytest.mark.django_db(transaction=True)
def test_django_serves_the_disclosure_pages_to_the_public(public_django_edge: NginxServer, dev_pki: DevPki) -> None:
    for path in ("/disclosure/", "/disclosure/checklist/"):
        response = _public(public_django_edge, dev_pki, path)

        assert response.status == 200, (path, response.body[:500])
        assert response.values("Content-Type")[0].startswith("text/html"), path
        assert response.values("Set-Cookie") == [], path
    page = _public(public_django_edge, dev_pki, "/disclosure/")
    assert "事業運営上開示すべき重要事項の概要" in page.body.decode()
    login = _public(public_django_edge, dev_pki, "/accounts/login/")
    assert login.status == 404
