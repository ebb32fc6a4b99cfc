"""Intake pages: upload and media import, submissions with live progress, the receipt, the error list,
the returned archive, the clerk workbench, the record page and the rule catalogue.

Thin views: a form validates, one service or selector does the work, a template renders. Every
submission and record is loaded through ``intake.access`` (foreign or missing → 404, audited as
denied); pages and downloads that carry personal data are audited with ``@personal_data``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.paginator import Paginator
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from agency import selectors as agency_selectors
from agency.models import Institution
from agency.permissions import Perm, permission_required_for_role, user_has_perm
from audit.middleware import personal_data
from core.http import request_audit

from . import checks, outputs, selectors, timeline
from .access import access_record, access_submission
from .forms import (
    MediaImportForm,
    SubmissionFilterForm,
    UploadForm,
    WarningOverrideForm,
    WorkbenchFilterForm,
    clean_file_name,
)
from .models import Channel, Finding, Record, Submission, SubmissionStatus
from .services import review
from .services.receive import ArchiveOfAnotherInstitution, ReceiveRefused, submission_receive

PAGE_SIZE = 50
CHAIN_LIMIT = 20
FINAL_STATUSES = (SubmissionStatus.ACCEPTED, SubmissionStatus.PARTIALLY_ACCEPTED, SubmissionStatus.REJECTED)


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


def _download(data: bytes, *, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _query(request: HttpRequest) -> str:
    """The current filters as a query string, without the page number (for the pager links)."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _labelled(findings: Any) -> list[Finding]:
    """The findings with the 別表9 label of their 返戻理由 (for the findings table)."""
    rows = list(findings)
    for finding in rows:
        finding.reason_label = outputs.reason_label(finding.return_reason)
    return rows


def _touch(request: HttpRequest, object_type: str, ids: Any) -> None:
    request_audit(request).touch(object_type, ids)


# --- receiving -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Received:
    file_name: str
    submission: Submission | None
    duplicate: bool = False
    error: str = ""


def _receive(request: HttpRequest, upload: UploadedFile, *, institution: Institution, channel: str) -> _Received:
    name = clean_file_name(upload.name or "")
    try:
        result = submission_receive(
            source=upload, file_name=name, institution=institution, channel=channel, actor=request.user, request=request
        )
    except ArchiveOfAnotherInstitution:
        # The same bytes came from another institution: say so without disclosing anything about it.
        return _Received(
            name, None, error=_("%(file)s と同じ内容のファイルは既に受け付けられています。ファイルを確認してください。") % {"file": name}
        )
    except ReceiveRefused as refused:
        return _Received(name, None, error=_("%(file)s は受け付けられません: %(reason)s") % {"file": name, "reason": refused})
    except ValueError:
        return _Received(name, None, error=_("%(file)s はサイズの上限を超えているため受け付けられません。") % {"file": name})
    return _Received(name, result.submission, duplicate=result.duplicate)


def _announce(request: HttpRequest, received: _Received, *, institution: Institution) -> dict[str, Any]:
    """Tell the user what happened to one file; a duplicate names the earlier receipt when it is theirs."""
    row: dict[str, Any] = {"file": received.file_name, "duplicate": received.duplicate, "receipt_number": None, "url": None}
    submission = received.submission
    if submission is None:
        messages.error(request, received.error)
        row["error"] = received.error
        return row
    if received.duplicate and submission.institution_id != institution.pk:
        # The same bytes were sent by another institution: say so without showing their receipt.
        text = _("%(file)s と同じ内容のファイルは既に受け付けられています。ファイルを確認してください。") % {"file": received.file_name}
        messages.warning(request, text)
        row["error"] = text
        return row
    row["receipt_number"] = submission.receipt_number
    row["url"] = reverse("intake:submission_detail", args=[submission.pk])
    if received.duplicate:
        messages.warning(
            request,
            _("%(file)s は既に受け付けています（受領番号 %(number)s）。同じファイルを二重に受け付けることはありません。")
            % {"file": received.file_name, "number": submission.receipt_number},
        )
    else:
        messages.success(
            request,
            _("%(file)s を受け付けました（受領番号 %(number)s）。点検の進み具合は受付の画面で確認できます。")
            % {"file": received.file_name, "number": submission.receipt_number},
        )
    return row


