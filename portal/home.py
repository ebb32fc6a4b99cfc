"""Each role's home page as a work queue: what waits for this person, and how the work went.

Figures come from every domain (intake, routing, billing, compliance), which is why the home page lives
in this app above them all (see README, Architecture). Each panel is a title, figures that link to the
list that holds the work, optional rows, and optionally a chart (``portal.charts``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate, TruncMonth
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from agency.models import Role
from agency.services import maintenance_window_open_for
from audit import anomalies
from billing import calendar
from billing import selectors as billing_selectors
from billing.models import BillingMonth, BillingMonthStatus
from billing.services import closing
from compliance import selectors as compliance_selectors
from compliance.probes import AUDIT_REVIEW_MAX_DAYS
from intake import selectors as intake_selectors
from intake.models import Record, RecordStatus, Submission, SubmissionStatus
from routing import selectors as routing_selectors
from routing.models import DeliveryStatus

from .charts import Series, ratio_bar, stacked_bars

FINAL = (SubmissionStatus.ACCEPTED, SubmissionStatus.PARTIALLY_ACCEPTED, SubmissionStatus.REJECTED)


@dataclass
class Figure:
    label: str
    value: Any
    url: str = ""
    tone: str = ""  # "attention" when work waits

    @property
    def display(self) -> str:
        """Counts and amounts with thousands separators; text (a month, a date, a countdown) as it is."""
        if isinstance(self.value, int) and not isinstance(self.value, bool):
            return f"{self.value:,}"
        return str(self.value)


@dataclass
class Panel:
    title: str
    figures: list[Figure] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    chart: SafeString | None = None
    table: list[list[Any]] = field(default_factory=list)  # the chart's figures as a table (header first)
    note: str = ""


def _month_label(day: dt.date) -> str:
    return f"{day.month}月"


def _fiscal_year_start(today: dt.date) -> dt.date:
    return dt.date(today.year if today.month >= 4 else today.year - 1, 4, 1)


def _months(first: dt.date, last: dt.date) -> list[dt.date]:
    months, current = [], calendar.month_start(first)
    while current <= last:
        months.append(current)
        current = calendar.next_month(current)
    return months


def _volume_chart(records: Any, *, title: str, first: dt.date, last: dt.date) -> tuple[SafeString, list[list[Any]]]:
    """Accepted and returned records per month received."""
    counts = (
        records.filter(submission__received_at__gte=_since(first))
        .annotate(month=TruncMonth("submission__received_at"))
        .values("month")
        .annotate(accepted=Count("pk", filter=Q(status=RecordStatus.ACCEPTED)),
                  returned=Count("pk", filter=Q(status=RecordStatus.RETURNED)))
    )
    by_month: dict[Any, Any] = {(row["month"].date() if isinstance(row["month"], dt.datetime) else row["month"]): row for row in counts}
    months = _months(first, last)
    accepted = [by_month.get(m, {}).get("accepted", 0) for m in months]
    returned = [by_month.get(m, {}).get("returned", 0) for m in months]
    labels = [_month_label(m) for m in months]
    chart = stacked_bars(title=title, categories=labels, series=[Series(_("受理"), accepted), Series(_("返戻"), returned)])
    table = [[_("月"), _("受理"), _("返戻")], *([label, a, r] for label, a, r in zip(labels, accepted, returned, strict=True))]
    return chart, table


def _since(day: dt.date) -> dt.datetime:
    """The local midnight that starts ``day``: ``field__gte=_since(day)`` is ``field__date__gte=day``, but compares
    the stored moments as they are, so an index on the field serves it (``__date`` converts every row first)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _rate(part: int, total: int) -> str:
    return f"{100 * part / total:.1f}%" if total else "—"


# --- institution ---------------------------------------------------------------------------------------------


