"""Celery tasks of 振分 and its notifications: ids in, one service each, safe to run twice.

Routing is idempotent by construction (a record sits in at most one delivery, enforced by the
database), and a notification is sent once per user and object (``NotificationSent``).
"""

from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(name="intake.route_deliveries", acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def route_deliveries_task() -> list[dict[str, Any]]:
    """The daily batch: route every accepted, not yet routed record (then send missed receipts)."""
    from .notifications import receipts_sweep
    from .routing import deliveries_route

    created = deliveries_route(actor=None)
    receipts_sweep()
    return [{"id": delivery.pk, "insurer": delivery.insurer.number, "file_name": delivery.file_name} for delivery in created]


@shared_task(name="intake.notify", acks_late=True, autoretry_for=(ConnectionError, OSError), retry_backoff=True, max_retries=5)
def notify_task(kind: str, object_id: int) -> int:
    """E-mail the users concerned by one delivery, return or receipt; returns how many were sent."""
    from .notifications import notify

    return notify(kind=kind, object_id=object_id)
