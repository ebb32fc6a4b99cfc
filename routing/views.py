"""The insurer portal (deliveries, records, 過誤, 受診券 data), the institution's view of 過誤, the
clerks' routing pages and every user's notification settings. Mounted at /insurer/.

Thin views: a form validates, one service or read does the work, a template renders. Deliveries,
routed records and returns are loaded only through the access functions of ``routing.access``
(another party's object or a missing one → 404, audited as denied); pages and downloads that carry
personal data are audited with ``@personal_data`` (outermost).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from agency import selectors as agency_selectors
from agency.permissions import Perm, permission_required_for_role, user_has_perm
from audit.middleware import personal_data
from core.http import request_audit
from intake import notifications, outputs, reading
from intake import selectors as intake_selectors
from intake import timeline as intake_timeline
from intake.access import access_annual_report_generation, access_insurer_upload, access_submission
from intake.forms import clean_file_name
from intake.models import Channel, Record, RecordKind, RecordStatus
from intake.services import annual_report, eligibility
from intake.services.receive import ReceiveRefused, submission_receive
from kenshin import labels, rules
from kenshin.guidance import LEVELS as GUIDANCE_LEVELS
from kenshin.guidance import TIMINGS as GUIDANCE_TIMINGS

from . import access, packing, selectors, timeline
from .forms import (
    AnnualReportYearForm,
    ConfirmForm,
    DeliveryListFilterForm,
    EligibilityUploadForm,
    GuidanceTargetForm,
    InsurerReturnForm,
    MediaPrepareForm,
    NotificationPreferenceForm,
    OtherCheckupUploadForm,
    RecordSearchForm,
    ReturnFilterForm,
    TargetPopulationForm,
    TrackingNumberForm,
)
from .models import Delivery, DeliveryChannel, InsurerReturn
from .services import deliveries, returns

PAGE_SIZE = 50


def _download(data: bytes, *, filename: str, content_type: str = "application/zip") -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _touch(request: HttpRequest, object_type: str, ids: Any) -> None:
    request_audit(request).touch(object_type, ids)


def _query(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _errors(error: ValidationError) -> list[str]:
    return [str(message) for message in error.messages]


# --- deliveries ---------------------------------------------------------------------------------------


def _csv(rows: Iterable[Iterable[Any]], *, header: Iterable[str], filename: str) -> HttpResponse:
    """A list as CSV for spreadsheet programs: UTF-8 with a byte-order mark, CRLF, formulas neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(list(header))
    for row in rows:
        writer.writerow([outputs.csv_cell("" if value is None else str(value)) for value in row])
    return _download(buffer.getvalue().encode("utf-8-sig"), filename=filename, content_type="text/csv; charset=utf-8")


def _exported(request: HttpRequest, object_type: str, ids: list[int]) -> None:
    """A CSV export is audited with what it holds and the filters that chose it."""
    _touch(request, object_type, ids)
    request_audit(request).detail["filters"] = {key: value for key, value in request.GET.items() if value}


def _date(value: Any) -> str:
    return value.strftime("%Y-%m-%d") if value else ""


