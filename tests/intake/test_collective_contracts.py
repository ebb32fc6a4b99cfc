"""集合契約 at intake: records of insurers with no pair contract are priced by the collective contract
both parties belong to on the checkup day; an insurer leaving changes the price of later checkups only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from agency.contracts import contract_for
from agency.models import CollectivePriceTable, Contract, Institution, Insurer
from intake.models import Finding, Record, RecordStatus
from kenshin.codes import ClaimType
from kenshin.copay import terms_from_contract
from kenshin.synth.generator import GeneratedArchive, GeneratorConfig, generate
from kenshin.synth.parties import Parties, SynthContract, SynthInstitution, SynthInsurer

from ..factories import (
    CollectiveContractFactory,
    CollectiveInstitutionFactory,
    CollectiveInsurerFactory,
    CollectivePriceTableFactory,
    ContractFactory,
    InstitutionFactory,
    InsurerFactory,
)
from .helpers import AGENCY_NUMBER, receive

pytestmark = pytest.mark.django_db

LEAVES_ON = dt.date(2024, 6, 30)  # the leaving insurer's last day in the first group


def _archive(institution: Institution, priced: dict[Insurer, CollectivePriceTable], *, first: dt.date, made: dt.date,
             seed: int, offset: int) -> GeneratedArchive:
    """An archive of the institution for the insurers, each checkup priced by the given table."""
    parties = Parties(
        insurers=tuple(SynthInsurer(insurer.number, insurer.name) for insurer in priced),
        institutions=(SynthInstitution(institution.number, institution.name, "1000001", "東京都", "03-0000-0000"),),
        contracts=tuple(
            SynthContract(insurer.number, institution.number, dt.date(2024, 4, 1), None, terms_from_contract(table))
            for insurer, table in priced.items()
        ),
    )
    config = GeneratorConfig(year=2024, records=18, seed=seed, insurers=len(priced), agency_number=AGENCY_NUMBER,
                             checkups_from=first, created_on=made, ticket_offset=offset)
    return next(generate(config, parties))


@pytest.fixture
def group(agency_profile: Any) -> dict[str, Any]:
    """A collective contract of three insurers and one institution (price group 13), and a second
    contract with other prices that the third insurer joins when it leaves the first."""
    insurers = [InsurerFactory() for _ in range(3)]
    institution = InstitutionFactory()
    first = CollectiveContractFactory(name="東京都市町村国保集合契約", representative=insurers[0])
    table = CollectivePriceTableFactory(contract=first, basic_price=7_000)
    CollectivePriceTableFactory(contract=first, price_group="27", basic_price=6_500)  # another prefecture's table
    for insurer in insurers:
        CollectiveInsurerFactory(contract=first, insurer=insurer, left_on=LEAVES_ON if insurer is insurers[2] else None)
    CollectiveInstitutionFactory(contract=first, institution=institution, price_group="13")
    second = CollectiveContractFactory(name="健保連集合契約B", representative=insurers[2])
    other = CollectivePriceTableFactory(contract=second, basic_price=9_200, ecg_price=1_500)
    CollectiveInsurerFactory(contract=second, insurer=insurers[2], joined_on=LEAVES_ON + dt.timedelta(days=1))
    CollectiveInstitutionFactory(contract=second, institution=institution, price_group="13")
    return {"insurers": insurers, "institution": institution, "table": table, "other": other}


def test_three_insurers_priced_by_the_group_table_and_leaving_changes_later_prices_only(
    group: dict[str, Any], capture: Any
) -> None:
    insurers, institution, table, other = group["insurers"], group["institution"], group["table"], group["other"]
    assert not Contract.objects.filter(institution=institution).exists()  # no pair contract at all

    before = _archive(institution, dict.fromkeys(insurers, table), first=dt.date(2024, 4, 1), made=LEAVES_ON,
                      seed=3, offset=0)
    after = _archive(institution, {insurers[0]: table, insurers[1]: table, insurers[2]: other},
                     first=LEAVES_ON + dt.timedelta(days=1), made=dt.date(2024, 9, 30), seed=4, offset=500)
    for archive in (before, after):
        submission = receive(archive, institution, capture)
        assert not Finding.objects.filter(submission=submission, severity__in=["error", "fatal"]).exists()

    records = list(Record.objects.filter(institution=institution).select_related("insurer"))
    assert len(records) == 36 and {r.status for r in records} == {RecordStatus.ACCEPTED}
    assert {r.insurer for r in records} == set(insurers)  # every insurer of the group submitted for
    for record in records:
        assert record.contract is None
        leaving_later = record.insurer == insurers[2] and record.checkup_date > LEAVES_ON
        expected = other if leaving_later else table
        assert record.collective_price_table == expected, (record.insurer.number, record.checkup_date)
        if record.claim_type == ClaimType.BASIC.value:
            assert record.unit_amount == expected.basic_price
    later = [r for r in records if r.insurer == insurers[2] and r.checkup_date > LEAVES_ON]
    earlier = [r for r in records if r.insurer == insurers[2] and r.checkup_date <= LEAVES_ON]
    assert later and earlier  # the leaving insurer has checkups on both sides of the date


def test_the_old_group_price_after_leaving_is_returned_and_the_finding_names_the_contracts(
    group: dict[str, Any], capture: Any
) -> None:
    insurers, institution, table = group["insurers"], group["institution"], group["table"]
    archive = _archive(institution, {insurers[2]: table}, first=LEAVES_ON + dt.timedelta(days=1),
                       made=dt.date(2024, 9, 30), seed=5, offset=900)
    submission = receive(archive, institution, capture)
    codes = set(Finding.objects.filter(submission=submission).values_list("code", flat=True))
    assert "REC_PRICE_MISMATCH" in codes
    assert set(Record.objects.filter(submission=submission).values_list("status", flat=True)) == {RecordStatus.RETURNED}


def test_no_contract_finding_says_which_contracts_were_looked_at(group: dict[str, Any], capture: Any) -> None:
    institution, table = group["institution"], group["table"]
    outsider = InsurerFactory()
    CollectiveInsurerFactory(contract=table.contract, insurer=outsider, joined_on=dt.date(2024, 10, 1))
    archive = _archive(institution, {outsider: table}, first=dt.date(2024, 4, 1), made=dt.date(2024, 9, 30),
                       seed=6, offset=1300)
    submission = receive(archive, institution, capture)
    finding = Finding.objects.filter(submission=submission, code="REC_NO_CONTRACT").first()
    assert finding is not None
    assert "集合契約「東京都市町村国保集合契約」: 保険者の参加期間 2024-10-01〜 の外です" in finding.message
    assert "集合契約「健保連集合契約B」: 保険者が参加していません" in finding.message
    assert "個別契約なし" in finding.message


def test_the_pair_contract_comes_first(group: dict[str, Any]) -> None:
    insurers, institution, table = group["insurers"], group["institution"], group["table"]
    day = dt.date(2024, 5, 1)
    applied = contract_for(insurers[0].number, institution, 1, day)
    assert applied is not None and applied.table == table
    assert applied.label == "集合契約「東京都市町村国保集合契約」 単価表 13・個別"
    pair = ContractFactory(insurer=insurers[0], institution=institution, basic_price=8_800)
    applied = contract_for(insurers[0].number, institution, 1, day)
    assert applied is not None and applied.pair == pair and applied.table is None
    # 集団 is not priced by the group (no table for it) nor by the pair (個別 only).
    assert contract_for(insurers[1].number, institution, 2, day) is None


def test_the_record_page_names_the_contract(group: dict[str, Any], capture: Any, user_client: Any) -> None:
    insurers, institution, table = group["insurers"], group["institution"], group["table"]
    archive = _archive(institution, dict.fromkeys(insurers[:2], table), first=dt.date(2024, 4, 1), made=LEAVES_ON,
                       seed=7, offset=1700)
    receive(archive, institution, capture)
    record = Record.objects.filter(institution=institution, status=RecordStatus.ACCEPTED).first()
    assert record is not None
    client = user_client(role="agency_clerk")
    page = client.get(f"/intake/records/{record.pk}/").content.decode()
    assert "集合契約「東京都市町村国保集合契約」 単価表 13・個別" in page
    assert record.get_stratified_level_display() in page
