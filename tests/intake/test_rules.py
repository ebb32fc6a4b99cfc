"""The rules of 事務点検 through the public entry points: ``manage.py intake_archive --json`` (the JSON
contract), the records and findings intake keeps, the error list, and what routing and billing make
of an accepted checkup.

Archives come from the generator with their parties loaded (``helpers.generated``); a case the
generator has no defect for is made by changing one record of a generated archive
(``helpers.rewritten``: su08 recomputed, so only the change is wrong).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction

from agency.models import Contract, Institution
from billing.models import ClaimsStatementLine, LineKind
from billing.services import month_close
from intake import checks, outputs
from intake.models import Channel, Finding, Record, RecordStatus, Submission
from intake.services import check
from intake.services.receive import submission_receive
from intake.services.review import finding_override_warning
from kenshin import reader
from kenshin.codes import CommissionType, CopayCode
from kenshin.copay import CopayRule, compute_claim, compute_dock_claim, terms_from_contract
from kenshin.items import item_master
from kenshin.records import CheckupDocument, Claim, Observation, Section
from kenshin.rules import detail_items_performed
from kenshin.synth.generator import GeneratedArchive
from kenshin.writer import pack, render_members
from routing.services import deliveries as delivery_services

from ..factories import UserFactory
from .helpers import codes_of, generated, intake_json, rewritten

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
URINE_GLUCOSE, URINE_PROTEIN = "1A020000000191111", "1A010000000191111"
NOT_TESTED_REASON = "9N512000000000011"


def _moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=JST)


def _submission(result: dict[str, Any]) -> Submission:
    return Submission.objects.get(receipt_number=result["receipt_number"])


def _findings(result: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [finding for finding in result["findings"] if finding["code"] == code]


def _record(result: dict[str, Any], archive: GeneratedArchive, position: int) -> Record:
    return Record.objects.get(submission=_submission(result), data_path=archive.submission.checkups[position].path)


def _contract_of(archive: GeneratedArchive, position: int) -> Contract:
    claim = archive.submission.claims[position].record
    return Contract.objects.get(
        insurer__number=claim.subject.insurer_number, institution__number=archive.institution,
        commission_type=int(claim.settlement.commission_type),
    )


def _with_observations(document: CheckupDocument, change: Any) -> CheckupDocument:
    sections = []
    for section in document.sections:
        kept = tuple(result for observation in section.observations if (result := change(observation)) is not None)
        sections.append(Section(section.code, section.title, kept))
    return replace(document, sections=tuple(sections))


# --- once per 年度 --------------------------------------------------------------------------------------------------


def _other_day(archive: GeneratedArchive, day: dt.date) -> int:
    """A record of ``archive`` whose checkup is on another day than ``day``."""
    return next(n for n, member in enumerate(archive.submission.checkups) if member.record.checkup_date != day)


def test_a_second_checkup_in_the_same_fiscal_year_is_returned_and_the_first_is_billed_once(tmp_path: Path) -> None:
    """The same person, another institution, another archive, another day, a 受診券 of its own."""
    first, second = generated(records=4, institutions=2, insurers=1, seed=31)
    person = first.submission.checkups[0].record
    position = _other_day(second, person.checkup_date or dt.date.min)

    def same_person(document: CheckupDocument, claim: Claim) -> tuple[CheckupDocument, Claim]:
        header = replace(document.header, subject=person.subject)
        return replace(document, header=header), replace(claim, subject=person.subject)

    again = rewritten(second, same_person, positions=(position,))
    with time_machine.travel(_moment("2025-03-02 10:00"), tick=True):
        accepted = intake_json(first, tmp_path)
        result = intake_json(again, tmp_path)
        delivery_services.deliveries_route()
    assert accepted["status"] == "accepted"
    assert result["status"] == "partially_accepted" and result["records"]["returned"] == 1
    [finding] = _findings(result, "REC_ONCE_PER_FISCAL_YEAR")
    assert finding["severity"] == "error" and finding["return_reason"] == "09"
    assert "2024年度" in finding["message"] and "年度に1回" in finding["message"]
    assert finding["file"] == again.submission.checkups[position].path
    original = _record(accepted, first, 0)
    assert original.status == RecordStatus.ACCEPTED
    assert _record(result, again, position).status == RecordStatus.RETURNED

    month_close(period=dt.date(2025, 2, 1), now=_moment("2025-03-06 09:00"))
    billed = ClaimsStatementLine.objects.filter(kind=LineKind.CLAIM, record__person_key=original.person_key)
    assert [line.record_id for line in billed] == [original.pk]


def test_the_same_ticket_and_person_on_another_day_is_returned(tmp_path: Path) -> None:
    [archive] = generated(records=3, seed=32)
    first = intake_json(archive, tmp_path)
    assert first["status"] == "accepted"

    def a_day_apart(document: CheckupDocument, claim: Claim) -> tuple[CheckupDocument, Claim]:
        day = document.checkup_date
        assert day is not None
        moved = day - dt.timedelta(days=1) if day > dt.date(2024, 4, 2) else day + dt.timedelta(days=1)
        return replace(document, header=replace(document.header, service_date=moved)), claim

    name = archive.submission.name
    resent = rewritten(archive, a_day_apart, positions=(0, 1, 2), name=replace(name, same_day_count=name.same_day_count + 1))
    result = intake_json(resent, tmp_path)
    assert result["status"] == "rejected" and result["records"]["returned"] == 3
    assert [f["code"] for f in result["findings"] if f["severity"] == "error"] == ["REC_ONCE_PER_FISCAL_YEAR"] * 3
    assert Record.objects.filter(status=RecordStatus.ACCEPTED).count() == 3


def test_the_database_holds_one_accepted_checkup_per_person_and_fiscal_year(tmp_path: Path) -> None:
    [archive] = generated(records=2, seed=33)
    intake_json(archive, tmp_path)
    first, second = Record.objects.order_by("position")
    # Another year for the same person is fine; the same year is refused by the database itself.
    Record.objects.filter(pk=second.pk).update(person_key=first.person_key, fiscal_year=first.fiscal_year + 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Record.objects.filter(pk=second.pk).update(fiscal_year=first.fiscal_year)
    # The same 受診券 in the same year, whoever it names.
    Record.objects.filter(pk=second.pk).update(
        person_key="other", fiscal_year=first.fiscal_year, checkup_date=first.checkup_date + dt.timedelta(days=1)
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Record.objects.filter(pk=second.pk).update(insurer_number=first.insurer_number, ticket_number=first.ticket_number)


def _two_archives_with_one_person(seed: int) -> tuple[GeneratedArchive, GeneratedArchive, int]:
    first, second = generated(records=2, institutions=2, insurers=1, seed=seed)
    person = first.submission.checkups[0].record
    position = _other_day(second, person.checkup_date or dt.date.min)

    def same_person(document: CheckupDocument, claim: Claim) -> tuple[CheckupDocument, Claim]:
        return replace(document, header=replace(document.header, subject=person.subject)), replace(claim, subject=person.subject)

    return first, rewritten(second, same_person, positions=(position,)), position


def _level_zero(archive: GeneratedArchive) -> Submission:
    received = submission_receive(
        source=archive.data, file_name=archive.filename, institution=Institution.objects.get(number=archive.institution),
        channel=Channel.MEDIA, enqueue=False,
    )
    assert check.submission_check_archive(submission_id=received.submission.pk) == [(1, 2)]
    return received.submission


def test_a_concurrent_acceptance_is_caught_by_the_database_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two workers decide the same person at once: the second cannot see the first's acceptance when it
    looks for duplicates, so the unique index refuses it and the record is decided alone and returned."""
    first, second, position = _two_archives_with_one_person(34)
    one, two = _level_zero(first), _level_zero(second)
    check.records_check(submission_id=one.pk, first=1, last=2)
    original = checks.duplicate_findings
    calls: list[int] = []

    def not_yet_visible(records: Any, blocked: Any = frozenset()) -> Any:
        calls.append(len(records))
        return {} if len(calls) == 1 else original(records, blocked)

    monkeypatch.setattr(checks, "duplicate_findings", not_yet_visible)
    check.records_check(submission_id=two.pk, first=1, last=2)
    returned = Record.objects.get(submission=two, data_path=second.submission.checkups[position].path)
    assert returned.status == RecordStatus.RETURNED
    assert list(returned.findings.values_list("code", flat=True)) == ["REC_ONCE_PER_FISCAL_YEAR"]
    assert Record.objects.filter(status=RecordStatus.ACCEPTED, person_key=returned.person_key).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_accept_a_person_once(settings: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers itself, so two deciding workers never overlap")
    first, second, _position = _two_archives_with_one_person(35)
    submissions = [_level_zero(first), _level_zero(second)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def decide(submission: Submission) -> None:
        try:
            barrier.wait()
            check.records_check(submission_id=submission.pk, first=1, last=2)
        except BaseException as error:  # collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(submission,)) for submission in submissions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    person = first.submission.checkups[0].record.subject
    people = Record.objects.filter(card_number=person.card_number, insurer_number=person.insurer_number)
    assert sorted(people.values_list("status", flat=True)) == [RecordStatus.ACCEPTED, RecordStatus.RETURNED]
    assert set(Finding.objects.filter(record__in=people).values_list("code", flat=True)) == {"REC_ONCE_PER_FISCAL_YEAR"}


# --- header codes ----------------------------------------------------------------------------------------------------


def test_a_document_that_is_not_a_specific_checkup_is_returned_and_never_billed(tmp_path: Path) -> None:
    [archive] = generated(records=3, seed=36, defects=("not_specific_checkup",))
    result = intake_json(archive, tmp_path)
    [finding] = _findings(result, "DOC_NOT_SPECIFIC_CHECKUP")
    assert finding["return_reason"] == "04" and "報告区分 40・プログラム種別 030" in finding["message"]
    assert result["records"] == {"total": 3, "accepted": 2, "returned": 1}


def test_codes_outside_their_tables_and_a_ticket_of_another_insurer_are_named(tmp_path: Path) -> None:
    [codes] = generated(records=3, seed=37, defects=("header_code_invalid",))
    result = intake_json(codes, tmp_path)
    messages = [f["message"] for f in _findings(result, "DOC_CODE_INVALID")]
    assert any("性別 3" in message and "セクション 01999" in message for message in messages), messages
    [ticket] = generated(records=3, seed=38, insurers=2, defects=("ticket_insurer_mismatch",))
    result = intake_json(ticket, tmp_path)
    [finding] = _findings(result, "DOC_TICKET_INSURER_MISMATCH")
    assert finding["return_reason"] == "05" and result["records"]["returned"] == 1


# --- the copay from one source, the carry of 他の検診による負担, 人間ドック prices --------------------------------------


def test_the_copay_comes_from_the_checkup_card_and_the_prices_from_the_contract(tmp_path: Path) -> None:
    """The generator's copays (a different one per contract: none, fixed, rate, capped) are the 受診券's;
    the contracts in the database state prices only, and every claim passes."""
    [archive] = generated(records=12, seed=39)
    copays = {member.record.charges.basic.code for member in archive.submission.claims if member.record.charges.basic}
    assert copays - {CopayCode.NONE.value}  # at least one copay that a contract could have contradicted
    result = intake_json(archive, tmp_path)
    assert result["status"] == "accepted", result["findings"]

    [priced] = generated(records=3, seed=139)

    def dearer(document: CheckupDocument, claim: Claim) -> tuple[CheckupDocument, Claim]:
        terms = replace(terms_from_contract(_contract_of(priced, 0)), basic_price=claim.settlement.unit_price_basic + 500)
        details = [line.code for line in claim.settlement.unit_price_details]
        others = [line.item_code for line in claim.settlement.unit_price_others if line.item_code]
        computed = compute_claim(terms, detail_items=details, other_items=others)
        return document, replace(claim, charges=computed.charges, settlement=computed.settlement)

    result = intake_json(rewritten(priced, dearer), tmp_path)
    [finding] = _findings(result, "REC_PRICE_MISMATCH")
    assert finding["return_reason"] == "09" and "unit_price_basic" in finding["message"]


def _record_with_items(archive: GeneratedArchive) -> int:
    """A record billing 詳細 or 追加 items (a later component for 他の検診による負担 to reach)."""
    return next(
        n for n, member in enumerate(archive.submission.claims)
        if member.record.settlement.unit_price_details or member.record.settlement.unit_price_others
    )


def test_a_claim_carrying_the_other_program_as_the_producers_do_is_accepted(tmp_path: Path) -> None:
    """基本 負担なし absorbs 他の検診による負担 larger than its price (ORCA JKessai.java); the later component's
    copay stands, and the claim at 0 reduces the payment total."""
    [archive] = generated(records=12, seed=40)
    position = _record_with_items(archive)
    contract = _contract_of(archive, position)

    def carried(document: CheckupDocument, claim: Claim) -> tuple[CheckupDocument, Claim]:
        fixed = CopayRule(CopayCode.FIXED, amount=300)
        terms = replace(terms_from_contract(contract), detail_copay=fixed, other_copay=fixed)
        computed = compute_claim(
            terms,
            detail_items=[line.code for line in claim.settlement.unit_price_details],
            other_items=[line.item_code for line in claim.settlement.unit_price_others if line.item_code],
            paid_by_other_program=terms.basic_price + 100,
        )
        return document, replace(claim, charges=computed.charges, settlement=computed.settlement)

    changed = rewritten(archive, carried, positions=(position,))
    settlement = changed.submission.claims[position].record.settlement
    assert (settlement.payment_detail or settlement.payment_other) == 300 and settlement.payment_basic == 0
    result = intake_json(changed, tmp_path)
    assert result["status"] == "accepted", result["findings"]


def _as_dock(price: int) -> Any:
    def change(document: CheckupDocument, claim: Claim) -> tuple[CheckupDocument, Claim]:
        computed = compute_dock_claim(
            commission_type=CommissionType(claim.settlement.commission_type), price=price,
            copay=CopayRule(CopayCode.NONE, cap=20_000),
        )
        return document, replace(claim, charges=computed.charges, settlement=computed.settlement)

    return change


def test_dock_prices_come_from_the_contract(tmp_path: Path) -> None:
    [archive] = generated(records=1, seed=41)
    contract = _contract_of(archive, 0)
    name = archive.submission.name
    result = intake_json(rewritten(archive, _as_dock(42_000)), tmp_path)
    [finding] = _findings(result, "REC_DOCK_NOT_CONTRACTED")
    assert finding["return_reason"] == "04"

    Contract.objects.filter(pk=contract.pk).update(dock_price=40_000)
    result = intake_json(rewritten(archive, _as_dock(42_000), name=replace(name, same_day_count=1)), tmp_path)
    [finding] = _findings(result, "REC_PRICE_MISMATCH")  # the claim's own price no longer decides
    assert "unit_price_others" in finding["message"]
    result = intake_json(rewritten(archive, _as_dock(40_000), name=replace(name, same_day_count=2)), tmp_path)
    assert result["status"] == "accepted", result["findings"]
    dock = _record(result, archive, 0)
    assert (dock.claim_type, dock.unit_amount, dock.claim_amount) == ("5", 40_000, 20_000)


# --- legitimate 未実施, 詳細な健診 ----------------------------------------------------------------------------------------


def _urine_not_tested(reason: str) -> Any:
    reason_observation = Observation(code=NOT_TESTED_REASON, xml_type="CD", answer_code=reason, answer_oid="1.2.392.200119.6.24080")

    def change(document: CheckupDocument, claim: Claim) -> tuple[CheckupDocument, Claim]:
        def negated(observation: Observation) -> Observation | None:
            if observation.code in (URINE_GLUCOSE, URINE_PROTEIN):
                return Observation(code=observation.code, negation=True)
            return None if observation.code == NOT_TESTED_REASON else observation

        changed = _with_observations(document, negated)
        first = changed.sections[0]
        sections = (replace(first, observations=(*first.observations, reason_observation)), *changed.sections[1:])
        return replace(changed, sections=sections), claim

    return change


def test_urine_not_tested_for_menstruation_or_kidney_disease_is_still_a_specific_checkup(tmp_path: Path) -> None:
    for seed, reason in ((42, "1"), (142, "2")):
        [archive] = generated(records=1, seed=seed)
        result = intake_json(rewritten(archive, _urine_not_tested(reason)), tmp_path)
        assert result["status"] == "accepted", (reason, result["findings"])
    [archive] = generated(records=1, seed=242)
    result = intake_json(rewritten(archive, _urine_not_tested("3")), tmp_path)
    [finding] = _findings(result, "ITM_REQUIRED_MISSING")  # その他: the urine tests are missing
    assert "urine_glucose" in finding["message"] and finding["return_reason"] == "02"


def test_detail_billed_must_be_performed_and_carry_its_reason(tmp_path: Path) -> None:
    [billed] = generated(records=4, seed=43, defects=("detail_billed_not_performed",))
    result = intake_json(billed, tmp_path)
    [finding] = _findings(result, "REC_DETAIL_NOT_PERFORMED")
    assert "心電図" in finding["message"] and finding["return_reason"] == "02" and finding["file"].startswith("CLAIMS/")
    [reasonless] = generated(records=12, seed=44, defects=("detail_reason_missing",))
    injected = reasonless.defects[0].member
    result = intake_json(reasonless, tmp_path)
    [finding] = _findings(result, "ITM_DETAIL_REASON_MISSING")
    assert finding["file"] == injected and finding["return_reason"] == "02"
    # Performed with its reason and billed: accepted (the generator's own 詳細 records).
    performed = [
        Record.objects.get(submission=_submission(result), data_path=member.path)
        for member in reasonless.submission.checkups
        if member.path != injected and detail_items_performed(member.record, item_master())
    ]
    assert performed and {record.status for record in performed} == {RecordStatus.ACCEPTED}


# --- 受診券 optional under 個別契約 -------------------------------------------------------------------------------------


def _ticketless(day: dt.date) -> Any:
    def change(document: CheckupDocument, claim: Claim) -> tuple[CheckupDocument, Claim]:
        header = replace(document.header, tickets=(), service_date=day)
        return replace(document, header=header), replace(claim, ticket_number=None, ticket_expires_on=None)

    return change


def test_a_ticketless_checkup_is_accepted_where_the_contract_issues_no_tickets(tmp_path: Path) -> None:
    [archive] = generated(records=2, seed=45, insurers=1)
    Contract.objects.filter(institution__number=archive.institution).update(valid_from=dt.date(2024, 4, 1), valid_to=None)
    name = archive.submission.name
    day = archive.submission.index.created_on - dt.timedelta(days=1)  # both on one day, before the files were made
    result = intake_json(rewritten(archive, _ticketless(day), positions=(0, 1)), tmp_path)
    findings = _findings(result, "REC_TICKET_INVALID")
    assert len(findings) == 2 and all(f["return_reason"] == "05" for f in findings)

    Contract.objects.filter(institution__number=archive.institution).update(issues_tickets=False)
    result = intake_json(rewritten(archive, _ticketless(day), positions=(0, 1), name=replace(name, same_day_count=1)), tmp_path)
    # Two people without a 受診券 on the same day of the same insurer: both accepted.
    assert result["status"] == "accepted", result["findings"]
    assert [record.ticket_number for record in _submission(result).records.all()] == ["", ""]


# --- every defect of a file, findings kept when the archive is rejected -------------------------------------------------


def test_every_missing_field_of_a_file_is_reported(tmp_path: Path) -> None:
    [archive] = generated(records=3, seed=46, defects=("two_fields_missing",))
    result = intake_json(archive, tmp_path)
    missing = _findings(result, "XML_FIELD_MISSING")
    assert sorted(f["xpath"] for f in missing) == ["/checkupClaim/settlement/unitAmount", "/checkupClaim/subjectPerson/birthTime"]
    assert len({f["file"] for f in missing}) == 1


@pytest.fixture
def xsd_dir(settings: Any) -> str:
    value = os.environ.get("KENSHIN_XSD_DIR", "")
    if not value:
        pytest.skip("KENSHIN_XSD_DIR is not set: schema errors need the official 第4期 XSD directory")
    settings.KENSHIN_XSD_DIR = value
    return value


def _with_claim_bytes(archive: GeneratedArchive, change: Any) -> GeneratedArchive:
    members = render_members(archive.submission)
    path = next(path for path in members if path.startswith("CLAIMS/"))
    members[path] = change(members[path])
    name = archive.submission.name
    return replace(archive, data=pack(name.stem, members, created_on=name.submitted_on))


def test_every_schema_error_of_a_file_is_reported_or_counted(tmp_path: Path, xsd_dir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    [archive] = generated(records=2, seed=47)
    in_dollars = _with_claim_bytes(archive, lambda data: data.replace(b'currency="JPY"', b'currency="USD"'))
    result = intake_json(in_dollars, tmp_path)
    errors = _findings(result, "XML_SCHEMA_INVALID")
    assert len(errors) >= 6 and all("currency" in f["message"] for f in errors)  # one per amount, more than five

    monkeypatch.setattr(reader, "MAX_REPORTED_ERRORS", 2)
    name = archive.submission.name
    renamed = rewritten(archive, lambda document, claim: (document, claim), name=replace(name, same_day_count=1))
    again = _with_claim_bytes(renamed, lambda data: data.replace(b'currency="JPY"', b'currency="USD"'))
    result = intake_json(again, tmp_path)
    errors = _findings(result, "XML_SCHEMA_INVALID")
    assert len(errors) == 3 and re.search(r"ほかに\d+件のスキーマエラー", errors[-1]["message"])


def test_an_archive_rejected_for_its_totals_still_reports_the_namespace_of_its_claims(tmp_path: Path) -> None:
    [archive] = generated(records=4, seed=48, defects=("su08_total_mismatch", "old_namespace_claim"))
    result = intake_json(archive, tmp_path)
    assert result["status"] == "rejected"
    assert {"SUM_TOTAL_MISMATCH", "XML_NAMESPACE_OLD"} <= codes_of(result)
    [old] = _findings(result, "XML_NAMESPACE_OLD")
    assert old["file"].startswith("CLAIMS/c")
    submission = _submission(result)
    assert not submission.records.exists() and submission.records_returned == 4
    rows = outputs.error_list_rows(submission)
    assert {"SUM_TOTAL_MISMATCH", "XML_NAMESPACE_OLD"} <= {row["コード"] for row in rows}
    assert outputs.receipt(submission)["findings"]["error"] >= 2


# --- file type from content, clearer messages ----------------------------------------------------------------------------


def test_the_content_decides_the_kind_of_a_file(tmp_path: Path) -> None:
    [named_g] = generated(records=3, seed=49, defects=("prefix_mismatch",))
    result = intake_json(named_g, tmp_path)
    [finding] = _findings(result, "XML_KIND_PREFIX_MISMATCH")
    assert finding["file"].startswith("DATA/g") and "接頭辞 g・内容 h" in finding["message"]
    assert result["records"]["returned"] == 1
    [mixed] = generated(records=3, seed=50, defects=("guidance_in_checkup_archive",))
    result = intake_json(mixed, tmp_path)
    assert result["status"] == "rejected" and "ARC_MIXED_SERVICE" in codes_of(result)


def test_numbers_are_named_clearly(tmp_path: Path) -> None:
    [short] = generated(records=3, seed=51, defects=("insurer_number_short",))
    result = intake_json(short, tmp_path)
    assert "ID_INSURER_LENGTH" in codes_of(result) and "ID_INSURER_CHECK_DIGIT" not in codes_of(result)
    assert any("7桁" in f["message"] for f in _findings(result, "ID_INSURER_LENGTH"))

    [renamed] = generated(records=3, seed=52, defects=("member_institution_differs",))
    result = intake_json(renamed, tmp_path)
    assert result["status"] == "accepted"
    warnings = _findings(result, "ARC_MEMBER_INSTITUTION_DIFFERS")
    assert len(warnings) == 2 and all(f["severity"] == "warning" and f"送付元 {renamed.institution}" in f["message"] for f in warnings)

    archive, _other = generated(records=2, seed=53, institutions=2)
    other = Institution.objects.exclude(number=archive.institution).first()
    result = intake_json(archive, tmp_path, institution=other.number)
    sender = _findings(result, "AGY_SENDER_MISMATCH")
    assert sender and all(archive.institution in f["message"] and other.number in f["message"] for f in sender)


# --- warnings on generated data and the clerk's confirmation --------------------------------------------------------------


def test_a_generated_warning_is_accepted_and_confirmed_by_a_clerk(tmp_path: Path) -> None:
    [archive] = generated(records=3, seed=54, defects=("questionnaire_inconsistent",))
    result = intake_json(archive, tmp_path)
    assert result["status"] == "accepted"
    [warning] = _findings(result, "QST_DRINKING_AMOUNT")
    assert warning["severity"] == "warning" and "飲酒" in warning["message"]
    finding = Finding.objects.get(submission=_submission(result), code="QST_DRINKING_AMOUNT")
    clerk = UserFactory()
    confirmed = finding_override_warning(finding=finding, reason="受診者に確認済み（飲酒しない）", actor=clerk)
    assert confirmed.overridden_by == clerk and confirmed.record.status == RecordStatus.ACCEPTED


# --- the catalogue --------------------------------------------------------------------------------------------------------


def test_every_rule_names_its_source_in_the_catalogue() -> None:
    rows = {row["code"]: row for row in checks.catalogue()}
    new = {
        "REC_ONCE_PER_FISCAL_YEAR", "DOC_NOT_SPECIFIC_CHECKUP", "DOC_CODE_INVALID", "DOC_TICKET_INSURER_MISMATCH",
        "REC_COPAY_MISMATCH", "ELG_COPAY_MISMATCH", "REC_PRICE_MISMATCH", "REC_DOCK_NOT_CONTRACTED", "ITM_REQUIRED_MISSING",
        "REC_DETAIL_NOT_PERFORMED", "ITM_DETAIL_REASON_MISSING", "REC_TICKET_INVALID", "ITM_INPUT_RANGE", "XML_FIELD_MISSING",
        "XML_SCHEMA_INVALID", "XML_KIND_PREFIX_MISMATCH", "ARC_MIXED_SERVICE", "ID_INSURER_LENGTH", "ID_INSTITUTION_LENGTH",
        "ARC_MEMBER_INSTITUTION_DIFFERS", "DOC_INSTITUTION_DIFFERS", "QST_DRINKING_AMOUNT", "QST_DEPENDENT_ANSWER",
        "QST_MEDICATED_GUIDANCE_LEVEL",
    }  # fmt: skip
    assert new <= set(rows)
    assert all(rows[code]["source"] and rows[code]["hint"] for code in new), [c for c in new if not rows[c]["hint"]]
    assert all(row["source"] for row in rows.values())
    assert "ORCA" in rows["REC_COPAY_MISMATCH"]["source"] and "契約は単価のみ" in rows["REC_COPAY_MISMATCH"]["source"]
    assert "以下" in rows["ITM_INPUT_RANGE"]["message"] and "以上" in rows["ITM_INPUT_RANGE"]["message"]
