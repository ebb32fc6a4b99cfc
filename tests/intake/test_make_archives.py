"""The make_archives command: parties from the database (or created), contracts honoured."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from agency.models import Contract, Institution, Insurer
from intake.services.receive import submission_receive
from kenshin.copay import terms_from_contract
from kenshin.reader import read_archive
from kenshin.rules import copay_differences
from tests.factories import ContractFactory, InsurerFactory


def _run(out: Path, *extra: str) -> str:
    stdout = StringIO()
    call_command(
        "make_archives", "--out", str(out), "--year", "2024", "--seed", "3", "--xsd-dir", "", *extra, stdout=stdout
    )
    return stdout.getvalue()


def test_refuses_without_enough_parties(db: None, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="--create-parties"):
        _run(tmp_path, "--institutions", "2", "--records", "3")


def test_creates_parties_and_honours_their_contracts(db: None, tmp_path: Path) -> None:
    output = _run(tmp_path, "--institutions", "2", "--records", "15", "--create-parties", "--insurers", "3")
    assert "wrote 2 archives, 30 records" in output
    assert Institution.objects.count() == 2 and Insurer.objects.count() == 3
    assert Contract.objects.count() == 4  # each institution contracts with all insurers but one
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["archives"]:
        result = read_archive(tmp_path / entry["file"], xsd_dir=None)
        assert result.codes() == {"XML_SCHEMA_UNAVAILABLE"}
        documents = {member.stem: member.record for member in result.checkups}
        for member in result.claims:
            claim, document = member.record, documents[member.stem]
            contract = Contract.objects.get(
                insurer__number=claim.subject.insurer_number, institution__number=claim.institution_number
            )
            assert document.checkup_date is not None and contract.is_valid_on(document.checkup_date)
            assert copay_differences(claim, terms_from_contract(contract)) == []


def test_uses_existing_parties_and_injects_defects(db: None, tmp_path: Path) -> None:
    contract = ContractFactory()
    InsurerFactory()  # an insurer without a contract, for the no_contract defect
    output = _run(tmp_path, "--records", "8", "--defect", "no_contract", "--defect", "su08_total_mismatch")
    assert "2 injected defects" in output
    assert Institution.objects.count() == 1
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    (entry,) = manifest["archives"]
    assert entry["institution"] == contract.institution.number
    assert {item["defect"] for item in entry["defects"]} == {"no_contract", "su08_total_mismatch"}
    result = read_archive(tmp_path / entry["file"], xsd_dir=None)
    assert "SUM_TOTAL_MISMATCH" in result.codes()
    insurers = {member.record.subject.insurer_number for member in result.claims}
    assert insurers == {contract.insurer.number, Insurer.objects.exclude(pk=contract.insurer.pk).get().number}


def test_unknown_defect_names_are_usage_errors(db: None, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="invalid choice"):
        _run(tmp_path, "--defect", "no_such_defect")


def test_guidance_archives_come_in_pairs_with_their_defects_and_are_accepted(db: None, tmp_path: Path, capture: Any) -> None:
    output = _run(
        tmp_path, "--kind", "guidance", "--records", "6", "--create-parties", "--insurers", "2",
        "--guidance-defect", "guidance_evaluation_too_early",
    )
    assert "wrote 2 guidance archives, 12 records, 1 injected defects" in output
    assert set(Contract.objects.values_list("guidance_active_price", "results_only", "other_checkups")) == {(45_000, True, True)}
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    start, evaluation = (entry["file"] for entry in manifest["archives"])
    assert start.endswith("_2.zip") and evaluation.endswith("_2.zip") and start < evaluation
    assert [d["defect"] for d in manifest["archives"][1]["defects"]] == ["guidance_evaluation_too_early"]
    institution = Institution.objects.get()
    verdicts = []
    for name in (start, evaluation):
        with capture(execute=True):
            received = submission_receive(
                source=(tmp_path / name).read_bytes(), file_name=name, institution=institution, channel="media"
            ).submission
        received.refresh_from_db()
        verdicts.append((received.status, received.records_returned))
    assert verdicts == [("accepted", 0), ("partially_accepted", 1)]


@pytest.mark.parametrize(("kind", "suffix"), [("results-only", "_1.zip"), ("other-checkup", "_4.zip")])
def test_results_only_and_other_checkup_archives(db: None, tmp_path: Path, kind: str, suffix: str) -> None:
    output = _run(tmp_path, "--kind", kind, "--records", "4", "--create-parties", "--insurers", "2")
    assert f"wrote 1 {kind} archives, 4 records" in output
    (entry,) = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))["archives"]
    assert entry["file"].endswith(suffix)
    result = read_archive(tmp_path / entry["file"], xsd_dir=None)
    assert result.codes() == {"XML_SCHEMA_UNAVAILABLE"} and result.claims == () and result.summary is None


def test_an_insurers_own_other_checkup_archive(db: None, tmp_path: Path, capture: Any) -> None:
    _run(tmp_path / "institution", "--kind", "other-checkup", "--records", "4", "--create-parties", "--insurers", "2")
    (entry,) = json.loads((tmp_path / "institution" / "manifest.json").read_text(encoding="utf-8"))["archives"]
    sent = read_archive(tmp_path / "institution" / entry["file"], xsd_dir=None)
    number = sent.checkups[0].record.subject.insurer_number
    output = _run(tmp_path / "own", "--kind", "other-checkup", "--records", "4", "--insurer", number,
                  "--insurer-defect", "not_own_insured")
    (own,) = json.loads((tmp_path / "own" / "manifest.json").read_text(encoding="utf-8"))["archives"]
    assert own["file"].startswith(f"{number}_") and own["file"].endswith("_4.zip")
    assert [d["defect"] for d in own["defects"]] == ["not_own_insured"] and f"{own['records']} records" in output
    result = read_archive(tmp_path / "own" / own["file"], xsd_dir=None)
    assert result.index is not None and (result.index.interaction_type, result.index.sender.extension) == ("4", number)
    insurer = Insurer.objects.get(number=number)
    with capture(execute=True):
        received = submission_receive(
            source=(tmp_path / "own" / own["file"]).read_bytes(), file_name=own["file"], insurer=insurer, channel="upload"
        ).submission
    received.refresh_from_db()
    assert (received.status, received.records_returned, received.records_accepted) == ("partially_accepted", 1, own["records"] - 1)
