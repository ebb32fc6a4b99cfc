"""Anomaly report over a period of the audit log, for the periodic review (技術的安全対策 7).

One pass over the period's events finds: access outside business hours, per-user daily volume
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


def build(
    *,
    start: dt.datetime,
    end: dt.datetime,
    emergency_user_ids: Iterable[int] = (),
    thresholds: Thresholds | None = None,
) -> Report:
    thresholds = thresholds or Thresholds.from_settings()
    emergency = set(emergency_user_ids)
    report = Report(start=start, end=end)
    daily: dict[str, Counter[dt.date]] = defaultdict(Counter)
    rows = AuditEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end).order_by("seq").values(*_FIELDS)
    for event in rows.iterator(chunk_size=2000):
        report.events += 1
        if event["actor_id"] is not None:
            daily[_who(event)][timezone.localtime(event["occurred_at"]).date()] += 1
            if is_after_hours(event["occurred_at"], thresholds.business_hours):
                report.after_hours.add(event)
            if event["actor_id"] in emergency:
                report.break_glass.add(event)
        if event["action"] == "auth.lockout":
            report.lockouts.add(event)
        elif event["outcome"] == Outcome.DENIED:
            report.denials.add(event)
        if event["action"].startswith("compliance.emergency.") and event["actor_id"] not in emergency:
            report.break_glass.add(event)
        if records_touched(event) >= thresholds.bulk_min_records:
            report.bulk.add(event)
    report.spikes = _spikes(daily, thresholds)
    return report