def institution_panels(user: Any) -> list[Panel]:
    today = timezone.localdate()
    submissions = intake_selectors.submission_list(user=user)
    in_progress = list(submissions.exclude(status__in=FINAL)[:10])
    returns = intake_selectors.returned_record_list(user=user)
    open_returns = returns.filter(replaced_by__isnull=True).count()
    queue = Panel(_("作業が必要なもの"), figures=[
        Figure(_("点検中の受付"), len(in_progress), reverse("intake:submission_list"), "attention" if in_progress else ""),
        Figure(_("訂正・再提出が必要な返戻"), open_returns, reverse("intake:return_list") + "?resubmitted=no",
               "attention" if open_returns else ""),
        Figure(_("再提出済の返戻"), returns.filter(replaced_by__isnull=False).distinct().count(),
               reverse("intake:return_list") + "?resubmitted=yes"),
    ], rows=[{"label": s.receipt_number, "url": reverse("intake:submission_detail", args=[s.pk]),
              "text": f"{s.file_name}（{s.get_status_display()} {s.records_checked:,}/{s.records_total:,}件）"} for s in in_progress])
    first = _fiscal_year_start(today)
    records = intake_selectors.record_list(user=user)
    year = records.filter(submission__received_at__gte=_since(first))
    totals = year.aggregate(accepted=Count("pk", filter=Q(status=RecordStatus.ACCEPTED)),
                            returned=Count("pk", filter=Q(status=RecordStatus.RETURNED)),
                            claimed=Sum("claim_amount", filter=Q(status=RecordStatus.ACCEPTED)))
    chart, table = _volume_chart(records, title=_("今年度の受付件数（月別）"), first=first, last=today)
    volumes = Panel(_("今年度の受付"), figures=[
        Figure(_("受理"), totals["accepted"]), Figure(_("返戻"), totals["returned"]),
        Figure(_("返戻率"), _rate(totals["returned"], totals["accepted"] + totals["returned"])),
        Figure(_("受理分の請求額（円）"), totals["claimed"] or 0),
    ], chart=chart, table=table)
    recent = Panel(_("最近の受付"), rows=[
        {"label": s.receipt_number, "url": reverse("intake:submission_detail", args=[s.pk]),
         "text": f"{timezone.localtime(s.received_at):%Y-%m-%d} {s.get_status_display()}（受理 {s.records_accepted:,}件・返戻 {s.records_returned:,}件）"}
        for s in submissions[:5]
    ])
    return [queue, volumes, recent]


# --- agency clerk ----------------------------------------------------------------------------------------------


def _intake_today_and_month(today: dt.date) -> Panel:
    records = Record.objects.filter(checked_at__isnull=False)

    def counts(since: dt.date) -> tuple[int, int]:
        row = records.filter(checked_at__gte=_since(since)).aggregate(
            accepted=Count("pk", filter=Q(status=RecordStatus.ACCEPTED)), returned=Count("pk", filter=Q(status=RecordStatus.RETURNED)))
        return row["accepted"], row["returned"]

    day_a, day_r = counts(today)
    month_a, month_r = counts(today.replace(day=1))
    first = today - timedelta(days=13)
    daily: dict[Any, Any] = {
        row["day"]: row
        for row in records.filter(checked_at__gte=_since(first)).annotate(day=TruncDate("checked_at")).values("day")
        .annotate(accepted=Count("pk", filter=Q(status=RecordStatus.ACCEPTED)), returned=Count("pk", filter=Q(status=RecordStatus.RETURNED)))
    }
    days = [first + timedelta(days=n) for n in range(14)]
    accepted = [daily.get(d, {}).get("accepted", 0) for d in days]
    returned = [daily.get(d, {}).get("returned", 0) for d in days]
    labels = [f"{d.month}/{d.day}" for d in days]
    return Panel(
        _("受付の状況"),
        figures=[
            Figure(_("本日 受理"), day_a), Figure(_("本日 返戻"), day_r), Figure(_("本日 受理率"), _rate(day_a, day_a + day_r)),
            Figure(_("今月 受理"), month_a), Figure(_("今月 返戻"), month_r), Figure(_("今月 受理率"), _rate(month_a, month_a + month_r)),
        ],
        chart=stacked_bars(title=_("直近14日の点検件数"), categories=labels,
                           series=[Series(_("受理"), accepted), Series(_("返戻"), returned)]),
        table=[[_("日"), _("受理"), _("返戻")], *([label, a, r] for label, a, r in zip(labels, accepted, returned, strict=True))],
    )