def _form_errors(form: Any) -> list[str]:
    return [str(message) for errors in form.errors.values() for message in errors]


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.INTAKE_UPLOAD)
def upload(request: HttpRequest) -> HttpResponse:
    institution = request.user.institution  # type: ignore[union-attr]
    form = UploadForm(request.POST, request.FILES) if request.method == "POST" else UploadForm()
    if request.method == "POST":
        if form.is_valid():
            rows = [
                _announce(request, _receive(request, item, institution=institution, channel=Channel.UPLOAD), institution=institution)
                for item in form.cleaned_data["archives"]
            ]
            urls = [row["url"] for row in rows if row["url"]]
            target = urls[0] if len(rows) == 1 and urls else reverse("intake:submission_list")
            if _wants_json(request):
                return JsonResponse({"redirect": target, "results": rows})
            return redirect(target)
        if _wants_json(request):
            return JsonResponse({"errors": _form_errors(form)}, status=400)
    return render(request, "intake/upload.html", {"form": form, "institution": institution})


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.INTAKE_IMPORT)
def media_import(request: HttpRequest) -> HttpResponse:
    institutions = agency_selectors.institution_list(user=request.user).filter(is_active=True)
    if request.method == "POST":
        form = MediaImportForm(request.POST, request.FILES, institutions=institutions)
        if form.is_valid():
            institution = form.cleaned_data["institution"]
            received = _receive(request, form.cleaned_data["archive"], institution=institution, channel=Channel.MEDIA)
            row = _announce(request, received, institution=institution)
            return redirect(row["url"] or reverse("intake:media_import"))
    else:
        form = MediaImportForm(institutions=institutions)
    return render(request, "intake/media_import.html", {"form": form})


# --- submissions ------------------------------------------------------------------------------------------


@require_GET
@permission_required_for_role(Perm.INTAKE_VIEW)
def submission_list(request: HttpRequest) -> HttpResponse:
    submissions = selectors.submission_list(user=request.user)
    form = SubmissionFilterForm(request.GET or None)
    if form.is_valid() and form.cleaned_data["status"]:
        submissions = submissions.filter(status=form.cleaned_data["status"])
    page = Paginator(submissions, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "intake/submission_list.html", {"page": page, "form": form, "query": _query(request)})


def _with_findings(records: QuerySet[Record]) -> QuerySet[Record]:
    return records.prefetch_related(Prefetch("findings", queryset=Finding.objects.order_by("id")))


