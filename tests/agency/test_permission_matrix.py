"""Walk every URL pattern of the project for every role and check the answer against the permission matrix.

This is the one walk of the URL × role matrix: the routes come from the resolver, so a new URL fails
``test_every_route_is_classified`` until it declares a permission (or is listed as a public or
account page) and, when it takes arguments, until it has a sample below; ``test_role_matrix`` then
requests it as every role. The walk is split by the URL's top-level prefix (``/insurer/``,
``/billing/``, ``/api/v1/`` …), each for every role. Samples of the billing and compliance URLs come
from ``tests/billing/samples.py`` and ``tests/compliance/samples.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from agency.models import InstitutionEmailSender, Insurer, Role
from agency.permissions import ROLE_PERMISSIONS, Perm
from agency.services import api_client_create, client_certificate_register
from intake.models import AnnualReport, AnnualReportGeneration

from ..billing.samples import SAMPLES as BILLING_SAMPLES
from ..billing.samples import billing_objects
from ..compliance import samples as compliance_samples
from ..conftest import login_verified
from ..factories import (
    CollectiveContractFactory,
    CollectiveInsurerFactory,
    CollectivePriceTableFactory,
    RecordFactory,
    StoredArchiveFactory,
    SubmissionFactory,
    UserFactory,
)
from ..routing.helpers import routed_sample
from .helpers import make_certificate, open_window


@dataclass(frozen=True)
class Route:
    name: str
    callback: Any
    params: tuple[str, ...]
    group: str  # the top-level prefix of the URL: "/insurer/", "/api/v1/", "/healthz" …


def _walk(resolver: URLResolver, namespace: str = "", group: str = "") -> Iterator[Route]:
    for entry in resolver.url_patterns:
        top = group or f"/{entry.pattern}"
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                continue  # the Django admin: checked separately below
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry, ns, top)
        elif isinstance(entry, URLPattern):
            params = tuple(entry.pattern.converters) if hasattr(entry.pattern, "converters") else ()
            params = params or tuple(entry.pattern.regex.groupindex)
            name = f"{namespace}{entry.name}" if entry.name else ""  # an unnamed URL cannot be walked: refused below
            yield Route(name, entry.callback, params, top)


def _routes() -> list[Route]:
    # Parameters come from the whole path (the resolver prefixes included), so resolve them by reversing.
    return list(_walk(get_resolver()))


GROUPS = sorted({route.group for route in _routes()})

# Pages any logged-in user reaches whatever the role (their own account and second factor).
ACCOUNT_PAGES = {
    "accounts:otp_verify": 302,  # already verified → home
    "accounts:otp_setup": 302,  # already enrolled → verify
    "accounts:backup_codes": 302,  # nothing to show → home
    "accounts:password_change": 200,
    "accounts:logout": 405,  # POST only
    "accounts:backup_codes_regenerate": 200,  # asks for the password or a fresh code first
}
PUBLIC = {
    "accounts:login": 200,
    "accounts:locked_out": 429,
    "accounts:password_reset_confirm": 200,  # a link that is not valid says so
    "accounts:password_reset_complete": 200,
    "healthz": 200,
    "api_schema": 200,
    "api_not_found": 404,  # anything else under /api/v1/: the API's JSON 404
}


def _objects(contract: Any) -> dict[str, Any]:
    """Own-tenant objects of every kind a parameterised URL names (ORM rows only, no stored bytes)."""
    record = RecordFactory(submission__institution=contract.institution, insurer=contract.insurer)
    api_client, _token = api_client_create(name="受付システム", institution=contract.institution, actor=None)
    objects = {
        "insurer": contract.insurer, "institution": contract.institution, "contract": contract,
        "submission": record.submission, "record": record,
        "person": UserFactory(role=Role.INSTITUTION_STAFF, institution=contract.institution),
        "sender": InstitutionEmailSender.objects.create(institution=contract.institution, address="uketsuke@clinic.example.jp"),
        "api_client": api_client,
        "certificate": client_certificate_register(api_client=api_client, pem=make_certificate("matrix"), actor=None),
    }
    collective = CollectiveContractFactory(representative=contract.insurer)
    objects["collective"] = collective
    objects["collective_insurer"] = CollectiveInsurerFactory(contract=collective, insurer=contract.insurer)
    objects["collective_table"] = CollectivePriceTableFactory(contract=collective)
    return {**objects, **billing_objects(objects)}


SAMPLES: dict[str, Callable[[dict[str, Any]], list[Any]]] = {
    "intake_api:submission_detail": lambda o: [o["submission"].pk],
    "intake_api:submission_receipt": lambda o: [o["submission"].pk],
    "intake_api:submission_errors": lambda o: [o["submission"].pk],
    "intake:submission_detail": lambda o: [o["submission"].pk],
    "intake:submission_progress": lambda o: [o["submission"].pk],
    "intake:receipt": lambda o: [o["submission"].pk],
    "intake:receipt_pdf": lambda o: [o["submission"].pk],
    "intake:receipt_json": lambda o: [o["submission"].pk],
    "intake:error_list": lambda o: [o["submission"].pk],
    "intake:error_list_csv": lambda o: [o["submission"].pk],
    "intake:error_list_pdf": lambda o: [o["submission"].pk],
    "intake:returned_archive": lambda o: [o["submission"].pk],
    "intake:record_detail": lambda o: [o["record"].pk],
    "intake:record_override": lambda o: [o["record"].pk],
    "parties:insurer_detail": lambda o: [o["insurer"].number],
    "parties:institution_detail": lambda o: [o["institution"].number],
    "parties:contract_detail": lambda o: [o["contract"].pk],
    "agency_api:insurer_detail": lambda o: [o["insurer"].number],
    "agency_api:institution_detail": lambda o: [o["institution"].number],
    "agency_api:contract_detail": lambda o: [o["contract"].pk],
    "parties:insurer_edit": lambda o: [o["insurer"].number],
    "parties:institution_edit": lambda o: [o["institution"].number],
    "parties:institution_archive_password": lambda o: [o["institution"].number],
    "parties:institution_senders": lambda o: [o["institution"].number],
    "parties:institution_sender_delete": lambda o: [o["institution"].number, o["sender"].pk],
    "parties:contract_edit": lambda o: [o["contract"].pk],
    "parties:contract_end": lambda o: [o["contract"].pk],
    "parties:collective_detail": lambda o: [o["collective"].pk],
    "parties:collective_insurer_add": lambda o: [o["collective"].pk],
    "parties:collective_insurer_leave": lambda o: [o["collective"].pk, o["collective_insurer"].pk],
    "parties:collective_institution_add": lambda o: [o["collective"].pk],
    "parties:collective_price_add": lambda o: [o["collective"].pk],
    "parties:collective_price_edit": lambda o: [o["collective"].pk, o["collective_table"].pk],
    "parties:user_detail": lambda o: [o["person"].pk],
    "parties:user_edit": lambda o: [o["person"].pk],
    "parties:user_status": lambda o: [o["person"].pk],
    "parties:user_reset": lambda o: [o["person"].pk],
    "parties:api_client_detail": lambda o: [o["api_client"].pk],
    "parties:api_client_deactivate": lambda o: [o["api_client"].pk],
    "parties:certificate_create": lambda o: [o["api_client"].pk],
    "parties:certificate_revoke": lambda o: [o["certificate"].pk],
}


def _routed(o: dict[str, Any]) -> dict[str, int]:
    """A delivery of the role's own insurer with routed records of its own institution, one returned (過誤)."""
    if "routed" not in o:
        o["routed"] = routed_sample(o["insurer"], o["institution"])
    return o["routed"]


