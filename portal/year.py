"""A year of the agency's work at size, for benchmarks and for trying the portal with a full database.

``year_build`` (command ``build_year``) plays one 年度 (April to March) through the same services the portal
runs, each step at its moment on the clock (``time_machine``), like the demo's history (``portal.demo``) but
with generated parties and as many checkups as asked (default 500,000, the agency's design capacity):

* for each month ``s`` of checkups, early in the following month every institution sends archives of up to
  ``per_archive`` records (one a day each), received and checked by intake (``submission_receive`` and the
  pipeline's steps, every rule); ``defect_rate`` of the records carry a record-level defect, so they are
  returned (返戻) or carry warnings;
* the clerk routes the accepted records (振分); each insurer's staff downloads and acknowledges its deliveries,
  and returns a few records (過誤, ``insurer_return_rate``);
* after the cut-off the administrator closes ``s`` (claims statements, payment statements, fee invoices);
* the institutions resubmit their returned records corrected (訂正再提出), routed and fetched the same month,
  billed with the next month (月遅れ);
* the portal's daily reading of personal data (logins, record views by clerks, insurers and institutions) is
  appended to the audit log through ``audit.services.audit_record_many``, ``views_per_record`` events per
  accepted record: the chain and its seals are those ``audit_record`` writes, so ``verify_audit_chain`` holds.

It needs an agency profile (the demo's ``agency.demo.seed_demo``, or the production set-up) and no closed
billing month after the year; it refuses to run twice (``YearAlreadyBuilt``): a database holding any
submission of the year's institutions is left alone. Each service commits on its own, so an interrupted run
keeps what it did and is refused on a second run: build into an empty database again.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import time_machine
from django.test import override_settings
from django.utils import timezone
from django.utils.translation import gettext as _

from agency.models import AgencyProfile, Contract, Institution, Insurer, Role, User
from agency.services import synthetic_parties_load, user_create
from audit.models import AuditEvent
from audit.services import audit_record_many
from billing import calendar
from billing.models import BillingMonth, BillingMonthStatus, Invoice
from billing.services import month_close
from core.exceptions import ApplicationError, Conflict
from intake import checks, pipeline
from intake.models import Channel, Record, RecordStatus, Submission
from intake.services.receive import submission_receive
from kenshin.synth.defects import DEFECTS, Stage
from kenshin.synth.generator import GeneratedArchive, GeneratorConfig, default_parties, generate, resubmission
from kenshin.synth.parties import Parties, SynthContract, SynthInstitution, SynthInsurer
from routing.models import Delivery, DeliveryChannel, DeliveryStatus, InsurerReturnReason
from routing.services.deliveries import deliveries_route, delivery_acknowledge, delivery_download
from routing.services.returns import insurer_return_create

MONTHS_IN_YEAR = 12
LOGIN_PREFIX = "year-"  # the accounts that act in the year: year-admin, year-clerk, year-insurer-…, year-institution-…


class YearAlreadyBuilt(Conflict):
    code = "year_already_built"


class YearNotPossible(ApplicationError):
    code = "year_not_possible"


@dataclass(frozen=True)
class YearPlan:
    checkups: int = 500_000
    fiscal_year: int | None = None  # default: the last 年度 that has ended
    months: int = MONTHS_IN_YEAR  # April onward; fewer for a quick try
    per_archive: int = 1_000
    institutions: int = 20
    insurers: int = 10
    defect_rate: float = 0.02
    views_per_record: int = 6
    insurer_return_rate: float = 0.001  # 過誤: share of each month's routed records an insurer returns (one at least)
    seed: int = 2025

    def __post_init__(self) -> None:
        if self.checkups < 1 or self.per_archive < 1 or self.institutions < 1 or self.insurers < 1:
            raise YearNotPossible(_("件数・アーカイブの大きさ・健診機関数・保険者数は 1 以上で指定してください。"))
        if not 1 <= self.months <= MONTHS_IN_YEAR:
            raise YearNotPossible(_("月数は 1 から 12 で指定してください。"))
        if self.views_per_record < 0 or not 0.0 <= self.defect_rate <= 1.0 or not 0.0 <= self.insurer_return_rate <= 1.0:
            raise YearNotPossible(_("閲覧件数は 0 以上、不備の割合は 0 から 1 で指定してください。"))


@dataclass
class YearSummary:
    fiscal_year: int
    checkups: int = 0
    submissions: int = 0
    accepted: int = 0
    returned: int = 0
    resubmitted: int = 0
    deliveries: int = 0
    insurer_returns: int = 0
    months_closed: int = 0
    invoices: int = 0
    audit_events: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def add_time(self, phase: str, seconds: float) -> None:
        self.seconds[phase] = self.seconds.get(phase, 0.0) + seconds


@dataclass
class _Cast:
    admin: User
    clerk: User
    insurer_staff: dict[str, User]
    institution_staff: dict[str, User]
    institutions: dict[str, Institution]


def last_ended_fiscal_year(today: dt.date) -> int:
    """The last 年度 whose work is over by ``today``: March's records are closed, resubmitted and read by May."""
    return today.year - 1 if today.month >= 5 else today.year - 2


