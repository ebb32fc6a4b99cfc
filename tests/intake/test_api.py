"""The intake REST API and its machine-client authentication (certificate from the TLS proxy + token).

Certificates are generated with ``cryptography`` (``tests/agency/helpers.py``); the proxy's headers are injected through the
Django test client, with ``REMOTE_ADDR`` a trusted or an untrusted address. Archives come from the
synthetic generator, priced with the contract in the database, and are checked in-process (eager
Celery, on-commit callbacks executed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

import agency.admin  # noqa: F401 - registers the admin pages before the URLconf is built
from agency.clientcert import ApiClientPrincipal
from agency.models import ApiClient, ClientCertificate, Role
from agency.services.clients import (
    api_client_create,
    api_client_deactivate,
    client_certificate_register,
    client_certificate_revoke,
    token_digest,
)
from audit.models import AuditEvent
from intake.checks import contract_terms
from intake.jobs import CHECK_ARCHIVE
from intake.models import Channel, Submission, SubmissionStatus
from kenshin.synth.generator import GeneratorConfig, generate
from kenshin.synth.parties import Parties, SynthContract, SynthInstitution, SynthInsurer

from ..agency.helpers import PROXY, Machine, after, held_by_dead_worker, make_certificate
from ..conftest import login_verified

OUTSIDER = "203.0.113.9"
LIST_URL = "/api/v1/submissions/"


@pytest.fixture(autouse=True)
def _trusted_proxy() -> Iterator[None]:
    with override_settings(TRUSTED_PROXIES=[f"{PROXY}/32"]):
        yield


# --- certificates, clients, archives -------------------------------------------------------------


@pytest.fixture
def agency_admin(make_user: Callable[..., Any]) -> Any:
    return make_user(Role.AGENCY_ADMIN)


@pytest.fixture
def make_machine(agency_admin: Any) -> Callable[..., Machine]:
    def make(*, institution: Any = None, insurer: Any = None, **cert: Any) -> Machine:
        client, token = api_client_create(
            name="受付システム", institution=institution, insurer=insurer, actor=agency_admin
        )
        pem = make_certificate(f"client-{client.pk}", **cert)
        registered = client_certificate_register(api_client=client, pem=pem, actor=agency_admin)
        return Machine(client, token, pem, registered)

    return make


@pytest.fixture
def machine_a(make_machine: Callable[..., Machine], institution_a: Any) -> Machine:
    return make_machine(institution=institution_a)


@pytest.fixture
def machine_b(make_machine: Callable[..., Machine], institution_b: Any) -> Machine:
    return make_machine(institution=institution_b)


def _parties(contract: Any) -> Parties:
    institution, insurer = contract.institution, contract.insurer
    return Parties(
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


@pytest.fixture
def make_archive() -> Callable[..., tuple[str, bytes]]:
    """(file name, bytes) of a synthetic archive for ``contract``'s institution, priced by it."""

    def make(contract: Any, *, seed: int, records: int = 3, defects: tuple[str, ...] = ()) -> tuple[str, bytes]:
        config = GeneratorConfig(year=2024, records=records, seed=seed, defects=defects)
        [archive] = generate(config, _parties(contract))
        return archive.filename, archive.data

    return make


@pytest.fixture
def contract_b2(institution_b: Any, insurer_a: Any) -> Any:
    from ..factories import ContractFactory

    return ContractFactory(insurer=insurer_a, institution=institution_b)


def _last(action: str) -> AuditEvent:
    event = AuditEvent.objects.filter(action=action).order_by("-seq").first()
    assert event is not None, f"no audit event {action}"
    return event


def _post_zip(http: Client, name: str, data: bytes, headers: dict[str, str], **extra: str) -> Any:
    return http.post(LIST_URL, data=data, content_type="application/zip", HTTP_X_FILENAME=name, **headers, **extra)


def _post_multipart(http: Client, name: str, data: bytes, headers: dict[str, str], **extra: str) -> Any:
    return http.post(
        LIST_URL, {"file": SimpleUploadedFile(name, data, content_type="application/zip")}, **headers, **extra
    )


# --- authentication --------------------------------------------------------------------------------


