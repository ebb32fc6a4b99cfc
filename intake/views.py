"""Intake pages: upload and media import, submissions with live progress, the receipt, the error list,
the returned archive, the clerk workbench, the record page and the rule catalogue.

Thin views: a form validates, one service or selector does the work, a template renders. Every
submission and record is loaded through ``intake.access`` (foreign or missing → 404, audited as
denied); pages and downloads that carry personal data are audited with ``@personal_data``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
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
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from agency import selectors as agency_selectors
from agency.contracts import applied_contract
from agency.models import Institution, Role
from agency.permissions import Perm, permission_required_for_role, user_has_perm
from audit.middleware import personal_data
from core.http import request_audit

from . import checks, outputs, selectors, timeline, wording
from .access import access_record, access_submission
from .forms import (
    MediaImportForm,
    OwnRecordSearchForm,
    RecordStatusFilterForm,
    ReturnFilterForm,
    SubmissionFilterForm,
    UploadForm,
    WarningOverrideForm,
    WarningQueueFilterForm,
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


def _labelled(request: HttpRequest, findings: Any) -> list[Finding]:
    """The findings as the findings table shows them (Japanese text, 別表9 label, 対処方法); an institution
    sees each defect once and nothing about the agency's own configuration."""
    rows = list(findings)
    if request.user.role == Role.INSTITUTION_STAFF:  # type: ignore[union-attr]
        rows = wording.shown_to_institutions(rows)
    return [wording.describe(finding) for finding in rows]


