"""Loading compliance records for a view: a missing id is a 404, audited as denied like any other.

These records belong to the agency as a whole (no insurer or institution owns them); the view's
permission decides who may reach them at all.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from core.access import deny, get_or_deny

from . import selectors
from .checklist import checklist
from .models import AccessReview, Attestation, DataClass, DisposalCertificate, DisposalRequest, Incident


def access_item_code(request: HttpRequest, code: str) -> str:
    if code not in checklist().items:
        deny(request, "checklist_item", code)
    return code


def access_attestation(request: HttpRequest, pk: int) -> Attestation:
    return get_or_deny(Attestation.objects.select_related("attested_by"), request, "attestation", pk, pk=pk)


def access_incident(request: HttpRequest, pk: int) -> Incident:
    return get_or_deny(selectors.incident_list(), request, "incident", pk, pk=pk)


def access_maintenance_window(request: HttpRequest, pk: int) -> Any:
    return get_or_deny(selectors.maintenance_window_list(), request, "maintenance_window", pk, pk=pk)


def access_review(request: HttpRequest, pk: int) -> AccessReview:
    return get_or_deny(selectors.access_review_list(), request, "access_review", pk, pk=pk)


def access_data_class(request: HttpRequest, value: str) -> str:
    if value not in DataClass.values:
        deny(request, "data_class", value)
    return value


def access_disposal_request(request: HttpRequest, pk: int) -> DisposalRequest:
    return get_or_deny(selectors.disposal_request_list(), request, "disposal_request", pk, pk=pk)


def access_certificate(request: HttpRequest, seq: int) -> DisposalCertificate:
    return get_or_deny(selectors.disposal_certificate_list(), request, "disposal_certificate", seq, seq=seq)
