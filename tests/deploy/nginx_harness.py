"""Run the production nginx template on loopback for tests.

The pieces, each usable on its own:

* :func:`make_dev_pki` runs ``deploy/tls/make-dev-pki.sh`` into a directory.
* :func:`render_template` substitutes the documented ``PORTAL_*`` placeholders exactly as
  ``envsubst`` does in the nginx container.
* :func:`start_nginx` renders ``deploy/nginx/portal.conf.template`` with ``listen
  127.0.0.1:<port>`` and a given upstream (``host:port`` or ``unix:/path``), starts nginx in
  the foreground and waits until it accepts connections.
* :class:`EchoUpstream` is a loopback HTTP server that answers with the request it received.
* :func:`start_gunicorn` runs gunicorn with ``deploy/gunicorn.conf.py`` and a given WSGI app.
* :func:`https_request` talks to the edge with a chosen client certificate.

Every wait is bounded; every process is stopped by its PID.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
NGINX_TEMPLATE = REPO_ROOT / "deploy" / "nginx" / "portal.conf.template"
PKI_SCRIPT = REPO_ROOT / "deploy" / "tls" / "make-dev-pki.sh"
GUNICORN_CONF = REPO_ROOT / "deploy" / "gunicorn.conf.py"

# The placeholders documented at the top of the template; nothing else is substituted.
TEMPLATE_VARIABLES = (
    "PORTAL_SERVER_NAME",
    "PORTAL_PUBLIC_SERVER_NAME",
    "PORTAL_LISTEN",
    "PORTAL_TLS_DIR",
    "PORTAL_UPSTREAM",
    "PORTAL_STATIC_ROOT",
    "PORTAL_ACCESS_LOG",
    "PORTAL_ERROR_LOG",
)

# Server name of the public disclosure server in the test instances; the test PKI's server
# certificate covers it (conftest.dev_pki), next to localhost and 127.0.0.1.
PUBLIC_SERVER_NAME = "disclosure.portal.test"

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
IO_TIMEOUT = 10.0


class HarnessError(RuntimeError):
    pass


# --- binaries ----------------------------------------------------------------


def find_nginx() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    for candidate in ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def find_openssl() -> str | None:
    return shutil.which("openssl")


# --- PKI -----------------------------------------------------------------------


@dataclass(frozen=True)
class ClientCert:
    cert: Path
    key: Path

    @property
    def pem(self) -> str:
        return self.cert.read_text()

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the DER certificate, as Django computes it from X-SSL-Client-Cert."""
        return pem_sha256(self.pem)


