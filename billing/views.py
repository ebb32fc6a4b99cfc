"""Billing pages: claims statements and invoices (insurers), payment statements (institutions), and the
agency's closing, payments, transfers and settings.

Thin views: a form validates, one service or selector does the work, a template renders. Documents
are loaded only through ``billing.access`` (foreign or missing → 404, audited as denied); pages and
downloads of statements and invoices are audited.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from agency import selectors as agency_selectors
from agency.access import access_insurer
from agency.leases import lease_open
from agency.models import Insurer, Role
from agency.permissions import Perm, permission_required_for_role, user_has_perm
from audit.middleware import personal_data
from core.http import request_audit

from . import documents, selectors, services
from .access import (
    access_claims_statement,
    access_insurer_payment,
    access_invoice,
    access_payment_statement,
    access_transfer_batch,
)
from .calendar import cutoff_for, parse_period
from .forms import (
    AdjustmentForm,
    BankAccountForm,
    BankCsvForm,
    CloseMonthForm,
    ListFilterForm,
    PaymentFilterForm,
    PaymentForm,
    ReasonForm,
    TermsForm,
    TransferForm,
)
from .models import (
    AgencyBankAccount,
    BillingMonth,
    ClaimAdjustment,
    ClaimsStatement,
    InsurerBillingTerms,
    Invoice,
    InvoiceKind,
)
from .services import closing
from .tasks import close_month_task

PAGE_SIZE = 50
LINES_PAGE_SIZE = 200


def _download(data: bytes, *, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _page(request: HttpRequest, queryset: Any, size: int = PAGE_SIZE) -> Any:
    return Paginator(queryset, size).get_page(request.GET.get("page"))


def _touch(request: HttpRequest, object_type: str, ids: Any) -> None:
    request_audit(request).touch(object_type, ids)


def _with_paid(statements: list[ClaimsStatement]) -> list[ClaimsStatement]:
    paid = selectors.statement_paid(s.pk for s in statements)
    for statement in statements:
        statement.paid = paid.get(statement.pk, 0)  # type: ignore[attr-defined]
        statement.settled = statement.paid >= statement.total  # type: ignore[attr-defined]
    return statements


def _with_outstanding(invoices: list[Invoice]) -> list[Invoice]:
    for invoice in invoices:
        invoice.outstanding = selectors.invoice_outstanding(invoice)  # type: ignore[attr-defined]
    return invoices


# --- filters of the lists, and their CSV ----------------------------------------------------------------------

CSV = "text/csv; charset=utf-8"
SETTLED, UNSETTLED = "settled", "unsettled"


def _filters(request: HttpRequest, form: Any, csv_name: str) -> dict[str, Any]:
    """What the lists' filter bar needs: the form, the CSV link and the query both keep."""
    query = request.GET.copy()
    query.pop("page", None)
    return {"filter_form": form, "csv_url": reverse(csv_name), "query": query.urlencode()}


def _exported(request: HttpRequest, object_type: str, ids: list[int]) -> None:
    """A CSV export is audited with what it holds and the filters that chose it."""
    _touch(request, object_type, ids)
    request_audit(request).detail["filters"] = {key: value for key, value in request.GET.items() if value}


def _months(queryset: Any) -> list[Any]:
    return sorted({p for p in queryset.order_by().values_list("month__period", flat=True).distinct() if p}, reverse=True)


def _apply(form: Any, queryset: Any, **fields: str) -> Any:
    """Narrow ``queryset`` by the form's filled fields (``fields``: form field → lookup); nothing when it is invalid."""
    if not form.is_bound:
        return queryset
    if not form.is_valid():
        return queryset.none()
    for name, lookup in fields.items():
        value = form.cleaned_data.get(name)
        if value:
            queryset = queryset.filter(**{lookup: value})
    return queryset


def _staff(request: HttpRequest) -> bool:
    return bool(getattr(request.user, "is_agency_staff", False))


def _filtered_statements(request: HttpRequest) -> tuple[ListFilterForm, Any]:
    statements = selectors.claims_statement_list(user=request.user)
    form = ListFilterForm(
        request.GET or None, months=_months(statements),
        insurers=agency_selectors.insurer_list(user=request.user) if _staff(request) else None,
        statuses=[(SETTLED, _("入金済")), (UNSETTLED, _("入金待ち"))],
    )
    statements = _apply(form, statements, month="month__period", insurer="insurer")
    if form.is_bound and form.is_valid() and form.cleaned_data.get("status"):
        paid = statements.annotate(paid_sum=Coalesce(Sum("payments__amount"), 0))
        settled = Q(paid_sum__gte=F("total"))
        statements = paid.filter(settled) if form.cleaned_data["status"] == SETTLED else paid.exclude(settled)
    return form, statements


