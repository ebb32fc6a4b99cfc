"""One access function per tenant-owned model.

Each looks the object up within what the user may see and answers 404 with the same message
whether the object does not exist or belongs to another party; the refusal is audited as denied.
"""

from __future__ import annotations

from typing import NoReturn

from django.http import Http404, HttpRequest

from . import selectors
from .models import Contract, Institution, Insurer


def deny(request: HttpRequest, object_type: str, ident: object) -> NoReturn:
    request.audit.deny(object_type, ident)  # type: ignore[attr-defined]
    raise Http404


def access_insurer(request: HttpRequest, number: str) -> Insurer:
    insurer = selectors.insurer_list(user=request.user).filter(number=number).first()
    if insurer is None:
        deny(request, "insurer", number)
    return insurer


def access_institution(request: HttpRequest, number: str) -> Institution:
    institution = selectors.institution_list(user=request.user).filter(number=number).first()
    if institution is None:
        deny(request, "institution", number)
    return institution


def access_contract(request: HttpRequest, contract_id: int) -> Contract:
    contract = selectors.contract_list(user=request.user).filter(pk=contract_id).first()
    if contract is None:
        deny(request, "contract", contract_id)
    return contract
