"""The browser upload form (and the clerks' media import) takes the password of a locked archive: the
archive opens with it, the password is kept encrypted with the submission and appears nowhere else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from agency.models import AgencyProfile, Contract, Role
from audit.models import AuditEvent
from intake.models import Finding, Submission, SubmissionStatus
from kenshin.synth.generator import GeneratedArchive, GeneratorConfig, generate

from .helpers import parties_for

pytestmark = pytest.mark.django_db

PASSWORD = "Lock#2024pw"


def _locked(contract: Contract, *, seed: int) -> GeneratedArchive:
    agency = AgencyProfile.objects.values_list("agency_code", flat=True).get()
    config = GeneratorConfig(year=2024, records=3, seed=seed, insurers=1, agency_number=agency, password=PASSWORD)
    return next(generate(config, parties_for(contract)))


def _post(client: Client, url: str, data: dict[str, Any], capture: Callable[..., Any]) -> Any:
    with capture(execute=True):
        return client.post(url, data)


def test_a_locked_archive_uploaded_with_its_password_is_opened_and_checked(
    user_client: Callable[..., Client], agency_profile: AgencyProfile, contract_a: Contract, capture: Callable[..., Any]
) -> None:
    staff = user_client(Role.INSTITUTION_STAFF)
    archive = _locked(contract_a, seed=51)
    form = staff.get(reverse("intake:upload")).content.decode()

    response = _post(
        staff, reverse("intake:upload"),
        {"archives": SimpleUploadedFile(archive.filename, archive.data, content_type="application/zip"), "password": PASSWORD},
        capture,
    )

    assert 'type="password"' in form and 'name="password"' in form
    assert response.status_code == 302
    submission = Submission.objects.get()
    assert submission.status == SubmissionStatus.ACCEPTED, list(Finding.objects.values_list("code", flat=True))
    assert submission.archive_password and PASSWORD not in submission.archive_password
    assert not any(PASSWORD in str(detail) for detail in AuditEvent.objects.values_list("detail", flat=True))


def test_without_the_password_the_archive_is_rejected_with_its_code(
    user_client: Callable[..., Client], agency_profile: AgencyProfile, contract_a: Contract, capture: Callable[..., Any]
) -> None:
    staff = user_client(Role.INSTITUTION_STAFF)
    archive = _locked(contract_a, seed=52)

    _post(staff, reverse("intake:upload"), {"archives": SimpleUploadedFile(archive.filename, archive.data)}, capture)

    submission = Submission.objects.get()
    assert submission.status == SubmissionStatus.REJECTED
    assert Finding.objects.filter(submission=submission, code="ARC_PASSWORD_REQUIRED").exists()


def test_a_clerk_imports_a_locked_medium_with_its_password(
    user_client: Callable[..., Client], agency_profile: AgencyProfile, contract_a: Contract, capture: Callable[..., Any]
) -> None:
    clerk = user_client(Role.AGENCY_CLERK)
    archive = _locked(contract_a, seed=53)

    response = _post(
        clerk, reverse("intake:media_import"),
        {"institution": contract_a.institution.pk, "archive": SimpleUploadedFile(archive.filename, archive.data), "password": PASSWORD},
        capture,
    )

    assert response.status_code == 302
    assert Submission.objects.get().status == SubmissionStatus.ACCEPTED