def _filtered_invoices(request: HttpRequest) -> tuple[ListFilterForm, Any]:
    invoices = selectors.invoice_list(user=request.user)
    form = ListFilterForm(
        request.GET or None, months=_months(invoices),
        insurers=agency_selectors.insurer_list(user=request.user) if _staff(request) else None,
        statuses=list(InvoiceKind.choices),
    )
    return form, _apply(form, invoices, month="month__period", insurer="insurer", status="kind")


def _filtered_payment_statements(request: HttpRequest) -> tuple[ListFilterForm, Any]:
    payments = selectors.payment_statement_list(user=request.user)
    form = ListFilterForm(
        request.GET or None, months=_months(payments),
        institutions=agency_selectors.institution_list(user=request.user) if _staff(request) else None,
    )
    return form, _apply(form, payments, month="month__period", institution="institution")


def _filtered_payments(request: HttpRequest) -> tuple[PaymentFilterForm, Any]:
    payments = selectors.insurer_payment_list(user=request.user)
    form = PaymentFilterForm(request.GET or None, insurers=agency_selectors.insurer_list(user=request.user))
    return form, _apply(form, payments, received_from="received_on__gte", received_to="received_on__lte",
                        insurer="insurer", source="source")


def _filtered_transfers(request: HttpRequest) -> tuple[ListFilterForm, Any]:
    batches = selectors.transfer_batch_list(user=request.user)
    form = ListFilterForm(request.GET or None, months=_months(batches))
    return form, _apply(form, batches, month="month__period")


# --- overview ------------------------------------------------------------------------------------------------


@require_GET
@permission_required_for_role(Perm.BILLING_VIEW)
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    context: dict[str, Any] = {
        "can_insurer_docs": user_has_perm(user, Perm.BILLING_INSURER_DOCS),
        "can_payment_statements": user_has_perm(user, Perm.BILLING_PAYMENT_STATEMENTS),
        "can_payments": user_has_perm(user, Perm.BILLING_PAYMENTS),
        "can_manage": user_has_perm(user, Perm.BILLING_MANAGE),
        "statements": None, "invoices": None, "payment_statements": None, "balance": None, "institution_balance": None,
        "months": None,
    }
    if context["can_insurer_docs"]:
        context["statements"] = _with_paid(list(selectors.claims_statement_list(user=user)[:12]))
        context["invoices"] = _with_outstanding(list(selectors.invoice_list(user=user)[:12]))
    if context["can_payment_statements"]:
        context["payment_statements"] = list(selectors.payment_statement_list(user=user)[:12])
    if user.role == Role.INSURER_STAFF:  # type: ignore[union-attr]
        context["balance"] = selectors.insurer_balance(user.insurer)  # type: ignore[union-attr]
    if user.role == Role.INSTITUTION_STAFF:  # type: ignore[union-attr]
        context["institution_balance"] = selectors.institution_balance(user.institution)  # type: ignore[union-attr]
    if user.is_agency_staff:  # type: ignore[union-attr]
        context["months"] = list(selectors.billing_month_list()[:6])
    return render(request, "billing/home.html", context)


# --- claims statements (費用請求書) ------------------------------------------------------------------------------


@require_GET
@permission_required_for_role(Perm.BILLING_INSURER_DOCS)
def statement_list(request: HttpRequest) -> HttpResponse:
    form, statements = _filtered_statements(request)
    page = _page(request, statements)
    _with_paid(list(page.object_list))
    return render(request, "billing/statement_list.html", {"page": page, **_filters(request, form, "billing:statement_list_csv")})


@personal_data("billing.statements.export")
@require_GET
@permission_required_for_role(Perm.BILLING_INSURER_DOCS)
def statement_list_csv(request: HttpRequest) -> HttpResponse:
    _form, statements = _filtered_statements(request)
    found = _with_paid(list(statements))
    _exported(request, "claims_statement", [s.pk for s in found])
    return _download(documents.statement_list_csv(found), filename="statements.csv", content_type=CSV)


