"""The REST API keeps the contract its OpenAPI schema publishes.

Schemathesis generates requests from the schema (stateless, a fixed number of examples per
operation, both requests the schema allows and requests it does not, derandomised so that every run
sends the same requests) and sends them to the WSGI
application in-process, as an institution's system and as an insurer's system (client certificate
and token, as the TLS proxy forwards them). Every answer must be one the schema documents: its
status code, content type, headers and body (the error object for everything that is not a
success), and never a server error.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import itertools
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client, override_settings
from hypothesis import HealthCheck, assume, given, settings
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from agency.demo import seed_demo
from agency.models import Institution, Role
from agency.services import synthetic_parties_load
from kenshin.synth.generator import GeneratorConfig, default_parties, generate

from ..routing.helpers import AGENCY, intake_generated, route
from .helpers import PROXY, Machine, machine_for

EXAMPLES_PER_OPERATION = 25
HYPOTHESIS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


# What OpenAPI 3.0 cannot express, so that a schema-valid request may still be refused with a
# documented 400/422: the upload's X-Filename is required only with a raw ZIP body (not with
# multipart/form-data), and an Idempotency-Key may not be reused for other bytes (422). Every other
# check, the error shape of those answers included, still applies to this operation.
CONDITIONAL_REQUIREMENTS = {"POST /api/v1/submissions/": [positive_data_acceptance]}


@pytest.fixture(autouse=True)
def _trusted_proxy() -> Iterator[None]:
    with override_settings(TRUSTED_PROXIES=[f"{PROXY}/32"]):
        yield


@contextlib.contextmanager
def _keep_the_test_connection() -> Iterator[None]:
    """The WSGI application is called directly, not through Django's test client: keep it from closing
    the database connection at the end of each request (the test's transaction lives on it), as the
    test client does for its own requests (and reconnects after each, hence around the calls)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def machines(db: Any, capture: Any, make_user: Any) -> dict[str, Machine]:
    """An institution's and an insurer's system with real data behind them: received submissions and
    routed deliveries."""
    intaken = intake_generated(capture, records=6, seed=707, insurers=2)
    deliveries = route(capture)
    admin = make_user(Role.AGENCY_ADMIN)
    return {
        "institution": machine_for(actor=admin, institution=intaken[0].submission.institution),
        "insurer": machine_for(actor=admin, insurer=deliveries[0].insurer, name="保険者システム"),
    }


def _schema_without_credentials() -> Any:
    """The published schema, with its security requirements left out: the client's credentials are
    sent with every request (a test of their own covers refusals), so Schemathesis must not replace
    them with generated ones. Everything else is the schema as served."""
    response = Client().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    raw = json.loads(response.content)
    raw.get("components", {}).pop("securitySchemes", None)
    for operations in raw["paths"].values():
        for operation in operations.values():
            operation.pop("security", None)
    api = schemathesis.openapi.from_dict(raw)
    api.app = get_wsgi_application()
    return api


def _unsendable(case: Any) -> bool:
    """A negative case whose one mutation turns a multipart/form-data field into null: the form carries
    text only, so it would arrive as the text "null", which is a valid value."""
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    description = getattr(data, "description", "") or ""
    return case.media_type == "multipart/form-data" and description.endswith("became null)") and "\n" not in description


def _exercise(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> None:
    excluded = CONDITIONAL_REQUIREMENTS.get(operation.label, [])

    @HYPOTHESIS
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        assume(not _unsendable(case))
        # REMOTE_ADDR: the TLS proxy, the only peer whose certificate headers are believed
        case.call_and_validate(headers=headers, environ_base={"REMOTE_ADDR": PROXY}, excluded_checks=excluded)

    check()


def _failures(headers: dict[str, str]) -> list[str]:
    """Every operation of the schema, ``EXAMPLES_PER_OPERATION`` generated requests each that fit the
    schema (to be answered as documented) and as many that do not (to be refused with a 4xx); the
    operations whose answers break the schema, each with Schemathesis's account of the first one."""
    api = _schema_without_credentials()
    failures: list[str] = []
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 16
    for operation, mode in itertools.product(operations, GenerationMode):
        try:
            with _keep_the_test_connection():
                _exercise(operation, mode, headers)
        except (Exception, BaseExceptionGroup) as exc:  # every failing operation is reported, not only the first
            failures.append(f"{operation.label} ({mode}): {exc}")
    return failures


@pytest.mark.parametrize("kind", ["institution", "insurer"])
def test_every_answer_is_documented(kind: str, machines: dict[str, Machine]) -> None:
    failures = _failures(machines[kind].http_headers())
    assert not failures, "\n\n".join(failures)


# --- a client generated from the schema -------------------------------------------------------------------------


def _generate_client(tmp_path: Path) -> Any:
    """Build a typed Python client from the served schema with openapi-python-client, in the test's
    temporary directory (never committed), and import it."""
    response = Client().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    (tmp_path / "schema.json").write_bytes(response.content)
    (tmp_path / "config.yaml").write_text("package_name_override: portal_client\npost_hooks: []\n", encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", "schema.json", "--output-path", "portal_client",
         "--meta", "none", "--config", "config.yaml"],
        cwd=tmp_path, check=True, capture_output=True, timeout=120,
    )
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module("portal_client")
    finally:
        sys.path.remove(str(tmp_path))


def _typed_client(package: Any, machine: Machine) -> Any:
    headers = machine.http_headers()
    token = headers.pop("Authorization").removeprefix("Token ")
    # In-process: the WSGI application behind httpx, reached from the TLS proxy's address.
    transport = httpx.WSGITransport(app=get_wsgi_application(), remote_addr=PROXY)
    return package.AuthenticatedClient(
        base_url="http://testserver", token=token, prefix="Token", headers=headers, httpx_args={"transport": transport}
    )


@pytest.fixture
def generated_client(db: Any, tmp_path: Path) -> Iterator[Any]:
    package = _generate_client(tmp_path)
    with _keep_the_test_connection():
        yield package
    for name in [name for name in sys.modules if name == "portal_client" or name.startswith("portal_client.")]:
        del sys.modules[name]


def test_a_generated_client_uploads_polls_and_downloads(
    generated_client: Any, capture: Any, make_user: Any
) -> None:
    def operation(name: str) -> Any:
        return importlib.import_module(f"portal_client.api.{name.split('_')[0]}.{name}")

    models = importlib.import_module("portal_client.models")
    types = importlib.import_module("portal_client.types")

    seed_demo()
    config = GeneratorConfig(year=2024, records=6, seed=808, institutions=1, insurers=2, agency_number=AGENCY)
    parties = default_parties(config)
    synthetic_parties_load(parties=parties, agency_number=AGENCY)
    archive = next(generate(config, parties))
    admin = make_user(Role.AGENCY_ADMIN)
    institution = machine_for(actor=admin, institution=Institution.objects.get(number=archive.institution))
    client = _typed_client(generated_client, institution)

    # upload (multipart, the file as binary); the check runs once the request has committed
    upload = models.UploadRequest(file=types.File(payload=io.BytesIO(archive.data), file_name=archive.filename))
    with capture(execute=True):
        created = operation("submissions_create").sync_detailed(client=client, body=upload, idempotency_key="upload-1")
    assert created.status_code == 201, created.content
    submission = created.parsed
    assert isinstance(submission, models.SubmissionStatus)
    assert submission.sha256 == hashlib.sha256(archive.data).hexdigest()

    # poll until checking has finished
    polled = operation("submissions_retrieve").sync(client=client, submission_id=submission.id)
    assert isinstance(polled, models.SubmissionStatus)
    assert polled.is_final
    assert polled.counts.records_total == 6
    assert polled.counts.records_accepted + polled.counts.records_returned == 6
    receipt = operation("submissions_receipt").sync(client=client, submission_id=submission.id)
    assert receipt.receipt_number == submission.receipt_number
    listed = operation("submissions_list").sync(client=client, limit=10)
    assert [s.id for s in listed.results] == [submission.id]

    # the same key again: the first submission, not a second one
    with capture(execute=True):
        again = operation("submissions_create").sync_detailed(client=client, body=models.UploadRequest(
            file=types.File(payload=io.BytesIO(archive.data), file_name=archive.filename)), idempotency_key="upload-1")
    assert again.status_code == 200
    assert again.parsed.id == submission.id

    # errors come as the typed error object
    missing = operation("submissions_retrieve").sync_detailed(client=client, submission_id=submission.id + 1000)
    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.Error)
    assert missing.parsed.code == "not_found"
    bad_paging = operation("submissions_list").sync_detailed(client=client, limit=2**63)
    assert bad_paging.status_code == 400
    assert bad_paging.parsed.code == "invalid_paging"

    # routed to the insurers; an insurer's system lists its deliveries and downloads the archive
    routed = route(capture)
    delivery = routed[0]
    insurer = _typed_client(generated_client, machine_for(actor=admin, insurer=delivery.insurer, name="保険者システム"))
    ready = operation("deliveries_list").sync(client=insurer, status=models.DeliveriesListStatus.READY)
    assert delivery.pk in [d.id for d in ready.results]
    downloaded = operation("deliveries_archive").sync_detailed(client=insurer, delivery_id=delivery.pk)
    assert downloaded.status_code == 200
    assert hashlib.sha256(downloaded.content).hexdigest() == downloaded.headers["X-Content-SHA256"] == delivery.archive.sha256
    acknowledged = operation("deliveries_acknowledge").sync(client=insurer, delivery_id=delivery.pk)
    assert acknowledged.status == models.DeliveryStatusEnum.ACKNOWLEDGED
