"""The home page: each role's work queue and charts (``portal.home``)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from agency.permissions import Perm, permission_required_for_role

from .home import home_panels


@require_GET
@permission_required_for_role(Perm.PORTAL_HOME)
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/home.html", {"panels": home_panels(request.user)})
