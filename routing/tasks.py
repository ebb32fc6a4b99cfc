"""Celery tasks of 振分: ids in, one service each, safe to run twice.

Routing is idempotent by construction (a record sits in at most one delivery, enforced by the
database). A run holds its lease (``agency.leases``): a worker that dies during it leaves each
insurer's transaction rolled back, and the sweeper runs it again.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from agency.leases import LeasedTask

from .services.deliveries import deliveries_route


@shared_task(name="routing.route_deliveries", base=LeasedTask, acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def route_deliveries_task() -> list[dict[str, Any]]:
    """The daily batch: route every accepted, not yet routed record."""
    created = deliveries_route(actor=None)
    return [{"id": delivery.pk, "insurer": delivery.insurer.number, "file_name": delivery.file_name} for delivery in created]
