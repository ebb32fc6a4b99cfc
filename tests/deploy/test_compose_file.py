"""Static checks of docker-compose.yml, .env.example, the Dockerfile and the nginx template.

There is no container engine in CI, so the operator files are checked by reading them.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest

from .nginx_harness import NGINX_TEMPLATE, REPO_ROOT, TEMPLATE_VARIABLES, template_placeholders

yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (requirements-test.lock)")

COMPOSE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"

DJANGO_SERVICES = ("migrate", "web", "worker", "beat")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY$", re.IGNORECASE)
# ${NAME}, ${NAME:-default}, ${NAME:?message}, ${NAME-default}, ${NAME?message}
REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-?][^}]*)?\}")
ONLY_REFERENCE = re.compile(rf"^{REFERENCE.pattern}$")
CREDENTIALS_IN_URL = re.compile(r"://[^/\s:@]*:(?P<password>[^@\s]+)@")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def _one_shot(service: dict[str, Any]) -> bool:
    return str(service.get("restart", "no")) == "no"


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def _env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^([A-Z_][A-Z0-9_]*)=(.*)$", line)
        if match:
            values[match.group(1)] = match.group(2)
    return values


# --- services ---------------------------------------------------------------------------


def test_expected_services_exist(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == {"migrate", "web", "worker", "beat", "postgres", "redis", "nginx"}


def test_every_long_running_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if _one_shot(service):
            continue
        check = service.get("healthcheck") or {}
        assert not check.get("disable"), name
        test = check.get("test")
        assert test, f"{name} has no health check"
        assert test[0] in ("CMD", "CMD-SHELL"), name
        assert len(test) > 1, name


def test_one_shot_services_are_awaited_to_completion(services: dict[str, dict[str, Any]]) -> None:
    one_shots = {name for name, service in services.items() if _one_shot(service)}
    assert one_shots == {"migrate"}
    for name in ("web", "worker", "beat"):
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name


def test_dependencies_wait_for_health(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        for dependency, spec in depends.items():
            expected = "service_completed_successfully" if _one_shot(services[dependency]) else "service_healthy"
            assert spec.get("condition") == expected, f"{name} -> {dependency}"
    assert set(services["web"]["depends_on"]) == {"migrate", "postgres", "redis"}
    assert set(services["nginx"]["depends_on"]) == {"web"}


def test_django_services_use_production_settings_and_the_env_file(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in DJANGO_SERVICES:
        service = services[name]
        assert _environment(service)["DJANGO_SETTINGS_MODULE"] == "agency.settings.production", name
        assert service["env_file"] == ".env", name
    assert services["web"]["command"][:3] == ["gunicorn", "-c", "deploy/gunicorn.conf.py"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "agency", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "agency", "beat"]


def test_migrations_run_as_the_owner_and_everything_else_as_the_application_role(
    services: dict[str, dict[str, Any]],
) -> None:
    migrate = services["migrate"]
    assert _environment(migrate)["DATABASE_URL"] == "${DATABASE_OWNER_URL:?set DATABASE_OWNER_URL in .env}"
    command = " ".join(migrate["command"])
    assert command.index("migrate --noinput") < command.index('db_grant_app_role "$$DATABASE_APP_ROLE" --create')
    for name in ("web", "worker", "beat"):
        assert "DATABASE_URL" not in _environment(services[name]), name  # from .env: the application's role
    example = _env_example()
    assert example["DATABASE_URL"].startswith(f"postgres://{example['DATABASE_APP_ROLE']}:")
    assert example["DATABASE_OWNER_URL"].startswith(f"postgres://{example['POSTGRES_USER']}:")


def test_only_nginx_publishes_ports(services: dict[str, dict[str, Any]]) -> None:
    assert [name for name, service in services.items() if service.get("ports")] == ["nginx"]


def test_proxy_headers_are_trusted_from_nginx_only(services: dict[str, dict[str, Any]]) -> None:
    nginx_ip = services["nginx"]["networks"]["edge"]["ipv4_address"]
    assert ONLY_REFERENCE.match(nginx_ip)
    web_env = _environment(services["web"])
    assert web_env["TRUSTED_PROXIES"] == nginx_ip
    assert web_env["GUNICORN_FORWARDED_ALLOW_IPS"] == f"127.0.0.1,{nginx_ip}"
    # gunicorn listens on the edge network and loopback, not on the data or egress networks
    web_ip = services["web"]["networks"]["edge"]["ipv4_address"]
    assert web_env["GUNICORN_BIND"] == f"{web_ip}:8000,127.0.0.1:8000"


def test_data_stores_sit_on_an_internal_network(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    assert compose["networks"]["data"]["internal"] is True
    assert compose["networks"]["edge"]["internal"] is True
    for name in ("postgres", "redis"):
        assert services[name]["networks"] == ["data"], name


def test_volumes_for_database_archives_and_static(services: dict[str, dict[str, Any]]) -> None:
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    for name in ("web", "worker"):
        volumes = services[name]["volumes"]
        assert "storage:/srv/storage" in volumes, name
        assert any(v.endswith(":/srv/mhlw/xsd:ro") for v in volumes), name
    assert "static:/srv/static" in services["migrate"]["volumes"]
    assert "static:/srv/static:ro" in services["nginx"]["volumes"]


def test_postgres_and_redis_versions(services: dict[str, dict[str, Any]]) -> None:
    assert services["postgres"]["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["image"].startswith("redis:7")
    assert "requirepass" in " ".join(services["redis"]["command"])


# --- secrets ------------------------------------------------------------------------------


def test_no_literal_secrets(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for key, value in _environment(service).items():
            if SECRET_NAME.search(key):
                assert ONLY_REFERENCE.match(value), f"{name}: {key} must come from .env"
    for text in _strings(compose):
        for match in re.finditer(r"(PASSWORD|SECRET_KEY)=(\S*)", text):
            assert match.group(2).startswith(("${", "$$")), f"literal secret in {text!r}"
        for match in CREDENTIALS_IN_URL.finditer(text):
            assert REFERENCE.search(match.group("password")), f"credentials in URL {text!r}"


def test_env_example_lists_every_interpolated_variable() -> None:
    text = COMPOSE.read_text()
    referenced = {m.group(1) for m in re.finditer(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text)}
    listed = set(_env_example())
    assert referenced - listed == set()


def test_env_example_holds_placeholders_only() -> None:
    for key, value in _env_example().items():
        if SECRET_NAME.search(key):
            assert "change-me" in value or "replace-with" in value, f"{key} looks like a real secret"
    for key in ("DATABASE_URL", "CELERY_BROKER_URL"):
        password = CREDENTIALS_IN_URL.search(_env_example()[key])
        assert password, key
        assert "replace-with" in password.group("password"), key


def test_env_example_covers_django_settings() -> None:
    listed = set(_env_example())
    for name in (
        "DJANGO_SECRET_KEY",
        "DJANGO_ALLOWED_HOSTS",
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "POSTGRES_PASSWORD",
        "REDIS_PASSWORD",
        "KENSHIN_XSD_HOST_DIR",
        "PORTAL_SERVER_NAME",
    ):
        assert name in listed, name


def _interpolated(value: str, variables: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?message} with ``variables`` (as ``.env`` gives them)."""

    def replace(match: re.Match[str]) -> str:
        name, operator, rest = match.group(1), match.group(2) or "", match.group(3) or ""
        if variables.get(name):
            return variables[name]
        assert "?" not in operator, f"{name} is required: {rest}"
        return rest

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?])?([^}]*)\}", replace, value)


