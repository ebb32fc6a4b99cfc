"""Compliance pages: the dashboard, items and attestations, probes, exports, break-glass, maintenance
windows, access reviews, backups, retention and disposal.

Thin views: a form validates, one service or selector does the work, a template renders. Pages that
run on POST also answer GET with the page the form lives on.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from agency.permissions import Perm, permission_required_for_role, user_has_perm
from audit.middleware import personal_data
from compliance import access, evidence, export, probes, selectors
from compliance.forms import (
    AttestationForm,
    ControlItemForm,
    DisposalRequestForm,
    EmergencyAccountForm,
    EmergencyActivateForm,
    IncidentCloseForm,
    IncidentDeclareForm,
    MaintenanceWindowForm,
    ReasonlessConfirmForm,
    RetentionPolicyForm,
    ReviewCompleteForm,
)
from compliance.models import DataClass, DisposalRequest, EmergencyAccount, EmergencyActivation, Incident, ProbeResult
from compliance.services import checklist as services
from compliance.services import disposal as services_disposal
from compliance.services import emergency_access as services_access
from core.http import request_audit
from core.pdf import PdfUnavailable, render_pdf


def _errors(exc: ValidationError) -> list[str]:
    return [str(m) for m in exc.messages]


def _refused(request: HttpRequest, exc: ValidationError) -> None:
    for message in _errors(exc):
        messages.error(request, message)


def _download(data: bytes, *, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)  # filename* for Japanese names
    return response


def _can(request: HttpRequest, perm: Perm) -> bool:
    return user_has_perm(request.user, perm)


# --- Dashboard and items ---------------------------------------------------------------------------------


@require_GET
@permission_required_for_role(Perm.COMPLIANCE_VIEW)
def dashboard(request: HttpRequest) -> HttpResponse:
    states = selectors.item_states()
    sections: dict[str, dict[str, Any]] = {}
    for state in states:
        sections.setdefault(state.item.section, {"title": state.item.section_title, "states": []})["states"].append(state)
    return render(request, "compliance/dashboard.html", {
        "sections": sections.values(),
        "summary": selectors.summary(states),
        "probes": selectors.probe_overview(),
        "last_updated": selectors.checklist_last_updated(),
        "can_manage": _can(request, Perm.COMPLIANCE_MANAGE),
    })


@require_GET
@permission_required_for_role(Perm.COMPLIANCE_VIEW)
def item_detail(request: HttpRequest, code: str) -> HttpResponse:
    access.access_item_code(request, code)
    state = selectors.item_state(code=code)
    if state is None:
        raise Http404
    return render(request, "compliance/item_detail.html", {
        "state": state,
        "history": selectors.probe_history(keys=state.control.probes),
        "attestations": selectors.attestation_list(code=code),
        "can_manage": _can(request, Perm.COMPLIANCE_MANAGE),
    })


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.COMPLIANCE_MANAGE)
def item_manage(request: HttpRequest, code: str) -> HttpResponse:
    access.access_item_code(request, code)
    state = selectors.item_state(code=code)
    initial = {"owner": state.owner, "planned_date": state.planned_date,
               "review_interval_days": state.managed.review_interval_days if state.managed else None} if state else {}
    form = ControlItemForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.control_item_update(code=code, actor=request.user, request=request, **form.cleaned_data)
        except ValidationError as exc:
            _refused(request, exc)
        else:
            messages.success(request, _("管理情報を更新しました。"))
            return redirect("compliance:item_detail", code=code)
    return render(request, "compliance/item_form.html", {"state": state, "form": form, "title": _("管理情報の編集")})


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.COMPLIANCE_MANAGE)
def item_attest(request: HttpRequest, code: str) -> HttpResponse:
    access.access_item_code(request, code)
    state = selectors.item_state(code=code)
    form = AttestationForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.attestation_record(code=code, statement=form.cleaned_data["statement"],
                                        evidence_file=form.cleaned_data["evidence"], actor=request.user, request=request)
        except (ValidationError, ValueError) as exc:
            messages.error(request, "; ".join(_errors(exc)) if isinstance(exc, ValidationError) else
                           _("証跡ファイルが大きすぎます（20MBまで）。"))
        else:
            messages.success(request, _("実施確認を記録しました。"))
            return redirect("compliance:item_detail", code=code)
    return render(request, "compliance/item_form.html", {"state": state, "form": form, "title": _("実施確認の記録"),
                                                          "multipart": True})


@personal_data("compliance.evidence.downloaded")
@require_GET
@permission_required_for_role(Perm.COMPLIANCE_VIEW)
def evidence_download(request: HttpRequest, pk: int) -> HttpResponse:
    attestation = access.access_attestation(request, pk)
    request_audit(request).touch("attestation", [attestation.pk])
    if not attestation.evidence_sha256:
        raise Http404
    data = evidence.read(attestation.evidence_sha256)
    name = attestation.evidence_name or f"evidence-{attestation.pk}"
    return _download(data, filename=name, content_type="application/octet-stream")


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.COMPLIANCE_MANAGE)
def probes_run(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        services.probes_run(trigger=ProbeResult.Trigger.MANUAL, actor=request.user, request=request)
        messages.success(request, _("自動確認を実行しました。"))
        return redirect("compliance:probes_run")
    return render(request, "compliance/probes.html", {"probes": selectors.probe_overview(),
                                                       "history": selectors.probe_history(keys=probes.PROBES, limit=60)})


@require_GET
@permission_required_for_role(Perm.COMPLIANCE_VIEW)
def export_text(request: HttpRequest) -> HttpResponse:
    text = export.as_text(export.form_context())
    stamp = timezone.localdate().strftime("%Y%m%d")
    return _download(text.encode("utf-8"), filename=f"checklist-{stamp}.txt", content_type="text/plain; charset=utf-8")


@require_GET
@permission_required_for_role(Perm.COMPLIANCE_VIEW)
def export_pdf(request: HttpRequest) -> HttpResponse:
    context = export.form_context()
    try:
        data = render_pdf("compliance/pdf/checklist.html", context)
    except PdfUnavailable as exc:
        return render(request, "compliance/pdf_unavailable.html", {"reason": str(exc)}, status=503)
    stamp = timezone.localdate().strftime("%Y%m%d")
    return _download(data, filename=f"checklist-{stamp}.pdf", content_type="application/pdf")


# --- Break-glass -------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.INCIDENT_DECLARE)
def incident_list(request: HttpRequest) -> HttpResponse:
    form = IncidentDeclareForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            incident = services_access.incident_declare(reason=form.cleaned_data["reason"], actor=request.user, request=request)
        except ValidationError as exc:
            _refused(request, exc)
        else:
            messages.warning(request, _("非常時を宣言しました。別の担当者の確認で非常時対応が始まります。"))
            return redirect("compliance:incident_detail", pk=incident.pk)
    return render(request, "compliance/incident_list.html", {
        "form": form,
        "incidents": selectors.incident_list()[:50],
        "open_incident": selectors.incident_open(),
        "accounts": selectors.emergency_account_list(),
    })


def _activatable() -> Any:
    """Emergency accounts not in use right now."""
    in_use = EmergencyActivation.objects.filter(ended_at__isnull=True).values("account_id")
    return EmergencyAccount.objects.select_related("user").exclude(pk__in=in_use).order_by("label")


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.INCIDENT_DECLARE)
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = access.access_incident(request, pk)
    op = request.POST.get("op", "")
    activate_form = EmergencyActivateForm(request.POST if op == "activate" else None, accounts=_activatable())
    close_form = IncidentCloseForm(request.POST if op == "close" else None)
    if request.method == "POST":
        try:
            if op == "confirm":
                services_access.incident_confirm(incident=incident, actor=request.user, request=request)
                messages.warning(request, _("非常時対応を開始しました。"))
                return redirect("compliance:incident_detail", pk=incident.pk)
            if op == "activate" and activate_form.is_valid():
                activation, password = services_access.emergency_activate(
                    incident=incident, account=activate_form.cleaned_data["account"], reason=activate_form.cleaned_data["reason"],
                    minutes=activate_form.cleaned_data["minutes"], actor=request.user, request=request,
                )
                return render(request, "compliance/emergency_activated.html", {"activation": activation, "password": password})
            if op == "revoke":
                activation = selectors.emergency_activation_list(incident=incident).filter(pk=request.POST.get("activation")).first()
                if activation is None:
                    raise Http404
                services_access.emergency_revoke(activation=activation, actor=request.user, request=request)
                messages.success(request, _("非常用アカウントを停止しました。"))
                return redirect("compliance:incident_detail", pk=incident.pk)
            if op == "close" and close_form.is_valid():
                review = services_access.incident_close(incident=incident, note=close_form.cleaned_data["note"],
                                                        actor=request.user, request=request)
                messages.success(request, _("正常復帰しました。非常用アカウントはすべて無効になりました。"))
                if review is not None:
                    return redirect("compliance:review_detail", pk=review.pk)
                return redirect("compliance:incident_list")
        except ValidationError as exc:
            _refused(request, exc)
    incident = access.access_incident(request, pk)
    return render(request, "compliance/incident_detail.html", {
        "incident": incident,
        "activations": selectors.emergency_activation_list(incident=incident),
        "activate_form": activate_form,
        "close_form": close_form,
        "can_confirm": incident.state == Incident.State.PENDING and incident.declared_by_id != request.user.pk,
        "now": timezone.now(),
    })


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.COMPLIANCE_MANAGE)
def emergency_accounts(request: HttpRequest) -> HttpResponse:
    form = EmergencyAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services_access.emergency_account_create(actor=request.user, request=request, **form.cleaned_data)
        except ValidationError as exc:
            _refused(request, exc)
        else:
            messages.success(request, _("非常用アカウントを登録しました（無効の状態です）。"))
            return redirect("compliance:emergency_accounts")
    return render(request, "compliance/emergency_accounts.html", {
        "form": form, "accounts": selectors.emergency_account_list(), "activations": selectors.emergency_activation_list()[:50],
    })


# --- Maintenance windows ----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.MAINTENANCE_APPROVE)
def maintenance_list(request: HttpRequest) -> HttpResponse:
    form = MaintenanceWindowForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            window = services_access.maintenance_window_approve(actor=request.user, request=request, **form.cleaned_data)
        except ValidationError as exc:
            _refused(request, exc)
        else:
            messages.success(request, _("作業時間帯を承認しました。"))
            return redirect("compliance:maintenance_detail", pk=window.pk)
    return render(request, "compliance/maintenance_list.html", {
        "form": form, "windows": selectors.maintenance_window_list()[:100], "now": timezone.now(),
    })


@personal_data("compliance.access_report.viewed")
@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.MAINTENANCE_APPROVE)
def maintenance_detail(request: HttpRequest, pk: int) -> HttpResponse:
    window = access.access_maintenance_window(request, pk)
    request_audit(request).touch("maintenance_window", [window.pk])
    if request.method == "POST":
        try:
            review = services_access.maintenance_window_close(window=window, actor=request.user, request=request)
        except ValidationError as exc:
            _refused(request, exc)
        else:
            messages.success(request, _("作業時間帯を終了しました。アクセス内容の確認を作成しました。"))
            return redirect("compliance:review_detail", pk=review.pk)
    end = min(timezone.now(), window.ends_at) if window.closed_at is None else min(window.closed_at, window.ends_at)
    events = list(selectors.access_report(user_ids=[window.user_id], start=window.starts_at, end=max(end, window.starts_at)))
    return render(request, "compliance/maintenance_detail.html", {
        "window": window, "events": events, "touched": selectors.touched_objects(events),
        "reviews": window.reviews.all(), "now": timezone.now(),
    })


# --- Access reviews -----------------------------------------------------------------------------------------


@require_GET
@permission_required_for_role(Perm.COMPLIANCE_VIEW)
def review_list(request: HttpRequest) -> HttpResponse:
    return render(request, "compliance/review_list.html", {"reviews": selectors.access_review_list()[:200]})


@personal_data("compliance.access_report.viewed")
@require_GET
@permission_required_for_role(Perm.COMPLIANCE_VIEW)
def review_detail(request: HttpRequest, pk: int) -> HttpResponse:
    review = access.access_review(request, pk)
    request_audit(request).touch("access_review", [review.pk])
    events = list(selectors.access_report(user_ids=review.subject_ids, start=review.period_start, end=review.period_end))
    subjects = selectors.emergency_account_list().filter(user_id__in=review.subject_ids)
    return render(request, "compliance/review_detail.html", {
        "review": review, "events": events, "touched": selectors.touched_objects(events), "subjects": subjects,
        "can_complete": _can(request, Perm.COMPLIANCE_MANAGE) and review.completed_at is None,
    })


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.COMPLIANCE_MANAGE)
def review_complete(request: HttpRequest, pk: int) -> HttpResponse:
    review = access.access_review(request, pk)
    form = ReviewCompleteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services_access.access_review_complete(review=review, notes=form.cleaned_data["notes"], actor=request.user,
                                                   request=request)
        except ValidationError as exc:
            _refused(request, exc)
        else:
            messages.success(request, _("確認を完了しました。"))
            return redirect("compliance:review_detail", pk=review.pk)
    return render(request, "compliance/review_complete.html", {"review": review, "form": form})


# --- Backups, retention, disposal --------------------------------------------------------------------------


@require_GET
@permission_required_for_role(Perm.COMPLIANCE_VIEW)
def backups(request: HttpRequest) -> HttpResponse:
    return render(request, "compliance/backups.html", {
        "generations": selectors.backup_list()[:60], "drills": selectors.restore_drill_list()[:30],
        "probes": [p for p in selectors.probe_overview() if p.key in ("backup_age", "restore_drill")],
    })


@require_GET
@permission_required_for_role(Perm.COMPLIANCE_VIEW)
def disposal_list(request: HttpRequest) -> HttpResponse:
    policies = {p.data_class: p for p in selectors.retention_policy_list()}
    classes = [
        {"value": value, "label": label, "policy": policies.get(value),
         "expired": services_disposal.disposal_expired_preview(data_class=value)}
        for value, label in DataClass.choices
    ]
    return render(request, "compliance/disposal_list.html", {
        "classes": classes, "requests": selectors.disposal_request_list()[:50],
        "certificates": selectors.disposal_certificate_list()[:50],
        "can_manage": _can(request, Perm.COMPLIANCE_MANAGE), "can_dispose": _can(request, Perm.DISPOSAL_APPROVE),
    })


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.COMPLIANCE_MANAGE)
def retention_policy_edit(request: HttpRequest, data_class: str) -> HttpResponse:
    access.access_data_class(request, data_class)
    policy = selectors.retention_policy_list().filter(data_class=data_class).first()
    initial = {"retention_years": policy.retention_years, "legal_basis": policy.legal_basis,
               "procedure": policy.procedure} if policy else {}
    form = RetentionPolicyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services_disposal.retention_policy_save(data_class=data_class, actor=request.user, request=request, **form.cleaned_data)
        messages.success(request, _("保存期間を更新しました。"))
        return redirect("compliance:disposal_list")
    return render(request, "compliance/retention_form.html", {"form": form, "label": DataClass(data_class).label})


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.DISPOSAL_APPROVE)
def disposal_request(request: HttpRequest) -> HttpResponse:
    form = DisposalRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            disposal = services_disposal.disposal_request_create(data_class=form.cleaned_data["data_class"],
                                                                 actor=request.user, request=request)
        except ValidationError as exc:
            _refused(request, exc)
        else:
            messages.success(request, _("破棄を申請しました。2名の承認の後に実行できます。"))
            return redirect("compliance:disposal_detail", pk=disposal.pk)
    return render(request, "compliance/disposal_request.html", {"form": form})


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.DISPOSAL_APPROVE)
def disposal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    disposal = access.access_disposal_request(request, pk)
    confirm = ReasonlessConfirmForm(request.POST or None)
    if request.method == "POST" and confirm.is_valid():
        op = request.POST.get("op", "")
        try:
            if op == "approve":
                services_disposal.disposal_approve(disposal=disposal, actor=request.user, request=request)
                messages.success(request, _("承認しました。"))
            elif op == "cancel":
                services_disposal.disposal_cancel(disposal=disposal, actor=request.user, request=request)
                messages.success(request, _("申請を取り消しました。"))
            elif op == "execute":
                certificate = services_disposal.disposal_execute(disposal=disposal, actor=request.user, request=request)
                messages.success(request, _("破棄を実行し、破棄証明書を発行しました。"))
                return redirect("compliance:certificate_detail", seq=certificate.seq)
        except ValidationError as exc:
            _refused(request, exc)
        else:
            return redirect("compliance:disposal_detail", pk=disposal.pk)
        disposal = access.access_disposal_request(request, pk)
    approvals = list(disposal.approvals.all())
    return render(request, "compliance/disposal_detail.html", {
        "disposal": disposal, "approvals": approvals,
        "approved_by_me": any(a.approver_id == request.user.pk for a in approvals),
        "pending": disposal.state == DisposalRequest.State.PENDING,
        "required": services_disposal.APPROVALS_REQUIRED,
    })


@require_GET
@permission_required_for_role(Perm.COMPLIANCE_VIEW)
def certificate_detail(request: HttpRequest, seq: int) -> HttpResponse:
    certificate = access.access_certificate(request, seq)
    return render(request, "compliance/certificate_detail.html", {
        "certificate": certificate, "verified": services_disposal.certificate_verify(certificate),
    })


@require_GET
@permission_required_for_role(Perm.COMPLIANCE_VIEW)
def certificate_pdf(request: HttpRequest, seq: int) -> HttpResponse:
    certificate = access.access_certificate(request, seq)
    context = {"certificate": certificate, "verified": services_disposal.certificate_verify(certificate)}
    try:
        data = render_pdf("compliance/pdf/certificate.html", context)
    except PdfUnavailable as exc:
        return render(request, "compliance/pdf_unavailable.html", {"reason": str(exc)}, status=503)
    return _download(data, filename=f"disposal-certificate-{certificate.seq}.pdf", content_type="application/pdf")
