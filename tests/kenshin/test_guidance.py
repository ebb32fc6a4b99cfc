"""特定保健指導 in the standard format: documents and claims read item by item, the 第4期 rules, the
split-claim arithmetic, and the generator's guidance, results-only and 事業者健診 archives."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from kenshin import guidance as G
from kenshin.codes import CopayCode
from kenshin.copay import CopayRule, compute_guidance_claim
from kenshin.reader import read_archive
from kenshin.synth.generator import GeneratorConfig
from kenshin.synth.guidance import (
    GUIDANCE_DEFECTS,
    GuidancePair,
    generate_employer,
    generate_guidance,
    generate_results_only,
)

XSD = os.environ.get("KENSHIN_XSD_DIR")
# Without the official XSDs the reader says it could not validate, and finds nothing else.
ENVIRONMENT = set() if XSD else {"XML_SCHEMA_UNAVAILABLE"}


def _config(records: int = 8) -> GeneratorConfig:
    return GeneratorConfig(year=2024, institutions=1, records=records, seed=5, xsd_dir=Path(XSD) if XSD else None)


@pytest.fixture(scope="module")
def clean_pair() -> GuidancePair:
    return next(generate_guidance(_config()))


@pytest.fixture(scope="module")
def defective_pair() -> GuidancePair:
    return next(generate_guidance(_config(), defects=list(GUIDANCE_DEFECTS)))


def test_a_generated_guidance_pair_is_valid_and_reads_back_equal(clean_pair: GuidancePair) -> None:
    assert clean_pair.evaluation is not None
    for archive in (clean_pair.start, clean_pair.evaluation):
        result = read_archive(archive.data, filename=archive.filename)
        assert result.codes() == ENVIRONMENT  # XSD-valid (when KENSHIN_XSD_DIR is set), consistent, amounts recomputed
        assert result.submission() == archive.submission
        assert archive.filename.endswith("_2.zip")
        assert result.index is not None and result.index.service_event_type == "2"


def test_every_item_of_a_course_is_read(clean_pair: GuidancePair) -> None:
    assert clean_pair.evaluation is not None
    active = next(p for p in clean_pair.plans if p.level == G.LEVEL_ACTIVE)
    member = next(m for m in clean_pair.evaluation.submission.guidance if m.record.ticket and m.record.ticket.number == active.ticket.number)
    result = read_archive(clean_pair.evaluation.data, filename=clean_pair.evaluation.filename)
    read = next(m.record for m in result.guidance if m.path == member.path)
    course = G.course_of(read)
    assert course.timing == G.TIMING_EVALUATION and course.level == G.LEVEL_ACTIVE
    assert course.first_date == active.first_date and course.evaluation_date == active.evaluation_date
    assert course.start_waist == active.start_waist and course.start_weight == active.start_weight
    assert course.evaluation_waist == active.start_waist - active.loss_waist
    assert [s.form for s in course.supports] == [s.form for s in active.supports]
    assert course.performed_points == G.process_points(course) == 70 + 30 + 30 + 70 + 30
    claim = next(m.record for m in result.guidance_claims if m.stem == member.stem)
    assert claim.points_completed == G.completed_points(course) >= G.REQUIRED_POINTS_ACTIVE
    assert claim.guidance_ticket_number == active.ticket.number and claim.payment_rate == 80


def test_split_parts_add_up_to_the_whole_course(clean_pair: GuidancePair) -> None:
    assert clean_pair.evaluation is not None
    starts = {m.record.guidance_ticket_number: m.record for m in clean_pair.start.submission.guidance_claims}
    for member in clean_pair.evaluation.submission.guidance_claims:
        last = member.record
        first = starts[last.guidance_ticket_number]
        assert first.calculated_amount + last.calculated_amount == last.unit_price
        plan = next(p for p in clean_pair.plans if p.ticket.number == last.guidance_ticket_number)
        whole = compute_guidance_claim(unit_price=plan.unit_price, payment_rate=100, rule=plan.copay,
                                       payment_status="2", first_part=True)
        if plan.payment_status == G.PAYMENT_ALL_AT_FIRST:
            assert first.payment_amount + last.payment_amount == whole.payment_amount


@pytest.mark.parametrize(
    ("rule", "status", "first_payment", "last_payment"),
    [
        (CopayRule(CopayCode.RATE, rate=10_000), "1", 4_500, 0),  # 10 % of 45,000, all at the 初回
        (CopayRule(CopayCode.RATE, rate=10_000), "2", 900, 3_600),  # shared 20 : 80
        (CopayRule(CopayCode.FIXED, amount=12_000), "1", 9_000, 3_000),  # more than the first part: the rest later
    ],
)
def test_guidance_copay_is_taken_at_first_or_shared(rule: CopayRule, status: str, first_payment: int, last_payment: int) -> None:
    first = compute_guidance_claim(unit_price=45_000, payment_rate=20, rule=rule, payment_status=status, first_part=True)
    last = compute_guidance_claim(unit_price=45_000, payment_rate=80, rule=rule, payment_status=status, first_part=False)
    assert (first.calculated_amount, last.calculated_amount) == (9_000, 36_000)
    assert (first.payment_amount, last.payment_amount) == (first_payment, last_payment)
    assert first.payment_amount + last.payment_amount == first.copay_total
    assert first.claim_amount + last.claim_amount == 45_000 - first.copay_total


def test_a_cap_limits_what_the_insurer_pays() -> None:
    rule = CopayRule(CopayCode.NONE, cap=30_000)
    whole = compute_guidance_claim(unit_price=45_000, payment_rate=100, rule=rule, payment_status="1", first_part=True)
    assert (whole.payment_amount, whole.claim_amount) == (15_000, 30_000)


def test_the_evaluation_waits_three_months() -> None:
    assert G.earliest_evaluation(date(2024, 5, 31)) == date(2024, 8, 31)
    assert G.earliest_evaluation(date(2024, 11, 30)) == date(2025, 2, 28)


def test_each_guidance_defect_breaks_its_rule(defective_pair: GuidancePair) -> None:
    assert defective_pair.evaluation is not None
    injected = {d.defect: d for archive in (defective_pair.start, defective_pair.evaluation) for d in archive.defects}
    assert set(injected) == set(GUIDANCE_DEFECTS)
    result = read_archive(defective_pair.evaluation.data, filename=defective_pair.evaluation.filename)
    problems = {
        m.path: {problem for problem, _detail in G.course_problems(G.course_of(m.record))} for m in result.guidance
    }
    assert "evaluation_too_early" in problems[injected["guidance_evaluation_too_early"].member or ""]
    assert "points_short" in problems[injected["guidance_points_short"].member or ""]
    assert "points_stated" in problems[injected["guidance_points_stated_wrong"].member or ""]
    by_code = {(f.code, (f.file or "").replace("CLAIMS/p", "DATA/g")) for f in result.findings}
    assert ("GDN_AMOUNT_INCONSISTENT", injected["guidance_amount_mismatch"].member) in by_code
    assert ("PAIR_GUIDANCE_MISMATCH", injected["guidance_level_mismatch"].member) in by_code
    clean = {path for path, found in problems.items() if not found}
    assert len(clean) >= 3


def test_results_only_and_employer_archives_carry_no_claims() -> None:
    config = _config(records=5)
    results_only = next(generate_results_only(config))
    employer = next(generate_employer(config))
    for archive, service in ((results_only, "1"), (employer, "4")):
        result = read_archive(archive.data, filename=archive.filename)
        assert result.codes() == ENVIRONMENT
        assert result.summary is None and result.claims == () and len(result.checkups) == 5
        assert result.index is not None and result.index.service_event_type == service
        assert result.index.total_record_count == 5
    assert {m.record.header.program_code for m in employer.submission.checkups} == {"030"}