def _csv(rows: Iterable[Iterable[Any]], *, header: Iterable[str], filename: str) -> HttpResponse:
    """A list as CSV for Excel: UTF-8 with a byte-order mark, CRLF, formulas neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(list(header))
    for row in rows:
        writer.writerow([outputs.csv_cell("" if value is None else str(value)) for value in row])
    return _download(buffer.getvalue().encode("utf-8-sig"), filename=filename, content_type="text/csv; charset=utf-8")


def _touch(request: HttpRequest, object_type: str, ids: Any) -> None:
    request_audit(request).touch(object_type, ids)


# --- receiving -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Received:
    file_name: str
    submission: Submission | None
    duplicate: bool = False
    error: str = ""


def _receive(
    request: HttpRequest, upload: UploadedFile, *, institution: Institution, channel: str, password: str = ""
) -> _Received:
    name = clean_file_name(upload.name or "")
    try:
        result = submission_receive(
            source=upload, file_name=name, institution=institution, channel=channel, actor=request.user, request=request,
            password=password,
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


@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.INTAKE_UPLOAD)
def upload(request: HttpRequest) -> HttpResponse:
    institution = request.user.institution  # type: ignore[union-attr]
    form = UploadForm(request.POST, request.FILES) if request.method == "POST" else UploadForm()
    if request.method == "POST":
        if form.is_valid():
            password = form.cleaned_data["password"]
            rows = [
                _announce(
                    request,
                    _receive(request, item, institution=institution, channel=Channel.UPLOAD, password=password),
                    institution=institution,
                )
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


@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.INTAKE_IMPORT)
def media_import(request: HttpRequest) -> HttpResponse:
    institutions = agency_selectors.institution_list(user=request.user).filter(is_active=True)
    if request.method == "POST":
        form = MediaImportForm(request.POST, request.FILES, institutions=institutions)
        if form.is_valid():
            institution = form.cleaned_data["institution"]
            received = _receive(
                request, form.cleaned_data["archive"], institution=institution, channel=Channel.MEDIA,
                password=form.cleaned_data["password"],
            )
            row = _announce(request, received, institution=institution)
            return redirect(row["url"] or reverse("intake:media_import"))
    else:
        form = MediaImportForm(institutions=institutions)
    return render(request, "intake/media_import.html", {"form": form})


# --- submissions ------------------------------------------------------------------------------------------


@require_GET
@permission_required_for_role(Perm.INTAKE_VIEW)
def submission_list(request: HttpRequest) -> HttpResponse:
    form, submissions = _filtered_submissions(request)
    page = Paginator(submissions, PAGE_SIZE).get_page(request.GET.get("page"))
    for submission in page:
        # How the check of an unfinished submission really stands (queued, running, interrupted).
        submission.processing = None if submission.is_final else selectors.submission_processing(submission)  # type: ignore[attr-defined]
    return render(request, "intake/submission_list.html", {
        "page": page, "form": form, "query": _query(request), "csv_url": reverse("intake:submission_list_csv"),
    })


def _filtered_submissions(request: HttpRequest) -> tuple[SubmissionFilterForm, QuerySet[Submission]]:
    submissions = selectors.submission_list(user=request.user)
    form = SubmissionFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return form, submissions.none()
    if form.is_bound:
        data = form.cleaned_data
        if data["status"]:
            submissions = submissions.filter(status=data["status"])
        if data["received_from"]:
            submissions = submissions.filter(received_at__date__gte=data["received_from"])
        if data["received_to"]:
            submissions = submissions.filter(received_at__date__lte=data["received_to"])
    return form, submissions


SUBMISSION_CSV_HEADER = ("受領番号", "受付日時", "健診機関番号", "健診機関名", "ファイル名", "経路", "状態", "受理件数", "返戻件数",
                         "合計件数", "請求額", "受理額", "返戻額")


@personal_data("intake.submissions.export")
@require_GET
@permission_required_for_role(Perm.INTAKE_VIEW)
def submission_list_csv(request: HttpRequest) -> HttpResponse:
    _form, submissions = _filtered_submissions(request)
    found = list(submissions)
    _touch(request, "submission", [s.pk for s in found])
    request_audit(request).detail["filters"] = {k: v for k, v in request.GET.items() if v}
    rows = (
        [s.receipt_number, f"{timezone.localtime(s.received_at):%Y-%m-%d %H:%M}", s.sender_number, s.sender_name,
         s.file_name, s.get_channel_display(), s.get_status_display(), s.records_accepted, s.records_returned, s.records_total,
         s.amount_claimed, s.amount_accepted, s.amount_returned]
        for s in found
    )
    return _csv(rows, header=SUBMISSION_CSV_HEADER, filename="submissions.csv")


def _with_findings(records: QuerySet[Record]) -> QuerySet[Record]:
    return records.prefetch_related(Prefetch("findings", queryset=Finding.objects.order_by("id")))


def _describe_records(request: HttpRequest, records: Iterable[Record]) -> None:
    """Give each record of a list its findings as the list shows them (``record.shown_findings``)."""
    for record in records:
        record.shown_findings = _labelled(request, record.findings.all())  # type: ignore[attr-defined]


@personal_data("intake.submission.view")
@require_GET
@permission_required_for_role(Perm.INTAKE_VIEW)
def submission_detail(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = access_submission(request, submission_id)
    records = selectors.record_list(user=request.user).filter(submission=submission).order_by("position")
    status_form = RecordStatusFilterForm(request.GET or None)
    if status_form.is_valid() and status_form.cleaned_data["status"]:
        records = records.filter(status=status_form.cleaned_data["status"])
    page = Paginator(_with_findings(records), PAGE_SIZE).get_page(request.GET.get("page"))
    _describe_records(request, page)
    shown = [record.pk for record in page]
    if shown:
        _touch(request, "record", shown)
    else:
        _touch(request, "submission", [submission.pk])
    request_audit(request).detail["submission"] = submission.pk
    archive_findings = _labelled(request, selectors.finding_list(submission=submission).filter(record__isnull=True))
    return render(
        request,
        "intake/submission_detail.html",
        {
            "submission": submission,
            "status_form": status_form,
            "query": _query(request),
            "receipt": outputs.receipt(submission),
            "processing": selectors.submission_processing(submission),
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
    processing = selectors.submission_processing(submission)
    return JsonResponse(
        {
            "receipt_number": submission.receipt_number,
            "status": submission.status,
            "status_label": str(SubmissionStatus(submission.status).label),
            "processing": processing.state,
            "processing_label": processing.label,
            "processing_message": processing.message,
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


@personal_data("intake.error_list.view")
@require_GET
@permission_required_for_role(Perm.INTAKE_VIEW)
def error_list(request: HttpRequest, submission_id: int) -> HttpResponse:
    """The 受付エラー連絡表 on screen: the same rows as the CSV and the PDF."""
    submission = access_submission(request, submission_id)
    rows = outputs.error_list_rows(submission)
    _touch(request, "submission", [submission.pk])
    return render(
        request,
        "intake/error_list.html",
        {"submission": submission, "receipt": outputs.receipt(submission), "rows": rows, "columns": outputs.ERROR_LIST_SHOWN},
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
    findings = _labelled(request, record.findings.select_related("overridden_by").order_by("id"))
    return render(
        request,
        "intake/record_detail.html",
        {
            "record": record,
            "submission": record.submission,
            "findings": findings,
            "content": outputs.record_content(record),
            "contract": applied_contract(record.contract, record.collective_price_table),
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
        chosen = request.GET.get("finding", "")
        form = WarningOverrideForm(warnings=warnings, initial={"finding": int(chosen)} if chosen.isdigit() else None)
    return render(
        request,
        "intake/record_override.html",
        {"record": record, "submission": record.submission, "form": form, "has_warnings": warnings.exists()},
    )


def _workbench_records(request: HttpRequest) -> tuple[WorkbenchFilterForm, QuerySet[Record], QuerySet[Submission]]:
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
    return form, records, submissions


@personal_data("intake.workbench.view")
@require_GET
@permission_required_for_role(Perm.INTAKE_WORKBENCH)
def workbench(request: HttpRequest) -> HttpResponse:
    form, records, submissions = _workbench_records(request)
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    _touch(request, "record", [record.pk for record in page])
    in_progress = submissions.exclude(status__in=FINAL_STATUSES)[:PAGE_SIZE]
    return render(
        request,
        "intake/workbench.html",
        {"form": form, "page": page, "in_progress": in_progress, "query": _query(request),
         "csv_url": reverse("intake:workbench_csv")},
    )


WORKBENCH_CSV_HEADER = ("受領番号", "順番", "受付日", "健診機関番号", "保険者番号", "受診券整理番号", "氏名カナ", "生年月日", "健診実施日",
                        "状態", "点検結果")


@personal_data("intake.workbench.export")
@require_GET
@permission_required_for_role(Perm.INTAKE_WORKBENCH)
def workbench_csv(request: HttpRequest) -> HttpResponse:
    _form, records, _submissions = _workbench_records(request)
    found = list(records.select_related("submission", "institution"))
    _touch(request, "record", [r.pk for r in found])
    request_audit(request).detail["filters"] = {k: v for k, v in request.GET.items() if v}
    rows = (
        [r.submission.receipt_number, r.position, f"{timezone.localtime(r.submission.received_at):%Y-%m-%d}", r.institution.number if r.institution else "",
         r.insurer_number, r.ticket_number, r.name_kana, r.birth_date.isoformat() if r.birth_date else "",
         r.checkup_date.isoformat() if r.checkup_date else "", r.get_status_display(),
         " ".join(f"{f.code}（{f.get_severity_display()}）" for f in r.findings.all())]
        for r in found
    )
    return _csv(rows, header=WORKBENCH_CSV_HEADER, filename="workbench.csv")


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


# --- returns, the institution's own records, the warnings queue ---------------------------------------------------

RETURN_CSV_HEADER = (
    "受領番号", "順番", "受付日", "健診機関番号", "受診券整理番号", "保険者番号", "氏名カナ", "生年月日", "健診実施日",
    "種類", "返戻理由コード", "返戻理由", "内容", "対処方法", "再提出",
)


def _return_rows(request: HttpRequest, records: list[Record]) -> list[dict[str, Any]]:
    """Per returned record: why (the blocking findings in Japanese with their hints) and what became of it."""
    findings = selectors.blocking_findings(records)
    rows = []
    for record in records:
        insurer_return = getattr(record, "insurer_return", None)
        reasons = _labelled(request, findings.get(record.pk, []))
        corrected = sorted(record.replaced_by.all(), key=lambda r: r.pk)
        rows.append({
            "record": record,
            "kind": _("過誤（保険者）") if insurer_return is not None else _("事務点検"),
            "insurer_return": insurer_return,
            "reasons": reasons,
            "corrected": corrected[-1] if corrected else None,
        })
    return rows


def _return_csv_values(row: dict[str, Any]) -> list[Any]:
    record: Record = row["record"]
    insurer_return = row["insurer_return"]
    if insurer_return is not None:
        codes, labels_, texts, hints = insurer_return.reason, insurer_return.get_reason_display(), insurer_return.note, ""
    else:
        codes = "・".join(dict.fromkeys(f.return_reason for f in row["reasons"]))
        labels_ = "・".join(dict.fromkeys(f.reason_label for f in row["reasons"]))
        texts = "／".join(f.text for f in row["reasons"])
        hints = "／".join(dict.fromkeys(f.hint for f in row["reasons"] if f.hint))
    corrected = row["corrected"]
    return [
        record.submission.receipt_number, record.position, f"{record.submission.received_at:%Y-%m-%d}",
        record.institution.number if record.institution else "", record.ticket_number, record.insurer_number, record.name_kana,
        record.birth_date.isoformat() if record.birth_date else "", record.checkup_date.isoformat() if record.checkup_date else "",
        row["kind"], codes, labels_, texts, hints,
        f"{corrected.submission.receipt_number}#{corrected.position}" if corrected else "",
    ]


def _filtered_returns(request: HttpRequest) -> tuple[ReturnFilterForm, QuerySet[Record]]:
    records = selectors.returned_record_list(user=request.user)
    agency = request.user.role != Role.INSTITUTION_STAFF  # type: ignore[union-attr]
    insurer_ids = records.order_by().values("insurer_id").distinct()
    form = ReturnFilterForm(
        request.GET or None,
        insurers=agency_selectors.insurer_list(user=request.user).filter(pk__in=insurer_ids)
        if not agency else agency_selectors.insurer_list(user=request.user),
        months=selectors.months_with(records),
        institutions=agency_selectors.institution_list(user=request.user) if agency else None,
    )
    if form.is_bound and not form.is_valid():
        return form, records.none()
    if form.is_bound:
        data = form.cleaned_data
        records = selectors.returns_filter(
            records, reason=data["reason"], insurer=data["insurer"], month=form.month_value(),
            institution=data.get("institution"), kind=data["kind"], resubmitted=data["resubmitted"],
        )
    return form, records


@personal_data("intake.returns.view")
@require_GET
@permission_required_for_role(Perm.INTAKE_VIEW)
def return_list(request: HttpRequest) -> HttpResponse:
    """返戻一覧: every returned record across submissions, why, what to do, and its resubmission."""
    form, records = _filtered_returns(request)
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = _return_rows(request, list(page))
    _touch(request, "record", [row["record"].pk for row in rows])
    return render(request, "intake/return_list.html", {"form": form, "page": page, "rows": rows, "query": _query(request)})


@personal_data("intake.returns.export")
@require_GET
@permission_required_for_role(Perm.INTAKE_VIEW)
def return_list_csv(request: HttpRequest) -> HttpResponse:
    _form, records = _filtered_returns(request)
    rows = _return_rows(request, list(records))
    _touch(request, "record", [row["record"].pk for row in rows])
    request_audit(request).detail["filters"] = {k: v for k, v in request.GET.items() if v}
    return _csv((_return_csv_values(row) for row in rows), header=RETURN_CSV_HEADER, filename="returns.csv")


RECORD_CSV_HEADER = ("受領番号", "順番", "受付日", "受診券整理番号", "保険者番号", "氏名カナ", "生年月日", "健診実施日", "状態", "請求額")


def _searched_records(request: HttpRequest) -> tuple[OwnRecordSearchForm, QuerySet[Record]]:
    form = OwnRecordSearchForm(request.GET or None)
    records = selectors.record_list(user=request.user).order_by("-submission__received_at", "-submission_id", "position")
    if not form.is_bound or not form.is_valid() or not form.has_criteria():
        return form, records.none()
    data = form.cleaned_data
    records = selectors.record_search(
        records, ticket_number=data["ticket_number"], name_kana=data["name_kana"], birth_date=data["birth_date"],
        checkup_from=data["checkup_from"], checkup_to=data["checkup_to"],
    )
    if data["status"]:
        records = records.filter(status=data["status"])
    return form, records


@personal_data("intake.record.search")
@require_GET
@permission_required_for_role(Perm.INTAKE_VIEW)
def record_search(request: HttpRequest) -> HttpResponse:
    """健診データ検索 over the records the user may see (an institution: its own)."""
    form, records = _searched_records(request)
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    _touch(request, "record", [record.pk for record in page])
    return render(request, "intake/record_search.html", {"form": form, "page": page, "query": _query(request)})


@personal_data("intake.record.export")
@require_GET
@permission_required_for_role(Perm.INTAKE_VIEW)
def record_search_csv(request: HttpRequest) -> HttpResponse:
    _form, records = _searched_records(request)
    found = list(records)
    _touch(request, "record", [record.pk for record in found])
    request_audit(request).detail["filters"] = {k: v for k, v in request.GET.items() if v}
    rows = (
        [r.submission.receipt_number, r.position, f"{r.submission.received_at:%Y-%m-%d}", r.ticket_number, r.insurer_number,
         r.name_kana, r.birth_date.isoformat() if r.birth_date else "", r.checkup_date.isoformat() if r.checkup_date else "",
         r.get_status_display(), r.claim_amount]
        for r in found
    )
    return _csv(rows, header=RECORD_CSV_HEADER, filename="records.csv")


WARNING_CSV_HEADER = ("受領番号", "順番", "受付日", "健診機関番号", "保険者番号", "受診券整理番号", "氏名カナ", "健診実施日", "コード", "内容", "対処方法")


def _filtered_warnings(request: HttpRequest) -> tuple[WarningQueueFilterForm, QuerySet[Finding]]:
    findings = selectors.unconfirmed_warning_list()
    codes = sorted(set(findings.order_by().values_list("code", flat=True).distinct()))
    form = WarningQueueFilterForm(
        request.GET or None,
        institutions=agency_selectors.institution_list(user=request.user),
        insurers=agency_selectors.insurer_list(user=request.user),
        codes=[(code, f"{code} {wording.rule_of(code).get('message', '')}") for code in codes],
    )
    if form.is_bound and not form.is_valid():
        return form, findings.none()
    if form.is_bound:
        data = form.cleaned_data
        if data["institution"]:
            findings = findings.filter(record__institution=data["institution"])
        if data["insurer"]:
            findings = findings.filter(record__insurer=data["insurer"])
        if data["code"]:
            findings = findings.filter(code=data["code"])
    return form, findings


@personal_data("intake.warnings.view")
@require_GET
@permission_required_for_role(Perm.INTAKE_OVERRIDE)
def warning_queue(request: HttpRequest) -> HttpResponse:
    """未確認の警告: every warning a clerk has not confirmed, oldest first; records whose insurer waits for
    the confirmation are not delivered until then."""
    form, findings = _filtered_warnings(request)
    page = Paginator(findings, PAGE_SIZE).get_page(request.GET.get("page"))
    for finding in page:
        wording.describe(finding)
    _touch(request, "record", sorted({finding.record_id for finding in page}))
    held = set(selectors.records_awaiting_confirmation().filter(pk__in=[f.record_id for f in page]).values_list("pk", flat=True))
    return render(request, "intake/warning_queue.html", {"form": form, "page": page, "held": held, "query": _query(request)})


@personal_data("intake.warnings.export")
@require_GET
@permission_required_for_role(Perm.INTAKE_OVERRIDE)
def warning_queue_csv(request: HttpRequest) -> HttpResponse:
    _form, findings = _filtered_warnings(request)
    found = [wording.describe(finding) for finding in findings]
    _touch(request, "record", sorted({finding.record_id for finding in found}))
    request_audit(request).detail["filters"] = {k: v for k, v in request.GET.items() if v}
    rows = (
        [f.record.submission.receipt_number, f.record.position, f"{f.record.submission.received_at:%Y-%m-%d}",
         f.record.institution.number, f.record.insurer_number, f.record.ticket_number, f.record.name_kana,
         f.record.checkup_date.isoformat() if f.record.checkup_date else "", f.code, f.text, f.hint]
        for f in found
    )
    return _csv(rows, header=WARNING_CSV_HEADER, filename="warnings.csv")
