"""Anomaly report over a period of the audit log, for the periodic review (技術的安全対策 7).

Aggregate queries over the period's events (GROUP BY in the database, a fixed number of them) find: access outside business hours, per-user daily volume
spikes, denied accesses, lockouts, use of emergency (break-glass) accounts, and events that
showed or exported many records at once. Business hours are weekdays 08:00–20:00 local time by
default (``AUDIT_BUSINESS_HOURS``); public holidays are not known to the portal and count as weekdays.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Min, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, TruncDate
from django.utils import timezone

from .models import AuditEvent, Outcome

LIST_LIMIT = 200
SPIKE_FACTOR = 3
SPIKE_MIN_EVENTS = 200
BULK_MIN_RECORDS = 100
_FIELDS = ("seq", "occurred_at", "actor_id", "actor_label", "actor_role", "action", "outcome", "object_type",
           "object_ids", "ip", "detail")


@dataclass(frozen=True)
class Thresholds:
    business_hours: tuple[int, int] = (8, 20)
    spike_factor: int = SPIKE_FACTOR
    spike_min_events: int = SPIKE_MIN_EVENTS
    bulk_min_records: int = BULK_MIN_RECORDS

    @classmethod
    def from_settings(cls) -> Thresholds:
        hours = tuple(getattr(settings, "AUDIT_BUSINESS_HOURS", (8, 20)))
        return cls(business_hours=(int(hours[0]), int(hours[1])))


@dataclass(frozen=True)
class Spike:
    actor_label: str
    day: dt.date
    count: int
    baseline: float


@dataclass
class Finding:
    """Events of one kind: the total, per user, and the first ``LIST_LIMIT`` of them."""

    total: int = 0
    by_actor: Counter[str] = field(default_factory=Counter)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def top_actors(self) -> list[tuple[str, int]]:
        return self.by_actor.most_common(20)

    def add(self, event: dict[str, Any]) -> None:
        self.total += 1
        self.by_actor[_who(event)] += 1
        if len(self.events) < LIST_LIMIT:
            self.events.append(event)


@dataclass
class Report:
    start: dt.datetime
    end: dt.datetime
    events: int = 0
    after_hours: Finding = field(default_factory=Finding)
    denials: Finding = field(default_factory=Finding)
    lockouts: Finding = field(default_factory=Finding)
    break_glass: Finding = field(default_factory=Finding)
    bulk: Finding = field(default_factory=Finding)
    spikes: list[Spike] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return any(f.total for f in (self.after_hours, self.denials, self.lockouts, self.break_glass, self.bulk)) or bool(
            self.spikes
        )


def _who(event: dict[str, Any]) -> str:
    return event["actor_label"] or "-"


def records_touched(event: dict[str, Any]) -> int:
    detail = event.get("detail") or {}
    declared = detail.get("count") if isinstance(detail, dict) else None
    return max(len(event.get("object_ids") or []), declared if isinstance(declared, int) else 0)


def is_after_hours(moment: dt.datetime, hours: tuple[int, int]) -> bool:
    local = timezone.localtime(moment)
    return local.weekday() >= 5 or not (hours[0] <= local.hour < hours[1])


def _spikes(daily: dict[str, Counter[dt.date]], thresholds: Thresholds) -> list[Spike]:
    found = []
    for actor, days in daily.items():
        for day, count in days.items():
            others = [c for d, c in days.items() if d != day]
            baseline = statistics.median(others) if others else 0.0
            if count >= max(thresholds.spike_min_events, thresholds.spike_factor * baseline):
                found.append(Spike(actor, day, count, float(baseline)))
    return sorted(found, key=lambda s: (-s.count, s.actor_label, s.day))


def _records_touched_sql() -> RawSQL:
    """``records_touched`` in SQL: the larger of the number of object ids and an integer ``detail.count``."""
    if connection.vendor == "postgresql":
        ids = "CASE WHEN jsonb_typeof(object_ids) = 'array' THEN jsonb_array_length(object_ids) ELSE 0 END"
        declared = ("CASE WHEN jsonb_typeof(detail->'count') = 'number' AND (detail->>'count') ~ '^-?[0-9]{1,18}$' "
                    "THEN (detail->>'count')::bigint ELSE 0 END")
        return RawSQL(f"GREATEST({ids}, {declared})", ())  # noqa: S611 - constant SQL, no input in it
    ids = "CASE WHEN json_type(object_ids) = 'array' THEN json_array_length(object_ids) ELSE 0 END"
    declared = ("CASE WHEN json_type(detail) = 'object' AND json_type(detail, '$.count') = 'integer' "
                "THEN json_extract(detail, '$.count') ELSE 0 END")
    return RawSQL(f"MAX({ids}, {declared})", ())  # noqa: S611 - constant SQL, no input in it


def _finding(events: QuerySet[AuditEvent]) -> Finding:
    """A finding from the database: totals per user by GROUP BY (users in the order of their first event, as ties
    in ``top_actors`` were before), and the first ``LIST_LIMIT`` events in order."""
    finding = Finding()
    for row in events.order_by().values("actor_label").annotate(n=Count("seq"), first=Min("seq")).order_by("first"):
        finding.by_actor[row["actor_label"] or "-"] += row["n"]
    finding.total = sum(finding.by_actor.values())
    if finding.total:
        finding.events = list(events.order_by("seq").values(*_FIELDS)[:LIST_LIMIT])
    return finding


def build(
    *,
    start: dt.datetime,
    end: dt.datetime,
    emergency_user_ids: Iterable[int] = (),
    thresholds: Thresholds | None = None,
) -> Report:
    """The period's anomalies, counted in the database: a fixed number of queries whatever the number of events."""
    thresholds = thresholds or Thresholds.from_settings()
    emergency = sorted(set(emergency_user_ids))
    report = Report(start=start, end=end)
    period = AuditEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    report.events = period.count()
    if not report.events:
        return report
    tz = timezone.get_current_timezone()
    first, last = thresholds.business_hours
    acting = period.filter(actor_id__isnull=False)
    report.after_hours = _finding(
        acting.annotate(weekday=ExtractIsoWeekDay("occurred_at", tzinfo=tz), hour=ExtractHour("occurred_at", tzinfo=tz))
        .filter(Q(weekday__gte=6) | Q(hour__lt=first) | Q(hour__gte=last))
    )
    report.lockouts = _finding(period.filter(action="auth.lockout"))
    report.denials = _finding(period.filter(outcome=Outcome.DENIED).exclude(action="auth.lockout"))
    report.break_glass = _finding(period.filter(Q(actor_id__in=emergency) | Q(action__startswith="compliance.emergency.")))
    report.bulk = _finding(period.annotate(touched=_records_touched_sql()).filter(touched__gte=thresholds.bulk_min_records))
    daily: dict[str, Counter[dt.date]] = defaultdict(Counter)
    per_day = acting.annotate(day=TruncDate("occurred_at", tzinfo=tz)).order_by().values("actor_label", "day")
    for row in per_day.annotate(n=Count("seq")):
        daily[row["actor_label"] or "-"][row["day"]] += row["n"]
    report.spikes = _spikes(daily, thresholds)
    return report
