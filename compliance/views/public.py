"""Public pages (no login): the disclosure form and the 別添 checklist, as the guideline asks agencies to publish."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from compliance import export
from compliance.checklist import checklist
from compliance.disclosure import disclosure_context


@login_not_required
@require_GET
def disclosure(request: HttpRequest) -> HttpResponse:
    context = disclosure_context()
    context["notes"] = checklist().disclosure_notes
    return render(request, "public/disclosure.html", context)


@login_not_required
@require_GET
def disclosure_checklist(request: HttpRequest) -> HttpResponse:
    return render(request, "public/checklist.html", export.form_context())
