"""The Celery application. Configuration comes from Django settings (``CELERY_*``)."""

from __future__ import annotations

import gc
import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init
from django.conf import settings

from core import tenancy
from kenshin.reader import prepare

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agency.settings.dev")

app = Celery("agency")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def prepare_worker_process() -> None:
    """What a worker process does once, after the fork and before its first task.

    Batch checking allocates millions of short-lived objects; with the interpreter's default
    collection threshold the cyclic collector runs every 700 allocations and rescans what was
    loaded at start-up. The objects alive now are frozen out of its scans and the first-generation
    threshold raised (``WORKER_GC_THRESHOLD``; 0 keeps the default). The reference data intake
    needs (item master, compiled schemas) is loaded now rather than inside the first archive.
    """
    prepare(settings.KENSHIN_XSD_DIR or None)
    if settings.WORKER_GC_THRESHOLD:
        gc.collect()
        gc.freeze()
        _threshold, second, third = gc.get_threshold()
        gc.set_threshold(settings.WORKER_GC_THRESHOLD, second, third)


@worker_process_init.connect
def _prepare_worker_process(**_kwargs: object) -> None:
    prepare_worker_process()


# Tasks act for the agency: each one reads and writes every tenant's rows (row-level security,
# core.tenancy), and the caller's scope comes back afterwards (a task run eagerly inside a request).
_task_scopes: dict[str, list[Any]] = {}


@task_prerun.connect
def _task_scope_enter(task_id: str = "", **_kwargs: object) -> None:
    _task_scopes.setdefault(task_id, []).append(tenancy.activate(tenancy.AGENCY))


@task_postrun.connect
def _task_scope_exit(task_id: str = "", **_kwargs: object) -> None:
    tokens = _task_scopes.get(task_id)
    if tokens:
        tenancy.restore(tokens.pop())
        if not tokens:
            del _task_scopes[task_id]