def _own_upload(o: dict[str, Any]) -> int:
    """The role's own insurer's upload of 事業者健診等 (実施区分 4)."""
    if "own_upload" not in o:
        o["own_upload"] = SubmissionFactory(institution=None, insurer=o["insurer"]).pk
    return int(o["own_upload"])


SAMPLES.update({
    "insurer:delivery_detail": lambda o: [_routed(o)["delivery"]],
    "insurer:delivery_download": lambda o: [_routed(o)["delivery"]],
    "insurer:delivery_acknowledge": lambda o: [_routed(o)["delivery"]],
    "insurer:delivery_media": lambda o: [_routed(o)["delivery"]],
    "insurer:delivery_media_archive": lambda o: [_routed(o)["delivery"]],
    "insurer:record_detail": lambda o: [_routed(o)["record"]],
    "insurer:record_return": lambda o: [_routed(o)["record"]],
    "insurer:return_archive": lambda o: [_routed(o)["insurer_return"]],
    "insurer:routing_dry_run": lambda o: [_routed(o)["submission"]],
    "delivery_api:delivery_detail": lambda o: [_routed(o)["delivery"]],
    "delivery_api:delivery_archive": lambda o: [_routed(o)["delivery"]],
    "delivery_api:delivery_acknowledge": lambda o: [_routed(o)["delivery"]],
    "insurer:other_checkup_detail": lambda o: [_own_upload(o)],
    "insurer:other_checkup_errors_csv": lambda o: [_own_upload(o)],
})
def _annual_report(o: dict[str, Any]) -> int:
    """A generated 実施結果報告 of the role's own insurer (stored bytes, not a real archive)."""
    if "annual_report" not in o:
        report = AnnualReport.objects.create(insurer=o["insurer"], fiscal_year=2024)
        archive = StoredArchiveFactory(content=b"annual report sample " + o["insurer"].number.encode(), on_disk=True)
        o["annual_report"] = AnnualReportGeneration.objects.create(
            report=report, archive=archive, file_name="annual.zip", record_count=0
        ).pk
    return int(o["annual_report"])