def _moment(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _staff(request: HttpRequest) -> bool:
    return bool(getattr(request.user, "is_agency_staff", False))


def _filtered_deliveries(request: HttpRequest) -> tuple[DeliveryListFilterForm, QuerySet[Delivery]]:
    deliveries = selectors.delivery_list(user=request.user)
    form = DeliveryListFilterForm(
        request.GET or None, insurers=agency_selectors.insurer_list(user=request.user) if _staff(request) else None
    )
    if form.is_bound and not form.is_valid():
        return form, deliveries.none()
    if form.is_bound:
        data = form.cleaned_data
        if data["status"]:
            deliveries = deliveries.filter(status=data["status"])
        if data["created_from"]:
            deliveries = deliveries.filter(created_at__date__gte=data["created_from"])
        if data["created_to"]:
            deliveries = deliveries.filter(created_at__date__lte=data["created_to"])
        if data.get("insurer"):
            deliveries = deliveries.filter(insurer=data["insurer"])
    return form, deliveries


@require_GET
@permission_required_for_role(Perm.DELIVERIES_VIEW)
def delivery_list(request: HttpRequest) -> HttpResponse:
    form, deliveries = _filtered_deliveries(request)
    page = Paginator(deliveries, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "insurer/delivery_list.html", {
        "page": page, "form": form, "query": _query(request), "csv_url": reverse("insurer:delivery_list_csv"),
    })


DELIVERY_CSV_HEADER = ("作成日時", "保険者番号", "保険者名", "ファイル名", "件数", "請求金額総計", "状態", "初回取得日時", "受領確認日時")


@personal_data("routing.deliveries.export")
@require_GET
@permission_required_for_role(Perm.DELIVERIES_VIEW)
def delivery_list_csv(request: HttpRequest) -> HttpResponse:
    _form, deliveries = _filtered_deliveries(request)
    found = list(deliveries)
    _exported(request, "delivery", [d.pk for d in found])
    rows = (
        [_moment(d.created_at), d.insurer.number, d.insurer.name, d.file_name, d.record_count, d.claim_total,
         d.get_status_display(), _moment(d.downloaded_at), _moment(d.acknowledged_at)]
        for d in found
    )
    return _csv(rows, header=DELIVERY_CSV_HEADER, filename="deliveries.csv")


@personal_data("routing.delivery.view")
@require_GET
@permission_required_for_role(Perm.DELIVERIES_VIEW)
def delivery_detail(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = access.access_delivery(request, delivery_id)
    records = selectors.routed_record_list(user=request.user).filter(delivery_item__delivery=delivery).order_by("delivery_item__position")
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    _touch(request, "record", [record.pk for record in page])
    request_audit(request).detail["delivery"] = delivery.pk
    return render(
        request,
        "insurer/delivery_detail.html",
        {
            "delivery": delivery,
            "page": page,
            "timeline": timeline.delivery_timeline(delivery),
            "downloads": delivery.downloads.all(),
            "can_download": user_has_perm(request.user, Perm.DELIVERIES_DOWNLOAD),
            "can_route": user_has_perm(request.user, Perm.ROUTING_RUN),
        },
    )


@personal_data("routing.delivery.export")
@require_GET
@permission_required_for_role(Perm.DELIVERIES_DOWNLOAD)
def delivery_download(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = access.access_delivery(request, delivery_id)
    _touch(request, "delivery", [delivery.pk])
    request_audit(request).detail.update(records=delivery.record_count, sha256=delivery.archive.sha256)
    data = deliveries.delivery_download(delivery=delivery, actor=request.user, request=request, channel=DeliveryChannel.WEB)
    return _download(data, filename=delivery.file_name)


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.DELIVERIES_DOWNLOAD)
def delivery_acknowledge(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = access.access_delivery(request, delivery_id)
    if request.method == "POST":
        form = ConfirmForm(request.POST)
        if form.is_valid():
            deliveries.delivery_acknowledge(delivery=delivery, actor=request.user, request=request)
            messages.success(request, _("%(file)s の受領を確認しました。") % {"file": delivery.file_name})
            return redirect("insurer:delivery_detail", delivery.pk)
    else:
        form = ConfirmForm()
    return render(request, "insurer/delivery_acknowledge.html", {"delivery": delivery, "form": form})


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.ROUTING_RUN)
def delivery_media(request: HttpRequest, delivery_id: int) -> HttpResponse:
    """Offline delivery: prepare the password-locked copy (password shown once) and record the tracking number."""
    delivery = access.access_delivery(request, delivery_id)
    prepare = MediaPrepareForm(prefix="prepare")
    tracking = TrackingNumberForm(prefix="tracking", initial={"tracking_number": delivery.media_tracking_number})
    if request.method == "POST" and "prepare-confirm" in request.POST:
        prepare = MediaPrepareForm(request.POST, prefix="prepare")
        if prepare.is_valid():
            delivery, password = deliveries.delivery_media_prepare(delivery=delivery, actor=request.user, request=request)
            return render(request, "insurer/delivery_media_password.html", {"delivery": delivery, "password": password})
    elif request.method == "POST":
        tracking = TrackingNumberForm(request.POST, prefix="tracking")
        if tracking.is_valid():
            try:
                deliveries.delivery_media_ship(
                    delivery=delivery, tracking_number=tracking.cleaned_data["tracking_number"], actor=request.user, request=request
                )
            except ValidationError as error:
                for message in _errors(error):
                    tracking.add_error(None, message)
            else:
                messages.success(request, _("送り状番号を登録しました。"))
                return redirect("insurer:delivery_media", delivery.pk)
    return render(request, "insurer/delivery_media.html", {"delivery": delivery, "prepare": prepare, "tracking": tracking})


@personal_data("routing.delivery.media_export")
@require_GET
@permission_required_for_role(Perm.ROUTING_RUN)
def delivery_media_archive(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = access.access_delivery(request, delivery_id)
    _touch(request, "delivery", [delivery.pk])
    if delivery.media_archive_id is None:
        return render(request, "insurer/delivery_media.html", {
            "delivery": delivery, "prepare": MediaPrepareForm(prefix="prepare"),
            "tracking": TrackingNumberForm(prefix="tracking"), "no_media": True,
        })
    data = deliveries.delivery_media_download(delivery=delivery, actor=request.user, request=request)
    return _download(data, filename=delivery.file_name)


# --- records -----------------------------------------------------------------------------------------------


def _searched_records(request: HttpRequest) -> tuple[RecordSearchForm, QuerySet[Record]]:
    records = selectors.routed_record_list(user=request.user)
    institutions = agency_selectors.institution_list(user=request.user)
    form = RecordSearchForm(request.GET or None, institutions=institutions)
    if form.is_bound and form.is_valid():
        records = intake_selectors.record_search(records, **form.criteria())
    elif form.is_bound:
        records = records.none()
    return form, records.order_by("-checkup_date", "-pk")


@personal_data("routing.record.search")
@require_GET
@permission_required_for_role(Perm.DELIVERIES_VIEW)
def record_search(request: HttpRequest) -> HttpResponse:
    form, records = _searched_records(request)
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    _touch(request, "record", [record.pk for record in page])
    return render(request, "insurer/record_search.html", {
        "form": form, "page": page, "query": _query(request), "csv_url": reverse("insurer:record_search_csv"),
    })


def _institution(record: Record) -> list[str]:
    """The institution that sent a record; none for an insurer's own upload (事業者健診等)."""
    institution = record.institution
    return [institution.number, institution.name] if institution is not None else ["", ""]


def _delivered(record: Record) -> list[str]:
    """The delivery that carried a record (file name, when): none for an insurer's own upload."""
    item = getattr(record, "delivery_item", None)
    return [item.delivery.file_name, _moment(item.delivery.created_at)] if item is not None else ["", ""]


def _record_state(record: Record) -> str:
    if record.status == RecordStatus.RETURNED:
        return _("過誤返戻")
    return _("送付済") if getattr(record, "delivery_item", None) is not None else _("自保険者送付")


RECORD_CSV_HEADER = ("受診券整理番号", "保険者番号", "氏名カナ", "生年月日", "性別", "健診実施日", "健診機関番号", "健診機関名",
                     "送付データ", "送付日", "請求金額", "状態")


@personal_data("routing.record.export")
@require_GET
@permission_required_for_role(Perm.DELIVERIES_VIEW)
def record_search_csv(request: HttpRequest) -> HttpResponse:
    _form, records = _searched_records(request)
    found = list(records)
    _exported(request, "record", [r.pk for r in found])
    rows = (
        [r.ticket_number, r.insurer_number, r.name_kana, _date(r.birth_date), labels.SEX.get(r.sex, r.sex), _date(r.checkup_date),
         *_institution(r), *_delivered(r), r.claim_amount, _record_state(r)]
        for r in found
    )
    return _csv(rows, header=RECORD_CSV_HEADER, filename="records.csv")


# --- 実施結果報告 -------------------------------------------------------------------------------------------------


def _report_year(request: HttpRequest) -> int:
    form = AnnualReportYearForm(request.GET or request.POST)
    if form.is_valid():
        return int(form.cleaned_data["year"])
    today = timezone.localdate()
    return today.year - 1 if today.month >= 4 else today.year - 2  # the last 年度 that has ended


def _insurer_of(request: HttpRequest) -> Any:
    """The insurer whose report this is (the page is the insurer's own: the permission grants it to insurer staff)."""
    insurer_id = int(getattr(request.user, "insurer_id", None) or 0)
    return agency_selectors.insurer_list(user=request.user).get(pk=insurer_id)


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.ANNUAL_REPORT)
def annual_report_page(request: HttpRequest) -> HttpResponse:
    insurer, year = _insurer_of(request), _report_year(request)
    form = TargetPopulationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        annual_report.annual_report_population_set(insurer=insurer, year=year, population=form.cleaned_data["population"],
                                                   actor=request.user, request=request)
        messages.success(request, _("対象者数を保存しました。"))
        return redirect(f"{reverse('insurer:annual_report')}?year={year}")
    preview = annual_report.annual_report_preview(insurer=insurer, year=year)
    if request.method == "GET" and preview.target_population:
        form = TargetPopulationForm(initial={"population": preview.target_population})
    return render(request, "insurer/annual_report.html", {
        "insurer": insurer, "year": year, "preview": preview, "form": form, "table": preview.table(),
    })


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.ANNUAL_REPORT)
def annual_report_generate(request: HttpRequest) -> HttpResponse:
    """GET asks to confirm; POST builds and keeps a new archive."""
    insurer, year = _insurer_of(request), _report_year(request)
    if request.method == "POST":
        generation = annual_report.annual_report_generate(insurer=insurer, year=year, actor=request.user, request=request)
        messages.success(request, _("実施結果報告 %(name)s を作成しました（特定健診情報 %(count)d件）。") % {
            "name": generation.file_name, "count": generation.record_count})
        return redirect(f"{reverse('insurer:annual_report')}?year={year}")
    return render(request, "insurer/annual_report_generate.html", {"insurer": insurer, "year": year})


@personal_data("intake.annual_report.download")
@require_GET
@permission_required_for_role(Perm.ANNUAL_REPORT)
def annual_report_download(request: HttpRequest, generation_id: int) -> HttpResponse:
    generation = access_annual_report_generation(request, generation_id)
    _touch(request, "annual_report_generation", [generation.pk])
    return _download(annual_report.annual_report_archive(generation), filename=generation.file_name)


# --- 特定保健指導の対象者リスト ---------------------------------------------------------------------------------------


def _guidance_targets(request: HttpRequest) -> tuple[GuidanceTargetForm, QuerySet[Record]]:
    today = timezone.localdate()
    form = GuidanceTargetForm(request.GET or {"year": today.year if today.month >= 4 else today.year - 1})
    if not form.is_valid():
        return form, Record.objects.none()
    return form, selectors.guidance_target_list(
        user=request.user, year=form.cleaned_data["year"], month=form.cleaned_data.get("month")
    )


@personal_data("routing.guidance_targets.view")
@require_GET
@permission_required_for_role(Perm.DELIVERIES_VIEW)
def guidance_targets(request: HttpRequest) -> HttpResponse:
    form, records = _guidance_targets(request)
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    _touch(request, "record", [record.pk for record in page])
    query = _query(request) or (f"year={form.data.get('year')}" if form.is_valid() else "")
    return render(request, "insurer/guidance_targets.html", {
        "form": form, "page": page, "query": query, "csv_url": reverse("insurer:guidance_targets_csv"),
        "total": records.count() if form.is_valid() else 0,
    })


GUIDANCE_CSV_HEADER = (
    "保険者番号", "被保険者証等記号", "被保険者証等番号", "枝番", "氏名カナ", "性別", "生年月日", "年度末年齢", "健診実施日",
    "受診券整理番号", "健診機関番号", "健診機関名", "保健指導レベル", "対象となった理由", "階層化の基準",
)


@personal_data("routing.guidance_targets.export")
@require_GET
@permission_required_for_role(Perm.DELIVERIES_VIEW)
def guidance_targets_csv(request: HttpRequest) -> HttpResponse:
    form, records = _guidance_targets(request)
    found = list(records)
    _exported(request, "record", [r.pk for r in found])
    rows = (
        [r.insurer_number, r.card_symbol, r.card_number, r.card_branch, r.name_kana, labels.SEX.get(r.sex, r.sex),
         _date(r.birth_date), _year_end_age(r), _date(r.checkup_date), r.ticket_number,
         r.institution.number if r.institution else "",
         r.institution.name if r.institution else _("保険者自身の送付（事業者健診等）"),
         r.get_stratified_level_display(), " / ".join(r.stratification_reasons.splitlines()), r.stratification_rule]
        for r in found
    )
    year = form.cleaned_data["year"] if form.is_valid() else ""
    month = form.cleaned_data.get("month") if form.is_valid() else None
    return _csv(rows, header=GUIDANCE_CSV_HEADER,
                filename=f"hokenshido-taisho-{year}" + (f"-{month:02d}" if month else "") + ".csv")


def _year_end_age(record: Record) -> str:
    if record.birth_date is None or record.checkup_date is None:
        return ""
    return str(rules.age_on(record.birth_date, rules.fiscal_year_end(record.checkup_date)))
def _person_history(record: Record) -> dict[str, Any]:
    """The same person's checkups and guidance courses delivered to the same insurer: 健診 beside 保健指導
    (開始 → 評価), each linking to its record."""
    delivered = list(intake_selectors.person_records(record).filter(delivery_item__isnull=False))
    checkups = [r for r in delivered if r.kind != RecordKind.GUIDANCE]
    courses: dict[str, dict[str, Any]] = {}
    for part in sorted((r for r in delivered if r.kind == RecordKind.GUIDANCE), key=lambda r: (r.guidance_timing, r.pk)):
        course = courses.setdefault(part.ticket_number, {
            "ticket_number": part.ticket_number, "level": GUIDANCE_LEVELS.get(part.guidance_level, part.guidance_level),
            "first_date": part.guidance_first_date, "fiscal_year": part.fiscal_year, "parts": [],
        })
        course["parts"].append({"record": part, "timing": GUIDANCE_TIMINGS.get(part.guidance_timing, part.guidance_timing)})
    return {"checkups": checkups, "courses": sorted(courses.values(), key=lambda c: str(c["first_date"]), reverse=True)}


@personal_data("routing.record.view")
@require_GET
@permission_required_for_role(Perm.DELIVERIES_VIEW)
def record_detail(request: HttpRequest, record_id: int) -> HttpResponse:
    record = access.access_routed_record(request, record_id)
    _touch(request, "record", [record.pk])
    insurer_return = getattr(record, "insurer_return", None)
    return render(
        request,
        "insurer/record_detail.html",
        {
            "record": record,
            "reading": reading.record_reading(record),
            "history": _person_history(record),
            "timeline": intake_timeline.record_timeline(record),
            "insurer_return": insurer_return,
            "can_return": user_has_perm(request.user, Perm.RETURNS_CREATE) and insurer_return is None
            and getattr(record, "delivery_item", None) is not None,  # an own upload was never delivered
        },
    )


@personal_data("routing.record.return")
@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.RETURNS_CREATE)
def record_return(request: HttpRequest, record_id: int) -> HttpResponse:
    record: Record = access.access_routed_record(request, record_id)
    _touch(request, "record", [record.pk])
    existing = getattr(record, "insurer_return", None)
    form = InsurerReturnForm(request.POST if request.method == "POST" else None) if existing is None else None
    if request.method == "POST" and form is not None and form.is_valid():
        try:
            returns.insurer_return_create(
                record=record, reason=form.cleaned_data["reason"], note=form.cleaned_data["note"], actor=request.user, request=request
            )
        except (ValidationError, packing.RoutingError) as error:
            for message in _errors(error) if isinstance(error, ValidationError) else [str(error)]:
                form.add_error(None, message)
        else:
            messages.success(request, _("過誤返戻しました。健診機関に返送データを通知します。"))
            return redirect("insurer:record_detail", record.pk)
    return render(request, "insurer/record_return.html", {"record": record, "form": form, "existing": existing})