def _moment(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=calendar.JST)


def _business_days(month: dt.date, count: int) -> list[dt.date]:
    """The first ``count`` business days of ``month`` (running into the next month if need be)."""
    days: list[dt.date] = []
    day = calendar.next_business_day(month)
    while len(days) < count:
        days.append(day)
        day = calendar.next_business_day(day + dt.timedelta(days=1))
    return days


def institution_parties(institution: Institution) -> Parties:
    """One institution with its contracts as the generator sees them (to make more archives of a built year)."""
    contracts = list(Contract.objects.filter(institution=institution).select_related("insurer").order_by("insurer__number"))
    return Parties(
        insurers=tuple(SynthInsurer(c.insurer.number, c.insurer.name) for c in contracts),
        institutions=(SynthInstitution(institution.number, institution.name, institution.postal_code or "1000005",
                                       institution.address or None, institution.phone or "03-0000-0000"),),
        contracts=tuple(SynthContract(c.insurer.number, institution.number, c.valid_from, c.valid_to,
                                      checks.contract_terms(c)) for c in contracts),
    )


def _parties(plan: YearPlan, fiscal_year: int) -> Parties:
    config = GeneratorConfig(year=fiscal_year, institutions=plan.institutions, insurers=plan.insurers, seed=plan.seed)
    return default_parties(config)


def _account(username: str, role: str, **tenant: Any) -> User:
    found = User.objects.filter(username=username).first()
    if found is not None:
        return found
    return user_create(username=username, password=None, role=role, actor=None,
                       fields={"email": f"{username}@example.jp"}, **tenant)


def _cast(parties: Parties) -> _Cast:
    institutions = {i.number: i for i in Institution.objects.filter(number__in=[p.number for p in parties.institutions])}
    insurers = {i.number: i for i in Insurer.objects.filter(number__in=[p.number for p in parties.insurers])}
    return _Cast(
        admin=_account(f"{LOGIN_PREFIX}admin", Role.AGENCY_ADMIN),
        clerk=_account(f"{LOGIN_PREFIX}clerk", Role.AGENCY_CLERK),
        insurer_staff={n: _account(f"{LOGIN_PREFIX}insurer-{n}", Role.INSURER_STAFF, insurer=i) for n, i in insurers.items()},
        institution_staff={
            n: _account(f"{LOGIN_PREFIX}institution-{n}", Role.INSTITUTION_STAFF, institution=i) for n, i in institutions.items()
        },
        institutions=institutions,
    )