def clerk_panels(user: Any) -> list[Panel]:
    today = timezone.localdate()
    warnings = intake_selectors.unconfirmed_warning_list()
    held = intake_selectors.records_awaiting_confirmation().count()
    since = timezone.now() - timedelta(days=30)
    rejected = Submission.objects.filter(status=SubmissionStatus.REJECTED, received_at__gte=since).select_related("institution")
    checking = Submission.objects.exclude(status__in=FINAL).count()
    overview = routing_selectors.routing_overview()
    waiting_download = routing_selectors.delivery_list(user=user).filter(status=DeliveryStatus.READY).count()
    queue = Panel(_("作業が必要なもの"), figures=[
        Figure(_("未確認の警告"), warnings.count(), reverse("intake:warning_queue"), "attention" if warnings.exists() else ""),
        Figure(_("確認待ちで送付保留中の健診データ"), held, reverse("intake:warning_queue"), "attention" if held else ""),
        Figure(_("受付不可のアーカイブ（30日）"), rejected.count(), reverse("intake:submission_list") + "?status=rejected",
               "attention" if rejected.exists() else ""),
        Figure(_("点検中の受付"), checking, reverse("intake:workbench")),
        Figure(_("振分待ちの健診データ"), sum(row["records"] for row in overview), reverse("insurer:routing_run")),
        Figure(_("保険者の取得待ちの送付データ"), waiting_download, reverse("insurer:delivery_list")),
    ], rows=[{"label": s.receipt_number, "url": reverse("intake:submission_detail", args=[s.pk]),
              "text": f"{s.sender_name} {s.file_name}（{timezone.localtime(s.received_at):%Y-%m-%d}）"} for s in rejected[:5]])
    return [queue, _intake_today_and_month(today)]


# --- agency admin -------------------------------------------------------------------------------------------------


def _countdown(moment: dt.datetime, now: dt.datetime) -> str:
    left = moment - now
    if left.total_seconds() <= 0:
        return _("締め日時を過ぎています")
    days, hours = left.days, left.seconds // 3600
    return _("あと %(days)d日 %(hours)d時間") % {"days": days, "hours": hours}


def month_close_panel() -> Panel:
    now = timezone.now()
    this_month = calendar.month_start(timezone.localdate())
    previous = calendar.previous_month(this_month)
    open_period = previous if calendar.cutoff_for(previous) > now or previous in closing.months_due(now) else this_month
    preview_month = BillingMonth.objects.filter(period=open_period).first() or BillingMonth(
        period=open_period, cutoff_at=calendar.cutoff_for(open_period))
    billable = closing.billable_records(preview_month).aggregate(n=Count("pk"), total=Sum("claim_amount"))
    due = closing.months_due(now)
    last_closed = BillingMonth.objects.filter(status=BillingMonthStatus.CLOSED).order_by("-period").first()
    detail = reverse("billing:month_detail", args=[preview_month.period.strftime("%Y-%m")])
    return Panel(_("月次締め"), figures=[
        Figure(_("次の締め"), f"{calendar.period_label(open_period)}（{timezone.localtime(preview_month.cutoff_at):%m/%d %H:%M}）", detail),
        Figure(_("締めまで"), _countdown(preview_month.cutoff_at, now), detail),
        Figure(_("請求見込み件数"), billable["n"] or 0, detail),
        Figure(_("請求見込み額（円）"), billable["total"] or 0, detail),
        Figure(_("締め待ちの月"), len(due), reverse("billing:month_list"), "attention" if due else ""),
        Figure(_("最後に締めた月"), last_closed.label if last_closed else "—",
               reverse("billing:month_detail", args=[last_closed.period.strftime("%Y-%m")]) if last_closed else ""),
    ])


def probe_panel() -> Panel:
    failing = [view for view in compliance_selectors.probe_overview() if not view.passing]
    return Panel(_("安全管理の自動確認"), figures=[
        Figure(_("合格していない確認項目"), len(failing), reverse("compliance:dashboard"), "attention" if failing else ""),
    ], rows=[{"label": view.label, "url": reverse("compliance:dashboard"),
              "text": view.result.get_status_display() if view.result else _("未実施")} for view in failing[:8]])


def admin_panels(user: Any) -> list[Panel]:
    return [month_close_panel(), *clerk_panels(user), probe_panel()]


# --- insurer -------------------------------------------------------------------------------------------------------


