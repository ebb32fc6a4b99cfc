"""Writes of the compliance dashboard: item management, attestations, probe runs, audit-review sign-off.

Every change is audited in the same transaction. Refusals raise ``ValidationError`` with a message
the page shows as it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import AuditEvent
from audit.selectors import audit_chain_verify
from audit.services import audit_record
from compliance import evidence, probes, selectors
from compliance.checklist import checklist
from compliance.models import Attestation, AuditReviewSignoff, ControlItem, ProbeResult

if TYPE_CHECKING:
    from django.http import HttpRequest

PROBE_RESULTS_KEPT_DAYS = 400


def _known_code(code: str) -> str:
    if code not in checklist().items:
        raise ValidationError(_("チェック項目 %(code)s はありません。") % {"code": code})
    return code


# --- Checklist items ---------------------------------------------------------------------------------


def checklist_refresh(*, now: dt.datetime | None = None) -> list[str]:
    """Store the status every item has now; return the codes whose status changed (each audited)."""
    now = now or timezone.now()
    changed = []
    with transaction.atomic():
        rows = {c.code: c for c in ControlItem.objects.select_for_update()}
        for state in selectors.item_states(now=now):
            row = rows.get(state.code)
            if row is None:
                row = ControlItem(code=state.code, status=state.status, status_since=now)
                row.full_clean()
                row.save()
                continue
            if row.status == state.status:
                continue
            old = row.status
            row.status = state.status
            row.status_since = now
            row.save(update_fields=["status", "status_since", "updated_at"])
            audit_record(
                action="compliance.item.status_changed",
                actor_label="system",
                object_type="checklist_item",
                object_ids=[state.code],
                detail={"old": old, "new": state.status, "reasons": state.reasons},
            )
            changed.append(state.code)
    return changed


def control_item_update(
    *,
    code: str,
    owner: str,
    planned_date: dt.date | None,
    review_interval_days: int | None,
    actor: Any,
    request: HttpRequest | None = None,
) -> ControlItem:
    _known_code(code)
    with transaction.atomic():
        row, _created = ControlItem.objects.select_for_update().get_or_create(code=code)
        old = {"owner": row.owner, "planned_date": row.planned_date, "review_interval_days": row.review_interval_days}
        row.owner = owner
        row.planned_date = planned_date
        row.review_interval_days = review_interval_days
        row.updated_by = actor
        row.full_clean()
        row.save(update_fields=["owner", "planned_date", "review_interval_days", "updated_by", "updated_at"])
        new = {"owner": owner, "planned_date": planned_date, "review_interval_days": review_interval_days}
        audit_record(
            action="compliance.item.updated", actor=actor, request=request, object_type="checklist_item",
            object_ids=[code], detail={"old": old, "new": new},
        )
    checklist_refresh()
    return row


def _chunks(upload: UploadedFile) -> Iterable[bytes]:
    yield from upload.chunks()


def attestation_record(
    *,
    code: str,
    statement: str,
    actor: Any,
    evidence_file: UploadedFile | None = None,
    request: HttpRequest | None = None,
    now: dt.datetime | None = None,
) -> Attestation:
    """Record that a person confirmed the measure is in place; it stays current for the item's review interval."""
    _known_code(code)
    if not statement.strip():
        raise ValidationError(_("確認した内容を入力してください。"))
    now = now or timezone.now()
    state = selectors.item_state(code=code, now=now)
    if state is None:  # pragma: no cover - the code was checked above
        raise ValidationError(_("チェック項目 %(code)s はありません。") % {"code": code})
    stored = evidence.store(_chunks(evidence_file)) if evidence_file is not None else None
    attestation = Attestation(
        code=code,
        statement=statement.strip(),
        evidence_name=(evidence_file.name or "")[:255] if evidence_file is not None else "",
        evidence_sha256=stored.sha256 if stored else "",
        evidence_size=stored.size if stored else None,
        attested_by=actor,
        attested_at=now,
        valid_until=timezone.localdate(now) + dt.timedelta(days=state.review_days),
    )
    attestation.full_clean()
    with transaction.atomic():
        attestation.save()
        audit_record(
            action="compliance.item.attested", actor=actor, request=request, object_type="checklist_item",
            object_ids=[code],
            detail={"attestation": attestation.pk, "evidence_sha256": attestation.evidence_sha256,
                    "valid_until": attestation.valid_until},
        )
    checklist_refresh(now=now)
    return attestation


# --- Probes ----------------------------------------------------------------------------------------------


def probes_run(
    *,
    keys: Iterable[str] | None = None,
    trigger: str = ProbeResult.Trigger.SCHEDULE,
    actor: Any = None,
    request: HttpRequest | None = None,
) -> list[ProbeResult]:
    """Measure the probes (all when ``keys`` is None), store each result, refresh the item statuses."""
    selected = list(probes.PROBES) if keys is None else [k for k in keys if k in probes.PROBES]
    measured = [(key, probes.measure(key), timezone.now()) for key in selected]
    with transaction.atomic():
        results = ProbeResult.objects.bulk_create(
            [ProbeResult(probe=key, status=m.status, value=m.value[:500], detail=m.detail, measured_at=at, trigger=trigger)
             for key, m, at in measured]
        )
        audit_record(
            action="compliance.probes.run", actor=actor, request=request, actor_label="" if actor else "system",
            object_type="probe", object_ids=selected, detail={"trigger": trigger, "results": {k: m.status for k, m, _at in measured}},
        )
    checklist_refresh()
    return results


def probe_results_prune(*, now: dt.datetime | None = None) -> int:
    """Drop measurements older than the retention of probe history (the newest of each probe is kept)."""
    now = now or timezone.now()
    keep = {r.pk for r in selectors.probe_latest().values()}
    old = ProbeResult.objects.filter(measured_at__lt=now - dt.timedelta(days=PROBE_RESULTS_KEPT_DAYS)).exclude(pk__in=keep)
    deleted, _by_model = old.delete()
    return deleted


# --- Audit log review sign-off ---------------------------------------------------------------------------


def audit_review_sign(
    *,
    reviewer: Any,
    period_start: dt.datetime,
    period_end: dt.datetime,
    notes: str,
    request: HttpRequest | None = None,
) -> AuditReviewSignoff:
    """Sign off the review of one period, fixing the hash of the period's last event and the chain's state."""
    now = timezone.now()
    if period_end <= period_start:
        raise ValidationError(_("対象期間の終了は開始より後にしてください。"))
    if period_start > now:
        raise ValidationError(_("これから始まる期間は確認できません。"))
    period_end = min(period_end, now)
    events = AuditEvent.objects.filter(occurred_at__gte=period_start, occurred_at__lt=period_end)
    last = events.order_by("-seq").values("seq", "row_hash").first()
    broken = audit_chain_verify()
    signoff = AuditReviewSignoff(
        reviewer=reviewer,
        period_start=period_start,
        period_end=period_end,
        events_count=events.count(),
        last_seq=last["seq"] if last else None,
        last_hash=last["row_hash"] if last else "",
        chain_intact=broken is None,
        notes=notes.strip(),
        signed_at=now,
    )
    signoff.full_clean()
    with transaction.atomic():
        signoff.save()
        audit_record(
            action="audit.review.signed", actor=reviewer, request=request, object_type="audit_review",
            object_ids=[signoff.pk],
            detail={"period_start": period_start, "period_end": period_end, "last_seq": signoff.last_seq,
                    "last_hash": signoff.last_hash, "chain_intact": signoff.chain_intact},
        )
    probes_run(keys=["audit_review"], trigger=ProbeResult.Trigger.MANUAL, actor=reviewer)
    return signoff