def test_certificate_and_token_of_the_same_client_authenticate(client: Client, machine_a: Machine) -> None:
    response = client.get(LIST_URL, **machine_a.headers())

    assert response.status_code == 200
    assert response.json()["results"] == []
    machine_a.client.refresh_from_db()
    assert machine_a.client.last_used_at is not None
    assert "no-store" in response["Cache-Control"]


def test_token_is_stored_only_as_its_hash(machine_a: Machine) -> None:
    stored = ApiClient.objects.filter(pk=machine_a.client.pk).values().get()

    assert machine_a.token not in str(stored)
    assert stored["token_hash"] == token_digest(machine_a.token)
    assert len(machine_a.token) >= 43  # 32 random bytes
    created = _last("api_client.created")
    assert machine_a.token not in str(created.detail)


def _refusal(response: Any, reason: str, status_code: int) -> AuditEvent:
    assert response.status_code == status_code, response.content
    assert response.json()["code"] == reason
    assert response.json()["detail"]
    event = _last("api.auth_refused")
    assert event.outcome == "denied"
    assert event.detail["reason"] == reason
    return event


def test_untrusted_peer_is_refused_even_with_valid_credentials(client: Client, machine_a: Machine) -> None:
    response = client.get(LIST_URL, **machine_a.headers(peer=OUTSIDER))

    event = _refusal(response, "untrusted_peer", 403)
    assert event.detail["peer"] == OUTSIDER
    assert event.ip == OUTSIDER


@pytest.mark.parametrize("verify", ["NONE", "FAILED:certificate revoked", ""])
def test_proxy_without_verified_certificate_is_refused(client: Client, machine_a: Machine, verify: str) -> None:
    response = client.get(LIST_URL, **machine_a.headers(verify=verify))

    _refusal(response, "no_cert", 403)


def test_missing_or_unreadable_certificate_header_is_refused(client: Client, machine_a: Machine) -> None:
    _refusal(client.get(LIST_URL, **machine_a.headers(pem="")), "no_cert", 403)
    _refusal(client.get(LIST_URL, **machine_a.headers(pem="-----BEGIN CERTIFICATE-----\nnot a cert\n")), "no_cert", 403)


def test_unregistered_certificate_is_refused(client: Client, machine_a: Machine) -> None:
    stranger = make_certificate("stranger")

    event = _refusal(client.get(LIST_URL, **machine_a.headers(pem=stranger)), "unknown_cert", 403)
    assert len(event.detail["fingerprint_sha256"]) == 64


def test_revoked_certificate_is_refused(client: Client, machine_a: Machine, agency_admin: Any) -> None:
    client_certificate_revoke(certificate=machine_a.certificate, reason="鍵の漏えい", actor=agency_admin)

    event = _refusal(client.get(LIST_URL, **machine_a.headers()), "revoked", 403)
    assert event.object_ids == [str(machine_a.certificate.pk)]
    assert event.actor_label == f"api:{machine_a.client.pk}"
    with pytest.raises(ValidationError):
        client_certificate_revoke(certificate=machine_a.certificate, reason="again", actor=agency_admin)


def test_expired_registration_is_refused(
    client: Client, make_machine: Callable[..., Machine], institution_a: Any
) -> None:
    machine = make_machine(institution=institution_a, not_after=timezone.now() + dt.timedelta(days=2))

    assert client.get(LIST_URL, **machine.headers()).status_code == 200
    with time_machine.travel(timezone.now() + dt.timedelta(days=3)):
        _refusal(client.get(LIST_URL, **machine.headers()), "expired", 403)


def test_certificate_of_a_deactivated_client_is_refused(client: Client, machine_a: Machine, agency_admin: Any) -> None:
    api_client_deactivate(api_client=machine_a.client, actor=agency_admin)

    _refusal(client.get(LIST_URL, **machine_a.headers()), "inactive", 403)


def test_wrong_token_is_refused_with_401(client: Client, machine_a: Machine) -> None:
    response = client.get(LIST_URL, **machine_a.headers(token="not-the-token"))

    _refusal(response, "token_mismatch", 401)
    assert response["WWW-Authenticate"].startswith("Token")