# --- returns (insurer, institution and agency) ------------------------------------------------------------------


def _filtered_returns(request: HttpRequest) -> tuple[ReturnFilterForm, QuerySet[InsurerReturn]]:
    found = selectors.insurer_return_list(user=request.user)
    staff = _staff(request)
    form = ReturnFilterForm(
        request.GET or None,
        insurers=agency_selectors.insurer_list(user=request.user) if staff else None,
        institutions=agency_selectors.institution_list(user=request.user) if staff else None,
    )
    if form.is_bound and not form.is_valid():
        return form, found.none()
    if form.is_bound:
        data = form.cleaned_data
        if data["reason"]:
            found = found.filter(reason=data["reason"])
        if data["resubmitted"]:
            found = found.filter(record__replaced_by__isnull=data["resubmitted"] == ReturnFilterForm.NO).distinct()
        if data["returned_from"]:
            found = found.filter(returned_at__date__gte=data["returned_from"])
        if data["returned_to"]:
            found = found.filter(returned_at__date__lte=data["returned_to"])
        if data.get("insurer"):
            found = found.filter(insurer=data["insurer"])
        if data.get("institution"):
            found = found.filter(institution=data["institution"])
    return form, found.order_by("-returned_at", "-pk")


@personal_data("routing.return.list")
@require_GET
@permission_required_for_role(Perm.RETURNS_VIEW)
def return_list(request: HttpRequest) -> HttpResponse:
    form, found = _filtered_returns(request)
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    _touch(request, "record", [item.record_id for item in page])
    return render(request, "insurer/return_list.html", {
        "page": page, "form": form, "query": _query(request), "csv_url": reverse("insurer:return_list_csv"),
    })


