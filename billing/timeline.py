"""Billing's steps in record and submission timelines (registered by ``BillingConfig.ready``)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from intake.models import Record, Submission
from intake.timeline import TimelineStep

from .models import ClaimsStatementLine, LineKind, TransferItem


def record_steps(record: Record) -> list[TimelineStep]:
    """billed (請求, with the statement number; held with its reason while not delivered) → paid out
    (支払, with the transfer date)."""
    billed = TimelineStep("billed", _("請求"))
    paid = TimelineStep("paid", _("支払"))
    line = (
        ClaimsStatementLine.objects.filter(record_id=record.pk, kind=LineKind.CLAIM).select_related("statement").first()
    )
    if line is None:
        held = (
            ClaimsStatementLine.objects.filter(record_id=record.pk, kind=LineKind.HELD)
            .select_related("statement").order_by("-statement__frozen_at").first()
        )
        if held is not None:  # accepted but not delivered to the insurer by the last closing
            detail = _("保留（%(number)s）: %(reason)s") % {"number": held.statement.number, "reason": held.note}
            billed = TimelineStep("billed", _("請求"), held.statement.frozen_at, detail, warning=True)
    else:
        billed = TimelineStep("billed", _("請求"), line.statement.frozen_at, line.statement.number, done=True)
        item = (
            TransferItem.objects.filter(part__claims_statement_id=line.statement_id, part__institution_id=line.institution_id)
            .select_related("line__batch")
            .first()
        )
        if item is not None:
            batch = item.line.batch
            paid = TimelineStep("paid", _("支払"), batch.created_at, f"{batch.transfer_date:%Y-%m-%d}", done=True)
    return [billed, paid]


def submission_steps(submission: Submission) -> list[TimelineStep]:
    """A submission is billed record by record; its timeline shows where billing comes."""
    return [TimelineStep("billed", _("請求")), TimelineStep("paid", _("支払"))]