def test_token_of_another_client_does_not_match_the_certificate(
    client: Client, machine_a: Machine, machine_b: Machine
) -> None:
    _refusal(client.get(LIST_URL, **machine_a.headers(token=machine_b.token)), "token_mismatch", 401)
    _refusal(client.get(LIST_URL, **machine_a.headers(pem=machine_b.pem)), "token_mismatch", 401)


def test_certificate_without_token_is_not_authenticated(client: Client, machine_a: Machine) -> None:
    headers = machine_a.headers()
    del headers["HTTP_AUTHORIZATION"]

    response = client.get(LIST_URL, **headers)

    assert response.status_code == 401
    assert not AuditEvent.objects.filter(action="api.auth_refused").exists()


def test_principal_is_written_to_the_audit_log_as_the_client(machine_a: Machine) -> None:
    principal = ApiClientPrincipal(machine_a.client, machine_a.certificate)

    assert principal.is_authenticated and principal.is_active and principal.is_verified()
    assert principal.role == Role.INSTITUTION_STAFF
    assert principal.institution_id == machine_a.client.institution_id
    assert principal.insurer_id is None
    assert principal.tenant_label == f"institution:{machine_a.client.institution.number}"
    assert principal.get_username() == f"api:{machine_a.client.pk}"
    assert principal.pk is None
    assert not principal.has_perm("agency.view_user")


# --- sending archives ----------------------------------------------------------------------------------