@personal_data("billing.statement.view")
@require_GET
@permission_required_for_role(Perm.BILLING_INSURER_DOCS)
def statement_detail(request: HttpRequest, statement_id: int) -> HttpResponse:
    statement = access_claims_statement(request, statement_id)
    _with_paid([statement])
    parts = list(selectors.statement_parts(statement))
    status = selectors.part_transfer_status(parts)
    for part in parts:
        part.transfer_status = status[part.pk]  # type: ignore[attr-defined]
    institution = next((p.institution for p in parts if p.institution.number == request.GET.get("institution")), None)
    page = _page(request, selectors.statement_lines(statement, institution=institution), LINES_PAGE_SIZE)
    _touch(request, "record", [line.record_id for line in page.object_list if line.record_id])
    return render(request, "billing/statement_detail.html", {
        "statement": statement, "parts": parts, "page": page, "institution": institution,
        "query": f"institution={institution.number}" if institution else "",
        "can_view_records": user_has_perm(request.user, Perm.INTAKE_VIEW),
        "payments": statement.payments.order_by("received_on", "pk"),
    })


@personal_data("billing.statement.download")
@require_GET
@permission_required_for_role(Perm.BILLING_INSURER_DOCS)
def statement_csv(request: HttpRequest, statement_id: int) -> HttpResponse:
    statement = access_claims_statement(request, statement_id)
    _touch(request, "record", statement.lines.exclude(record__isnull=True).values_list("record_id", flat=True))
    return _download(documents.statement_csv(statement), filename=f"{statement.number}.csv", content_type="text/csv; charset=utf-8")


@personal_data("billing.statement.download")
@require_GET
@permission_required_for_role(Perm.BILLING_INSURER_DOCS)
def statement_pdf(request: HttpRequest, statement_id: int) -> HttpResponse:
    statement = access_claims_statement(request, statement_id)
    _touch(request, "record", statement.lines.exclude(record__isnull=True).values_list("record_id", flat=True))
    return _download(documents.statement_pdf(statement), filename=f"{statement.number}.pdf", content_type="application/pdf")


# --- fee invoices (適格請求書) -------------------------------------------------------------------------------------


@require_GET
@permission_required_for_role(Perm.BILLING_INSURER_DOCS)
def invoice_list(request: HttpRequest) -> HttpResponse:
    form, invoices = _filtered_invoices(request)
    page = _page(request, invoices)
    _with_outstanding(list(page.object_list))
    return render(request, "billing/invoice_list.html", {"page": page, **_filters(request, form, "billing:invoice_list_csv")})


@personal_data("billing.invoices.export")
@require_GET
@permission_required_for_role(Perm.BILLING_INSURER_DOCS)
def invoice_list_csv(request: HttpRequest) -> HttpResponse:
    _form, invoices = _filtered_invoices(request)
    found = _with_outstanding(list(invoices))
    _exported(request, "invoice", [i.pk for i in found])
    return _download(documents.invoice_list_csv(found), filename="invoices.csv", content_type=CSV)