@dataclass(frozen=True)
class DevPki:
    directory: Path

    @property
    def ca(self) -> Path:
        """Trust anchor for the server certificate."""
        return self.directory / "ca.pem"

    @property
    def client(self) -> ClientCert:
        return self._pair("client")

    @property
    def revoked(self) -> ClientCert:
        return self._pair("revoked")

    @property
    def rogue(self) -> ClientCert:
        """Issued by a CA that nginx does not trust."""
        return self._pair("rogue")

    def _pair(self, name: str) -> ClientCert:
        return ClientCert(self.directory / f"{name}.pem", self.directory / f"{name}.key")

    def client_context(
        self,
        identity: ClientCert | None,
        *,
        maximum_version: ssl.TLSVersion | None = None,
    ) -> ssl.SSLContext:
        """A client context trusting the dev CA, presenting ``identity`` (or no certificate)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cafile=str(self.ca))
        if identity is not None:
            context.load_cert_chain(certfile=str(identity.cert), keyfile=str(identity.key))
        if maximum_version is not None:
            context.maximum_version = maximum_version
        return context


def make_dev_pki(directory: Path, *, server_name: str | None = None) -> DevPki:
    if find_openssl() is None:
        raise HarnessError("openssl binary not found")
    env = dict(os.environ)
    if server_name:
        env["DEV_PKI_SERVER_NAME"] = server_name
    result = subprocess.run(
        ["bash", str(PKI_SCRIPT), str(directory)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise HarnessError(f"{PKI_SCRIPT.name} failed ({result.returncode}):\n{result.stderr}")
    return DevPki(directory)


def pem_sha256(pem: str) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def cert_serial_hex(cert: Path) -> str:
    """Serial number in the form nginx puts into $ssl_client_serial (upper-case hex)."""
    result = subprocess.run(
        ["openssl", "x509", "-noout", "-serial", "-in", str(cert)],
        capture_output=True,
        text=True,
        timeout=IO_TIMEOUT,
        check=True,
    )
    return result.stdout.strip().split("=", 1)[1].upper()


# --- template ------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def template_placeholders(text: str) -> set[str]:
    """Every ``${NAME}`` in the text (nginx's own variables are written ``$name``)."""
    return {m.group(1) for m in _PLACEHOLDER.finditer(text) if m.group(1)}


def render_template(text: str, values: Mapping[str, str]) -> str:
    """``envsubst '${A} ${B}'``: replace ``$NAME``/``${NAME}`` for the listed names only."""
    missing = [name for name in TEMPLATE_VARIABLES if name not in values]
    if missing:
        raise HarnessError(f"template values missing: {', '.join(missing)}")
    unknown = sorted(set(values) - set(TEMPLATE_VARIABLES))
    if unknown:
        raise HarnessError(f"not template placeholders: {', '.join(unknown)}")

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return values[name] if name in values else match.group(0)

    rendered = _PLACEHOLDER.sub(substitute, text)
    left = template_placeholders(rendered)
    if left:
        raise HarnessError(f"undocumented placeholders in template: {', '.join(sorted(left))}")
    return rendered


# --- processes -------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, *, process: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise HarnessError(f"process exited with {process.returncode}:\n{_tail(log)}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise HarnessError(f"{host}:{port} not accepting after {timeout:.0f}s:\n{_tail(log)}")


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is not None:
        return
    try:
        os.kill(process.pid, sig)
        process.wait(timeout=STOP_TIMEOUT)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return "(no log)"


# --- nginx -----------------------------------------------------------------------


@dataclass
class NginxServer:
    process: subprocess.Popen[bytes]
    host: str
    port: int
    upstream: str
    workdir: Path
    config: Path
    access_log: Path
    error_log: Path
    stderr_log: Path
    static_root: Path

    def stop(self) -> None:
        # SIGQUIT is nginx's graceful shutdown.
        stop_process(self.process, signal.SIGQUIT)

    def access_log_entries(self) -> list[dict[str, Any]]:
        if not self.access_log.exists():
            return []
        return [json.loads(line) for line in self.access_log.read_text().splitlines() if line.strip()]

    def wait_for_access_log(self, request_id: str, timeout: float = 2.0) -> dict[str, Any]:
        """nginx writes the entry after the response; wait briefly for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in self.access_log_entries():
                if entry.get("request_id") == request_id:
                    return entry
            time.sleep(0.05)
        raise HarnessError(f"no access log entry for request {request_id}")


def start_nginx(
    workdir: Path,
    *,
    pki: DevPki,
    upstream: str,
    nginx: str | None = None,
    server_name: str = "localhost",
    public_server_name: str = PUBLIC_SERVER_NAME,
    static_root: Path | None = None,
    template: Path = NGINX_TEMPLATE,
    timeout: float = START_TIMEOUT,
) -> NginxServer:
    """Render the production template into ``workdir`` and run nginx on a free loopback port."""
    binary = nginx or find_nginx()
    if binary is None:
        raise HarnessError("nginx binary not found")
    workdir.mkdir(parents=True, exist_ok=True)
    for sub in ("logs", "temp/client_body", "temp/proxy", "temp/fastcgi", "temp/uwsgi", "temp/scgi"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    if static_root is None:
        static_root = workdir / "static"
        static_root.mkdir(exist_ok=True)

    host = "127.0.0.1"
    port = free_port(host)
    logs = workdir / "logs"
    values = {
        "PORTAL_SERVER_NAME": server_name,
        "PORTAL_PUBLIC_SERVER_NAME": public_server_name,
        "PORTAL_LISTEN": f"{host}:{port}",
        "PORTAL_TLS_DIR": str(pki.directory),
        "PORTAL_UPSTREAM": upstream,
        "PORTAL_STATIC_ROOT": str(static_root),
        "PORTAL_ACCESS_LOG": str(logs / "access.log"),
        "PORTAL_ERROR_LOG": str(logs / "error.log"),
    }
    site = workdir / "portal.conf"
    site.write_text(render_template(template.read_text(), values))

    temp = workdir / "temp"
    # Running as root, nginx would drop workers to "nobody", which cannot enter the
    # private temp directories; the throw-away test instance keeps root instead.
    user = "user root;\n" if os.geteuid() == 0 else ""
    main = workdir / "nginx.conf"
    main.write_text(
        f"{user}"
        "worker_processes 1;\n"
        "events { worker_connections 128; }\n"
        "http {\n"
        "    default_type application/octet-stream;\n"
        "    types { text/css css; text/html html; application/javascript js; }\n"
        f"    client_body_temp_path {temp / 'client_body'};\n"
        f"    proxy_temp_path {temp / 'proxy'};\n"
        f"    fastcgi_temp_path {temp / 'fastcgi'};\n"
        f"    uwsgi_temp_path {temp / 'uwsgi'};\n"
        f"    scgi_temp_path {temp / 'scgi'};\n"
        f"    include {site};\n"
        "}\n"
    )

    stderr_log = logs / "stderr.log"
    with stderr_log.open("wb") as stderr:
        process = subprocess.Popen(
            [
                binary,
                "-p",
                str(workdir),
                "-c",
                str(main),
                "-g",
                f"daemon off; error_log stderr; pid {workdir / 'nginx.pid'};",
            ],
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
        )
    server = NginxServer(
        process=process,
        host=host,
        port=port,
        upstream=upstream,
        workdir=workdir,
        config=site,
        access_log=logs / "access.log",
        error_log=logs / "error.log",
        stderr_log=stderr_log,
        static_root=static_root,
    )
    try:
        wait_for_port(host, port, process=process, timeout=timeout, log=stderr_log)
    except BaseException:
        server.stop()
        raise
    return server


# --- echo upstream ----------------------------------------------------------------


@dataclass
class SeenRequest:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body_length: int

    def values(self, name: str) -> list[str]:
        lowered = name.lower()
        return [value for key, value in self.headers if key.lower() == lowered]

    def header(self, name: str) -> str | None:
        """The single value of a header; fails if the header arrived more than once."""
        values = self.values(name)
        if len(values) > 1:
            raise AssertionError(f"{name} arrived {len(values)} times: {values}")
        return values[0] if values else None


@dataclass
class EchoUpstream:
    """Loopback HTTP server that answers every request with what it received, as JSON."""

    host: str = "127.0.0.1"
    port: int = 0
    requests: list[SeenRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> EchoUpstream:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            timeout = IO_TIMEOUT

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                remaining = length
                while remaining:
                    chunk = self.rfile.read(min(remaining, 1 << 16))
                    if not chunk:
                        break
                    remaining -= len(chunk)
                seen = SeenRequest(
                    method=self.command,
                    path=self.path,
                    headers=list(self.headers.items()),
                    body_length=length - remaining,
                )
                with upstream._lock:
                    upstream.requests.append(seen)
                body = json.dumps(
                    {
                        "method": seen.method,
                        "path": seen.path,
                        "headers": seen.headers,
                        "body_length": seen.body_length,
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                # both must be replaced by nginx's own values
                self.send_header("Strict-Transport-Security", "max-age=0")
                self.send_header("X-Request-ID", "from-upstream")
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_HEAD = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer((self.host, self.port), Handler)
        server.daemon_threads = True
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=STOP_TIMEOUT)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def seen(self) -> list[SeenRequest]:
        with self._lock:
            return list(self.requests)


# --- gunicorn ----------------------------------------------------------------------


@dataclass
class GunicornServer:
    process: subprocess.Popen[bytes]
    host: str
    port: int
    log: Path

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        stop_process(self.process, signal.SIGTERM)


def start_gunicorn(
    workdir: Path,
    app: str,
    *,
    pythonpath: Iterable[Path] = (),
    env: Mapping[str, str] | None = None,
    config: Path = GUNICORN_CONF,
    timeout: float = START_TIMEOUT,
) -> GunicornServer:
    """Run ``gunicorn -c deploy/gunicorn.conf.py APP`` on a free loopback port (one worker)."""
    workdir.mkdir(parents=True, exist_ok=True)
    host = "127.0.0.1"
    port = free_port(host)
    run_env = dict(os.environ)
    run_env.update(env or {})
    run_env.setdefault("GUNICORN_WORKERS", "1")
    run_env["GUNICORN_BIND"] = f"{host}:{port}"
    argv = [sys.executable, "-m", "gunicorn", "-c", str(config)]
    for path in pythonpath:
        argv += ["--pythonpath", str(path)]
    argv.append(app)
    log = workdir / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(argv, cwd=REPO_ROOT, env=run_env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    server = GunicornServer(process=process, host=host, port=port, log=log)
    try:
        wait_for_port(host, port, process=process, timeout=timeout, log=log)
    except BaseException:
        server.stop()
        raise
    return server


# --- client ------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    tls_version: str | None
    cipher: str | None

    def values(self, name: str) -> list[str]:
        lowered = name.lower()
        return [value for key, value in self.headers if key.lower() == lowered]

    def json(self) -> Any:
        return json.loads(self.body)


def https_request(
    edge: NginxServer,
    context: ssl.SSLContext,
    path: str = "/",
    *,
    method: str = "GET",
    headers: Iterable[tuple[str, str]] = (),
    body: bytes | Iterable[bytes] | None = None,
    declare_length: int | None = None,
    chunked: bool = False,
    server_name: str | None = None,
) -> Response:
    """One request over a fresh TLS connection.

    ``declare_length`` sends a Content-Length header but no body, to probe size limits
    without pushing the bytes; ``chunked`` streams ``body`` with chunked encoding.
    ``server_name`` is sent as SNI and Host (and checked against the server certificate)
    while the connection still goes to the edge's loopback address; without it the client
    connects to the bare IP address and sends no SNI. A ``Host`` in ``headers`` replaces the
    automatic one.
    """
    if server_name is None:
        connection = http.client.HTTPSConnection(edge.host, edge.port, context=context, timeout=IO_TIMEOUT)
    else:
        connection = http.client.HTTPSConnection(server_name, edge.port, context=context, timeout=IO_TIMEOUT)
        address = (edge.host, edge.port)

        def to_edge(_: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
            return socket.create_connection(address, *args, **kwargs)

        connection._create_connection = to_edge
    try:
        connection.connect()
        tls = connection.sock
        assert isinstance(tls, ssl.SSLSocket)
        version, cipher = tls.version(), tls.cipher()
        headers = list(headers)
        own_host = any(name.lower() == "host" for name, _ in headers)
        connection.putrequest(method, path, skip_host=own_host, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        if declare_length is not None:
            connection.putheader("Content-Length", str(declare_length))
            connection.endheaders()
        elif chunked:
            connection.putheader("Transfer-Encoding", "chunked")
            connection.endheaders()
            _send_chunked(connection, body or ())
        elif body is not None:
            assert isinstance(body, bytes)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders()
            _send_ignoring_early_close(connection, body)
        else:
            connection.endheaders()
        response = connection.getresponse()
        return Response(
            status=response.status,
            headers=response.getheaders(),
            body=response.read(),
            tls_version=version,
            cipher=cipher[0] if cipher else None,
        )
    finally:
        connection.close()


def _send_ignoring_early_close(connection: http.client.HTTPSConnection, data: bytes) -> None:
    # nginx may answer 413 and stop reading before the whole body is sent.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError, ssl.SSLEOFError):
        connection.send(data)


def _send_chunked(connection: http.client.HTTPSConnection, chunks: bytes | Iterable[bytes]) -> None:
    parts: Iterator[bytes] = iter([chunks]) if isinstance(chunks, bytes) else iter(chunks)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError, ssl.SSLEOFError):
        for part in parts:
            if part:
                connection.send(f"{len(part):X}\r\n".encode() + part + b"\r\n")
        connection.send(b"0\r\n\r\n")


def unescape_cert_header(value: str) -> str:
    """X-SSL-Client-Cert carries nginx's $ssl_client_escaped_cert (URL-encoded PEM)."""
    return urllib.parse.unquote(value)
