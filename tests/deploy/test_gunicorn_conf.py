"""deploy/gunicorn.conf.py: its values, and gunicorn behind the production nginx template."""

from __future__ import annotations
import __future__

import http.client
import json
import re
import runpy
import time
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .nginx_harness import (
    GUNICORN_CONF,
    IO_TIMEOUT,
    NGINX_TEMPLATE,
    DevPki,
    GunicornServer,
    https_request,
    pem_sha256,
    start_gunicorn,
    unescape_cert_header,
)

gunicorn_config = pytest.importorskip("gunicorn.config", reason="gunicorn is not installed")

HERE = Path(__file__).resolve().parent


def _load(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in (
        "GUNICORN_BIND",
        "GUNICORN_WORKERS",
        "GUNICORN_THREADS",
        "GUNICORN_TIMEOUT",
        "GUNICORN_FORWARDED_ALLOW_IPS",
        "GUNICORN_LOG_LEVEL",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(GUNICORN_CONF))


def _settings(namespace: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value
        for key, value in namespace.items()
        if not key.startswith("_")
        and not callable(value)
        and not isinstance(value, (types.ModuleType, __future__._Feature))
    }


def test_every_name_is_a_gunicorn_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    known = {setting.name for setting in gunicorn_config.KNOWN_SETTINGS}
    assert set(_settings(_load(monkeypatch))) - known == set()


def test_defaults_are_loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = _load(monkeypatch)

    assert conf["wsgi_app"] == "agency.wsgi:application"
    assert conf["bind"] == ["127.0.0.1:8000"]
    assert conf["forwarded_allow_ips"] == "127.0.0.1,::1"
    assert conf["secure_scheme_headers"] == {"X-FORWARDED-PROTO": "https"}
    assert conf["workers"] in range(1, 9)
    assert conf["threads"] == 1


def test_access_log_has_no_query_string(monkeypatch: pytest.MonkeyPatch) -> None:
    log_format = _load(monkeypatch)["access_log_format"]

    assert "%(U)s" in log_format
    for atom in ("%(r)s", "%(q)s", "%({referer}i)s", "%(f)s"):
        assert atom not in log_format


def test_gunicorn_gives_up_before_nginx(monkeypatch: pytest.MonkeyPatch) -> None:
    timeout = _load(monkeypatch)["timeout"]
    nginx_read = re.search(r"proxy_read_timeout (\d+)s;", NGINX_TEMPLATE.read_text())

    assert nginx_read
    assert timeout < int(nginx_read.group(1))


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = _load(
        monkeypatch,
        GUNICORN_BIND="172.30.250.3:8000, 127.0.0.1:8000",
        GUNICORN_WORKERS="5",
        GUNICORN_THREADS="4",
        GUNICORN_TIMEOUT="45",
        GUNICORN_FORWARDED_ALLOW_IPS="127.0.0.1,172.30.250.2",
    )

    assert conf["bind"] == ["172.30.250.3:8000", "127.0.0.1:8000"]
    assert (conf["workers"], conf["threads"], conf["timeout"]) == (5, 4, 45)
    assert conf["forwarded_allow_ips"] == "127.0.0.1,172.30.250.2"


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_invalid_worker_count_fails_at_start(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    with pytest.raises(ValueError, match="GUNICORN_WORKERS must be a positive integer"):
        _load(monkeypatch, GUNICORN_WORKERS=value)


# --- gunicorn processes ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def probe_gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GunicornServer]:
    """gunicorn with the production config and the probe app, trusting loopback (the defaults)."""
    server = start_gunicorn(tmp_path_factory.mktemp("gunicorn"), "wsgi_probe:application", pythonpath=[HERE])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def untrusting_gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GunicornServer]:
    """The same, but trusting forwarded headers from another address only."""
    server = start_gunicorn(
        tmp_path_factory.mktemp("gunicorn"),
        "wsgi_probe:application",
        pythonpath=[HERE],
        env={"GUNICORN_FORWARDED_ALLOW_IPS": "192.0.2.10"},
    )
    yield server
    server.stop()


def _plain_get(server: GunicornServer, path: str, headers: dict[str, str]) -> dict[str, Any]:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=IO_TIMEOUT)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        assert response.status == 200
        return json.loads(response.read())
    finally:
        connection.close()


def _wait_for_log(server: GunicornServer, needle: str, timeout: float = 3.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = server.log.read_text(errors="replace")
        if needle in text:
            return text
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} not in gunicorn log:\n{server.log.read_text(errors='replace')[-2000:]}")


def test_forwarded_proto_is_ignored_from_untrusted_peers(untrusting_gunicorn: GunicornServer) -> None:
    seen = _plain_get(untrusting_gunicorn, "/", {"X-Forwarded-Proto": "https"})

    assert seen["url_scheme"] == "http"


@pytest.mark.tls
def test_gunicorn_behind_nginx_sees_https_and_the_client_cert(
    nginx_factory: Any, dev_pki: DevPki, probe_gunicorn: GunicornServer
) -> None:
    edge = nginx_factory(upstream=probe_gunicorn.address)
    secret = uuid.uuid4().hex

    response = https_request(edge, dev_pki.client_context(dev_pki.client), f"/api/v1/probe?insured_no={secret}")

    assert response.status == 200
    seen = response.json()
    assert seen["url_scheme"] == "https"
    assert seen["remote_addr"] == "127.0.0.1"
    assert seen["query"] == f"insured_no={secret}"
    headers = seen["headers"]
    assert headers["HTTP_X_SSL_CLIENT_VERIFY"] == "SUCCESS"
    assert headers["HTTP_X_SSL_PROTOCOL"] == "TLSv1.3"
    assert pem_sha256(unescape_cert_header(headers["HTTP_X_SSL_CLIENT_CERT"])) == dev_pki.client.sha256
    [request_id] = response.values("X-Request-ID")
    assert headers["HTTP_X_REQUEST_ID"] == request_id

    log = _wait_for_log(probe_gunicorn, f"rid={request_id}")
    line = next(line for line in log.splitlines() if f"rid={request_id}" in line)
    assert '"GET /api/v1/probe HTTP/1.0" 200' in line
    assert secret not in log