def _refuse_if_built(parties: Parties, fiscal_year: int, months: int) -> None:
    numbers = [p.number for p in parties.institutions]
    if Submission.objects.filter(institution__number__in=numbers).exists():
        raise YearAlreadyBuilt(_("この年度のデータは作成済みです（同じ健診機関の提出があります）。空のデータベースで実行してください。"))
    first, last = dt.date(fiscal_year, 4, 1), calendar.add_months(dt.date(fiscal_year, 4, 1), months - 1)
    later = BillingMonth.objects.filter(status=BillingMonthStatus.CLOSED, period__gte=first).order_by("period").first()
    if later is not None:
        raise YearNotPossible(_("%(month)s が締め済みのため、%(first)s〜%(last)s の月を締められません。") % {
            "month": later.label, "first": calendar.period_label(first), "last": calendar.period_label(last)})
    if calendar.add_months(last, 2) > timezone.localdate():
        raise YearNotPossible(_("%(last)s の締め・再提出・閲覧がまだ済んでいない時期のため、この年度は作れません。") % {
            "last": calendar.period_label(last)})
    if not AgencyProfile.objects.exists():
        raise YearNotPossible(_("代行機関の情報が登録されていません。"))


# --- one month ------------------------------------------------------------------------------------------------


@dataclass
class _Month:
    period: dt.date
    records: int
    ticket_offset: int
    configs: list[GeneratorConfig] = field(default_factory=list)
    submissions: list[int] = field(default_factory=list)


def _month_configs(plan: YearPlan, fiscal_year: int, month: _Month, agency_code: str, record_defects: tuple[str, ...]
                   ) -> list[GeneratorConfig]:
    """The month's archives of ``per_archive`` records in rounds, each round one archive per institution sent
    on a business day of its own (from the second of the following month); the remainder of the month's
    records is one more archive of the first institution on the next business day."""
    size = min(plan.per_archive, month.records)
    full, remainder = divmod(month.records, size)
    rounds = math.ceil(full / plan.institutions)
    days = _business_days(calendar.next_month(month.period), rounds + 2)[1:]
    configs: list[GeneratorConfig] = []
    offset = month.ticket_offset
    for number in range(rounds):
        senders = min(plan.institutions, full - number * plan.institutions)
        configs.append(GeneratorConfig(
            year=fiscal_year, institutions=senders, records=size, insurers=plan.insurers,
            seed=plan.seed * 1_000 + month.period.month * 40 + number, defects=record_defects,
            defect_rate=plan.defect_rate if record_defects else 0.0, agency_number=agency_code,
            created_on=days[number], checkups_from=month.period, ticket_offset=offset,
        ))
        offset += senders * size
    if remainder:
        configs.append(replace(configs[-1], institutions=1, records=remainder, seed=configs[-1].seed + 20,
                               created_on=days[rounds], ticket_offset=offset))
    return configs


def _receive(cast: _Cast, archive: GeneratedArchive, channel: str) -> Submission:
    staff = cast.institution_staff[archive.institution]
    received = submission_receive(
        source=archive.data, file_name=archive.filename, institution=cast.institutions[archive.institution],
        channel=channel, actor=staff if channel == Channel.UPLOAD else cast.clerk, enqueue=False,
    )
    return pipeline.process_inline(received.submission.pk)


def _fetch(cast: _Cast) -> int:
    """Each insurer's staff downloads and acknowledges its new deliveries in the portal."""
    fetched = 0
    for delivery in Delivery.objects.filter(status=DeliveryStatus.READY).select_related("insurer", "archive").order_by("pk"):
        staff = cast.insurer_staff.get(delivery.insurer.number)
        if staff is None:
            continue
        delivery_download(delivery=delivery, actor=staff, request=None, channel=DeliveryChannel.WEB)
        delivery_acknowledge(delivery=delivery, actor=staff)
        fetched += 1
    return fetched


