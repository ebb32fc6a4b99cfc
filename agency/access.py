"""One access function per tenant-owned model.

Each looks the object up within what the user may see and answers 404 with the same message
whether the object does not exist or belongs to another party; the refusal is audited as denied.
"""

from __future__ import annotations

from django.http import HttpRequest

from core.access import get_or_deny

from . import selectors
from .models import (
    ApiClient,
    ClientCertificate,
    CollectiveContract,
    CollectiveInsurer,
    CollectivePriceTable,
    Contract,
    Institution,
    InstitutionEmailSender,
    Insurer,
    User,
)


def access_insurer(request: HttpRequest, number: str) -> Insurer:
    return get_or_deny(selectors.insurer_list(user=request.user), request, "insurer", number, number=number)


def access_institution(request: HttpRequest, number: str) -> Institution:
    return get_or_deny(selectors.institution_list(user=request.user), request, "institution", number, number=number)


def access_contract(request: HttpRequest, contract_id: int) -> Contract:
    return get_or_deny(selectors.contract_list(user=request.user), request, "contract", contract_id, pk=contract_id)


def access_user(request: HttpRequest, user_id: int) -> User:
    return get_or_deny(selectors.user_list(user=request.user), request, "user", user_id, pk=user_id)


def access_api_client(request: HttpRequest, client_id: int) -> ApiClient:
    return get_or_deny(selectors.api_client_list(), request, "api_client", client_id, pk=client_id)


def access_client_certificate(request: HttpRequest, certificate_id: int) -> ClientCertificate:
    return get_or_deny(selectors.client_certificate_list(), request, "client_certificate", certificate_id, pk=certificate_id)


def access_email_sender(request: HttpRequest, institution: Institution, sender_id: int) -> InstitutionEmailSender:
    return get_or_deny(selectors.email_sender_list(institution=institution), request, "email_sender", sender_id, pk=sender_id)


def access_collective_contract(request: HttpRequest, contract_id: int) -> CollectiveContract:
    return get_or_deny(selectors.collective_contract_list(), request, "collective_contract", contract_id, pk=contract_id)


def access_collective_insurer(request: HttpRequest, contract: CollectiveContract, membership_id: int) -> CollectiveInsurer:
    return get_or_deny(selectors.collective_insurer_list(contract=contract), request, "collective_insurer", membership_id,
                       pk=membership_id)


def access_collective_price_table(request: HttpRequest, contract: CollectiveContract, table_id: int) -> CollectivePriceTable:
    return get_or_deny(contract.price_tables.prefetch_related("other_items"), request, "collective_price_table", table_id,
                       pk=table_id)