def test_an_operator_configuration_made_from_the_example_passes_the_deploy_check(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """.env.example with every placeholder replaced by a generated secret, plus what docker-compose.yml
    sets for the web service: ``manage.py check --deploy`` under production settings finds nothing."""
    fernet = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    example = {}
    for key, value in _env_example().items():
        if key.endswith("ENCRYPTION_KEY"):
            value = fernet if key == "FIELD_ENCRYPTION_KEY" else base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        elif "change-me" in value:
            value = secrets.token_hex(32)
        example[key] = value.replace("replace-with-openssl-rand-hex-32", "0f" * 32)
    web = {key: _interpolated(value, example) for key, value in _environment(services["web"]).items()}
    env = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV")}
    env.update(example)
    env.update(web)
    env["PORTAL_VAR_DIR"] = str(tmp_path / "var")  # compose mounts /srv/storage; here nothing is written

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )

    assert web["DJANGO_SETTINGS_MODULE"] == "agency.settings.production"
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


# --- nginx ----------------------------------------------------------------------------------


def test_template_placeholders_are_exactly_the_documented_ones() -> None:
    text = NGINX_TEMPLATE.read_text()
    assert template_placeholders(text) == set(TEMPLATE_VARIABLES)
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    for name in TEMPLATE_VARIABLES:
        assert re.search(rf"^#\s+{name}\s", header, re.MULTILINE), f"{name} not documented in the header"


