"""Reads for the compliance pages: item states, probe results, reviews, backups and disposal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Max, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from agency.models import MaintenanceWindow
from audit.models import AuditEvent

from . import probes
from .checklist import DEFAULT_REVIEW_DAYS, Control, Item, checklist, control_for
from .models import (
    AccessReview,
    Attestation,
    AuditReviewSignoff,
    BackupGeneration,
    ControlItem,
    DisposalCertificate,
    DisposalRequest,
    EmergencyAccount,
    EmergencyActivation,
    Incident,
    ItemStatus,
    ProbeResult,
    ProbeStatus,
    RestoreDrill,
    RetentionPolicy,
)

# A probe result older than this no longer evidences anything (probes run at least daily).
PROBE_FRESH_FOR = dt.timedelta(hours=26)


def probe_latest() -> dict[str, ProbeResult]:
    """The newest result of every probe (one query)."""
    latest_ids = ProbeResult.objects.order_by().values("probe").annotate(last=Max("id")).values("last")
    return {r.probe: r for r in ProbeResult.objects.filter(id__in=latest_ids)}


def probe_history(*, keys: Iterable[str], limit: int = 20) -> QuerySet[ProbeResult]:
    return ProbeResult.objects.filter(probe__in=list(keys)).order_by("-measured_at", "-id")[:limit]


def attestation_latest() -> dict[str, Attestation]:
    latest_ids = Attestation.objects.order_by().values("code").annotate(last=Max("id")).values("last")
    return {a.code: a for a in Attestation.objects.filter(id__in=latest_ids).select_related("attested_by")}


def attestation_list(*, code: str) -> QuerySet[Attestation]:
    return Attestation.objects.filter(code=code).select_related("attested_by").order_by("-attested_at", "-id")


@dataclass
class ProbeView:
    key: str
    label: str
    result: ProbeResult | None
    fresh: bool

    @property
    def passing(self) -> bool:
        return self.result is not None and self.fresh and self.result.status == ProbeStatus.PASS


@dataclass
class ItemState:
    item: Item
    control: Control
    managed: ControlItem | None
    probes: list[ProbeView]
    attestation: Attestation | None
    attestation_current: bool
    review_days: int
    done: bool
    reasons: list[str] = field(default_factory=list)

    @property
    def code(self) -> str:
        return self.item.code

    @property
    def status(self) -> str:
        return ItemStatus.DONE if self.done else ItemStatus.PLANNED

    @property
    def status_label(self) -> str:
        return str(ItemStatus(self.status).label)

    @property
    def planned_date(self) -> dt.date | None:
        return self.managed.planned_date if self.managed else None

    @property
    def owner(self) -> str:
        return self.managed.owner if self.managed else ""

    @property
    def attestation_overdue(self) -> bool:
        return self.attestation is not None and not self.attestation_current

    @property
    def last_review(self) -> dt.datetime | None:
        """When a person last attested the item, or a probe last measured it, whichever is later."""
        moments = [p.result.measured_at for p in self.probes if p.result is not None]
        if self.attestation is not None:
            moments.append(self.attestation.attested_at)
        return max(moments) if moments else None


def _probe_views(keys: Iterable[str], latest: dict[str, ProbeResult], now: dt.datetime) -> list[ProbeView]:
    views = []
    for key in keys:
        result = latest.get(key)
        fresh = result is not None and now - result.measured_at <= PROBE_FRESH_FOR
        views.append(ProbeView(key, probes.label(key), result, fresh))
    return views


def _reasons(probe_views: list[ProbeView], control: Control, attestation: Attestation | None, current: bool) -> list[str]:
    reasons = []
    for view in probe_views:
        if view.result is None:
            reasons.append(_("「%(probe)s」が未測定です。") % {"probe": view.label})
        elif not view.fresh:
            reasons.append(_("「%(probe)s」の測定結果が古くなっています（%(when)s）。") % {
                "probe": view.label, "when": probes.measured_at_text(view.result.measured_at)})
        elif view.result.status != ProbeStatus.PASS:
            reasons.append(_("「%(probe)s」が%(status)sです: %(value)s") % {
                "probe": view.label, "status": view.result.get_status_display(), "value": view.result.value})
    if control.attestation:
        if attestation is None:
            reasons.append(_("責任者による実施確認が登録されていません。"))
        elif not current:
            reasons.append(_("実施確認の見直し期限（%(date)s）を過ぎています。") % {"date": f"{attestation.valid_until:%Y-%m-%d}"})
    return reasons


def item_states(*, now: dt.datetime | None = None) -> list[ItemState]:
    """Every checklist item with what evidences it and its status (four queries in all)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    managed = {c.code: c for c in ControlItem.objects.all()}
    latest_probes = probe_latest()
    latest_attestations = attestation_latest()
    states = []
    for section in checklist().sections:
        for item in section.items:
            control = control_for(item.code)
            row = managed.get(item.code)
            review_days = (row.review_interval_days if row and row.review_interval_days else None) or DEFAULT_REVIEW_DAYS[item.section]
            attestation = latest_attestations.get(item.code)
            current = attestation is not None and attestation.valid_until >= today
            views = _probe_views(control.probes, latest_probes, now)
            reasons = _reasons(views, control, attestation, current)
            states.append(ItemState(item, control, row, views, attestation, current, review_days, not reasons, reasons))
    return states


