"""Every named defect is either caught by the reader (with its finding code) or explicitly left
to an intake business rule, and the rule helpers catch the ones they are meant for."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from kenshin.findings import FINDING_KINDS, Severity
from kenshin.items import item_master
from kenshin.reader import ReadResult, read_archive
from kenshin.records import CheckupDocument, Claim, Member
from kenshin.rules import (
    age_eligible,
    billed_detail_items,
    bmi_inconsistent,
    copay_differences,
    detail_items_performed,
    detail_reasons_missing,
    duplicate_tickets,
    fasting_conflicts,
    input_range_violations,
    missing_required_items,
    questionnaire_inconsistencies,
    ticket_valid_on,
)
from kenshin.synth.defects import DEFECTS, Defect
from kenshin.synth.generator import (
    GeneratedArchive,
    GeneratorConfig,
    default_parties,
    generate,
    write_archives,
)
from kenshin.synth.parties import Parties


def _config(name: str) -> GeneratorConfig:
    return GeneratorConfig(year=2024, institutions=1, records=6, seed=5, insurers=3, defects=(name,))


def _generated(name: str) -> tuple[GeneratedArchive, ReadResult]:
    archive = next(generate(_config(name)))
    return archive, read_archive(archive.data, filename=archive.filename, xsd_dir=None)


def _defective(archive: GeneratedArchive, result: ReadResult) -> tuple[CheckupDocument, Claim]:
    (injected,) = archive.defects
    documents = {member.path: member.record for member in result.checkups}
    claims: dict[str, Member[Claim]] = {member.stem: member for member in result.claims}
    document = documents[injected.member or ""]
    stem = Member(injected.member or "", document).stem
    return document, claims[stem].record


def test_the_registry_is_complete_and_coherent() -> None:
    expected = {
        "bad_insurer_check_digit", "bad_institution_check_digit", "unknown_insurer", "no_contract",
        "missing_required_item", "wrong_unit", "value_out_of_input_range", "bmi_inconsistent",
        "fasting_tg_without_fasting_code", "su08_total_mismatch", "ix08_count_mismatch", "pairing_mismatch",
        "unknown_item_code", "identity_mismatch", "old_namespace_claim", "duplicate_ticket", "ticket_expired", "copay_mismatch",
        "age_out_of_range", "checkup_after_file_date", "malformed_xml", "xxe_entity", "billion_laughs",
        "zip_bomb", "path_traversal_member", "nested_zip", "executable_member",
        "second_checkup_in_fiscal_year", "not_specific_checkup", "header_code_invalid", "ticket_insurer_mismatch",
        "detail_billed_not_performed", "detail_reason_missing", "ticket_missing", "value_on_input_bound",
        "insurer_number_short", "questionnaire_inconsistent", "author_institution_differs", "guidance_in_checkup_archive", "two_fields_missing", "prefix_mismatch", "member_institution_differs",
    }  # fmt: skip
    assert set(DEFECTS) == expected


@pytest.mark.parametrize("defect", DEFECTS.values(), ids=lambda defect: defect.name)
def test_each_defect_is_caught_or_delegated(defect: Defect) -> None:
    assert (defect.finding is None) != (defect.intake_rule is None), "exactly one of finding / intake_rule"
    archive, result = _generated(defect.name)
    assert [injected.defect for injected in archive.defects] == [defect.name]
    if defect.finding is not None:
        assert defect.finding in FINDING_KINDS
        assert defect.finding in result.codes()
        assert (FINDING_KINDS[defect.finding].severity is Severity.WARNING) == defect.warning
    else:
        assert defect.intake_rule
        assert result.accepted, [finding for finding in result.findings if finding.blocking]


_RULE_CHECKS: dict[str, Callable[[CheckupDocument, Claim, Parties, ReadResult], bool]] = {
    "unknown_insurer": lambda document, claim, parties, result: (
        claim.subject.insurer_number not in parties.insurer_numbers
    ),
    "no_contract": lambda document, claim, parties, result: all(
        contract.insurer_number != claim.subject.insurer_number
        for contract in parties.contracts_for(claim.institution_number)
    ),
    "missing_required_item": lambda document, claim, parties, result: (
        missing_required_items(document, item_master()) == ["hdl"]
    ),
    "value_out_of_input_range": lambda document, claim, parties, result: (
        input_range_violations(document, item_master()) == ["9A755000000000001"]
    ),
    "bmi_inconsistent": lambda document, claim, parties, result: bmi_inconsistent(document),
    "fasting_tg_without_fasting_code": lambda document, claim, parties, result: (
        "3F015000002327101" in fasting_conflicts(document)
    ),
    "duplicate_ticket": lambda document, claim, parties, result: bool(
        duplicate_tickets(
            (member.path, member.record.subject.insurer_number, member.record.ticket_number) for member in result.claims
        )
    ),
    "ticket_expired": lambda document, claim, parties, result: (
        document.checkup_date is not None and not ticket_valid_on(claim.ticket_expires_on, document.checkup_date)
    ),
    "copay_mismatch": lambda document, claim, parties, result: (
        copay_differences(
            claim,
            next(
                contract.terms
                for contract in parties.contracts_for(claim.institution_number)
                if contract.insurer_number == claim.subject.insurer_number
            ),
        )
        != []
    ),
    "age_out_of_range": lambda document, claim, parties, result: (
        document.checkup_date is not None and not age_eligible(claim.subject.birth_date, document.checkup_date)
    ),
    "second_checkup_in_fiscal_year": lambda document, claim, parties, result: any(
        other.record.subject == claim.subject and other.record.checkup_date != document.checkup_date
        for other in result.checkups
        if other.record is not document
    ),
    "detail_billed_not_performed": lambda document, claim, parties, result: bool(
        billed_detail_items(claim) - detail_items_performed(document, item_master())
    ),
    "detail_reason_missing": lambda document, claim, parties, result: bool(detail_reasons_missing(document, item_master())),
    "ticket_missing": lambda document, claim, parties, result: document.ticket is None and claim.ticket_number is None,
    "value_on_input_bound": lambda document, claim, parties, result: (
        input_range_violations(document, item_master()) == ["9A755000000000001"]
    ),
    "questionnaire_inconsistent": lambda document, claim, parties, result: bool(
        questionnaire_inconsistencies(document, item_master())
    ),
}


def test_every_delegated_defect_has_a_rule_check() -> None:
    delegated = {name for name, defect in DEFECTS.items() if not defect.caught_by_reader}
    assert delegated == set(_RULE_CHECKS)


@pytest.mark.parametrize("name", sorted(_RULE_CHECKS))
def test_delegated_defects_are_caught_by_their_rule_helper(name: str) -> None:
    archive, result = _generated(name)
    document, claim = _defective(archive, result)
    parties = default_parties(_config(name))
    assert _RULE_CHECKS[name](document, claim, parties, result)


@pytest.mark.parametrize("name", sorted(_RULE_CHECKS))
def test_rule_helpers_pass_clean_records(name: str, small_archive: GeneratedArchive) -> None:
    result = read_archive(small_archive.data, filename=small_archive.filename, xsd_dir=None)
    parties = default_parties(GeneratorConfig(year=2024, records=6, seed=11))
    claims = {member.stem: member.record for member in result.claims}
    for member in result.checkups:
        assert not _RULE_CHECKS[name](member.record, claims[member.stem], parties, result)


def test_defect_rate_spreads_defects_and_the_manifest_lists_them(tmp_path: Path) -> None:
    config = GeneratorConfig(
        year=2024,
        institutions=3,
        records=20,
        seed=3,
        defects=("bmi_inconsistent", "wrong_unit", "su08_total_mismatch"),
        defect_rate=0.2,
    )
    manifest = write_archives(tmp_path, config)
    injected = [item for archive in manifest.archives for item in archive.defects]
    assert {item.defect for item in injected} == set(config.defects)
    assert len(injected) > 3
    assert manifest.missing_defects == ()
    written = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert [entry["file"] for entry in written["archives"]] == [archive.file for archive in manifest.archives]
    for archive in manifest.archives:
        result = read_archive(tmp_path / archive.file, xsd_dir=None)
        assert {item.finding for item in archive.defects if item.finding} <= result.codes()


def test_unknown_defect_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown defect"):
        GeneratorConfig(year=2024, defects=("no_such_defect",))