@require_GET
@permission_required_for_role(Perm.BILLING_INSURER_DOCS)
def invoice_detail(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = access_invoice(request, invoice_id)
    _with_outstanding([invoice])
    context = documents.invoice_context(invoice)
    context["payments"] = invoice.payments.order_by("received_on", "pk")
    context["can_manage"] = user_has_perm(request.user, Perm.BILLING_MANAGE)
    return render(request, "billing/invoice_detail.html", context)


@personal_data("billing.invoice.download")
@require_GET
@permission_required_for_role(Perm.BILLING_INSURER_DOCS)
def invoice_pdf(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = access_invoice(request, invoice_id)
    _touch(request, "invoice", [invoice.pk])
    return _download(documents.invoice_pdf(invoice), filename=f"{invoice.number}.pdf", content_type="application/pdf")


@personal_data("billing.invoice.download")
@require_GET
@permission_required_for_role(Perm.BILLING_INSURER_DOCS)
def invoice_csv(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = access_invoice(request, invoice_id)
    _touch(request, "invoice", [invoice.pk])
    return _download(documents.invoice_csv(invoice), filename=f"{invoice.number}.csv", content_type="text/csv; charset=utf-8")


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.BILLING_MANAGE)
def invoice_cancel(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = access_invoice(request, invoice_id)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            credit = services.invoice_cancel(invoice=invoice, reason=form.cleaned_data["reason"], actor=request.user, request=request)
        except services.BillingError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("返還請求書 %(number)s を発行しました。") % {"number": credit.number})
            return redirect("billing:invoice_detail", credit.pk)
    cancellable = invoice.kind == "invoice" and not Invoice.objects.filter(refers=invoice).exists()
    return render(request, "billing/invoice_cancel.html", {"invoice": invoice, "form": form, "cancellable": cancellable})


# --- payment statements (支払通知) ---------------------------------------------------------------------------------


@require_GET
@permission_required_for_role(Perm.BILLING_PAYMENT_STATEMENTS)
def payment_statement_list(request: HttpRequest) -> HttpResponse:
    form, payments = _filtered_payment_statements(request)
    page = _page(request, payments)
    return render(request, "billing/payment_statement_list.html",
                  {"page": page, **_filters(request, form, "billing:payment_statement_list_csv")})


@personal_data("billing.payment_statements.export")
@require_GET
@permission_required_for_role(Perm.BILLING_PAYMENT_STATEMENTS)
def payment_statement_list_csv(request: HttpRequest) -> HttpResponse:
    _form, payments = _filtered_payment_statements(request)
    found = list(payments)
    _exported(request, "payment_statement", [p.pk for p in found])
    return _download(documents.payment_statement_list_csv(found), filename="payment-statements.csv", content_type=CSV)


@personal_data("billing.payment_statement.view")
@require_GET
@permission_required_for_role(Perm.BILLING_PAYMENT_STATEMENTS)
def payment_statement_detail(request: HttpRequest, payment_statement_id: int) -> HttpResponse:
    payment = access_payment_statement(request, payment_statement_id)
    parts = list(selectors.payment_statement_parts(payment))
    status = selectors.part_transfer_status(parts)
    for part in parts:
        part.transfer_status = status[part.pk]  # type: ignore[attr-defined]
    page = _page(request, selectors.payment_statement_lines(payment), LINES_PAGE_SIZE)
    _touch(request, "record", [line.record_id for line in page.object_list if line.record_id])
    return render(request, "billing/payment_statement_detail.html", {"payment": payment, "parts": parts, "page": page})


@personal_data("billing.payment_statement.download")
@require_GET
@permission_required_for_role(Perm.BILLING_PAYMENT_STATEMENTS)
def payment_statement_pdf(request: HttpRequest, payment_statement_id: int) -> HttpResponse:
    payment = access_payment_statement(request, payment_statement_id)
    _touch(request, "payment_statement", [payment.pk])
    return _download(documents.payment_statement_pdf(payment), filename=f"{payment.number}.pdf", content_type="application/pdf")


@personal_data("billing.payment_statement.download")
@require_GET
@permission_required_for_role(Perm.BILLING_PAYMENT_STATEMENTS)
def payment_statement_csv(request: HttpRequest, payment_statement_id: int) -> HttpResponse:
    payment = access_payment_statement(request, payment_statement_id)
    _touch(request, "payment_statement", [payment.pk])
    return _download(documents.payment_statement_csv(payment), filename=f"{payment.number}.csv", content_type="text/csv; charset=utf-8")


# --- insurer payments (入金) ----------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.BILLING_PAYMENTS)
def insurer_payment_list(request: HttpRequest) -> HttpResponse:
    form = PaymentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        kind, _sep, pk = form.cleaned_data["target"].partition(":")
        statement = selectors.claims_statement_list(user=request.user).filter(pk=pk).first() if kind == "statement" else None
        invoice = selectors.invoice_list(user=request.user).filter(pk=pk).first() if kind == "invoice" else None
        try:
            services.insurer_payment_record(
                claims_statement=statement, invoice=invoice, amount=form.cleaned_data["amount"],
                received_on=form.cleaned_data["received_on"], payer_name=form.cleaned_data["payer_name"],
                reference=form.cleaned_data["reference"], actor=request.user, request=request,
            )
        except services.BillingError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("入金を登録しました。"))
            return redirect("billing:insurer_payment_list")
    filters, payments = _filtered_payments(request)
    page = _page(request, payments)
    return render(request, "billing/insurer_payment_list.html",
                  {"form": form, "page": page, **_filters(request, filters, "billing:insurer_payment_list_csv")})


@personal_data("billing.payments.export")
@require_GET
@permission_required_for_role(Perm.BILLING_PAYMENTS)
def insurer_payment_list_csv(request: HttpRequest) -> HttpResponse:
    _form, payments = _filtered_payments(request)
    found = list(payments)
    _exported(request, "insurer_payment", [p.pk for p in found])
    return _download(documents.insurer_payment_list_csv(found), filename="payments.csv", content_type=CSV)


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.BILLING_PAYMENTS)
def insurer_payment_reverse(request: HttpRequest, payment_id: int) -> HttpResponse:
    payment = access_insurer_payment(request, payment_id)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.insurer_payment_reverse(payment=payment, reason=form.cleaned_data["reason"], actor=request.user, request=request)
        except services.BillingError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("入金を取り消しました。"))
            return redirect("billing:insurer_payment_list")
    return render(request, "billing/insurer_payment_reverse.html", {"payment": payment, "form": form})


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.BILLING_PAYMENTS)
def bank_csv_import(request: HttpRequest) -> HttpResponse:
    form = BankCsvForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            result = services.bank_csv_import(data=upload.read(), file_name=upload.name or "", actor=request.user, request=request)
        except services.BillingError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("%(count)d 件の入金を登録しました。") % {"count": len(result.recorded)})
    return render(request, "billing/bank_csv_import.html", {"form": form, "result": result})


