"""The synthetic generator: deterministic, realistic, and its archives read cleanly."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from decimal import Decimal

import pytest

from kenshin.checkdigits import is_valid_institution_number, is_valid_insurer_number
from kenshin.items import Judgement, item_master
from kenshin.reader import read_archive
from kenshin.rules import age_eligible, missing_required_items
from kenshin.synth.generator import GeneratedArchive, GeneratorConfig, default_parties, generate, resubmission

_HALF_WIDTH_NAME = re.compile(r"[\uff66-\uff9f]+ [\uff66-\uff9f]+")


@pytest.fixture(scope="module")
def sample() -> list[GeneratedArchive]:
    return list(generate(GeneratorConfig(year=2024, institutions=2, records=400, seed=99)))


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    config = GeneratorConfig(year=2024, institutions=2, records=30, seed=1)
    first = [archive.data for archive in generate(config)]
    assert first == [archive.data for archive in generate(config)]
    other = [archive.data for archive in generate(GeneratorConfig(year=2024, institutions=2, records=30, seed=2))]
    assert first != other


def test_one_archive_per_institution_named_by_the_rules(sample: list[GeneratedArchive]) -> None:
    parties = default_parties(GeneratorConfig(year=2024, institutions=2, records=400, seed=99))
    assert [archive.institution for archive in sample] == [institution.number for institution in parties.institutions]
    for archive in sample:
        name = archive.submission.name
        assert name.filename == archive.filename
        assert (name.sender, name.service_event_type, name.same_day_count) == (archive.institution, "1", 0)
        assert archive.submission.index.total_record_count == 800
        assert read_archive(archive.data, filename=archive.filename, xsd_dir=None, master=None).findings == (
            read_archive(archive.data, filename=archive.filename, xsd_dir=None).findings
        )


def test_identities_look_real_and_are_valid(sample: list[GeneratedArchive]) -> None:
    master = item_master()
    for archive in sample:
        assert is_valid_institution_number(archive.institution)
        for member in archive.submission.checkups:
            document = member.record
            subject = document.subject
            assert _HALF_WIDTH_NAME.fullmatch(subject.name_kana), subject.name_kana
            assert is_valid_insurer_number(subject.insurer_number)
            assert re.fullmatch(r"[0-9]{3}-[0-9]{4}", subject.postal_code)
            assert document.checkup_date is not None
            assert document.checkup_date <= document.header.created_on
            assert age_eligible(subject.birth_date, document.checkup_date)
            assert document.ticket is not None and len(document.ticket.number) == 11
            assert missing_required_items(document, master) == []


def _values(sample: list[GeneratedArchive], code: str) -> list[tuple[str, Decimal]]:
    found = []
    for archive in sample:
        for member in archive.submission.checkups:
            observation = member.record.results().get(code)
            if observation is not None and observation.quantity is not None:
                found.append((member.record.subject.sex, observation.quantity))
    return found


def test_values_depend_on_sex_and_cross_thresholds_realistically(sample: list[GeneratedArchive]) -> None:
    master = item_master()
    heights = _values(sample, "9N001000000000001")
    male = [value for sex, value in heights if sex == "1"]
    female = [value for sex, value in heights if sex == "2"]
    assert sum(male) / len(male) > sum(female) / len(female) + 8
    hdl = _values(sample, "3F070000002327101")
    assert sum(v for s, v in hdl if s == "2") / sum(1 for s, _ in hdl if s == "2") > sum(
        v for s, v in hdl if s == "1"
    ) / sum(1 for s, _ in hdl if s == "1")
    sbp = master["9A755000000000001"]
    judgements = Counter(sbp.judge(value, sex) for sex, value in _values(sample, "9A755000000000001"))
    total = sum(judgements.values())
    assert 0.15 < (judgements[Judgement.GUIDANCE] + judgements[Judgement.RECOMMEND]) / total < 0.7
    assert judgements[Judgement.RECOMMEND] / total > 0.05


def test_claims_match_their_components(sample: list[GeneratedArchive]) -> None:
    claim_types = Counter()
    for archive in sample:
        summary = archive.submission.summary
        assert summary is not None
        claims = [member.record for member in archive.submission.claims]
        assert summary.total_claim_amount == sum(claim.settlement.claim_amount for claim in claims)
        claim_types.update(claim.settlement.claim_type for claim in claims)
    assert claim_types["1"] > claim_types["2"] > 0
    assert claim_types["3"] + claim_types["4"] > 0


def test_generated_archives_read_without_findings(sample: list[GeneratedArchive]) -> None:
    for archive in sample:
        result = read_archive(archive.data, filename=archive.filename, xsd_dir=None)
        assert result.codes() == {"XML_SCHEMA_UNAVAILABLE"}
        assert result.submission() == archive.submission


def test_password_locked_output() -> None:
    archive = next(generate(GeneratorConfig(year=2024, records=3, seed=4, password="pw")))
    assert "ARC_PASSWORD_REQUIRED" in read_archive(archive.data, xsd_dir=None).codes()
    opened = read_archive(archive.data, filename=archive.filename, password="pw", xsd_dir=None)
    assert opened.submission() == archive.submission


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="probability"):
        GeneratorConfig(year=2024, defect_rate=1.5)
    with pytest.raises(ValueError, match="at least one"):
        GeneratorConfig(year=2024, records=0)
    with pytest.raises(ValueError, match="institutions requested"):
        list(generate(GeneratorConfig(year=2024, institutions=3), default_parties(GeneratorConfig(year=2024))))


def test_archives_made_on_a_given_day_with_checkups_after_a_given_day_and_tickets_of_their_own() -> None:
    config = GeneratorConfig(
        year=2026, records=8, seed=4, created_on=date(2026, 9, 3), checkups_from=date(2026, 8, 1), ticket_offset=100
    )
    (archive,) = generate(config)
    assert archive.filename == f"{archive.institution}_{config.agency_number}_202609030_1.zip"
    tickets = []
    for member in archive.submission.checkups:
        document = member.record
        assert document.header.created_on == date(2026, 9, 3)
        assert document.checkup_date is not None and date(2026, 8, 1) <= document.checkup_date < date(2026, 9, 3)
        assert document.ticket is not None
        tickets.append(document.ticket.number)
    assert tickets == [f"261{serial:08d}" for serial in range(101, 109)]
    assert read_archive(archive.data, filename=archive.filename, xsd_dir=None).accepted
    (again,) = generate(GeneratorConfig(year=2026, records=8, seed=4, created_on=date(2026, 9, 3), checkups_from=date(2026, 8, 1)))
    assert [m.record.subject for m in again.submission.checkups] == [m.record.subject for m in archive.submission.checkups]
    with pytest.raises(ValueError, match="checkups_from"):
        GeneratorConfig(year=2026, created_on=date(2026, 9, 3), checkups_from=date(2026, 9, 3))


def test_a_resubmission_carries_the_corrected_people_only() -> None:
    config = GeneratorConfig(year=2026, records=6, seed=8, created_on=date(2026, 9, 3), defects=("copay_mismatch", "ticket_expired"))
    (defective,) = generate(config)
    paths = [injected.member for injected in defective.defects]
    assert len(paths) == 2 and all(paths)
    (clean,) = generate(GeneratorConfig(year=2026, records=6, seed=8, created_on=date(2026, 9, 3)))
    corrected = resubmission(clean, [p for p in paths if p], created_on=date(2026, 9, 14), agency_number=config.agency_number)
    assert corrected.filename == f"{clean.institution}_{config.agency_number}_202609140_1.zip"
    result = read_archive(corrected.data, filename=corrected.filename, xsd_dir=None)
    assert result.accepted and len(result.checkups) == len(result.claims) == 2
    before = {m.path: m.record for m in defective.submission.checkups}
    people = [(before[p].subject, before[p].ticket.number) for p in paths if p and before[p].ticket]
    assert [(m.record.subject, m.record.ticket and m.record.ticket.number) for m in result.checkups] == people
    assert all(m.record.header.created_on == date(2026, 9, 14) for m in result.checkups)
    with pytest.raises(ValueError, match="not in"):
        resubmission(clean, ["DATA/h0000000000.xml"], created_on=date(2026, 9, 14))