RETURN_CSV_HEADER = ("過誤返戻日時", "保険者番号", "保険者名", "健診機関番号", "健診機関名", "受診券整理番号", "被保険者の保険者番号",
                     "氏名カナ", "生年月日", "健診実施日", "過誤返戻理由（別表10）", "理由の内容", "返送データ", "再提出の受領番号")


@personal_data("routing.returns.export")
@require_GET
@permission_required_for_role(Perm.RETURNS_VIEW)
def return_list_csv(request: HttpRequest) -> HttpResponse:
    _form, found = _filtered_returns(request)
    items = list(found)
    _exported(request, "record", [item.record_id for item in items])
    rows = []
    for item in items:
        record = item.record
        correction = next(iter(record.replaced_by.all()), None)
        rows.append([
            _moment(item.returned_at), item.insurer.number, item.insurer.name, item.institution.number, item.institution.name,
            record.ticket_number, record.insurer_number, record.name_kana, _date(record.birth_date), _date(record.checkup_date),
            item.get_reason_display(), item.note, item.archive_file_name,
            f"{correction.submission.receipt_number}#{correction.position}" if correction else "",
        ])
    return _csv(rows, header=RETURN_CSV_HEADER, filename="insurer-returns.csv")


@personal_data("routing.return.export")
@require_GET
@permission_required_for_role(Perm.RETURNS_VIEW)
def return_archive(request: HttpRequest, return_id: int) -> HttpResponse:
    insurer_return = access.access_insurer_return(request, return_id)
    _touch(request, "record", [insurer_return.record_id])
    request_audit(request).detail["return"] = insurer_return.pk
    if insurer_return.archive_id is None:
        return render(request, "insurer/return_list.html", {"page": [insurer_return], "missing_archive": True})
    data = returns.insurer_return_archive(insurer_return=insurer_return)
    return _download(data, filename=insurer_return.archive_file_name)


