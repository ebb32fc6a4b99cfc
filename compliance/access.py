"""Loading compliance records for a view: a missing id is a 404, audited as denied like any other.

These records belong to the agency as a whole (no insurer or institution owns them); the view's
permission decides who may reach them at all.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from agency.access import deny

from . import selectors
from .checklist import checklist
from .models import AccessReview, Attestation, DataClass, DisposalCertificate, DisposalRequest, Incident


def access_item_code(request: HttpRequest, code: str) -> str:
    if code not in checklist().items:
        deny(request, "checklist_item", code)
    return code


def access_attestation(request: HttpRequest, pk: int) -> Attestation:
    found = Attestation.objects.select_related("attested_by").filter(pk=pk).first()
    if found is None:
        deny(request, "attestation", pk)
    return found


def access_incident(request: HttpRequest, pk: int) -> Incident:
    found = selectors.incident_list().filter(pk=pk).first()
    if found is None:
        deny(request, "incident", pk)
    return found


def access_maintenance_window(request: HttpRequest, pk: int) -> Any:
    found = selectors.maintenance_window_list().filter(pk=pk).first()
    if found is None:
        deny(request, "maintenance_window", pk)
    return found


def access_review(request: HttpRequest, pk: int) -> AccessReview:
    found = selectors.access_review_list().filter(pk=pk).first()
    if found is None:
        deny(request, "access_review", pk)
    return found


def access_data_class(request: HttpRequest, value: str) -> str:
    if value not in DataClass.values:
        deny(request, "data_class", value)
    return value


def access_disposal_request(request: HttpRequest, pk: int) -> DisposalRequest:
    found = selectors.disposal_request_list().filter(pk=pk).first()
    if found is None:
        deny(request, "disposal_request", pk)
    return found


def access_certificate(request: HttpRequest, seq: int) -> DisposalCertificate:
    found = selectors.disposal_certificate_list().filter(seq=seq).first()
    if found is None:
        deny(request, "disposal_certificate", seq)
    return found
