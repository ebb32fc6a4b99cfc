"""Corrected resubmissions (訂正再提出) linked to the records they correct."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from audit.services import audit_record
from intake.models import Record, RecordStatus


def records_link_resubmissions(*, submission_id: int, first: int | None = None, last: int | None = None) -> int:
    """Link newly accepted records to the returned record they correct (訂正再提出).

    A record corrects a returned one (返戻 by this agency or 過誤 by the insurer) of the same
    institution when the insurer number, the 受診券整理番号 and the birth date are the same; the most
    recently checked returned record that is not yet corrected is taken. ``first``/``last`` limit
    the work to one chunk of positions (intake links each chunk as it decides it). Idempotent.
    """
    scope = Record.objects.filter(submission_id=submission_id, status=RecordStatus.ACCEPTED, replaces__isnull=True)
    if first is not None and last is not None:
        scope = scope.filter(position__gte=first, position__lte=last)
    fresh = list(
        scope.exclude(ticket_number="")
        .only("pk", "institution_id", "insurer_number", "ticket_number", "birth_date")
    )
    if not fresh:
        return 0
    candidates: dict[tuple[Any, ...], Record] = {}
    for old in (
        Record.objects.filter(
            status=RecordStatus.RETURNED,
            insurer_number__in={r.insurer_number for r in fresh},
            ticket_number__in={r.ticket_number for r in fresh},
            replaced_by__isnull=True,
        )
        .exclude(submission_id=submission_id)
        .order_by("checked_at", "pk")
        .only("pk", "institution_id", "insurer_number", "ticket_number", "birth_date")
    ):
        candidates[(old.institution_id, old.insurer_number, old.ticket_number, old.birth_date)] = old
    linked: list[tuple[int, int]] = []
    with transaction.atomic():
        for record in fresh:
            old = candidates.pop((record.institution_id, record.insurer_number, record.ticket_number, record.birth_date), None)
            if old is None:
                continue
            if Record.objects.filter(pk=record.pk, replaces__isnull=True).update(replaces=old) == 1:
                linked.append((record.pk, old.pk))
        if linked:
            audit_record(
                action="intake.record.resubmission_linked",
                actor_label="system",
                object_type="record",
                object_ids=[new for new, _old in linked],
                detail={"links": [[new, old] for new, old in linked]},
            )
    return len(linked)