# --- eligibility (受診券) --------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.ELIGIBILITY_UPLOAD)
def eligibility_upload(request: HttpRequest) -> HttpResponse:
    insurer = request.user.insurer  # type: ignore[union-attr]
    posted = request.method == "POST"
    form = EligibilityUploadForm(request.POST if posted else None, request.FILES if posted else None)
    problems: eligibility.EligibilityFileInvalid | None = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            result = eligibility.eligibility_upload(
                insurer=insurer, file_name=clean_file_name(upload.name or ""), data=upload.read(), actor=request.user, request=request
            )
        except eligibility.EligibilityFileInvalid as invalid:
            problems = invalid
        else:
            messages.success(
                request,
                _("受診券データを登録しました（新規 %(created)d件、更新 %(updated)d件）。") % {"created": result.created, "updated": result.updated},
            )
            return redirect("insurer:eligibility_upload")
    return render(
        request,
        "insurer/eligibility_upload.html",
        {
            "form": form,
            "problems": problems,
            "uploads": intake_selectors.eligibility_upload_list(insurer=insurer)[:20],
            "columns": list(eligibility.COLUMNS.values()),
        },
    )


@require_GET
@permission_required_for_role(Perm.ELIGIBILITY_UPLOAD)
def eligibility_template(request: HttpRequest) -> HttpResponse:
    """An empty CSV with the header row (UTF-8 with BOM, so that spreadsheet programs open it)."""
    return _download(("\ufeff" + eligibility.TEMPLATE_HEADER + "\r\n").encode("utf-8"), filename="jushinken.csv",
                     content_type="text/csv; charset=utf-8")


