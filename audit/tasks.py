"""Periodic job of the audit log: the keyed checkpoint of the chain's head (Celery beat)."""

from __future__ import annotations

from celery import shared_task

from .services import audit_checkpoint_write


@shared_task(name="audit.checkpoint_write", acks_late=True)
def audit_checkpoint_write_task() -> int:
    return audit_checkpoint_write(reason="schedule").seq
