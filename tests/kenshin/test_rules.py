"""Pure helpers for intake's business rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from kenshin.codes import CommissionType, CopayCode, DetailItem
from kenshin.copay import ContractTerms, CopayRule
from kenshin.items import item_master
from kenshin.records import CheckupDocument, Observation, Relationship, Section
from kenshin.rules import (
    age_eligible,
    age_on,
    bmi_inconsistent,
    contract_applies,
    copay_differences,
    detail_items_performed,
    duplicate_tickets,
    expected_bmi,
    expected_settlement,
    fasting_conflicts,
    fiscal_year_end,
    input_range_violations,
    missing_required_items,
    ticket_valid_on,
)
from kenshin.synth.generator import GeneratedArchive


@pytest.mark.parametrize(
    ("birth", "checkup", "eligible"),
    [
        (date(1985, 3, 31), date(2024, 4, 1), True),  # turns 40 on the last day of the fiscal year
        (date(1985, 4, 1), date(2024, 4, 1), False),  # turns 40 only in the next fiscal year
        (date(1949, 4, 2), date(2024, 4, 1), True),  # 74 on the day
        (date(1949, 4, 1), date(2024, 4, 1), False),  # 75 on the day
    ],
)
def test_age_eligibility(birth: date, checkup: date, eligible: bool) -> None:
    assert age_eligible(birth, checkup) is eligible


def test_ages_and_fiscal_years() -> None:
    assert age_on(date(1970, 6, 15), date(2024, 6, 14)) == 53
    assert age_on(date(1970, 6, 15), date(2024, 6, 15)) == 54
    assert fiscal_year_end(date(2024, 4, 1)) == date(2025, 3, 31)
    assert fiscal_year_end(date(2025, 3, 31)) == date(2025, 3, 31)


def test_tickets_contracts_and_duplicates() -> None:
    assert ticket_valid_on(date(2025, 3, 31), date(2025, 3, 31))
    assert not ticket_valid_on(date(2025, 3, 31), date(2025, 4, 1))
    assert ticket_valid_on(None, date(2025, 4, 1))
    assert contract_applies(date(2024, 4, 1), None, date(2030, 1, 1))
    assert not contract_applies(date(2024, 4, 1), date(2025, 3, 31), date(2025, 4, 1))
    found = duplicate_tickets(
        [("a", "01130012", "24100000001"), ("b", "01130012", "24100000001"), ("c", "06132013", "24100000001")]
    )
    assert found == {("01130012", "24100000001"): ["a", "b"]}


def test_bmi_is_weight_over_height_squared_rounded_half_up() -> None:
    assert expected_bmi(Decimal("168.2"), Decimal("73.6")) == Decimal("26.0")
    assert expected_bmi(Decimal("200"), Decimal("90")) == Decimal("22.5")


def _document(small_archive: GeneratedArchive) -> CheckupDocument:
    return small_archive.submission.checkups[0].record


def _replace_result(document: CheckupDocument, code: str, **changes: object) -> CheckupDocument:
    sections = tuple(
        Section(
            section.code,
            section.title,
            tuple(replace(o, **changes) if o.code == code else o for o in section.observations),  # type: ignore[arg-type]
        )
        for section in document.sections
    )
    return replace(document, sections=sections)


def test_clean_records_pass_every_helper(small_archive: GeneratedArchive) -> None:
    master = item_master()
    for member in small_archive.submission.checkups:
        document = member.record
        assert not bmi_inconsistent(document)
        assert fasting_conflicts(document) == []
        assert input_range_violations(document, master) == []
        assert missing_required_items(document, master) == []


def test_broken_records_are_spotted(small_archive: GeneratedArchive) -> None:
    master = item_master()
    document = _document(small_archive)
    assert bmi_inconsistent(_replace_result(document, "9N011000000000001", value="45.0"))
    timing_code = "9N141000000000011"
    fasting = document.results()[timing_code].answer_code == "2"
    flipped = _replace_result(document, timing_code, answer_code="4" if fasting else "2")
    assert fasting_conflicts(flipped)
    assert input_range_violations(_replace_result(document, "9N001000000000001", value="260.0"), master) == [
        "9N001000000000001"
    ]
    flagged = _replace_result(document, "9N001000000000001", value="260.0", input_range_flag="H")
    assert input_range_violations(flagged, master) == []
    without_smoking = _replace_result(document, "9N736000000000011", negation=True, answer_code=None, xml_type=None)
    assert missing_required_items(without_smoking, master) == ["9N736000000000011"]


def test_detail_items_are_recognised_from_group_members(small_archive: GeneratedArchive) -> None:
    group = Observation(
        code=None,
        code_null_flavor="NA",
        relationships=(
            Relationship("COMP", Observation("2A030000001930101", "PQ", "13.5", "g/dL")),
            Relationship("RSON", Observation("2A020161001930149", "ST", "理由")),
        ),
    )
    document = replace(_document(small_archive), sections=(Section("01010", None, (group,)),))
    assert detail_items_performed(document, item_master()) == {DetailItem.ANEMIA}


def test_copay_recomputation(small_archive: GeneratedArchive) -> None:
    terms = ContractTerms(
        commission_type=CommissionType.INDIVIDUAL,
        basic_price=8000,
        basic_copay=CopayRule(CopayCode.FIXED, amount=1000),
        detail_prices=dict.fromkeys(DetailItem, 1000),
        other_prices={
            "3C020000002327101": 400,
            "3F050000002327101": 400,
            "3B070000002327101": 400,
            "3A010000002327101": 400,
        },
    )
    claim = small_archive.submission.claims[0].record
    differences = copay_differences(claim, terms)
    assert differences  # priced under another contract
    expected = expected_settlement(claim, terms)
    matching = replace(claim, charges=expected.charges, settlement=expected.settlement)
    assert copay_differences(matching, terms) == []