def item_state(*, code: str, now: dt.datetime | None = None) -> ItemState | None:
    return next((s for s in item_states(now=now) if s.code == code), None)


def checklist_last_updated() -> dt.datetime | None:
    """The last change of anything the exported checklist shows (status, planned date, attestation)."""
    moments = [
        ControlItem.objects.aggregate(m=Max("updated_at"))["m"],
        Attestation.objects.order_by().aggregate(m=Max("attested_at"))["m"],
    ]
    present = [m for m in moments if m is not None]
    return max(present) if present else None


@dataclass(frozen=True)
class Summary:
    total: int
    done: int

    @property
    def compliant(self) -> bool:
        return self.total > 0 and self.done == self.total


def summary(states: list[ItemState]) -> Summary:
    return Summary(total=len(states), done=sum(1 for s in states if s.done))


def probe_overview(*, now: dt.datetime | None = None) -> list[ProbeView]:
    now = now or timezone.now()
    return _probe_views(probes.PROBES.keys(), probe_latest(), now)


# --- Audit review sign-off -----------------------------------------------------------------------------


def audit_review_list() -> QuerySet[AuditReviewSignoff]:
    return AuditReviewSignoff.objects.select_related("reviewer").order_by("-signed_at", "-id")


# --- Break-glass and maintenance -------------------------------------------------------------------------


def incident_list() -> QuerySet[Incident]:
    return Incident.objects.select_related("declared_by", "confirmed_by", "closed_by").order_by("-declared_at", "-id")


def incident_open() -> Incident | None:
    return incident_list().exclude(state=Incident.State.CLOSED).first()


def incident_active() -> Incident | None:
    return Incident.objects.filter(state=Incident.State.ACTIVE).select_related("declared_by", "confirmed_by").first()


def emergency_account_list() -> QuerySet[EmergencyAccount]:
    return EmergencyAccount.objects.select_related("user", "created_by").order_by("label", "id")


def emergency_activation_list(*, incident: Incident | None = None) -> QuerySet[EmergencyActivation]:
    qs = EmergencyActivation.objects.select_related("account__user", "activated_by", "incident")
    if incident is not None:
        qs = qs.filter(incident=incident)
    return qs.order_by("-starts_at", "-id")


def emergency_activations_current(*, now: dt.datetime | None = None) -> QuerySet[EmergencyActivation]:
    now = now or timezone.now()
    return emergency_activation_list().filter(ended_at__isnull=True, expires_at__gt=now)


def emergency_user_ids() -> list[int]:
    return list(EmergencyAccount.objects.values_list("user_id", flat=True))


def maintenance_window_list() -> QuerySet[Any]:
    return MaintenanceWindow.objects.select_related("user", "approved_by").order_by("-starts_at", "-id")


def access_review_list() -> QuerySet[AccessReview]:
    return AccessReview.objects.select_related("incident", "window__user", "completed_by").order_by(
        "completed_at", "-opened_at", "-id"
    )


def access_report(*, user_ids: Iterable[int], start: dt.datetime, end: dt.datetime) -> QuerySet[AuditEvent]:
    """Every audit event of these users in the period, oldest first."""
    return AuditEvent.objects.filter(actor_id__in=list(user_ids), occurred_at__gte=start, occurred_at__lte=end).order_by("seq")


@dataclass(frozen=True)
class Touched:
    object_type: str
    ids: list[str]


def touched_objects(events: Iterable[AuditEvent]) -> list[Touched]:
    """What the events name as shown, exported or changed, grouped by object type."""
    grouped: dict[str, list[str]] = {}
    for event in events:
        if event.object_type and event.object_ids:
            bucket = grouped.setdefault(event.object_type, [])
            bucket.extend(i for i in event.object_ids if i not in bucket)
    return [Touched(kind, ids) for kind, ids in sorted(grouped.items())]


# --- Backups, retention and disposal ------------------------------------------------------------------------


def backup_list() -> QuerySet[BackupGeneration]:
    return BackupGeneration.objects.order_by("-taken_at", "-id")


def backup_latest() -> BackupGeneration | None:
    return backup_list().filter(pruned_at__isnull=True).first()


def restore_drill_list() -> QuerySet[RestoreDrill]:
    return RestoreDrill.objects.select_related("backup").order_by("-started_at", "-id")


def retention_policy_list() -> QuerySet[RetentionPolicy]:
    return RetentionPolicy.objects.select_related("updated_by").order_by("data_class")


def disposal_request_list() -> QuerySet[DisposalRequest]:
    return DisposalRequest.objects.select_related("requested_by", "closed_by").prefetch_related("approvals__approver").order_by(
        "-requested_at", "-id"
    )


def disposal_certificate_list() -> QuerySet[DisposalCertificate]:
    return DisposalCertificate.objects.select_related("request").order_by("-seq")
