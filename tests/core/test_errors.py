"""Domain refusals reach people and machines in one shape: the API's error object, the pages' message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from rest_framework.exceptions import NotAuthenticated

from agency.models import AgencyProfile, Role
from core.api import exception_handler
from core.exceptions import ApplicationError, Conflict
from core.middleware import ApplicationErrorMiddleware
from intake.services.receive import ArchiveTooLarge


def test_a_refusal_is_rendered_with_its_status_code_and_extra_facts() -> None:
    response = exception_handler(Conflict("既に締め済みです。", code="month_closed", extra={"month": "2025-02"}), {})
    assert response is not None
    assert response.status_code == 409
    assert response.data == {"detail": "既に締め済みです。", "code": "month_closed", "month": "2025-02"}


def test_domain_families_carry_their_own_status() -> None:
    response = exception_handler(ArchiveTooLarge("アーカイブが上限を超えています。"), {})
    assert response is not None and response.status_code == 413 and response.data["code"] == "ARC_TOO_LARGE"
    assert issubclass(ArchiveTooLarge, ApplicationError)


def test_rest_framework_errors_gain_the_code_their_detail_lacks() -> None:
    response = exception_handler(NotAuthenticated(), {})
    assert response is not None
    assert response.status_code in (401, 403)
    assert response.data["code"] == "not_authenticated" and response.data["detail"]


def test_a_refused_form_post_returns_to_its_page_with_the_message(user_client: Callable[..., Client], db: Any) -> None:
    AgencyProfile.objects.update(agency_code="")
    client = user_client(Role.AGENCY_CLERK)
    url = reverse("insurer:routing_run")
    response = client.post(url, {"confirm": "on"}, follow=True)
    assert response.redirect_chain == [(url, 302)]
    assert "代行機関番号" in "".join(str(message) for message in response.context["messages"])


def test_a_refusal_on_a_page_renders_the_error_page_with_its_status(rf: Any, db: Any) -> None:
    request = rf.get("/anything/")
    request.user = AnonymousUser()
    middleware = ApplicationErrorMiddleware(lambda _request: HttpResponse())
    response = middleware.process_exception(request, Conflict("処理中です。", code="busy"))
    assert response is not None and response.status_code == 409
    assert "処理中です。" in response.content.decode() and "busy" in response.content.decode()