def test_nginx_renders_the_template(services: dict[str, dict[str, Any]]) -> None:
    nginx = services["nginx"]
    volumes = nginx["volumes"]
    template_mount = f"./{NGINX_TEMPLATE.relative_to(REPO_ROOT)}:/etc/nginx/templates/default.conf.template:ro"
    assert template_mount in volumes
    assert "./deploy/tls:/etc/nginx/tls:ro" in volumes
    env = _environment(nginx)
    assert env["NGINX_ENVSUBST_FILTER"] == "^PORTAL_"
    assert set(TEMPLATE_VARIABLES) <= set(env)
    assert env["PORTAL_TLS_DIR"] == "/etc/nginx/tls"
    assert env["PORTAL_UPSTREAM"] == "web:8000"


def test_tls_directory_is_git_ignored() -> None:
    rules = (REPO_ROOT / "deploy" / "tls" / ".gitignore").read_text().split()
    assert rules[rules.index("*") :] == ["*", "!.gitignore", "!README.md", "!make-dev-pki.sh"]


# --- image ----------------------------------------------------------------------------------


def test_dockerfile_runs_unprivileged_with_the_locked_requirements() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    assert instructions[0] == "FROM python:3.11-slim-bookworm"
    assert "RUN pip install -r requirements.lock" in instructions
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users
    assert users[-1] not in ("root", "0")
    text = DOCKERFILE.read_text()
    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0"):
        assert package in text
    assert not re.search(r"\bfonts-\w", text)  # no font package: PDFs use the bundled font only
    assert "KENSHIN_XSD_DIR=/srv/mhlw/xsd" in text
    assert "collectstatic --noinput" in text


def test_build_context_excludes_secrets() -> None:
    ignored = set(DOCKERIGNORE.read_text().split())
    assert {".env", ".git", "deploy/tls"} <= ignored


@pytest.mark.parametrize("ignore_file", [DOCKERIGNORE, REPO_ROOT / ".gitignore"], ids=lambda path: path.name)
def test_the_bundled_font_is_neither_git_nor_docker_ignored(ignore_file: Path) -> None:
    """The image (COPY . .) and the repository both carry core/fonts/: no ignore pattern matches it."""
    lines = [line.strip() for line in ignore_file.read_text().splitlines()]
    patterns = [line.strip("/").removeprefix("**/") for line in lines if line and not line.startswith(("#", "!"))]
    for name in ("ipaexg.ttf", "IPA_Font_License_Agreement_v1.0.txt", "Readme_ipaexg00301.txt"):
        assert (REPO_ROOT / "core" / "fonts" / name).is_file()
        for candidate in ("core", "core/fonts", f"core/fonts/{name}", "fonts", name):
            matched = [pattern for pattern in patterns if fnmatch(candidate, pattern)]
            assert not matched, (ignore_file.name, candidate, matched)
