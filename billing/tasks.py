"""Celery tasks of billing: identifiers in, one service each, safe to run twice.

A month close holds its lease (``agency.leases``): it runs in one transaction, so a worker that dies
during it leaves nothing half-closed, and the sweeper runs it again."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from agency.leases import LeasedTask
from agency.models import User

from .calendar import parse_period
from .services import month_close, months_close_due


@shared_task(name="billing.close_month", base=LeasedTask, acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def close_month_task(period: str, actor_id: int | None = None) -> dict[str, Any]:
    """Close billing month ``period`` ("YYYY-MM"); a closed month is returned unchanged."""
    actor = User.objects.filter(pk=actor_id).first() if actor_id is not None else None
    return month_close(period=parse_period(period), actor=actor).as_dict()


@shared_task(name="billing.close_due_months", base=LeasedTask, acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def close_due_months_task() -> list[str]:
    """The periodic job: close every month whose cut-off has passed, in order."""
    return [result.period for result in months_close_due() if result.closed_now]
