"""階層化 at intake: each accepted checkup keeps its recomputed 保健指導レベル with the rule version, and a
reported level that differs gets a warning naming both."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from agency.models import Contract
from intake.models import Finding, Record, RecordStatus
from kenshin import stratification
from kenshin.records import CheckupDocument, Claim, Observation, Section
from kenshin.rules import age_on, fiscal_year_end

from .helpers import make_archive, receive, rewritten

pytestmark = pytest.mark.django_db


def _recomputed(document: CheckupDocument) -> stratification.Stratification:
    assert document.checkup_date is not None
    age = age_on(document.subject.birth_date, fiscal_year_end(document.checkup_date))
    return stratification.stratify(stratification.measurements(document, age))


def _report(level: stratification.Level) -> Any:
    def change(document: CheckupDocument, claim: Claim) -> tuple[CheckupDocument, Claim]:
        sections = tuple(
            Section(section.code, section.title, tuple(
                replace(o, answer_code=level.value) if o.code == "9N506000000000011" else o for o in section.observations
            ))
            for section in document.sections
        )
        return replace(document, sections=sections), claim

    return change


def test_accepted_records_keep_the_recomputed_level_and_its_rule(
    agency_profile: Any, contract_a: Contract, capture: Any
) -> None:
    archive = make_archive(contract_a, records=6, defects=())
    submission = receive(archive, contract_a.institution, capture)
    records = list(Record.objects.filter(submission=submission).order_by("position"))
    assert {r.status for r in records} == {RecordStatus.ACCEPTED}
    for record, member in zip(records, archive.submission.checkups, strict=True):
        expected = _recomputed(member.record)
        assert record.stratified_level == expected.level.value
        assert record.stratification_rule == stratification.RULE_VERSION
        assert record.stratification_reasons.splitlines() == list(expected.reasons)
    assert not Finding.objects.filter(submission=submission, code="QST_GUIDANCE_LEVEL_DIFFERS").exists()


def test_a_reported_level_that_differs_is_a_warning_naming_both(
    agency_profile: Any, contract_a: Contract, capture: Any
) -> None:
    archive = make_archive(contract_a, records=4, defects=())
    first = archive.submission.checkups[0].record
    recomputed = _recomputed(first).level
    reported = stratification.Level.ACTIVE if recomputed is not stratification.Level.ACTIVE else stratification.Level.NONE
    submission = receive(rewritten(archive, _report(reported)), contract_a.institution, capture)
    (finding,) = Finding.objects.filter(submission=submission, code="QST_GUIDANCE_LEVEL_DIFFERS")
    assert finding.severity == Finding.Severity.WARNING
    assert f"報告 {reported.value} {reported.label}・再計算 {recomputed.value} {recomputed.label}" in finding.message
    record = Record.objects.get(pk=finding.record_id)
    assert record.status == RecordStatus.ACCEPTED and record.stratified_level == recomputed.value


def test_missing_waist_is_undetermined(agency_profile: Any, contract_a: Contract, capture: Any) -> None:
    """Without 腹囲 the level cannot be decided: 判定不能 is kept and a reported 積極的支援 is warned about."""
    archive = make_archive(contract_a, records=3, defects=())

    def change(document: CheckupDocument, claim: Claim) -> tuple[CheckupDocument, Claim]:
        document, claim = _report(stratification.Level.ACTIVE)(document, claim)
        sections = tuple(
            Section(section.code, section.title, tuple(
                Observation(o.code, negation=True) if (o.code or "").startswith(stratification.WAIST_PREFIX) else o
                for o in section.observations
            ))
            for section in document.sections
        )
        return replace(document, sections=sections), claim

    submission = receive(rewritten(archive, change), contract_a.institution, capture)
    record = Record.objects.get(submission=submission, position=1)
    assert record.stratified_level == stratification.Level.UNDETERMINED.value
    assert Finding.objects.filter(record=record, code="QST_GUIDANCE_LEVEL_DIFFERS").exists()
