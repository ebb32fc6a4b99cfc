"""Celery tasks of the agency app: the sweeper that resumes interrupted background work."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from .leases import leases_sweep


@shared_task(name="agency.leases_sweep", acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def leases_sweep_task() -> dict[str, Any]:
    """Queue again every unit of work whose lease expired unfinished (``agency.leases``)."""
    return leases_sweep().as_dict()
