"""Periodic jobs of compliance: ids and plain values in, one service each, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from .probes import frequent_keys
from .services.backup import backup_create, restore_drill_run
from .services.checklist import probe_results_prune, probes_run
from .services.emergency_access import emergency_expire_due, maintenance_close_expired


@shared_task(name="compliance.probes_run", acks_late=True)
def probes_run_task(keys: list[str] | None = None) -> dict[str, str]:
    results = probes_run(keys=keys)
    if keys is None:
        probe_results_prune()
    return {r.probe: r.status for r in results}


@shared_task(name="compliance.probes_run_frequent", acks_late=True)
def probes_run_frequent_task() -> dict[str, str]:
    return {r.probe: r.status for r in probes_run(keys=frequent_keys())}


@shared_task(name="compliance.emergency_expire_due", acks_late=True)
def emergency_expire_due_task() -> int:
    return emergency_expire_due()


@shared_task(name="compliance.maintenance_close_expired", acks_late=True)
def maintenance_close_expired_task() -> int:
    return maintenance_close_expired()


@shared_task(name="compliance.backup_create", acks_late=False)
def backup_create_task() -> int:
    return backup_create().pk


@shared_task(name="compliance.restore_drill_run", acks_late=False)
def restore_drill_run_task() -> bool:
    return restore_drill_run().succeeded
