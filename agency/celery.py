"""The Celery application. Configuration comes from Django settings (``CELERY_*``)."""

from __future__ import annotations

import gc
import os

from celery import Celery
from celery.signals import worker_process_init
from django.conf import settings

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