@personal_data("intake.submission.view")
@require_GET
@permission_required_for_role(Perm.INTAKE_VIEW)
def submission_detail(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = access_submission(request, submission_id)
    records = _with_findings(selectors.record_list(user=request.user).filter(submission=submission).order_by("position"))
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    shown = [record.pk for record in page]
    if shown:
        _touch(request, "record", shown)
    else:
        _touch(request, "submission", [submission.pk])
    request_audit(request).detail["submission"] = submission.pk
    archive_findings = _labelled(selectors.finding_list(submission=submission).filter(record__isnull=True))
    return render(
        request,
        "intake/submission_detail.html",
        {
            "submission": submission,
            "receipt": outputs.receipt(submission),
            "archive_findings": archive_findings,
            "page": page,
            "timeline": timeline.submission_timeline(submission),
        },
    )


@require_GET
@permission_required_for_role(Perm.INTAKE_VIEW)
def submission_progress(request: HttpRequest, submission_id: int) -> JsonResponse:
    """Polled by the submission page (with ``X-Portal-Poll: 1``, which does not extend the session)."""
    submission = access_submission(request, submission_id)
    total = submission.records_total
    return JsonResponse(
        {
            "receipt_number": submission.receipt_number,
            "status": submission.status,
            "status_label": str(SubmissionStatus(submission.status).label),
            "final": submission.is_final,
            "records_total": total,
            "records_checked": submission.records_checked,
            "records_accepted": submission.records_accepted,
            "records_returned": submission.records_returned,
            "percent": round(100 * submission.records_checked / total) if total else (100 if submission.is_final else 0),
        }
    )


# --- receipt, error list, returned archive ----------------------------------------------------------------


@require_GET
@permission_required_for_role(Perm.INTAKE_VIEW)
def receipt(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = access_submission(request, submission_id)
    return render(request, "intake/receipt.html", {"submission": submission, "receipt": outputs.receipt(submission)})


@require_GET
@permission_required_for_role(Perm.INTAKE_VIEW)
def receipt_pdf(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = access_submission(request, submission_id)
    return _download(
        outputs.receipt_pdf(submission), filename=f"receipt-{submission.receipt_number}.pdf", content_type="application/pdf"
    )


@require_GET
@permission_required_for_role(Perm.INTAKE_VIEW)
def receipt_json(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = access_submission(request, submission_id)
    return _download(
        outputs.receipt_json(submission),
        filename=f"receipt-{submission.receipt_number}.json",
        content_type="application/json; charset=utf-8",
    )


@personal_data("intake.error_list.export")
@require_GET
@permission_required_for_role(Perm.INTAKE_VIEW)
def error_list_csv(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = access_submission(request, submission_id)
    _touch(request, "submission", [submission.pk])
    return _download(
        outputs.error_list_csv(submission),
        filename=f"errors-{submission.receipt_number}.csv",
        content_type="text/csv; charset=utf-8",
    )


@personal_data("intake.error_list.export")
@require_GET
@permission_required_for_role(Perm.INTAKE_VIEW)
def error_list_pdf(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = access_submission(request, submission_id)
    _touch(request, "submission", [submission.pk])
    return _download(
        outputs.error_list_pdf(submission), filename=f"errors-{submission.receipt_number}.pdf", content_type="application/pdf"
    )


@personal_data("intake.returned_archive.download")
@require_GET
@permission_required_for_role(Perm.INTAKE_VIEW)
def returned_archive(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = access_submission(request, submission_id)
    request_audit(request).detail["submission"] = submission.pk
    archive = outputs.returned_archive(submission)
    if archive is None:
        _touch(request, "submission", [submission.pk])
        return render(request, "intake/returned_none.html", {"submission": submission})
    _touch(request, "record", archive.record_ids)
    return _download(archive.data, filename=archive.filename, content_type="application/zip")


# --- records and the workbench ------------------------------------------------------------------------------


def _chain(request: HttpRequest, record: Record) -> list[Record]:
    """Earlier and later versions of this checkup (訂正再提出), oldest first, as far as the user may see."""
    visible = selectors.record_list(user=request.user)
    earlier: list[Record] = []
    current = record
    while current.replaces_id and len(earlier) < CHAIN_LIMIT:
        found = visible.filter(pk=current.replaces_id).first()
        if found is None:
            break
        earlier.insert(0, found)
        current = found
    later: list[Record] = []
    current = record
    while len(later) < CHAIN_LIMIT:
        found = visible.filter(replaces=current).order_by("pk").first()
        if found is None:
            break
        later.append(found)
        current = found
    return [*earlier, record, *later] if earlier or later else []


@personal_data("intake.record.view")
@require_GET
@permission_required_for_role(Perm.INTAKE_VIEW)
def record_detail(request: HttpRequest, record_id: int) -> HttpResponse:
    record = access_record(request, record_id)
    _touch(request, "record", [record.pk])
    findings = _labelled(record.findings.select_related("overridden_by").order_by("id"))
    return render(
        request,
        "intake/record_detail.html",
        {
            "record": record,
            "submission": record.submission,
            "findings": findings,
            "content": outputs.record_content(record),
            "chain": _chain(request, record),
            "timeline": timeline.record_timeline(record),
            "can_override": user_has_perm(request.user, Perm.INTAKE_OVERRIDE)
            and any(f.severity == Finding.Severity.WARNING and f.overridden_at is None for f in findings),
        },
    )


@personal_data("intake.warning_override.view")
@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.INTAKE_OVERRIDE)
def record_override(request: HttpRequest, record_id: int) -> HttpResponse:
    record = access_record(request, record_id)
    _touch(request, "record", [record.pk])
    warnings = record.findings.filter(severity=Finding.Severity.WARNING, overridden_at__isnull=True).order_by("id")
    if request.method == "POST":
        form = WarningOverrideForm(request.POST, warnings=warnings)
        if form.is_valid():
            try:
                review.finding_override_warning(
                    finding=form.cleaned_data["finding"], reason=form.cleaned_data["reason"], actor=request.user, request=request
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("警告を確認済みにしました。"))
                return redirect("intake:record_detail", record.pk)
    else:
        form = WarningOverrideForm(warnings=warnings)
    return render(
        request,
        "intake/record_override.html",
        {"record": record, "submission": record.submission, "form": form, "has_warnings": warnings.exists()},
    )


@personal_data("intake.workbench.view")
@require_GET
@permission_required_for_role(Perm.INTAKE_WORKBENCH)
def workbench(request: HttpRequest) -> HttpResponse:
    institutions = agency_selectors.institution_list(user=request.user)
    codes = sorted({row["code"] for row in checks.catalogue()})
    form = WorkbenchFilterForm(request.GET or None, institutions=institutions, codes=codes)
    records = selectors.record_list(user=request.user)
    submissions = selectors.submission_list(user=request.user)
    if form.is_bound and not form.is_valid():
        records = records.none()
    elif form.is_bound:
        data = form.cleaned_data
        if data["institution"]:
            records = records.filter(institution=data["institution"])
            submissions = submissions.filter(institution=data["institution"])
        if data["insurer_number"]:
            records = records.filter(insurer_number=data["insurer_number"])
        if data["status"]:
            records = records.filter(status=data["status"])
        if data["submission_status"]:
            records = records.filter(submission__status=data["submission_status"])
            submissions = submissions.filter(status=data["submission_status"])
        if data["code"]:
            records = records.filter(pk__in=Finding.objects.filter(code=data["code"]).values("record_id"))
    records = _with_findings(records.order_by("-submission__received_at", "-submission_id", "position"))
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    _touch(request, "record", [record.pk for record in page])
    in_progress = submissions.exclude(status__in=FINAL_STATUSES)[:PAGE_SIZE]
    return render(
        request,
        "intake/workbench.html",
        {"form": form, "page": page, "in_progress": in_progress, "query": _query(request)},
    )


# --- rules ----------------------------------------------------------------------------------------------------


@require_GET
@permission_required_for_role(Perm.INTAKE_RULES)
def rule_catalogue(request: HttpRequest) -> HttpResponse:
    rules = [
        {
            **row,
            "severity_label": str(Finding.Severity(row["severity"]).label),
            "return_reason_label": outputs.reason_label(row["return_reason"]),
        }
        for row in checks.catalogue()
    ]
    return render(request, "intake/rule_catalogue.html", {"rules": rules, "rule_set": checks.RULE_SET_VERSION})
