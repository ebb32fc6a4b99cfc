"""Public pages, mounted at /disclosure/ (no login)."""

from __future__ import annotations

from django.urls import path

from compliance.views import public as views_public

urlpatterns = [
    path("", views_public.disclosure, name="disclosure"),
    path("checklist/", views_public.disclosure_checklist, name="disclosure_checklist"),
]
