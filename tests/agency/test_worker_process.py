"""What each Celery worker process does once after the fork."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest
from celery.signals import worker_process_init

from agency.celery import prepare_worker_process
from kenshin import schemas
from kenshin.schemas import FileKind


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_a_worker_process_is_prepared_when_it_starts(settings: Any, restored_gc: None) -> None:
    settings.WORKER_GC_THRESHOLD = 43_210
    worker_process_init.send(sender=None)  # what Celery's prefork pool sends in each new process
    assert gc.get_threshold()[0] == 43_210
    assert gc.get_freeze_count() > 0  # start-up objects are no longer scanned


def test_the_schemas_are_compiled_before_the_first_archive(settings: Any, restored_gc: None) -> None:
    if not settings.KENSHIN_XSD_DIR:
        pytest.skip("KENSHIN_XSD_DIR is not set: no schemas to compile")
    schemas._local.__dict__.pop("cache", None)
    prepare_worker_process()
    compiled = schemas._local.__dict__["cache"]
    assert {kind for _directory, kind in compiled} == set(FileKind)


def test_a_zero_threshold_keeps_the_interpreters_collector(settings: Any, restored_gc: None) -> None:
    before = gc.get_threshold()
    settings.WORKER_GC_THRESHOLD = 0
    prepare_worker_process()
    assert gc.get_threshold() == before


def test_an_unusable_schema_directory_does_not_stop_the_worker(
    settings: Any, tmp_path: Any, restored_gc: None, caplog: pytest.LogCaptureFixture
) -> None:
    settings.KENSHIN_XSD_DIR = str(tmp_path)  # empty: every schema is missing
    prepare_worker_process()  # archives then carry XML_SCHEMA_UNAVAILABLE; the worker still starts
    assert any("XML_SCHEMA_UNAVAILABLE" in record.getMessage() and str(tmp_path) in record.getMessage() for record in caplog.records)
