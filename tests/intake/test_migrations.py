"""The migration that brings once per 年度 into the database, run over records accepted before it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from intake.models import Record, RecordStatus

from ..factories import RecordFactory, SubmissionFactory

BEFORE = [("intake", "0003_routing_models_moved")]
AFTER = [("intake", "0004_once_per_fiscal_year")]


def _migrate(targets: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _migrate_to_latest() -> None:
    """Every app back to its newest migration: going back to BEFORE also unapplied what depends on it."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_records_accepted_before_the_rule_keep_their_verdict(institution_a: Any, insurer_a: Any) -> None:
    """Two checkups of one person in 2024年度 were both accepted before the rule: both stay accepted, the
    first carries the 年度 (and the index), the second is left outside it; a third in 2025年度 is fine."""
    person = {"insurer_number": insurer_a.number, "card_symbol": "１２", "card_number": "345", "card_branch": "01"}
    made = []
    for n, day in enumerate((dt.date(2024, 5, 1), dt.date(2024, 9, 1), dt.date(2025, 5, 1))):
        submission = SubmissionFactory(institution=institution_a)
        made.append(RecordFactory(
            submission=submission, insurer=insurer_a, status=RecordStatus.ACCEPTED, checkup_date=day,
            ticket_number=f"2410000000{n}", checked_at=dt.datetime(2025, 6, 1 + n, tzinfo=dt.UTC), **person,
        ))
    try:
        _migrate(BEFORE)
        _migrate(AFTER)
        # Only the columns this migration knows: later migrations add others, not applied here.
        first, second, third = (
            Record.objects.only("person_key", "fiscal_year", "status").get(pk=record.pk) for record in made
        )
        assert first.person_key == second.person_key == third.person_key == f"{insurer_a.number}|12|345|01"
        assert (first.fiscal_year, second.fiscal_year, third.fiscal_year) == (2024, None, 2025)
        assert {first.status, second.status, third.status} == {RecordStatus.ACCEPTED}
        # From now on the database refuses a second acceptance in a 年度.
        with pytest.raises(IntegrityError), transaction.atomic():
            Record.objects.filter(pk=made[1].pk).update(fiscal_year=2024)
    finally:
        _migrate_to_latest()