def test_post_creates_a_submission_of_the_certificates_institution_and_checks_it(
    client: Client,
    machine_a: Machine,
    contract_a: Any,
    make_archive: Callable[..., tuple[str, bytes]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    name, data = make_archive(contract_a, seed=1)

    with django_capture_on_commit_callbacks(execute=True):
        response = _post_multipart(client, name, data, machine_a.headers())

    assert response.status_code == 201, response.content
    body = response.json()
    submission = Submission.objects.get()
    assert body["id"] == submission.pk
    assert response["Location"] == f"/api/v1/submissions/{submission.pk}/"
    assert submission.institution == contract_a.institution
    assert submission.channel == Channel.API
    assert submission.received_by is None
    assert body["institution"] == contract_a.institution.number
    assert body["receipt_number"] == submission.receipt_number
    received = _last("intake.received")
    assert received.actor_label == f"api:{machine_a.client.pk}"
    assert received.actor_id is None
    assert received.tenant == f"institution:{contract_a.institution.number}"
    assert received.object_ids == [str(submission.pk)]

    status = client.get(f"{LIST_URL}{submission.pk}/", **machine_a.headers()).json()
    assert status["status"] == SubmissionStatus.ACCEPTED
    assert status["is_final"] is True
    assert status["progress"] == {"records_checked": 3, "records_total": 3}
    assert status["counts"] == {
        "files": submission.file_count,
        "records_total": 3,
        "records_accepted": 3,
        "records_returned": 0,
    }
    assert status["counts"]["files"] > 6  # index, summary, three pairs of files
    assert status["amounts"]["claimed"] == status["amounts"]["accepted"] > 0
    assert status["amounts"]["returned"] == 0
    listed = client.get(LIST_URL, **machine_a.headers()).json()
    assert [row["id"] for row in listed["results"]] == [submission.pk]


def test_raw_zip_body_with_file_name_header(
    client: Client, machine_a: Machine, contract_a: Any, make_archive: Callable[..., tuple[str, bytes]]
) -> None:
    name, data = make_archive(contract_a, seed=2)

    response = _post_zip(client, f"C:\\outbox\\{name}", data, machine_a.headers())

    assert response.status_code == 201, response.content
    submission = Submission.objects.get()
    assert submission.file_name == name
    assert submission.archive.size == len(data)
    assert response.json()["status"] == SubmissionStatus.RECEIVED  # checked after commit


def test_idempotency_key_retry_returns_the_same_submission(
    client: Client, machine_a: Machine, contract_a: Any, make_archive: Callable[..., tuple[str, bytes]]
) -> None:
    name, data = make_archive(contract_a, seed=3)
    headers = {**machine_a.headers(), "HTTP_IDEMPOTENCY_KEY": "batch-2024-11-28-001"}

    first = _post_zip(client, name, data, headers)
    events = AuditEvent.objects.filter(action="intake.received").count()
    retry = _post_zip(client, name, data, headers)

    assert first.status_code == 201
    assert retry.status_code == 200
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert Submission.objects.count() == 1
    assert Submission.objects.get().idempotency_key == "batch-2024-11-28-001"
    assert AuditEvent.objects.filter(action="intake.received").count() == events
    assert _last("intake.duplicate").object_ids == [str(first.json()["id"])]


def test_retry_with_the_key_resumes_a_submission_whose_worker_died(
    client: Client,
    machine_a: Machine,
    contract_a: Any,
    make_archive: Callable[..., tuple[str, bytes]],
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    name, data = make_archive(contract_a, seed=3)
    headers = {**machine_a.headers(), "HTTP_IDEMPOTENCY_KEY": "batch-2024-11-28-002"}
    first = _post_zip(client, name, data, headers)  # its check is queued; the worker that takes it dies
    submission_id = first.json()["id"]
    held_by_dead_worker(CHECK_ARCHIVE, [submission_id], f"submission:{submission_id}")
    detail_url = f"{LIST_URL}{submission_id}/"
    running = client.get(detail_url, **machine_a.headers()).json()["processing"]

    with after(settings.WORK_LEASE_SECONDS):
        stuck = client.get(detail_url, **machine_a.headers()).json()
        with django_capture_on_commit_callbacks(execute=True):
            retry = _post_zip(client, name, data, headers)

    assert first.json()["processing"]["state"] == "queued"
    assert running["state"] == "running" and running["resumed"] == 0
    assert stuck["status"] == SubmissionStatus.RECEIVED and stuck["is_final"] is False
    assert stuck["processing"]["state"] == "resuming" and "再送の必要はありません" in stuck["processing"]["message"]
    assert retry.status_code == 200 and retry["Idempotent-Replayed"] == "true"
    assert retry.json()["processing"]["state"] == "queued"  # answered before the resumed check ran
    done = client.get(detail_url, **machine_a.headers()).json()
    assert done["is_final"] and done["status"] == SubmissionStatus.ACCEPTED
    assert done["processing"] == {"state": "done", "state_label": "点検完了", "message": "", "resumed": 0}
    assert done["progress"] == {"records_checked": 3, "records_total": 3}
    assert Submission.objects.count() == 1 and Submission.objects.get().records.count() == 3
    assert AuditEvent.objects.filter(action="intake.resumed").count() == 1


def test_same_bytes_without_key_is_answered_as_duplicate_and_not_counted_twice(
    client: Client,
    machine_a: Machine,
    contract_a: Any,
    make_archive: Callable[..., tuple[str, bytes]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    name, data = make_archive(contract_a, seed=4)
    with django_capture_on_commit_callbacks(execute=True):
        first = _post_multipart(client, name, data, machine_a.headers())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = _post_zip(client, name, data, machine_a.headers())

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["status"] == SubmissionStatus.ACCEPTED
    assert callbacks == []  # no second round of checking
    assert Submission.objects.count() == 1
    assert Submission.objects.get().records.count() == 3


def test_same_bytes_from_another_institution_reveal_nothing(
    client: Client,
    machine_a: Machine,
    machine_b: Machine,
    contract_a: Any,
    make_archive: Callable[..., tuple[str, bytes]],
) -> None:
    name, data = make_archive(contract_a, seed=5)
    first = _post_zip(client, name, data, machine_a.headers())

    response = _post_zip(client, name, data, machine_b.headers())

    assert first.status_code == 201
    assert response.status_code == 409
    assert response.json() == {"detail": response.json()["detail"], "code": "duplicate_archive"}
    assert first.json()["receipt_number"] not in response.content.decode()


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"HTTP_IDEMPOTENCY_KEY": "キー"}, "invalid_idempotency_key"),
        ({"HTTP_IDEMPOTENCY_KEY": "x" * 129}, "invalid_idempotency_key"),
    ],
)
def test_invalid_idempotency_key_is_refused(
    client: Client, machine_a: Machine, extra: dict[str, str], code: str
) -> None:
    response = _post_zip(client, "a.zip", b"PK", machine_a.headers(), **extra)

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert not Submission.objects.exists()


def test_malformed_uploads_are_refused(client: Client, machine_a: Machine) -> None:
    headers = machine_a.headers()
    no_name = client.post(LIST_URL, data=b"PK", content_type="application/zip", **headers)
    no_file = client.post(LIST_URL, {"other": "x"}, **headers)
    json_body = client.post(LIST_URL, data={"file": "x"}, content_type="application/json", **headers)

    assert (no_name.status_code, no_name.json()["code"]) == (400, "filename_required")
    assert (no_file.status_code, no_file.json()["code"]) == (400, "file_required")
    assert json_body.status_code == 415
    assert not Submission.objects.exists()


@override_settings(INTAKE_MAX_ARCHIVE_BYTES=100)
def test_archive_over_the_limit_is_refused(client: Client, machine_a: Machine) -> None:
    response = _post_zip(client, "big.zip", b"P" * 101, machine_a.headers())

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


# --- reading: status, receipt, findings -----------------------------------------------------------------


@pytest.fixture
def checked(
    client: Client,
    machine_a: Machine,
    contract_a: Any,
    make_archive: Callable[..., tuple[str, bytes]],
    django_capture_on_commit_callbacks: Any,
) -> Submission:
    """A submission of institution A, checked: one record returned (ticket expired), two accepted."""
    name, data = make_archive(contract_a, seed=6, defects=("ticket_expired",))
    with django_capture_on_commit_callbacks(execute=True):
        response = _post_zip(client, name, data, machine_a.headers())
    assert response.status_code == 201
    return Submission.objects.get(pk=response.json()["id"])


def test_receipt_as_json(client: Client, machine_a: Machine, checked: Submission) -> None:
    response = client.get(f"{LIST_URL}{checked.pk}/receipt/", **machine_a.headers())

    assert response.status_code == 200
    receipt = response.json()
    assert receipt["receipt_number"] == checked.receipt_number
    assert receipt["sha256"] == checked.archive.sha256
    assert receipt["size"] == checked.archive.size
    assert receipt["channel"] == Channel.API
    assert receipt["file_name"] == checked.file_name
    assert receipt["institution"] == {"number": checked.institution.number, "name": checked.institution.name}
    assert dt.datetime.fromisoformat(receipt["received_at"]) == checked.received_at
    assert receipt["status"] == SubmissionStatus.PARTIALLY_ACCEPTED
    assert receipt["counts"] == {
        "files": checked.file_count,
        "records_total": 3,
        "records_accepted": 2,
        "records_returned": 1,
    }
    assert receipt["amounts"] == {
        "claimed": checked.amount_claimed,
        "accepted": checked.amount_accepted,
        "returned": checked.amount_returned,
    }
    assert receipt["amounts"]["claimed"] == receipt["amounts"]["accepted"] + receipt["amounts"]["returned"]
    assert receipt["rule_set"] == checked.rule_set


def test_errors_list_the_findings_and_the_read_is_audited(
    client: Client, machine_a: Machine, checked: Submission
) -> None:
    response = client.get(f"{LIST_URL}{checked.pk}/errors/", **machine_a.headers())

    assert response.status_code == 200
    findings = response.json()["results"]
    assert response.json()["count"] == checked.findings.count()
    [expired] = [f for f in findings if f["code"] == "REC_TICKET_EXPIRED"]
    returned = checked.records.get(status="returned")
    assert expired == {
        "code": "REC_TICKET_EXPIRED",
        "severity": "error",
        "return_reason": "06",
        "file": returned.data_path,
        "xpath": "//participant/time/high/@value",
        "message": expired["message"],
        "hint": "受診券の有効期限と健診実施日を確認してください。",
        "record_position": returned.position,
        "overridden": False,
    }
    assert expired["message"].startswith("健診実施日が受診券の有効期限を過ぎています")
    archive_level = [f for f in findings if f["record_position"] is None]
    assert all(f["severity"] != "error" for f in archive_level)

    event = _last("intake.findings.view")
    assert event.outcome == "success"
    assert event.actor_label == f"api:{machine_a.client.pk}"
    assert event.object_type == "record"
    assert str(returned.pk) in event.object_ids
    assert event.detail["submission"] == checked.pk


@pytest.mark.parametrize("suffix", ["", "receipt/", "errors/"])
def test_another_institutions_submission_is_404_and_audited(
    client: Client, machine_b: Machine, checked: Submission, suffix: str
) -> None:
    response = client.get(f"{LIST_URL}{checked.pk}/{suffix}", **machine_b.headers())

    assert response.status_code == 404
    assert checked.receipt_number not in response.content.decode()
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None
    assert event.action == ("intake.findings.view" if suffix == "errors/" else "access.denied")
    assert event.outcome == "denied"
    assert event.object_type == "submission"
    assert event.object_ids == [str(checked.pk)]
    assert event.actor_label == f"api:{machine_b.client.pk}"
    assert client.get(LIST_URL, **machine_b.headers()).json()["results"] == []


def test_refused_request_to_the_findings_is_audited_as_a_denied_read(
    client: Client, machine_a: Machine, checked: Submission
) -> None:
    response = client.get(f"{LIST_URL}{checked.pk}/errors/", **machine_a.headers(token="wrong"))

    assert response.status_code == 401
    event = _last("intake.findings.view")
    assert event.outcome == "denied"
    assert event.detail["status"] == 401


# --- who may do what -----------------------------------------------------------------------------------


def test_insurer_client_may_not_use_intake(
    client: Client, make_machine: Callable[..., Machine], insurer_a: Any, checked: Submission
) -> None:
    machine = make_machine(insurer=insurer_a)

    assert client.get(LIST_URL, **machine.headers()).status_code == 403
    assert client.get(f"{LIST_URL}{checked.pk}/", **machine.headers()).status_code == 403
    assert _post_zip(client, "a.zip", b"PK", machine.headers()).status_code == 403
    denied = _last("access.denied")
    assert denied.actor_label == f"api:{machine.client.pk}"
    assert denied.detail["permission"] == "intake.upload"


def test_human_institution_staff_use_the_same_endpoints_from_their_session(
    make_user: Callable[..., Any],
    contract_a: Any,
    make_archive: Callable[..., tuple[str, bytes]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    user = make_user(Role.INSTITUTION_STAFF, institution=contract_a.institution)
    http = login_verified(Client(), user)
    name, data = make_archive(contract_a, seed=8)

    with django_capture_on_commit_callbacks(execute=True):
        response = _post_multipart(http, name, data, {})

    assert response.status_code == 201, response.content
    submission = Submission.objects.get()
    assert submission.received_by == user
    assert _last("intake.received").actor_id == user.pk
    assert http.get(f"{LIST_URL}{submission.pk}/errors/").status_code == 200
    assert http.get(f"{LIST_URL}{submission.pk}/receipt/").json()["status"] == SubmissionStatus.ACCEPTED


def test_agency_staff_read_but_do_not_send(user_client: Callable[..., Client], checked: Submission) -> None:
    clerk = user_client(Role.AGENCY_CLERK)

    assert clerk.get(f"{LIST_URL}{checked.pk}/").status_code == 200
    assert _post_zip(clerk, "a.zip", b"PK", {}).status_code == 403


def test_anonymous_request_is_challenged(client: Client, db: Any) -> None:
    response = client.get(LIST_URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


def test_list_query_count_does_not_grow_with_submissions(
    client: Client,
    machine_a: Machine,
    contract_a: Any,
    make_archive: Callable[..., tuple[str, bytes]],
    django_assert_max_num_queries: Any,
) -> None:
    for seed in (11, 12, 13):
        name, data = make_archive(contract_a, seed=seed, records=1)
        assert _post_zip(client, name, data, machine_a.headers()).status_code == 201

    with django_assert_max_num_queries(8):
        response = client.get(LIST_URL, **machine_a.headers())

    assert response.json()["count"] == 3


# --- registering clients and certificates --------------------------------------------------------------


def test_client_belongs_to_exactly_one_party(agency_admin: Any, institution_a: Any, insurer_a: Any) -> None:
    with pytest.raises(ValidationError):
        api_client_create(name="両方", institution=institution_a, insurer=insurer_a, actor=agency_admin)
    with pytest.raises(ValidationError):
        api_client_create(name="なし", actor=agency_admin)
    assert not ApiClient.objects.exists()


@pytest.mark.parametrize(
    ("certificate", "code"),
    [
        (lambda: make_certificate("ca", ca=True), "ca_certificate"),
        (lambda: make_certificate("server", usage=ExtendedKeyUsageOID.SERVER_AUTH), "not_client_auth"),
        (
            lambda: make_certificate(
                "old",
                not_before=timezone.now() - dt.timedelta(days=30),
                not_after=timezone.now() - dt.timedelta(days=1),
            ),
            "expired",
        ),
        (lambda: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "invalid_pem"),
    ],
)
def test_unusable_certificates_are_not_registered(
    agency_admin: Any, institution_a: Any, certificate: Callable[[], str], code: str
) -> None:
    client, _ = api_client_create(name="受付", institution=institution_a, actor=agency_admin)

    with pytest.raises(ValidationError) as error:
        client_certificate_register(api_client=client, pem=certificate(), actor=agency_admin)

    assert error.value.code == code
    assert not ClientCertificate.objects.exists()


def test_a_certificate_is_registered_once(machine_a: Machine, machine_b: Machine, agency_admin: Any) -> None:
    with pytest.raises(ValidationError) as error:
        client_certificate_register(api_client=machine_b.client, pem=machine_a.pem, actor=agency_admin)

    assert error.value.code == "duplicate"


def test_registration_records_the_certificate_and_is_audited(agency_admin: Any, institution_a: Any) -> None:
    client, _ = api_client_create(name="受付", institution=institution_a, actor=agency_admin)
    pem = make_certificate("named", organisation_number=institution_a.number)

    registered = client_certificate_register(api_client=client, pem=pem, actor=agency_admin)

    parsed = x509.load_pem_x509_certificate(pem.encode())
    assert registered.fingerprint_sha256 == parsed.fingerprint(hashes.SHA256()).hex()
    assert int(registered.serial_hex, 16) == parsed.serial_number
    assert registered.serial_hex == registered.serial_hex.upper()
    assert f"OU={institution_a.number}" in registered.subject_dn
    assert "O=テスト健診センター" in registered.subject_dn
    assert registered.not_after == parsed.not_valid_after_utc
    event = _last("client_certificate.registered")
    assert event.actor_id == agency_admin.pk
    assert event.detail["subject_names_party"] is True
    assert event.detail["fingerprint_sha256"] == registered.fingerprint_sha256


def test_admin_creates_a_client_shows_the_token_once_and_registers_a_certificate(
    agency_admin: Any, institution_a: Any
) -> None:
    """In the portal's 設定 pages (the Django admin is for superusers only)."""
    http = login_verified(Client(), agency_admin)
    response = http.post(reverse("parties:api_client_create"), {"name": "基幹システム", "institution": institution_a.pk, "insurer": ""})

    assert response.status_code == 200, response.content
    client = ApiClient.objects.get(name="基幹システム")
    page = response.content.decode()
    token = page.split('data-testid="api-token">', 1)[1].split("<", 1)[0]
    assert token_digest(token) == client.token_hash
    assert client.created_by == agency_admin
    assert token not in http.get(reverse("parties:api_client_detail", args=[client.pk])).content.decode()

    pem = make_certificate("admin-registered")
    added = http.post(reverse("parties:certificate_create", args=[client.pk]), {"pem": pem})
    assert added.status_code == 302
    certificate = ClientCertificate.objects.get(api_client=client)
    refused = http.post(reverse("parties:certificate_create", args=[client.pk]), {"pem": pem})
    assert refused.status_code == 200
    assert "この証明書は既に登録されています。" in refused.content.decode()
    assert ClientCertificate.objects.count() == 1

    revoked = http.post(reverse("parties:certificate_revoke", args=[certificate.pk]), {"reason": "鍵の漏えいのおそれ"})
    assert revoked.status_code == 302
    certificate.refresh_from_db()
    assert certificate.revoked_at is not None and certificate.revoked_reason == "鍵の漏えいのおそれ"
    assert _last("client_certificate.revoked").actor_id == agency_admin.pk

    http.post(reverse("parties:api_client_deactivate", args=[client.pk]))
    client.refresh_from_db()
    assert not client.is_active
    assert _last("api_client.deactivated").actor_id == agency_admin.pk
