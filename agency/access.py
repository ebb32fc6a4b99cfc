"""One access function per tenant-owned model.

Each looks the object up within what the user may see and answers 404 with the same message
whether the object does not exist or belongs to another party; the refusal is audited as denied.
"""

from __future__ import annotations

from django.http import HttpRequest

from core.access import get_or_deny

from . import selectors
from .models import Contract, Institution, Insurer


def access_insurer(request: HttpRequest, number: str) -> Insurer:
    return get_or_deny(selectors.insurer_list(user=request.user), request, "insurer", number, number=number)


def access_institution(request: HttpRequest, number: str) -> Institution:
    return get_or_deny(selectors.institution_list(user=request.user), request, "institution", number, number=number)


def access_contract(request: HttpRequest, contract_id: int) -> Contract:
    return get_or_deny(selectors.contract_list(user=request.user), request, "contract", contract_id, pk=contract_id)
