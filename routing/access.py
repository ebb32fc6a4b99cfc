"""One access function per tenant-owned routing model (foreign or missing → 404, audited as denied)."""

from __future__ import annotations

from django.http import HttpRequest

from core.access import get_or_deny
from intake.models import Record

from . import selectors
from .models import Delivery, InsurerReturn


def access_delivery(request: HttpRequest, delivery_id: int) -> Delivery:
    return get_or_deny(selectors.delivery_list(user=request.user), request, "delivery", delivery_id, pk=delivery_id)


def access_routed_record(request: HttpRequest, record_id: int) -> Record:
    return get_or_deny(selectors.routed_record_list(user=request.user), request, "record", record_id, pk=record_id)


def access_insurer_return(request: HttpRequest, return_id: int) -> InsurerReturn:
    return get_or_deny(selectors.insurer_return_list(user=request.user), request, "insurer_return", return_id, pk=return_id)