# --- closing, adjustments, transfers, settings (agency) --------------------------------------------------------


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.BILLING_MANAGE)
def month_list(request: HttpRequest) -> HttpResponse:
    form = CloseMonthForm(request.POST or None, months=selectors.months_with_data())
    if request.method == "POST" and form.is_valid():
        period = form.cleaned_data["month"]
        try:
            # A refused attempt leaves nothing behind: the month's row is created only for a month that may close.
            with transaction.atomic():
                month = services.month_close_check(period=period)
        except services.BillingError as error:
            messages.error(request, str(error))
            return redirect("billing:month_detail", period.strftime("%Y-%m"))
        if month.is_closed:
            messages.info(request, _("%(month)s は締め済みです。") % {"month": month.label})
        else:
            label, actor_id = month.label, request.user.pk
            # A unit of work with a lease: if the worker dies during the close, the sweeper runs it again.
            lease_open(task=close_month_task.name, args=[label, actor_id])
            messages.success(request, _("%(month)s の締め処理を開始しました。") % {"month": month.label})
        return redirect("billing:month_detail", month.period.strftime("%Y-%m"))
    months = list(selectors.billing_month_list()[:24])
    for month in months:
        month.reconciliation = selectors.month_reconciliation(month) if month.is_closed else None  # type: ignore[attr-defined]
    return render(request, "billing/month_list.html", {"form": form, "months": months, "due": services.months_due()})


@personal_data("billing.month.view")
@require_GET
@permission_required_for_role(Perm.BILLING_MANAGE)
def month_detail(request: HttpRequest, period: str) -> HttpResponse:
    """One billing month: before its close a preview (what would be billed, per insurer), after it the
    statements, payment statements, invoices and the 月遅れ it carried."""
    try:
        start = parse_period(period)
    except ValueError:
        raise Http404 from None
    month = BillingMonth.objects.filter(period=start).first()
    if month is None:  # not created yet: show what it would hold, without creating its row
        month = BillingMonth(period=start, cutoff_at=cutoff_for(start))
    context: dict[str, Any] = {"month": month, "now": timezone.now(), "due": start in services.months_due()}
    if month.pk is not None and month.is_closed:
        statements = list(month.claims_statements.select_related("insurer").order_by("insurer__number"))
        context.update(
            statements=_with_paid(statements),
            payment_statements=list(month.payment_statements.select_related("institution").order_by("institution__number")),
            invoices=list(Invoice.objects.filter(month=month).order_by("number")),
            late=list(selectors.late_lines(month)[:200]),
            reconciliation=selectors.month_reconciliation(month),
        )
        _touch(request, "billing_month", [month.label])
    else:
        preview = (
            closing.billable_records(month).values("insurer__number", "insurer__name")
            .annotate(records=Count("pk"), total=Sum("claim_amount"), late=Count("pk", filter=Q(checkup_date__lt=start)))
            .order_by("insurer__number")
        )
        held = (
            closing.held_records(month).values("insurer__number", "insurer__name")
            .annotate(records=Count("pk"), total=Sum("claim_amount")).order_by("insurer__number")
        )
        context.update(preview=list(preview), held=list(held), returns=closing.deductible_returns(month).count())
        _touch(request, "billing_month", [month.label])
    return render(request, "billing/month_detail.html", context)


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.BILLING_MANAGE)
def adjustment_list(request: HttpRequest) -> HttpResponse:
    form = AdjustmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.claim_adjustment_create(actor=request.user, request=request, **form.cleaned_data)
        except services.BillingError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("請求調整を登録しました。次の締めで反映されます。"))
            return redirect("billing:adjustment_list")
    page = _page(request, ClaimAdjustment.objects.select_related("insurer", "institution", "billing_line__statement"))
    return render(request, "billing/adjustment_list.html", {"form": form, "page": page})


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.BILLING_MANAGE)
def transfer_list(request: HttpRequest) -> HttpResponse:
    form = TransferForm(request.POST or None, initial={"transfer_date": services.default_transfer_date()})
    if request.method == "POST" and form.is_valid():
        try:
            result = services.transfer_batch_create(
                month=form.cleaned_data["month"], transfer_date=form.cleaned_data["transfer_date"], actor=request.user, request=request
            )
        except services.BillingError as error:
            messages.error(request, str(error))
        else:
            for held in result.held:
                messages.warning(request, _("%(institution)s（%(amount)s円）: %(reason)s") % {
                    "institution": held.institution, "amount": f"{held.amount:,}", "reason": held.reason,
                })
            if result.batch is None:
                messages.info(request, _("振込できるものはありません（保険者の入金待ち、または振込済み）。"))
            else:
                messages.success(request, _("振込データを作成しました（%(count)d 件、%(total)s 円）。") % {
                    "count": result.batch.line_count, "total": f"{result.batch.total_amount:,}",
                })
            return redirect("billing:transfer_list")
    filters, batches = _filtered_transfers(request)
    page = _page(request, batches)
    return render(request, "billing/transfer_list.html", {"form": form, "page": page,
                                                          **_filters(request, filters, "billing:transfer_list_csv"),
                                                          "account": AgencyBankAccount.objects.filter(is_active=True).first()})