SAMPLES["insurer:annual_report_download"] = lambda o: [_annual_report(o)]
SAMPLES["accounts:password_reset_confirm"] = lambda o: ["MQ", "not-a-token"]
SAMPLES.update(compliance_samples.SAMPLES)
SAMPLES.update(BILLING_SAMPLES)
PUBLIC.update(compliance_samples.PUBLIC)


def _required_permission(callback: Any) -> Perm | None:
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is not None and hasattr(view_class, "permission"):
        return view_class.permission
    return getattr(callback, "required_permission", None)


def test_every_route_is_classified() -> None:
    routes = _routes()
    assert [r.callback for r in routes if not r.name] == [], "every URL needs a name to be walked"
    assert {"/", "/insurer/", "/billing/", "/compliance/", "/audit/", "/api/v1/"} <= set(GROUPS)
    unclassified = [
        r.name
        for r in routes
        if r.name not in ACCOUNT_PAGES and r.name not in PUBLIC and _required_permission(r.callback) is None
    ]
    assert unclassified == [], f"routes without a declared permission: {unclassified}"
    missing_samples = [r.name for r in routes if r.params and r.name not in SAMPLES]
    assert missing_samples == [], f"routes with parameters but no sample: {missing_samples}"
    names = {r.name for r in routes}
    stale = sorted((set(SAMPLES) | set(PUBLIC) | set(ACCOUNT_PAGES)) - names)
    assert stale == [], f"samples or listed pages of URLs that no longer exist: {stale}"
    guarded = [r.name for r in routes if r.name in PUBLIC and getattr(r.callback, "login_required", True) is not False]
    assert guarded == [], f"public pages that still require a login: {guarded}"


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("role", list(Role))
@pytest.mark.django_db
def test_role_matrix(role: Role, group: str, make_user: Callable[..., Any], contract_a: Any) -> None:
    user = make_user(role)
    if role == Role.MAINTENANCE:
        open_window(user)
    client = login_verified(Client(), user)
    objects = _objects(contract_a)
    results = {}
    for route in _routes():
        if route.group != group:
            continue
        args = SAMPLES[route.name](objects) if route.name in SAMPLES else []
        url = reverse(route.name, args=args)
        status = client.get(url).status_code
        if route.name in PUBLIC:
            expected = PUBLIC[route.name]
        elif route.name in ACCOUNT_PAGES:
            expected = ACCOUNT_PAGES[route.name]
        else:
            expected = 200 if _required_permission(route.callback) in ROLE_PERMISSIONS[role] else 403
        results[route.name] = (status, expected)
    assert results, group
    wrong = {name: got for name, got in results.items() if got[0] != got[1]}
    assert wrong == {}, f"{role} {group}: (got, expected) {wrong}"


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.django_db
@pytest.mark.usefixtures("admin_urls")
def test_django_admin_refuses_every_role_agency_admins_included(role: Role, make_user: Callable[..., Any]) -> None:
    user = make_user(role)
    if role == Role.MAINTENANCE:
        open_window(user)
    client = login_verified(Client(), user)
    for url in ("/admin/", "/admin/agency/user/", "/admin/agency/institution/add/"):
        response = client.get(url)
        assert response.status_code == 302, (role, url)
        assert "/admin/login/" in response["Location"], (role, url)
    response = client.post("/admin/agency/insurer/add/", {"number": "33120015", "name": "x", "contract_start": "2024-04-01"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not Insurer.objects.filter(number="33120015").exists()


@pytest.mark.django_db
def test_django_admin_answers_superusers_only(make_user: Callable[..., Any]) -> None:
    superuser = make_user(Role.AGENCY_ADMIN, is_staff=True, is_superuser=True)
    client = login_verified(Client(), superuser)
    assert client.get("/admin/").status_code == 200
    staff_only = make_user(Role.AGENCY_ADMIN, is_staff=True)
    response = login_verified(Client(), staff_only).get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_anonymous_requests_are_sent_to_login_except_public_pages(contract_a: Any) -> None:
    client = Client()
    objects = _objects(contract_a)
    for route in _routes():
        url = reverse(route.name, args=SAMPLES[route.name](objects) if route.name in SAMPLES else [])
        response = client.get(url)
        if route.name in PUBLIC:
            assert response.status_code == PUBLIC[route.name], url
        elif url.startswith("/api/"):
            assert response.status_code in (401, 403), url
        else:
            assert response.status_code in (302, 405), url
            if response.status_code == 302:
                assert response["Location"].startswith(reverse("accounts:login")), url