def _activity(cast: _Cast, month: _Month, plan: YearPlan, rng: random.Random) -> Iterator[dict[str, Any]]:
    """The following month's reading of the month's accepted records, in time order: each business day every
    user who reads logs in (TOTP) first; the records are viewed by the insurer's staff, the clerk and the
    institution's staff in turn."""
    if plan.views_per_record == 0:
        return
    rows = list(
        Record.objects.filter(submission_id__in=month.submissions, status=RecordStatus.ACCEPTED)
        .values_list("pk", "insurer__number", "submission__institution__number").order_by("pk")
    )
    if not rows:
        return
    days = _business_days(calendar.next_month(month.period), 15)
    views: list[tuple[dt.datetime, User, str, str, int]] = []
    for pk, insurer, institution in rows:
        for n in range(plan.views_per_record):
            day = days[rng.randrange(len(days))]
            at = _moment(day, 9) + dt.timedelta(seconds=rng.randrange(8 * 3600 + 1800))
            turn = n % 3
            if turn == 0 and insurer in cast.insurer_staff:
                views.append((at, cast.insurer_staff[insurer], "routing.record.view", f"/insurer/records/{pk}/", pk))
            elif turn == 1 or institution not in cast.institution_staff:
                views.append((at, cast.clerk, "intake.record.view", f"/intake/records/{pk}/", pk))
            else:
                views.append((at, cast.institution_staff[institution], "intake.record.view", f"/intake/records/{pk}/", pk))
    views.sort(key=lambda view: view[0])
    logged_in: set[tuple[int, dt.date]] = set()
    for at, user, action, path, pk in views:
        day = timezone.localdate(at)
        ip = f"10.{user.pk % 250}.{(user.pk // 250) % 250}.{10 + user.pk % 200}"
        if (user.pk, day) not in logged_in:
            logged_in.add((user.pk, day))
            yield {"occurred_at": at - dt.timedelta(minutes=1), "actor": user, "action": "auth.otp_verified",
                   "ip": ip, "method": "POST", "path": "/accounts/otp/", "request_id": uuid.UUID(int=rng.getrandbits(128)).hex}
        yield {"occurred_at": at, "actor": user, "action": action, "object_type": "record", "object_ids": [pk],
               "ip": ip, "method": "GET", "path": path, "request_id": uuid.UUID(int=rng.getrandbits(128)).hex}


def _insurer_returns(cast: _Cast, month: _Month, plan: YearPlan, rng: random.Random) -> int:
    """Insurers return (過誤) a few of the month's routed records, each by its own staff."""
    if plan.insurer_return_rate == 0:
        return 0
    routed = list(
        Record.objects.filter(submission_id__in=month.submissions, status=RecordStatus.ACCEPTED,
                              delivery_item__isnull=False).select_related("insurer").order_by("pk")
    )
    chosen = rng.sample(routed, min(len(routed), max(1, round(plan.insurer_return_rate * len(routed)))))
    returned = 0
    for record in chosen:
        staff = cast.insurer_staff.get(record.insurer.number) if record.insurer is not None else None
        if staff is None:
            continue
        insurer_return_create(record=record, reason=InsurerReturnReason.AFTER_LOSS,
                              note="健診実施日時点で資格喪失済み（喪失日の翌日以降の受診）", actor=staff)
        returned += 1
    return returned


def _returned_of(submission_ids: list[int]) -> dict[int, dict[str, tuple[str, str, dt.date | None]]]:
    """Per submission, the members of its returned records not yet replaced, with who each one is
    (保険者番号, 受診券整理番号, 生年月日: what links a resubmitted record to the one it replaces)."""
    returned: dict[int, dict[str, tuple[str, str, dt.date | None]]] = {}
    for submission_id, path, insurer, ticket, birth in (
        Record.objects.filter(submission_id__in=submission_ids, status=RecordStatus.RETURNED, replaced_by__isnull=True)
        .order_by("submission_id", "position")
        .values_list("submission_id", "data_path", "insurer_number", "ticket_number", "birth_date")
    ):
        returned.setdefault(submission_id, {})[path] = (insurer, ticket, birth)
    return returned


def _correctable(archive: GeneratedArchive, returned: dict[str, tuple[str, str, dt.date | None]]) -> list[str]:
    """The returned members whose corrected version (``archive``, generated without the defects) is the same
    person: the generator draws the people after a defect differently, and those are left returned (an
    institution does not correct every return)."""
    paths = []
    for member in archive.submission.checkups:
        who = returned.get(member.path)
        header = member.record.header
        if who is not None and who == (header.subject.insurer_number, header.tickets[0].number if header.tickets else "",
                                        header.subject.birth_date):
            paths.append(member.path)
    return paths