# --- the insurer's own 事業者健診等 (実施区分 4) ----------------------------------------------------------------
# Its own data: checked like every archive, then counted in its records and 実施率; never delivered back to it.


@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.OTHER_CHECKUP_UPLOAD)
def other_checkup_list(request: HttpRequest) -> HttpResponse:
    insurer = request.user.insurer  # type: ignore[union-attr]
    posted = request.method == "POST"
    form = OtherCheckupUploadForm(request.POST if posted else None, request.FILES if posted else None)
    if posted and form.is_valid():
        upload = form.cleaned_data["archive"]
        try:
            result = submission_receive(
                source=upload, file_name=clean_file_name(upload.name or ""), insurer=insurer, channel=Channel.UPLOAD,
                actor=request.user, request=request, password=form.cleaned_data["password"],
            )
        except ReceiveRefused as refused:
            form.add_error("archive", f"{refused.message}（{refused.code}）")
        else:
            submission = result.submission
            if result.duplicate:
                messages.info(request, _("同じアーカイブは受付済みです（受領番号 %(receipt)s）。") % {"receipt": submission.receipt_number})
            else:
                messages.success(request, _("受け付けました（受領番号 %(receipt)s）。事務点検の結果はこの画面で確認できます。")
                                 % {"receipt": submission.receipt_number})
            return redirect("insurer:other_checkup_detail", submission.pk)
    uploads = intake_selectors.insurer_upload_list(user=request.user)[:PAGE_SIZE]
    return render(request, "insurer/other_checkup_list.html", {"form": form, "uploads": uploads})


