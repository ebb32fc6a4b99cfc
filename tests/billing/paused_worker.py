"""A real Celery worker (with its embedded beat) that stops at a named point of the work, for the kill tests.

    python tests/billing/paused_worker.py POINT MARKER [celery worker options...]

POINT is where the worker stops, holding its open transaction and its lease (which its heartbeat
keeps renewing, as a live worker's would):

* ``level0``  — inside level 0, once the first batch of records has been saved;
* ``chunk``   — inside the second level-1 chunk this process decides, its records updated;
* ``routing`` — inside the routing of the second insurer, its delivery built and saved;
* ``none``    — nowhere: the worker just works.

On reaching it, the worker writes its process id to MARKER and sleeps until it is killed (SIGKILL,
by the test). Level 0 saves and level 1 decides ``KILL_TEST_CHUNK_SIZE`` records at a time, so that a
small archive has several chunks. Configuration comes from the environment (``DATABASE_URL``,
``CELERY_BROKER_URL``, ``CELERY_QUEUE``, ``WORK_*``), as for any worker.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agency.settings.dev")

import django

django.setup()

from agency.celery import app  # noqa: E402 - Django is set up only now
from intake.services import check  # noqa: E402
from routing.services import deliveries  # noqa: E402


def _stop_here(marker: Path) -> None:
    marker.write_text(str(os.getpid()))
    while True:  # until SIGKILL
        time.sleep(60)


def _after_call(module: Any, name: str, call_number: int, marker: Path) -> None:
    """Stop after the ``call_number``-th call of ``module.name`` in this process has returned."""
    original: Callable[..., Any] = getattr(module, name)
    calls = {"n": 0}

    @functools.wraps(original)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == call_number:
            _stop_here(marker)
        return result

    setattr(module, name, wrapped)


POINTS: dict[str, tuple[Any, str, int]] = {
    "level0": (check, "_batch_save", 1),
    "chunk": (check, "_records_decide", 2),
    "routing": (deliveries, "_create_delivery", 2),
}


def main() -> None:
    point, marker, *worker_options = sys.argv[1:]
    check.CHUNK_SIZE = int(os.environ.get("KILL_TEST_CHUNK_SIZE", check.CHUNK_SIZE))
    if point != "none":
        module, name, call_number = POINTS[point]
        _after_call(module, name, call_number, Path(marker))
    app.worker_main(["worker", *worker_options])


if __name__ == "__main__":
    main()
