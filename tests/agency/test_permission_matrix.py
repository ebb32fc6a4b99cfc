"""Walk every URL pattern for every role and check the answer against the permission matrix.

A new URL fails this test until it declares a permission (or is listed as public / second-factor
page) and, when it takes arguments, until it has a sample below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from agency.models import Role
from agency.permissions import ROLE_PERMISSIONS, Perm

from ..billing.samples import SAMPLES as BILLING_SAMPLES
from ..billing.samples import billing_objects
from ..compliance import samples as compliance_samples
from ..conftest import login_verified
from ..routing.helpers import routed_sample
from .helpers import open_window


@dataclass(frozen=True)
class Route:
    name: str
    callback: Any
    params: tuple[str, ...]


def _walk(resolver: URLResolver, namespace: str = "") -> Iterator[Route]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                continue  # the Django admin: checked separately below
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry, ns)
        elif isinstance(entry, URLPattern) and entry.name:
            params = tuple(entry.pattern.converters) if hasattr(entry.pattern, "converters") else ()
            yield Route(f"{namespace}{entry.name}", entry.callback, params)


def _routes() -> list[Route]:
    # Parameters come from the whole path (the resolver prefixes included), so resolve them by reversing.
    return list(_walk(get_resolver()))


# Pages any logged-in user reaches whatever the role (their own account and second factor).
ACCOUNT_PAGES = {
    "accounts:otp_verify": 302,  # already verified → home
    "accounts:otp_setup": 302,  # already enrolled → verify
    "accounts:backup_codes": 302,  # nothing to show → home
    "accounts:password_change": 200,
    "accounts:logout": 405,  # POST only
    "accounts:backup_codes_regenerate": 405,
}
PUBLIC = {
    "accounts:login": 200,
    "accounts:locked_out": 429,
    "accounts:password_reset_confirm": 200,  # a link that is not valid says so
    "accounts:password_reset_complete": 200,
    "healthz": 200,
    "api_schema": 200,
}

def _objects(contract: Any) -> dict[str, Any]:
    """Own-tenant objects of every kind a parameterised URL names (ORM rows only, no stored bytes)."""
    from django.utils import timezone

    from intake.models import Channel, Record, RecordStatus, StoredArchive, Submission, SubmissionStatus

    archive = StoredArchive.objects.create(sha256="0" * 64, size=0)
    submission = Submission.objects.create(
        receipt_number="R2099-0000001", archive=archive, file_name="sample.zip", institution=contract.institution,
        channel=Channel.UPLOAD, received_at=timezone.now(), rule_set="test", status=SubmissionStatus.ACCEPTED,
    )
    record = Record.objects.create(
        submission=submission, position=1, institution=contract.institution, status=RecordStatus.ACCEPTED
    )
    objects = {
        "insurer": contract.insurer, "institution": contract.institution, "contract": contract,
        "submission": submission, "record": record,
    }
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
}


def _routed(o: dict[str, Any]) -> dict[str, int]:
    """A delivery of the role's own insurer with routed records of its own institution, one returned (過誤)."""
    if "routed" not in o:
        o["routed"] = routed_sample(o["insurer"], o["institution"])
    return o["routed"]


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
})
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
    unclassified = [
        r.name
        for r in _routes()
        if r.name not in ACCOUNT_PAGES and r.name not in PUBLIC and _required_permission(r.callback) is None
    ]
    assert unclassified == [], f"routes without a declared permission: {unclassified}"
    missing_samples = [r.name for r in _routes() if r.params and r.name not in SAMPLES]
    assert missing_samples == [], f"routes with parameters but no sample: {missing_samples}"


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.django_db
def test_role_matrix(role: Role, make_user: Callable[..., Any], contract_a: Any) -> None:
    user = make_user(role)
    if role == Role.MAINTENANCE:
        open_window(user)
    client = login_verified(Client(), user)
    objects = _objects(contract_a)
    results = {}
    for route in _routes():
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
    wrong = {name: got for name, got in results.items() if got[0] != got[1]}
    assert wrong == {}, f"{role}: (got, expected) {wrong}"


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.django_db
def test_django_admin_only_for_agency_admins(role: Role, make_user: Callable[..., Any]) -> None:
    user = make_user(role)
    if role == Role.MAINTENANCE:
        open_window(user)
    client = login_verified(Client(), user)
    response = client.get("/admin/")
    if role == Role.AGENCY_ADMIN:
        assert response.status_code == 200
    else:
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_anonymous_requests_are_sent_to_login(contract_a: Any) -> None:
    client = Client()
    objects = _objects(contract_a)
    for route in _routes():
        if route.name in PUBLIC:
            continue
        url = reverse(route.name, args=SAMPLES[route.name](objects) if route.name in SAMPLES else [])
        response = client.get(url)
        if url.startswith("/api/"):
            assert response.status_code in (401, 403), url
        else:
            assert response.status_code in (302, 405), url
            if response.status_code == 302:
                assert response["Location"].startswith(reverse("accounts:login")), url