@personal_data("routing.other_checkup.view")
@require_GET
@permission_required_for_role(Perm.OTHER_CHECKUP_UPLOAD)
def other_checkup_detail(request: HttpRequest, submission_id: int) -> HttpResponse:
    """The 受領書 and 受付エラー連絡表 of the insurer's own upload, and what became of each record."""
    submission = access_insurer_upload(request, submission_id)
    records = list(submission.records.order_by("position"))
    _touch(request, "submission", [submission.pk])
    return render(
        request,
        "insurer/other_checkup_detail.html",
        {
            "submission": submission,
            "receipt": outputs.receipt(submission),
            "processing": intake_selectors.submission_processing(submission),
            "rows": outputs.error_list_rows(submission),
            "columns": outputs.ERROR_LIST_SHOWN,
            "records": records,
        },
    )


@personal_data("routing.other_checkup.export")
@require_GET
@permission_required_for_role(Perm.OTHER_CHECKUP_UPLOAD)
def other_checkup_errors_csv(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = access_insurer_upload(request, submission_id)
    _touch(request, "submission", [submission.pk])
    return _download(
        outputs.error_list_csv(submission), filename=f"errors-{submission.receipt_number}.csv",
        content_type="text/csv; charset=utf-8",
    )


# --- routing (clerks) ------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.ROUTING_RUN)
def routing_run(request: HttpRequest) -> HttpResponse:
    """What the next run would route, per insurer, and the "route now" button."""
    if request.method == "POST":
        form = ConfirmForm(request.POST)
        if form.is_valid():
            failures: list[deliveries.RoutingFailure] = []
            created = deliveries.deliveries_route(actor=request.user, request=request, failures=failures)  # refusals: core.middleware
            for failure in failures:
                messages.error(request, _("保険者 %(number)s の送付データを作成できませんでした: %(message)s")
                               % {"number": failure.insurer_number, "message": failure.message})
            if created:
                messages.success(request, _("%(count)d件の送付データを作成しました。") % {"count": len(created)})
            else:
                messages.info(request, _("振り分ける健診データはありませんでした。"))
            return redirect("insurer:routing_run")
    recent = selectors.delivery_list(user=request.user)[:20]
    return render(request, "insurer/routing_run.html", {"overview": selectors.routing_overview(), "recent": recent, "form": ConfirmForm()})


@personal_data("routing.plan.view")
@require_GET
@permission_required_for_role(Perm.ROUTING_RUN)
def routing_dry_run(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = access_submission(request, submission_id)
    rows = selectors.routing_plan(submission)
    _touch(request, "record", [row.record.pk for row in rows])
    request_audit(request).detail["submission"] = submission.pk
    return render(
        request,
        "insurer/routing_dry_run.html",
        {"submission": submission, "rows": rows, "timeline": intake_timeline.submission_timeline(submission)},
    )


# --- notifications (every user) ----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.PORTAL_HOME)
def notification_settings(request: HttpRequest) -> HttpResponse:
    kinds = notifications.kinds_for(request.user)
    preference = notifications.preference_for(request.user)
    form = NotificationPreferenceForm(request.POST if request.method == "POST" else None, kinds=kinds, preference=preference)
    if request.method == "POST" and form.is_valid():
        notifications.notification_preference_save(user=request.user, opt_outs=form.opt_outs(), actor=request.user, request=request)  # type: ignore[arg-type]
        messages.success(request, _("通知設定を保存しました。"))
        return redirect("insurer:notification_settings")
    return render(request, "insurer/notification_settings.html", {"form": form, "kinds": kinds})