# --- the year -------------------------------------------------------------------------------------------------


def year_build(plan: YearPlan, *, progress: Callable[[str], None] = lambda line: None) -> YearSummary:
    """Build the year described by ``plan`` (see the module's docstring) and say what was made.

    The e-mail notices the services send (deliveries ready, receipts) are not mailed: the addresses are made up.
    """
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
        return _year_build(plan, progress)


def _year_build(plan: YearPlan, progress: Callable[[str], None]) -> YearSummary:
    fiscal_year = plan.fiscal_year or last_ended_fiscal_year(timezone.localdate())
    parties = _parties(plan, fiscal_year)
    _refuse_if_built(parties, fiscal_year, plan.months)
    agency_code = AgencyProfile.objects.values_list("agency_code", flat=True).get()
    summary = YearSummary(fiscal_year=fiscal_year)
    events_before = AuditEvent.objects.count()
    started = time.perf_counter()
    first_month = dt.date(fiscal_year, 4, 1)
    with time_machine.travel(_moment(first_month, 8), tick=False):
        synthetic_parties_load(parties=parties, agency_number=agency_code)
        cast = _cast(parties)
    summary.add_time("parties", time.perf_counter() - started)
    record_defects = tuple(name for name, spec in DEFECTS.items() if spec.stage is Stage.RECORD)
    rng = random.Random(f"{plan.seed}/activity")  # noqa: S311 - synthetic data, not security
    months: list[_Month] = []
    offset = 0
    for index in range(plan.months):
        records = plan.checkups * (index + 1) // plan.months - plan.checkups * index // plan.months
        months.append(_Month(calendar.add_months(first_month, index), records, offset))
        offset += records
    for month in months:
        if month.records == 0:
            continue
        _play_month(plan, fiscal_year, month, cast, summary, agency_code, record_defects, rng, progress)
    summary.audit_events = AuditEvent.objects.count() - events_before
    summary.invoices = Invoice.objects.filter(month__period__gte=first_month, month__period__lt=calendar.add_months(
        first_month, plan.months)).count()
    return summary


