"""Reads of submissions and records, scoped to what the requesting user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from agency.models import Role

from .models import Finding, Record, Submission


def submission_list(*, user: Any) -> QuerySet[Submission]:
    qs = Submission.objects.select_related("institution", "archive")
    if user.role == Role.INSTITUTION_STAFF:
        return qs.filter(institution_id=user.institution_id)
    if user.role == Role.INSURER_STAFF:
        return qs.none()  # insurers receive routed deliveries, not institutions' submissions
    return qs


def record_list(*, user: Any) -> QuerySet[Record]:
    qs = Record.objects.select_related("submission", "institution", "insurer")
    if user.role == Role.INSTITUTION_STAFF:
        return qs.filter(institution_id=user.institution_id)
    if user.role == Role.INSURER_STAFF:
        return qs.filter(insurer_id=user.insurer_id, status="accepted")
    return qs


def finding_list(*, submission: Submission) -> QuerySet[Finding]:
    return submission.findings.select_related("record").order_by("record__position", "id")
