"""Audit review pages: search, one event in context, CSV export, chain verification, anomalies, sign-off.

Reading the audit log is itself audited (``@personal_data``): it names who touched which records.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from agency.models import Role
from agency.permissions import Perm, permission_required_for_role, user_has_perm
from audit import anomalies, chain
from audit.middleware import personal_data
from audit.models import AuditEvent, Outcome
from compliance.forms import AuditReviewSignForm
from compliance.models import ProbeResult
from compliance.selectors import audit_review_list, emergency_user_ids, probe_history, probe_overview
from compliance.services.checklist import audit_review_sign, probes_run
from core.http import request_audit

PAGE_SIZE = 50
COUNT_CAP = 10_000  # the search counts its results up to this many (a count of millions of rows takes seconds)


class CappedPaginator(Paginator):
    """Counts at most COUNT_CAP results (``capped`` says there are more): paging stays within them, and
    an auditor narrows the filters to see further back."""

    @cached_property
    def count(self) -> int:
        events = self.object_list
        if not isinstance(events, QuerySet):
            raise TypeError("the audit search pages a queryset")
        found = events.order_by()[: COUNT_CAP + 1].count()  # unordered: the count stops at the cap
        self.capped = found > COUNT_CAP
        return min(found, COUNT_CAP)

    capped = False
CONTEXT_EVENTS = 10
EXPORT_COLUMNS = ("seq", "occurred_at", "actor_id", "actor_label", "actor_role", "tenant", "action", "outcome",
                  "object_type", "object_ids", "ip", "method", "path", "request_id", "session_hash", "detail",
                  "prev_hash", "row_hash")
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class EventFilterForm(forms.Form):
    actor = forms.CharField(label=gettext_lazy("利用者"), required=False, max_length=150)
    role = forms.ChoiceField(label=gettext_lazy("役割"), required=False, choices=[("", "---"), *Role.choices])
    tenant = forms.CharField(label=gettext_lazy("所属"), required=False, max_length=40)
    action = forms.CharField(label=gettext_lazy("操作（前方一致）"), required=False, max_length=64)
    object_type = forms.CharField(label=gettext_lazy("対象種別"), required=False, max_length=64)
    object_id = forms.CharField(label=gettext_lazy("対象ID"), required=False, max_length=64)
    outcome = forms.ChoiceField(label=gettext_lazy("結果"), required=False, choices=[("", "---"), *Outcome.choices])
    date_from = forms.DateField(label=gettext_lazy("期間（開始日）"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=gettext_lazy("期間（終了日）"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def filter(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        data = self.cleaned_data
        if data.get("actor"):
            events = events.filter(actor_label__icontains=data["actor"])
        if data.get("role"):
            events = events.filter(actor_role=data["role"])
        if data.get("tenant"):
            events = events.filter(tenant__icontains=data["tenant"])
        if data.get("action"):
            events = events.filter(action__startswith=data["action"])
        if data.get("object_type"):
            events = events.filter(object_type=data["object_type"])
        if data.get("object_id"):
            events = events.filter(object_ids__icontains=json.dumps(str(data["object_id"])))
        if data.get("outcome"):
            events = events.filter(outcome=data["outcome"])
        if data.get("date_from"):
            events = events.filter(occurred_at__gte=_day_start(data["date_from"]))
        if data.get("date_to"):
            events = events.filter(occurred_at__lt=_day_start(data["date_to"] + dt.timedelta(days=1)))
        return events

    def described(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.cleaned_data.items() if v not in (None, "")}


class PeriodForm(forms.Form):
    date_from = forms.DateField(label=gettext_lazy("期間（開始日）"), widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=gettext_lazy("期間（終了日）"), widget=forms.DateInput(attrs={"type": "date"}))


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _filtered(request: HttpRequest) -> tuple[EventFilterForm, QuerySet[AuditEvent]]:
    form = EventFilterForm(request.GET or None)
    events = AuditEvent.objects.order_by("-seq")
    if form.is_bound and form.is_valid():
        events = form.filter(events)
    elif form.is_bound:
        events = events.none()
    return form, events


def _query(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@personal_data("audit.events.searched")
@require_GET
@permission_required_for_role(Perm.AUDIT_VIEW)
def event_list(request: HttpRequest) -> HttpResponse:
    form, events = _filtered(request)
    page = CappedPaginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    if form.is_bound and form.is_valid():
        request_audit(request).detail["filters"] = form.described()
    return render(request, "audit/event_list.html", {
        "form": form, "page": page, "query": _query(request),
        "can_export": user_has_perm(request.user, Perm.AUDIT_EXPORT),
    })


def _link_ok(event: AuditEvent) -> bool:
    previous = AuditEvent.objects.filter(seq=event.seq - 1).values_list("row_hash", flat=True).first()
    expected_prev = chain.GENESIS_HASH if event.seq == 1 else previous
    return event.prev_hash == expected_prev


@personal_data("audit.event.viewed")
@require_GET
@permission_required_for_role(Perm.AUDIT_VIEW)
def event_detail(request: HttpRequest, seq: int) -> HttpResponse:
    event = AuditEvent.objects.filter(seq=seq).first()
    if event is None:
        raise Http404
    request_audit(request).touch("audit_event", [event.seq])
    fields = {name: getattr(event, name) for name in chain.CHAINED_FIELDS}
    same_request = (
        AuditEvent.objects.filter(request_id=event.request_id).exclude(pk=event.pk).order_by("seq")[:CONTEXT_EVENTS]
        if event.request_id else AuditEvent.objects.none()
    )
    same_session = (
        AuditEvent.objects.filter(session_hash=event.session_hash, seq__gte=event.seq - 50, seq__lte=event.seq + 50)
        .exclude(pk=event.pk).order_by("seq")[: CONTEXT_EVENTS * 2]
        if event.session_hash else AuditEvent.objects.none()
    )
    same_actor = (
        AuditEvent.objects.filter(actor_id=event.actor_id, seq__lt=event.seq).order_by("-seq")[:CONTEXT_EVENTS]
        if event.actor_id is not None else AuditEvent.objects.none()
    )
    return render(request, "audit/event_detail.html", {
        "event": event,
        "detail_json": json.dumps(event.detail, ensure_ascii=False, indent=2),
        "hash_ok": chain.row_hash(event.prev_hash, fields) == event.row_hash,
        "link_ok": _link_ok(event),
        "same_request": same_request,
        "same_session": same_session,
        "same_actor": same_actor,
        "previous": AuditEvent.objects.filter(seq=event.seq - 1).first(),
        "following": AuditEvent.objects.filter(seq=event.seq + 1).first(),
    })


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat()
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def _csv_rows(events: QuerySet[AuditEvent]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    for row in events.values_list(*EXPORT_COLUMNS).iterator(chunk_size=2000):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_cell(v) for v in row])
        yield buffer.getvalue().encode("utf-8")


@personal_data("audit.events.exported")
@require_GET
@permission_required_for_role(Perm.AUDIT_EXPORT)
def event_export(request: HttpRequest) -> HttpResponse:
    form, events = _filtered(request)
    head = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    events = events.filter(seq__lte=head).order_by("seq")
    bounds = events.values_list("seq", flat=True)
    request_audit(request).detail.update({
        "count": events.count(),
        "first_seq": bounds.first(),
        "last_seq": bounds.last(),
        "filters": form.described() if form.is_bound and form.is_valid() else {},
    })
    response = StreamingHttpResponse(_csv_rows(events), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-events-{stamp}.csv"'
    return response


@personal_data("audit.chain.verified")
@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.AUDIT_VIEW)
def verify_chain(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        result = probes_run(keys=["audit_chain"], trigger=ProbeResult.Trigger.MANUAL, actor=request.user, request=request)[0]
        request_audit(request).detail.update({"result": result.status, "value": result.value})
        (messages.success if result.status == "pass" else messages.error)(request, result.value)
        return redirect("audit:verify_chain")
    return render(request, "audit/verify_chain.html", {"history": probe_history(keys=["audit_chain"], limit=20)})


def _period(request: HttpRequest) -> tuple[PeriodForm, dt.datetime, dt.datetime]:
    today = timezone.localdate()
    form = PeriodForm(request.GET or {"date_from": today - dt.timedelta(days=30), "date_to": today})
    start_day, end_day = today - dt.timedelta(days=30), today
    if form.is_valid():
        start_day, end_day = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
    return form, _day_start(start_day), _day_start(end_day + dt.timedelta(days=1))


@personal_data("audit.anomalies.viewed")
@require_GET
@permission_required_for_role(Perm.AUDIT_VIEW)
def anomaly_report(request: HttpRequest) -> HttpResponse:
    form, start, end = _period(request)
    request_audit(request).detail["period"] = [start.isoformat(), end.isoformat()]
    report = anomalies.build(start=start, end=end, emergency_user_ids=emergency_user_ids())
    return render(request, "audit/anomalies.html", {"form": form, "report": report,
                                                    "thresholds": anomalies.Thresholds.from_settings()})


@require_GET
@permission_required_for_role(Perm.AUDIT_VIEW)
def review_list(request: HttpRequest) -> HttpResponse:
    return render(request, "audit/review_list.html", {
        "signoffs": audit_review_list()[:100],
        "probe": next((p for p in probe_overview() if p.key == "audit_review"), None),
        "can_sign": user_has_perm(request.user, Perm.AUDIT_SIGN_REVIEW),
    })


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.AUDIT_SIGN_REVIEW)
def review_sign(request: HttpRequest) -> HttpResponse:
    last = None
    if request.method != "POST":
        last = audit_review_list().first()
    today = timezone.localdate()
    initial = {"period_start": timezone.localtime(last.period_end).date() if last else today - dt.timedelta(days=30),
               "period_end": today}
    form = AuditReviewSignForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        start, end = form.period()
        try:
            signoff = audit_review_sign(reviewer=request.user, period_start=start, period_end=end,
                                        notes=form.cleaned_data["notes"], request=request)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("監査ログの確認を記録しました（最終イベント #%(seq)s）。") % {"seq": signoff.last_seq or "-"})
            return redirect("audit:review_list")
    return render(request, "audit/review_sign.html", {"form": form})