def _timed(summary: YearSummary, phase: str, at: dt.datetime, step: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    with time_machine.travel(at, tick=False):
        result = step()
    summary.add_time(phase, time.perf_counter() - started)
    return result


def _play_month(plan: YearPlan, fiscal_year: int, month: _Month, cast: _Cast, summary: YearSummary, agency_code: str,
                record_defects: tuple[str, ...], rng: random.Random, progress: Callable[[str], None]) -> None:
    label = calendar.period_label(month.period)
    month.configs = _month_configs(plan, fiscal_year, month, agency_code, record_defects)
    parties = _parties(plan, fiscal_year)
    clean: dict[int, tuple[GeneratorConfig, int]] = {}  # submission → its configuration and institution index
    for config in month.configs:
        started = time.perf_counter()
        archives = list(generate(config, parties))
        summary.add_time("generate", time.perf_counter() - started)
        for index, archive in enumerate(archives):
            channel = Channel.UPLOAD if index % 3 else Channel.MEDIA
            at = _moment(config.created_on or month.period, 10) + dt.timedelta(minutes=5 * index)
            submission = _timed(summary, "intake", at, functools.partial(_receive, cast, archive, channel))
            month.submissions.append(submission.pk)
            clean[submission.pk] = (config, index)
            summary.submissions += 1
            summary.checkups += submission.records_total
            summary.accepted += submission.records_accepted
            summary.returned += submission.records_returned
    last_receipt = max(config.created_on or month.period for config in month.configs)
    route_day = calendar.next_business_day(last_receipt + dt.timedelta(days=1))
    created = _timed(summary, "routing", _moment(route_day, 16, 30), lambda: deliveries_route(actor=cast.clerk))
    summary.deliveries += len(created)
    fetch_day = calendar.next_business_day(route_day + dt.timedelta(days=1))
    _timed(summary, "downloads", _moment(fetch_day, 9, 40), lambda: _fetch(cast))
    return_day = calendar.next_business_day(fetch_day + dt.timedelta(days=1))
    summary.insurer_returns += _timed(summary, "insurer returns", _moment(return_day, 14),
                                      functools.partial(_insurer_returns, cast, month, plan, rng))
    progress(f"{label}: {len(month.submissions)} archives received, routed into {len(created)} deliveries")

    close_day = calendar.next_business_day(timezone.localtime(calendar.cutoff_for(month.period)).date() + dt.timedelta(days=1))
    closing_before = summary.seconds.get("closing", 0.0)
    _timed(summary, "closing", _moment(close_day, 10), lambda: month_close(period=month.period, actor=cast.admin))
    closing = summary.seconds["closing"] - closing_before
    summary.months_closed += 1

    # The institutions send their returned records again, corrected (the same people, without the defects).
    resubmit_days = _business_days(close_day + dt.timedelta(days=1), 1 + len(month.submissions) // 10)
    resubmitted = 0
    sent: dict[str, int] = {}  # archives each institution has resent (ten a day at most: one digit in the name)
    returned = _returned_of(month.submissions)
    by_config: dict[int, list[tuple[int, dict[str, tuple[str, str, dt.date | None]]]]] = {}
    for submission_id, members in sorted(returned.items()):
        by_config.setdefault(id(clean[submission_id][0]), []).append((clean[submission_id][1], members))
    for config in month.configs:
        wanted = by_config.get(id(config))
        if wanted:
            started = time.perf_counter()
            originals = list(generate(replace(config, defects=(), defect_rate=0.0), parties))
            corrections = [(originals[index], _correctable(originals[index], members)) for index, members in wanted]
            summary.add_time("generate", time.perf_counter() - started)
            resubmitted += _resubmit(cast, summary, month, [c for c in corrections if c[1]], resubmit_days, sent,
                                     agency_code)
    if resubmitted:
        route_day = calendar.next_business_day(max(resubmit_days) + dt.timedelta(days=1))
        created = _timed(summary, "routing", _moment(route_day, 16, 30), lambda: deliveries_route(actor=cast.clerk))
        summary.deliveries += len(created)
        fetch_day = calendar.next_business_day(route_day + dt.timedelta(days=1))
        _timed(summary, "downloads", _moment(fetch_day, 9, 40), lambda: _fetch(cast))

    started = time.perf_counter()
    appended = audit_record_many(_activity(cast, month, plan, rng))
    summary.add_time("audit", time.perf_counter() - started)
    progress(f"{label}: closed in {closing:,.1f} s; {resubmitted} records resubmitted; {appended:,} audit events of reading; "
             f"{sum(summary.seconds.values()):,.0f} s so far")


def _resubmit(cast: _Cast, summary: YearSummary, month: _Month, originals: list[tuple[GeneratedArchive, list[str]]],
              days: list[dt.date], sent: dict[str, int], agency_code: str) -> int:
    """Send the returned records of each archive again, corrected; the number of records sent."""
    records = 0
    for original, paths in originals:
        count = sent.get(original.institution, 0)
        sent[original.institution] = count + 1
        day = days[min(count // 10, len(days) - 1)]
        corrected = resubmission(original, paths, created_on=day, agency_number=agency_code, same_day_count=count % 10)
        at = _moment(day, 10) + dt.timedelta(minutes=count % 10)
        submission = _timed(summary, "intake", at, functools.partial(_receive, cast, corrected, Channel.UPLOAD))
        summary.submissions += 1
        summary.resubmitted += submission.records_accepted
        summary.checkups += submission.records_total
        summary.accepted += submission.records_accepted
        summary.returned += submission.records_returned
        month.submissions.append(submission.pk)
        records += submission.records_total
    return records
