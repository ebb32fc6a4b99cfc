"""Reads of 振分: what the next run would route (the dry run), and deliveries, routed records and
returns scoped to the requesting user."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from agency.models import Insurer, Role
from intake import selectors as intake_selectors
from intake.models import BILLED_KINDS, CHECKUP_KINDS, Record, RecordKind, RecordStatus, Submission, SubmissionStatus
from kenshin.codes import SERVICE_CHECKUP
from kenshin.naming import ArchiveName
from kenshin.stratification import Level

from .models import MAX_SAME_DAY_COUNT, Delivery, InsurerReturn
from .packing import SERVICE_OF_KIND, AgencyCodeMissing, agency_code

ROUTABLE_SUBMISSION_STATUSES = (SubmissionStatus.ACCEPTED, SubmissionStatus.PARTIALLY_ACCEPTED)


def routable_records() -> QuerySet[Record]:
    """Accepted records of finished submissions that are in no delivery yet, for an active insurer; a record
    with a warning no clerk has confirmed waits when its insurer asks for that (``delivery_waits_for_confirmation``)."""
    return (
        Record.objects.filter(
            status=RecordStatus.ACCEPTED,
            submission__status__in=ROUTABLE_SUBMISSION_STATUSES,
            insurer__isnull=False,
            insurer__is_active=True,
            delivery_item__isnull=True,
            # An insurer's own upload is its own data: counted and shown to it, never delivered back.
            submission__insurer__isnull=True,
        )
        # A record that bills (特定健診, 特定保健指導) travels with its claim; results only and 事業者健診等 have none.
        .exclude(Q(claim_path="") & Q(kind__in=BILLED_KINDS))
        .exclude(pk__in=intake_selectors.records_awaiting_confirmation().values("pk"))
    )


def next_same_day_count(insurer: Insurer, day: dt.date) -> int:
    last = Delivery.objects.filter(insurer=insurer, created_on=day).aggregate(last=Max("same_day_count"))["last"]
    return 0 if last is None else last + 1


# --- the dry run ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanRow:
    """Where one record goes, or why it does not."""

    record: Record
    code: str
    message: str
    routable: bool = False
    delivery: Delivery | None = None
    file_name: str = ""


def _predicted_name(
    code: str, insurer: Insurer, day: dt.date, counts: dict[int, int], service: str = SERVICE_CHECKUP
) -> tuple[str, bool]:
    count = counts.get(insurer.pk)
    if count is None:
        count = counts[insurer.pk] = next_same_day_count(insurer, day)
    if count > MAX_SAME_DAY_COUNT:
        return "", False
    return ArchiveName(code, insurer.number, day, count, service).filename, True


def routing_plan(submission: Submission) -> list[PlanRow]:
    """For each record of a submission: the delivery it went to, the one it would go to now, or why not."""
    try:
        code = agency_code()
    except AgencyCodeMissing:
        code = ""
    day = timezone.localdate()
    counts: dict[int, int] = {}
    records = submission.records.select_related("insurer", "delivery_item__delivery", "insurer_return").order_by("position")
    rows: list[PlanRow] = []
    finished = submission.status in ROUTABLE_SUBMISSION_STATUSES
    awaiting = set(intake_selectors.records_awaiting_confirmation().filter(submission=submission).values_list("pk", flat=True))
    for record in records:
        item = getattr(record, "delivery_item", None)
        insurer_return = getattr(record, "insurer_return", None)
        insurer = record.insurer
        if item is not None:
            delivery = item.delivery
            if insurer_return is not None:
                row = PlanRow(record, "insurer_returned", _("送付後、保険者から過誤返戻されました（理由 %(reason)s）。")
                              % {"reason": insurer_return.get_reason_display()}, delivery=delivery, file_name=delivery.file_name)
            else:
                row = PlanRow(record, "routed", _("送付済みです（%(date)s 作成）。") % {"date": f"{timezone.localtime(delivery.created_at):%Y-%m-%d %H:%M}"},
                              delivery=delivery, file_name=delivery.file_name)
        elif record.status == RecordStatus.PENDING:
            row = PlanRow(record, "pending", _("点検中のため、まだ振り分けません。"))
        elif record.status == RecordStatus.RETURNED:
            row = PlanRow(record, "returned", _("返戻されたため送付しません。訂正後の再提出を待ちます。"))
        elif submission.sent_by_insurer:
            row = PlanRow(record, "insurer_own", _("保険者自身が送付した事業者健診等の結果です。保険者の健診記録と実施率に計上され、送付は行いません。"))
        elif insurer is None:
            row = PlanRow(record, "no_insurer", _("当代行機関の契約保険者ではないため送付先がありません。"))
        elif not insurer.is_active:
            row = PlanRow(record, "insurer_inactive", _("保険者 %(number)s が無効のため保留しています。") % {"number": insurer.number})
        elif not finished:
            row = PlanRow(record, "submission_checking", _("受付全体の点検が終わってから振り分けます。"))
        elif not record.claim_path and record.kind in BILLED_KINDS:
            row = PlanRow(record, "no_claim", _("決済ファイルがないため送付できません。"))
        elif record.pk in awaiting:
            row = PlanRow(record, "awaiting_confirmation", _("未確認の警告があるため、代行機関の職員が確認するまで送付しません（保険者 %(number)s の設定）。")
                          % {"number": insurer.number})
        elif not code:
            row = PlanRow(record, "agency_code_missing", _("代行機関番号が未設定のため送付データを作成できません。"))
        else:
            file_name, fits = _predicted_name(code, insurer, day, counts, record.service_event_type or SERVICE_CHECKUP)
            if fits:
                row = PlanRow(record, "will_route", _("次回の振分で保険者 %(number)s %(name)s 宛の送付データに入ります。")
                              % {"number": insurer.number, "name": insurer.name}, routable=True, file_name=file_name)
            else:
                row = PlanRow(record, "daily_limit", _("本日の送付回数が上限（10回）に達したため、翌日の振分で送付します。"))
        rows.append(row)
    return rows


def routing_overview() -> list[dict[str, Any]]:
    """Per insurer: how many records the next run would route, their claim total and the next file name.

    Aggregates in the database (one GROUP BY over the routable records, one over today's deliveries,
    one for the insurers), so the page costs the same few queries at any number of pending records."""
    try:
        code = agency_code()
    except AgencyCodeMissing:
        code = ""
    day = timezone.localdate()
    totals = list(
        routable_records()
        .order_by()
        .values("insurer_id", "kind")
        .annotate(records=Count("pk"), claim_total=Sum("claim_amount"))
    )
    insurers = Insurer.objects.in_bulk([row["insurer_id"] for row in totals])
    counts: dict[int, int] = {
        row["insurer_id"]: row["last"] + 1
        for row in Delivery.objects.filter(insurer_id__in=list(insurers), created_on=day)
        .order_by()
        .values("insurer_id")
        .annotate(last=Max("same_day_count"))
    }
    for insurer_id in insurers:
        counts.setdefault(insurer_id, 0)
    # One archive per insurer and kind of record, in the order the run writes them (see routing.services.deliveries).
    order = {kind: position for position, kind in enumerate(RecordKind.values)}
    rows = sorted(
        (
            {
                "insurer": insurers[row["insurer_id"]],
                "kind": row["kind"],
                "kind_label": RecordKind(row["kind"]).label,
                "records": row["records"],
                "claim_total": row["claim_total"] or 0,
            }
            for row in totals
        ),
        key=lambda row: (row["insurer"].number, order.get(row["kind"], len(order))),
    )
    for row in rows:
        insurer = row["insurer"]
        service = SERVICE_OF_KIND.get(row["kind"], SERVICE_CHECKUP)
        row["file_name"], row["fits"] = _predicted_name(code, insurer, day, counts, service) if code else ("", False)
        counts[insurer.pk] += 1  # the next kind's archive takes the next same-day count
    return rows


# --- reads, scoped to the user, and the access functions ---------------------------------------------------


def delivery_list(*, user: Any) -> QuerySet[Delivery]:
    qs = Delivery.objects.select_related("insurer", "archive")
    if user.role == Role.INSURER_STAFF:
        return qs.filter(insurer_id=user.insurer_id)
    if user.role == Role.INSTITUTION_STAFF:
        return qs.none()
    return qs


def routed_record_list(*, user: Any) -> QuerySet[Record]:
    """Records routed to insurers (returned ones included), and the accepted records of insurers' own
    事業者健診等 uploads (never delivered: already theirs), as far as the user may see them."""
    own_upload = Q(submission__insurer__isnull=False, status=RecordStatus.ACCEPTED)
    qs = Record.objects.filter(Q(delivery_item__isnull=False) | own_upload).select_related(
        "submission", "institution", "insurer", "delivery_item__delivery"
    )
    if user.role == Role.INSURER_STAFF:
        return qs.filter(
            Q(delivery_item__delivery__insurer_id=user.insurer_id) | (own_upload & Q(submission__insurer_id=user.insurer_id))
        )
    if user.role == Role.INSTITUTION_STAFF:
        return qs.none()
    return qs


def guidance_target_list(*, user: Any, year: int, month: int | None = None) -> QuerySet[Record]:
    """特定保健指導の対象者: the accepted checkups routed to the user's insurer whose recomputed 保健指導レベル
    (階層化 at intake) is 積極的支援 or 動機付け支援, by 年度 (April–March) and, optionally, month of the checkup."""
    start, end = dt.date(year, 4, 1), dt.date(year + 1, 3, 31)
    records = routed_record_list(user=user).filter(
        status=RecordStatus.ACCEPTED, kind__in=CHECKUP_KINDS, checkup_date__gte=start, checkup_date__lte=end,
        stratified_level__in=[Level.ACTIVE.value, Level.MOTIVATIONAL.value],
    )
    if month is not None:
        records = records.filter(checkup_date__month=month)
    return records.order_by("checkup_date", "insurer_number", "card_symbol", "card_number", "card_branch", "pk")


def insurer_return_list(*, user: Any) -> QuerySet[InsurerReturn]:
    qs = InsurerReturn.objects.select_related("record__submission", "insurer", "institution", "delivery", "archive").prefetch_related(
        "record__replaced_by__submission"
    )
    if user.role == Role.INSURER_STAFF:
        return qs.filter(insurer_id=user.insurer_id)
    if user.role == Role.INSTITUTION_STAFF:
        return qs.filter(institution_id=user.institution_id)
    return qs
