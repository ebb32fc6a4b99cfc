"""Fixtures for the deployment tests: dev PKI, nginx from the production template, upstreams.

Reuse from another test (for example the Django app behind gunicorn)::

    def test_something(nginx_factory, dev_pki):
        edge = nginx_factory(upstream="127.0.0.1:8001")   # or "unix:/path/gunicorn.sock"
        response = https_request(edge, dev_pki.client_context(dev_pki.client), "/healthz")

These tests need neither Django nor a database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .nginx_harness import (
    PUBLIC_SERVER_NAME,
    DevPki,
    EchoUpstream,
    HarnessError,
    NginxServer,
    find_nginx,
    find_openssl,
    make_dev_pki,
    start_nginx,
)

NginxFactory = Callable[..., NginxServer]


@pytest.fixture(scope="session")
def nginx_binary() -> str:
    binary = find_nginx()
    if binary is None:
        pytest.skip("nginx binary not found: install nginx-light (apt-get install -y nginx-light)")
    return binary


@pytest.fixture(scope="session")
def dev_pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    """Throw-away CA, server, client, revoked and foreign-CA certificates (deploy/tls/make-dev-pki.sh).

    The server certificate also names the public disclosure server (``PUBLIC_SERVER_NAME``).
    """
    if find_openssl() is None:
        pytest.skip("openssl binary not found: install openssl to build the test PKI")
    return make_dev_pki(tmp_path_factory.mktemp("pki") / "tls", server_name=PUBLIC_SERVER_NAME)


@pytest.fixture(scope="session")
def echo_upstream() -> Iterator[EchoUpstream]:
    upstream = EchoUpstream().start()
    yield upstream
    upstream.stop()


@pytest.fixture(scope="session")
def nginx_factory(
    nginx_binary: str, dev_pki: DevPki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NginxFactory]:
    """Start nginx (production template, TLS 1.3 + client certificates) in front of an upstream.

    Call with ``upstream="host:port"`` or ``upstream="unix:/path"``; optional ``static_root``.
    One instance per distinct argument set, shared for the session and stopped at its end.
    """
    started: dict[tuple[str, str | None], NginxServer] = {}

    def factory(*, upstream: str, static_root: Path | None = None) -> NginxServer:
        key = (upstream, str(static_root) if static_root else None)
        if key not in started:
            workdir = tmp_path_factory.mktemp("nginx")
            try:
                started[key] = start_nginx(
                    workdir, pki=dev_pki, upstream=upstream, nginx=nginx_binary, static_root=static_root
                )
            except HarnessError as error:
                pytest.fail(f"nginx did not start: {error}")
        return started[key]

    yield factory
    for server in started.values():
        server.stop()


@pytest.fixture(scope="session")
def portal_edge(nginx_factory: NginxFactory, echo_upstream: EchoUpstream) -> NginxServer:
    """nginx in front of the echo upstream, with one static file."""
    edge = nginx_factory(upstream=echo_upstream.address)
    (edge.static_root / "portal-probe.css").write_text("body { color: #123456; }\n")
    return edge


@pytest.fixture
def upstream(echo_upstream: EchoUpstream) -> EchoUpstream:
    """The echo upstream with its request record emptied for this test."""
    echo_upstream.clear()
    return echo_upstream
