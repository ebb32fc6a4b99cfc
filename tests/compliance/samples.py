"""Sample objects for the URL walk of ``tests/agency/test_permission_matrix.py`` (SAMPLES entries).

Each function takes the matrix's ``objects`` dict (unused here: these records belong to the agency
as a whole) and returns the reverse() args of one parameterised URL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from agency.models import Role
from audit.models import AuditEvent
from audit.services import audit_record
from compliance.models import (
    DataClass,
    DisposalCertificate,
    DisposalRequest,
    Incident,
)
from compliance.services.disposal import sha256_of

from ..factories import AccessReviewFactory, MaintenanceWindowFactory, UserFactory

ITEM_CODE = "technical-07"


def _officer() -> Any:
    return UserFactory(role=Role.AGENCY_ADMIN)


def item_code(objects: dict[str, Any]) -> list[Any]:
    return [ITEM_CODE]


def data_class(objects: dict[str, Any]) -> list[Any]:
    return [DataClass.SUBMISSION.value]


def attestation_with_evidence(objects: dict[str, Any]) -> list[Any]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from compliance.services.checklist import attestation_record

    attestation = attestation_record(code="organisational-01", statement="体制図を確認", actor=_officer(),
                                     evidence_file=SimpleUploadedFile("taisei.txt", b"org chart"))
    return [attestation.pk]


def incident(objects: dict[str, Any]) -> list[Any]:
    found = Incident.objects.order_by("pk").first() or Incident.objects.create(
        reason="sample", declared_by=_officer(), declared_at=timezone.now(), state=Incident.State.CLOSED,
        closed_at=timezone.now(),
    )
    return [found.pk]


def maintenance_window(objects: dict[str, Any]) -> list[Any]:
    return [MaintenanceWindowFactory().pk]


def access_review(objects: dict[str, Any]) -> list[Any]:
    return [AccessReviewFactory().pk]


def disposal_request(objects: dict[str, Any]) -> list[Any]:
    request = DisposalRequest.objects.create(
        data_class=DataClass.SUBMISSION, cutoff=timezone.now() - dt.timedelta(days=3650), manifest=[],
        manifest_sha256=sha256_of([]), counts={}, requested_by=_officer(), requested_at=timezone.now(),
    )
    return [request.pk]


def certificate(objects: dict[str, Any]) -> list[Any]:
    found = DisposalCertificate.objects.order_by("seq").first()
    if found is None:
        request = DisposalRequest.objects.get(pk=disposal_request(objects)[0])
        found = DisposalCertificate(
            seq=1, request=request, issued_at=timezone.now(), data_class=request.data_class, method="sample",
            counts={}, manifest=[], manifest_sha256=request.manifest_sha256, requested_by="sample", approvers=[],
            executed_by="sample", prev_hash="0" * 64, certificate_hash="0" * 64,
        )
        found.save(force_insert=True)
    return [found.seq]


def audit_event(objects: dict[str, Any]) -> list[Any]:
    event = AuditEvent.objects.order_by("seq").first() or audit_record(action="test.sample", actor_label="system")
    return [event.seq]


# name → builder, merged into the permission matrix's SAMPLES.
SAMPLES = {
    "compliance:item_detail": item_code,
    "compliance:item_manage": item_code,
    "compliance:item_attest": item_code,
    "compliance:evidence_download": attestation_with_evidence,
    "compliance:incident_detail": incident,
    "compliance:maintenance_detail": maintenance_window,
    "compliance:review_detail": access_review,
    "compliance:review_complete": access_review,
    "compliance:retention_policy_edit": data_class,
    "compliance:disposal_detail": disposal_request,
    "compliance:certificate_detail": certificate,
    "compliance:certificate_pdf": certificate,
    "audit:event_detail": audit_event,
}

# Public pages and the status every role (and an anonymous visitor) gets.
PUBLIC = {"disclosure": 200, "disclosure_checklist": 200}