def insurer_panels(user: Any) -> list[Panel]:
    deliveries = routing_selectors.delivery_list(user=user)
    new = list(deliveries.filter(status=DeliveryStatus.READY).order_by("-created_at")[:10])
    returns = routing_selectors.insurer_return_list(user=user)
    corrected = returns.filter(record__replaced_by__isnull=False).distinct().count()
    queue = Panel(_("作業が必要なもの"), figures=[
        Figure(_("未取得の送付データ"), deliveries.filter(status=DeliveryStatus.READY).count(), reverse("insurer:delivery_list"),
               "attention" if new else ""),
        Figure(_("過誤返戻"), returns.count(), reverse("insurer:return_list")),
        Figure(_("うち再提出済"), corrected, reverse("insurer:return_list")),
        Figure(_("うち再提出待ち"), returns.count() - corrected, reverse("insurer:return_list")),
    ], rows=[{"label": d.file_name, "url": reverse("insurer:delivery_detail", args=[d.pk]),
              "text": f"{d.record_count:,}件 {d.claim_total:,}円（{timezone.localtime(d.created_at):%Y-%m-%d}）"} for d in new])
    statements = billing_selectors.claims_statement_list(user=user)[:3]
    invoices = billing_selectors.invoice_list(user=user)[:3]
    billing = Panel(_("請求書"), rows=[
        *({"label": _("費用請求書 %(month)s") % {"month": s.month.label}, "url": reverse("billing:statement_detail", args=[s.pk]),
           "text": f"{s.total:,}円"} for s in statements),
        *({"label": _("事務手数料請求書 %(number)s") % {"number": i.number}, "url": reverse("billing:invoice_detail", args=[i.pk]),
           "text": f"{i.total:,}円"} for i in invoices),
    ])
    today = timezone.localdate()
    first = calendar.add_months(calendar.month_start(today), -11)
    routed = routing_selectors.routed_record_list(user=user).filter(delivery_item__delivery__created_at__gte=_since(first))
    counts = {
        (row["month"].date() if isinstance(row["month"], dt.datetime) else row["month"]): row["n"]
        for row in routed.annotate(month=TruncMonth("delivery_item__delivery__created_at")).values("month").annotate(n=Count("pk"))
    }
    months = _months(first, today)
    values = [counts.get(m, 0) for m in months]
    labels = [_month_label(m) for m in months]
    volume = Panel(_("受け取った健診データ（月別）"),
                   chart=stacked_bars(title=_("月別の送付件数"), categories=labels, series=[Series(_("送付"), values)]),
                   table=[[_("月"), _("送付")], *([label, v] for label, v in zip(labels, values, strict=True))])
    return [queue, billing, volume]


# --- auditor ----------------------------------------------------------------------------------------------------------


def auditor_panels(user: Any) -> list[Panel]:
    now = timezone.now()
    report = anomalies.build(start=now - timedelta(days=7), end=now)
    last = compliance_selectors.audit_review_list().first()
    due_at = (last.signed_at + timedelta(days=AUDIT_REVIEW_MAX_DAYS)) if last else now
    anomalies_url = reverse("audit:anomalies")
    found = Panel(_("直近7日の要確認事項"), figures=[
        Figure(_("監査イベント"), report.events, reverse("audit:event_list")),
        Figure(_("拒否されたアクセス"), report.denials.total, anomalies_url, "attention" if report.denials.total else ""),
        Figure(_("アカウントロック"), report.lockouts.total, anomalies_url, "attention" if report.lockouts.total else ""),
        Figure(_("時間外の操作"), report.after_hours.total, anomalies_url, "attention" if report.after_hours.total else ""),
        Figure(_("大量の閲覧・出力"), report.bulk.total, anomalies_url, "attention" if report.bulk.total else ""),
        Figure(_("非常時アクセス"), report.break_glass.total, anomalies_url, "attention" if report.break_glass.total else ""),
    ], chart=ratio_bar(title=_("要確認事項の内訳"), parts=[
        (_("拒否"), report.denials.total), (_("ロック"), report.lockouts.total), (_("時間外"), report.after_hours.total),
        (_("大量"), report.bulk.total), (_("非常時"), report.break_glass.total)]))
    review = Panel(_("監査ログの定期確認"), figures=[
        Figure(_("前回の確認"), f"{timezone.localtime(last.signed_at):%Y-%m-%d}" if last else _("未実施"), reverse("audit:review_list")),
        Figure(_("次の確認期限"), f"{timezone.localtime(due_at):%Y-%m-%d}", reverse("audit:review_sign"),
               "attention" if due_at - now < timedelta(days=7) else ""),
    ])
    return [found, review]


def maintenance_panels(user: Any) -> list[Panel]:
    window = maintenance_window_open_for(user=user)
    return [Panel(_("保守作業"), figures=[
        Figure(_("作業申請番号"), window.ticket if window else "—"),
        Figure(_("作業終了予定"), timezone.localtime(window.ends_at).strftime("%Y-%m-%d %H:%M") if window else "—"),
    ])]


PANELS = {
    Role.INSTITUTION_STAFF: institution_panels,
    Role.AGENCY_CLERK: clerk_panels,
    Role.AGENCY_ADMIN: admin_panels,
    Role.INSURER_STAFF: insurer_panels,
    Role.AUDITOR: auditor_panels,
    Role.MAINTENANCE: maintenance_panels,
}


def home_panels(user: Any) -> list[Panel]:
    builder = PANELS.get(user.role)
    return builder(user) if builder is not None else []
