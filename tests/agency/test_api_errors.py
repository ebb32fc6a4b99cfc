"""Every answer of the API that is not a success has one shape, ``{"detail", "code"}``, in JSON — whoever
produced it — and paging and enum filters refuse what they do not document instead of ignoring it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client, override_settings

from agency.models import Role, User
from audit.models import AuditEvent, Outcome
from core.api import MAX_PAGE_LIMIT

from .helpers import PROXY, Machine, machine_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _trusted_proxy() -> Iterator[None]:
    with override_settings(TRUSTED_PROXIES=[f"{PROXY}/32"]):
        yield


@pytest.fixture
def institution_system(make_user: Callable[..., User], institution_a: Any) -> Machine:
    return machine_for(actor=make_user(Role.AGENCY_ADMIN), institution=institution_a)


@pytest.fixture
def insurer_system(make_user: Callable[..., User], insurer_a: Any) -> Machine:
    return machine_for(actor=make_user(Role.AGENCY_ADMIN), insurer=insurer_a, name="保険者システム")


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def test_401_403_404_carry_a_code(client: Client, institution_system: Machine, user_client: Callable[..., Client]) -> None:
    _error(client.get("/api/v1/submissions/"), 401, "not_authenticated")
    _error(client.get("/api/v1/submissions/", **institution_system.headers(token="wrong")), 401, "token_mismatch")
    _error(client.get("/api/v1/submissions/", **institution_system.headers(peer="203.0.113.9")), 403, "untrusted_peer")
    _error(client.get("/api/v1/submissions/999999/", **institution_system.headers()), 404, "not_found")
    _error(client.get("/api/v1/deliveries/", **institution_system.headers()), 403, "permission_denied")
    _error(client.get("/api/v1/insurers/"), 401, "not_authenticated")  # the parties API: portal sessions only
    _error(user_client(Role.INSURER_STAFF).post("/api/v1/insurers/", {}, content_type="application/json"), 403,
           "permission_denied")


@pytest.mark.parametrize("path", ["/api/v1/submissions/abc/", "/api/v1/deliveries/1.5/archive/", "/api/v1/nowhere/",
                                  "/api/v1/submissions", "/api/v2/"])
def test_paths_that_match_nothing_answer_json(client: Client, institution_system: Machine, path: str) -> None:
    _error(client.get(path, **institution_system.headers()), 404, "not_found")
    _error(client.post(path, {}, **institution_system.headers()), 404, "not_found")  # no CSRF page either


def test_405_and_415(client: Client, institution_system: Machine) -> None:
    _error(client.delete("/api/v1/submissions/", **institution_system.headers()), 405, "method_not_allowed")
    _error(client.post("/api/v1/submissions/", "x", content_type="text/plain", **institution_system.headers()), 415,
           "unsupported_media_type")


@pytest.mark.parametrize("query", [
    {"limit": str(2**63)}, {"limit": str(2**63 - 1)}, {"limit": "0"}, {"limit": "-1"}, {"limit": "abc"},
    {"limit": str(MAX_PAGE_LIMIT + 1)}, {"limit": "1.5"}, {"limit": ""}, {"offset": "-1"}, {"offset": str(2**63)},
    {"offset": "x"}, {"limit": "١٠"},
])
def test_paging_values_outside_the_bounds_are_refused(client: Client, institution_system: Machine, query: dict[str, str]) -> None:
    body = _error(client.get("/api/v1/submissions/", query, **institution_system.headers()), 400, "invalid_paging")
    assert body["parameter"] in query


def test_paging_within_the_bounds(client: Client, institution_system: Machine) -> None:
    for query in ({"limit": "1"}, {"limit": str(MAX_PAGE_LIMIT)}, {"offset": "0"}, {"offset": str(2**31 - 1)}, {}):
        response = client.get("/api/v1/submissions/", query, **institution_system.headers())
        assert response.status_code == 200, query
        assert response.json()["results"] == []


def test_a_status_outside_the_enum_is_refused(client: Client, insurer_system: Machine) -> None:
    body = _error(client.get("/api/v1/deliveries/", {"status": "Ready"}, **insurer_system.headers()), 400, "invalid_status")
    assert body["parameter"] == "status"
    assert "ready" in body["detail"]
    assert client.get("/api/v1/deliveries/", {"status": "ready"}, **insurer_system.headers()).status_code == 200


def test_create_errors_are_the_error_object(user_client: Callable[..., Client]) -> None:
    admin = user_client(Role.AGENCY_ADMIN)
    body = _error(admin.post("/api/v1/insurers/", {"name": "x"}, content_type="application/json"), 400, "invalid")
    assert set(body["errors"]) >= {"number", "contract_start"}
    # a rule of the model itself (full_clean in the service), not of the serializer
    body = _error(admin.post("/api/v1/institutions/", {"number": "1311234567", "name": "x", "phone": "03"},
                             content_type="application/json"), 400, "invalid")
    assert body["errors"]["number"]


def test_machine_clients_are_refused_by_the_parties_api_and_audited(client: Client, insurer_system: Machine) -> None:
    for method, path in [("get", "/api/v1/insurers/"), ("get", "/api/v1/contracts/"), ("post", "/api/v1/institutions/")]:
        before = AuditEvent.objects.count()
        body = _error(getattr(client, method)(path, **insurer_system.headers()), 403, "machine_client_refused")
        assert "クライアント証明書" in body["detail"]
        event = AuditEvent.objects.filter(seq__gt=before, action="api.machine_client_refused").get()
        assert event.outcome == Outcome.DENIED
        assert event.actor_label == f"api:{insurer_system.client.pk}"
        assert event.path == path
        assert event.detail["reason"] == "machine_client"


def test_the_schema_documents_errors_paging_and_the_binary_upload(client: Client) -> None:
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    upload = schema["components"]["schemas"]["UploadRequest"]["properties"]["file"]
    assert upload == {"type": "string", "format": "binary", "description": "標準様式のZIPアーカイブ"}
    create = schema["paths"]["/api/v1/submissions/"]["post"]
    assert {"200", "201", "400", "401", "403", "409", "413", "415", "422"} <= set(create["responses"])
    assert create["requestBody"]["required"] is True
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"detail", "code"}
    listing = schema["paths"]["/api/v1/submissions/"]["get"]
    limit = next(p for p in listing["parameters"] if p["name"] == "limit")
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_LIMIT}
    assert "400" in listing["responses"]
    for path in ("/api/v1/insurers/", "/api/v1/institutions/"):
        assert {"400", "401", "403"} <= set(schema["paths"][path]["post"]["responses"])
        assert schema["paths"][path]["post"]["security"] == [{"cookieAuth": []}]
    for path in ("/api/v1/insurers/{number}/", "/api/v1/institutions/{number}/", "/api/v1/contracts/{contract_id}/"):
        assert {"200", "401", "403", "404"} <= set(schema["paths"][path]["get"]["responses"])


def test_the_development_settings_trust_the_loopback_proxy() -> None:
    import agency.settings.dev as dev  # the development settings module itself, as bin/portal serve loads it

    assert {"127.0.0.1", "::1"} <= set(dev.TRUSTED_PROXIES)
