"""The parties pages and the health check (the home page is ``portal.views.home``)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from audit.middleware import personal_data
from core.http import request_audit

from .. import access, selectors
from ..permissions import Perm, permission_required_for_role, user_has_perm


def _can_manage(request: HttpRequest) -> bool:
    return user_has_perm(request.user, Perm.PARTIES_MANAGE)


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@require_GET
@permission_required_for_role(Perm.PARTIES_VIEW)
def insurer_list(request: HttpRequest) -> HttpResponse:
    insurers = selectors.insurer_list(user=request.user)
    return render(request, "parties/insurer_list.html", {"insurers": insurers, "can_manage": _can_manage(request)})


@require_GET
@permission_required_for_role(Perm.PARTIES_VIEW)
def insurer_detail(request: HttpRequest, number: str) -> HttpResponse:
    insurer = access.access_insurer(request, number)
    contracts = selectors.contract_list(user=request.user).filter(insurer=insurer)
    manage = _can_manage(request)
    return render(request, "parties/insurer_detail.html", {
        "insurer": insurer, "contracts": contracts, "can_manage": manage,
        "api_clients": selectors.api_client_list().filter(insurer=insurer) if manage else [],
    })


@require_GET
@permission_required_for_role(Perm.PARTIES_VIEW)
def institution_list(request: HttpRequest) -> HttpResponse:
    institutions = selectors.institution_list(user=request.user)
    return render(request, "parties/institution_list.html", {"institutions": institutions, "can_manage": _can_manage(request)})


@personal_data("party.institution.view")
@require_GET
@permission_required_for_role(Perm.PARTIES_VIEW)
def institution_detail(request: HttpRequest, number: str) -> HttpResponse:
    institution = access.access_institution(request, number)
    request_audit(request).touch("institution", [institution.pk])
    contracts = selectors.contract_list(user=request.user).filter(institution=institution)
    manage = _can_manage(request)
    return render(request, "parties/institution_detail.html", {
        "institution": institution, "contracts": contracts, "can_manage": manage,
        "api_clients": selectors.api_client_list().filter(institution=institution) if manage else [],
    })


@require_GET
@permission_required_for_role(Perm.CONTRACTS_VIEW)
def contract_list(request: HttpRequest) -> HttpResponse:
    contracts = selectors.contract_list(user=request.user)
    return render(request, "parties/contract_list.html", {"contracts": contracts, "can_manage": _can_manage(request)})


@require_GET
@permission_required_for_role(Perm.CONTRACTS_VIEW)
def contract_detail(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = access.access_contract(request, contract_id)
    return render(request, "parties/contract_detail.html", {"contract": contract, "can_manage": _can_manage(request)})


@personal_data("account.list")
@require_GET
@permission_required_for_role(Perm.USERS_VIEW)
def user_list(request: HttpRequest) -> HttpResponse:
    users = list(selectors.user_list(user=request.user))
    request_audit(request).touch("user", [u.pk for u in users])
    return render(request, "parties/user_list.html", {"users": users, "can_manage": user_has_perm(request.user, Perm.USERS_MANAGE)})