@personal_data("billing.transfers.export")
@require_GET
@permission_required_for_role(Perm.BILLING_MANAGE)
def transfer_list_csv(request: HttpRequest) -> HttpResponse:
    _form, batches = _filtered_transfers(request)
    found = list(batches)
    _exported(request, "transfer_batch", [b.pk for b in found])
    return _download(documents.transfer_list_csv(found), filename="transfers.csv", content_type=CSV)


@personal_data("billing.transfer.download")
@require_GET
@permission_required_for_role(Perm.BILLING_MANAGE)
def transfer_file(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = access_transfer_batch(request, batch_id)
    _touch(request, "transfer_batch", [batch.pk])
    crlf = request.GET.get("crlf", "1") != "0"
    return _download(services.transfer_file(batch, crlf=crlf), filename=f"zengin-{batch.month.label}-{batch.pk}.txt",
                     content_type="application/octet-stream")


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.BILLING_MANAGE)
def billing_settings(request: HttpRequest) -> HttpResponse:
    account = AgencyBankAccount.objects.filter(is_active=True).first()
    form = BankAccountForm(request.POST or None, instance=None, initial=_account_initial(account))
    if request.method == "POST" and form.is_valid():
        services.agency_bank_account_save(values=form.cleaned_data, actor=request.user, request=request)
        messages.success(request, _("振込元口座を登録しました。"))
        return redirect("billing:settings")
    terms = {t.insurer_id: t for t in InsurerBillingTerms.objects.all()}
    insurers = list(Insurer.objects.order_by("number"))
    for insurer in insurers:
        insurer.terms = terms.get(insurer.pk)  # type: ignore[attr-defined]
    return render(request, "billing/settings.html", {"form": form, "account": account, "insurers": insurers})


def _account_initial(account: AgencyBankAccount | None) -> dict[str, Any]:
    if account is None:
        return {}
    return {field: getattr(account, field) for field in BankAccountForm.Meta.fields}


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.BILLING_MANAGE)
def insurer_terms(request: HttpRequest, number: str) -> HttpResponse:
    insurer = access_insurer(request, number)
    terms = InsurerBillingTerms.objects.filter(insurer=insurer).first()
    initial = {"fixed_fee_period": terms.fixed_fee_period, "fee_initial": terms.fee_initial, "fee_fixed": terms.fee_fixed,
               "fee_per_checkup": terms.fee_per_checkup, "fee_per_guidance": terms.fee_per_guidance,
               "fee_other_checkups": terms.fee_other_checkups} if terms else {}
    form = TermsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.insurer_terms_save(insurer=insurer, actor=request.user, request=request, **form.cleaned_data)
        messages.success(request, _("%(insurer)s の手数料設定を保存しました。") % {"insurer": insurer.name})
        return redirect("billing:settings")
    return render(request, "billing/insurer_terms.html", {"form": form, "insurer": insurer})
