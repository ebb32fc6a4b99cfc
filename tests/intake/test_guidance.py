"""事務点検 of 特定保健指導 (実施区分 2), results-only and 事業者健診 (実施区分 4) archives, end to end
through receiving and the staged checks; and no archive of any 実施区分 is rejected without a reason."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse

from agency.demo import seed_demo
from agency.models import Contract, Institution, Insurer, Role
from agency.services import synthetic_parties_load
from intake import outputs
from intake.models import Finding, Record, RecordKind, RecordStatus, Submission, SubmissionStatus
from intake.services.eligibility import eligibility_upload
from intake.services.receive import submission_receive
from kenshin.assemble import agency_party, build_submission, institution_party
from kenshin.naming import ArchiveName, MemberName
from kenshin.reader import read_archive
from kenshin.records import Member
from kenshin.synth.generator import GeneratedArchive, GeneratorConfig, default_parties, generate
from kenshin.synth.guidance import (
    DEFAULT_GUIDANCE_PRICES,
    GUIDANCE_DEFECTS,
    GuidancePair,
    generate_employer,
    generate_guidance,
    generate_results_only,
    guidance_claim,
    guidance_document,
)
from kenshin.synth.parties import Parties
from kenshin.writer import write_archive

AGENCY = "91399055"


@pytest.fixture
def parties(db: Any) -> Parties:
    """The generator's parties in the database, their contracts covering guidance, results only and
    事業者健診等."""
    seed_demo()
    config = _config()
    made = default_parties(config)
    synthetic_parties_load(parties=made, agency_number=AGENCY)
    Contract.objects.filter(institution__number__in=[i.number for i in made.institutions]).update(
        guidance_active_price=DEFAULT_GUIDANCE_PRICES["1"],
        guidance_motivational_price=DEFAULT_GUIDANCE_PRICES["2"],
        results_only=True,
        other_checkups=True,
    )
    return made


def _config(records: int = 8) -> GeneratorConfig:
    return GeneratorConfig(year=2024, records=records, seed=21, agency_number=AGENCY)


def receive(archive: GeneratedArchive, capture: Callable[..., Any]) -> Submission:
    institution = Institution.objects.get(number=archive.institution)
    with capture(execute=True):
        result = submission_receive(source=archive.data, file_name=archive.filename, institution=institution, channel="upload")
    return Submission.objects.get(pk=result.submission.pk)


def _found(submission: Submission) -> Any:
    """The submission's findings, without the one saying the official XSDs are not configured here."""
    return Finding.objects.filter(submission=submission).exclude(code="XML_SCHEMA_UNAVAILABLE")


def _codes(submission: Submission) -> dict[str, set[str]]:
    """Finding codes per DATA file of the submission."""
    found: dict[str, set[str]] = {}
    for finding in Finding.objects.filter(submission=submission):
        path = finding.record.data_path if finding.record else finding.file
        found.setdefault(path.replace("CLAIMS/p", "DATA/g"), set()).add(finding.code)
    return found


def test_a_guidance_course_is_accepted_in_two_parts(parties: Parties, capture: Callable[..., Any]) -> None:
    pair = next(generate_guidance(_config(), parties))
    assert pair.evaluation is not None
    start = receive(pair.start, capture)
    assert start.status == SubmissionStatus.ACCEPTED, list(Finding.objects.filter(submission=start).values_list("code", "message"))
    assert start.service_event_type == "2"
    evaluation = receive(pair.evaluation, capture)
    assert evaluation.status == SubmissionStatus.ACCEPTED, list(Finding.objects.filter(submission=evaluation).values_list("code", "message"))
    records = Record.objects.filter(kind=RecordKind.GUIDANCE, status=RecordStatus.ACCEPTED)
    assert records.count() == 2 * len(pair.plans)
    assert set(records.values_list("guidance_timing", flat=True)) == {"1", "2"}
    for plan in pair.plans:
        parts = records.filter(ticket_number=plan.ticket.number)
        assert sorted(parts.values_list("payment_rate", flat=True)) == [20, 80]
        assert {r.guidance_first_date for r in parts} == {plan.first_date}
    claimed = sum(m.record.claim_amount for a in (pair.start, pair.evaluation) for m in a.submission.guidance_claims)
    assert start.amount_accepted + evaluation.amount_accepted == claimed


def test_each_guidance_defect_is_returned_with_its_reason(parties: Parties, capture: Callable[..., Any]) -> None:
    pair = next(generate_guidance(_config(), parties, defects=list(GUIDANCE_DEFECTS)))
    assert pair.evaluation is not None
    start = receive(pair.start, capture)
    evaluation = receive(pair.evaluation, capture)
    for submission, archive in ((start, pair.start), (evaluation, pair.evaluation)):
        codes = _codes(submission)
        for injected in archive.defects:
            expected = injected.intake_rule or injected.finding
            assert expected in codes.get(injected.member or "", set()), (injected.defect, codes.get(injected.member or ""))
            record = Record.objects.get(submission=submission, data_path=injected.member)
            assert record.status == RecordStatus.RETURNED
        assert submission.status == SubmissionStatus.PARTIALLY_ACCEPTED, (archive.filename, archive.defects, _codes(submission))
    reasons = dict(Finding.objects.filter(submission=evaluation).values_list("code", "return_reason"))
    assert reasons["GDN_EVALUATION_TOO_EARLY"] == "09" and reasons["GDN_START_MISSING"] == "02"
    assert reasons["GDN_AMOUNT_INCONSISTENT"] == "07"


def test_a_split_evaluation_without_its_start_is_returned(parties: Parties, capture: Callable[..., Any]) -> None:
    pair = next(generate_guidance(_config(records=3), parties))
    assert pair.evaluation is not None
    evaluation = receive(pair.evaluation, capture)
    assert evaluation.status == SubmissionStatus.REJECTED
    assert Finding.objects.filter(submission=evaluation, code="GDN_START_MISSING").count() == 3


def test_the_same_part_is_not_accepted_twice(parties: Parties, capture: Callable[..., Any]) -> None:
    pair = next(generate_guidance(_config(records=3), parties))
    receive(pair.start, capture)
    again = pair.start.submission
    name = replace(again.name, same_day_count=1)
    resent = replace(pair.start, submission=replace(again, name=name), filename=name.filename, data=write_archive(replace(again, name=name)))
    second = receive(resent, capture)
    assert second.status == SubmissionStatus.REJECTED
    assert set(_found(second).values_list("code", flat=True)) == {"GDN_DUPLICATE"}


def test_results_only_are_accepted_under_a_results_only_contract(parties: Parties, capture: Callable[..., Any]) -> None:
    archive = next(generate_results_only(_config(records=4), parties))
    submission = receive(archive, capture)
    assert submission.status == SubmissionStatus.ACCEPTED, list(Finding.objects.filter(submission=submission).values_list("code", "message"))
    assert set(Record.objects.filter(submission=submission).values_list("kind", "claim_amount")) == {(RecordKind.RESULTS_ONLY, 0)}
    Contract.objects.update(results_only=False)
    other = next(generate_results_only(replace(_config(records=4), seed=22), parties))
    refused = receive(other, capture)
    assert refused.status == SubmissionStatus.REJECTED
    assert set(_found(refused).values_list("code", "return_reason")) == {("REC_RESULTS_ONLY_NOT_CONTRACTED", "04")}


def test_other_checkups_are_accepted_from_allowed_senders_only(parties: Parties, capture: Callable[..., Any]) -> None:
    archive = next(generate_employer(_config(records=4), parties))
    submission = receive(archive, capture)
    assert submission.status == SubmissionStatus.ACCEPTED, list(Finding.objects.filter(submission=submission).values_list("code", "message"))
    assert submission.service_event_type == "4"
    assert set(Record.objects.filter(submission=submission).values_list("kind", "service_event_type")) == {(RecordKind.OTHER_CHECKUP, "4")}
    Contract.objects.update(other_checkups=False)
    other = next(generate_employer(replace(_config(records=4), seed=23), parties))
    refused = receive(other, capture)
    assert set(_found(refused).values_list("code", flat=True)) == {"REC_OTHER_CHECKUP_NOT_ALLOWED"}


@pytest.mark.parametrize("service", [str(code) for code in range(1, 10)])
def test_no_archive_of_any_service_is_rejected_without_a_reason(parties: Parties, capture: Callable[..., Any], service: str) -> None:
    """Each 実施区分 1–9 (the 第4期 XSD allows them all): checkup files or guidance files under that 実施区分,
    with and without claims. Whatever the verdict, a rejection says why."""
    checkups = next(generate_results_only(_config(records=2), parties))
    guidance: GuidancePair = next(generate_guidance(_config(records=2), parties))
    institution = checkups.institution
    for variant, source in (("checkups", checkups), ("guidance", guidance.start)):
        name = ArchiveName(institution, AGENCY, source.submission.name.submitted_on, 5, service)
        documents = source.submission.checkups or source.submission.guidance
        renamed = []
        for serial, member in enumerate(documents, start=1):
            renamed.append(Member(MemberName(member.path.split("/")[1][0], institution, name.submitted_on, 5, service, serial).path, member.record))
        submission = build_submission(
            name=name, interaction_type="1", sender=institution_party(institution), receiver=agency_party(AGENCY),
            checkups=renamed if variant == "checkups" else (),
            guidance=renamed if variant == "guidance" else (),
            guidance_claims=[
                Member(m.path.replace("DATA/g", "CLAIMS/p"), replace(c.record, service_event_type=service if service in "1234" else "2"))
                for m, c in zip(renamed, source.submission.guidance_claims, strict=False)
            ] if variant == "guidance" else (),
        )
        archive = replace(source, submission=submission, filename=name.filename, data=write_archive(submission))
        received = receive(archive, capture)
        if received.status == SubmissionStatus.REJECTED:
            assert Finding.objects.filter(submission=received, severity__in=["error", "fatal"]).exists(), (service, variant)
        if service in ("3", "5", "6", "7", "8", "9"):
            assert received.status == SubmissionStatus.REJECTED
            assert Finding.objects.filter(submission=received, code="AGY_SERVICE_NOT_ACCEPTED").exists()


def test_a_defective_guidance_archive_gets_a_receipt_an_error_list_and_its_returns(
    parties: Parties, capture: Callable[..., Any]
) -> None:
    pair = next(generate_guidance(_config(), parties, defects=list(GUIDANCE_DEFECTS)))
    assert pair.evaluation is not None
    receive(pair.start, capture)
    submission = receive(pair.evaluation, capture)
    receipt = outputs.receipt(submission)
    # the defects of this archive, and the course whose 開始時 was returned (利用券 expired): no 開始時 accepted
    returned_count = len(pair.evaluation.defects) + 1
    assert receipt["service_event_type"] == "2" and receipt["counts"]["records_returned"] == returned_count
    rows = outputs.error_list_rows(submission)
    by_code = {row["コード"]: row for row in rows}
    too_early = by_code["GDN_EVALUATION_TOO_EARLY"]
    record = Record.objects.get(submission=submission, data_path=too_early["ファイル"])
    assert too_early["受診券整理番号"] == record.ticket_number and too_early["氏名カナ"] == record.name_kana
    assert too_early["返戻理由コード"] == "09" and "3か月" in too_early["内容"] and "以降" in too_early["内容"]
    assert "請求額" in by_code["GDN_AMOUNT_INCONSISTENT"]["内容"]
    assert all(row["対処方法"] for row in rows)
    returned = outputs.returned_archive(submission)
    assert returned is not None and set(returned.record_ids) == set(
        Record.objects.filter(submission=submission, status=RecordStatus.RETURNED).values_list("pk", flat=True)
    )
    back = read_archive(returned.data, filename=returned.filename, xsd_dir=None)
    assert back.index is not None and (back.index.interaction_type, back.index.service_event_type) == ("2", "2")
    reasons = {m.path.replace("CLAIMS/p", "DATA/g"): m.record.agency_result for m in back.guidance_claims}
    assert len(back.guidance) == len(reasons) == returned_count
    assert all(result is not None and result.reason_code for result in reasons.values()), reasons


def test_a_level_other_than_the_checkups_is_a_warning_naming_both(parties: Parties, capture: Callable[..., Any]) -> None:
    config = _config(records=12)
    checkups = next(generate(config, parties))
    assert receive(checkups, capture).status == SubmissionStatus.ACCEPTED
    checked = Record.objects.filter(kind=RecordKind.CHECKUP, guidance_level__in=["1", "2"]).first()
    assert checked is not None, "the generator gives some people a 保健指導レベル"
    person = next(m.record.subject for m in checkups.submission.checkups if m.record.subject.card_number == checked.card_number)
    other = "2" if checked.guidance_level == "1" else "1"
    plan = next(generate_guidance(_config(records=1), parties)).plans[0]
    plan = replace(plan, subject=person, level=other, unit_price=DEFAULT_GUIDANCE_PRICES[other],
                   ticket=replace(plan.ticket, insurer_number=person.insurer_number))
    institution = next(i for i in parties.institutions if i.number == checkups.institution)
    day = plan.first_date + timedelta(days=20)
    name = ArchiveName(institution.number, AGENCY, day, 0, "2")
    member = MemberName("g", institution.number, day, 0, "2", 1)
    submission = build_submission(
        name=name, interaction_type="1", sender=institution_party(institution.number), receiver=agency_party(AGENCY),
        guidance=[Member(member.path, guidance_document(plan, "1", created_on=day, institution=institution))],
        guidance_claims=[Member(member.with_prefix("p").path, guidance_claim(plan, "1", institution=institution))],
    )
    archive = replace(checkups, submission=submission, filename=name.filename, data=write_archive(submission))
    received = receive(archive, capture)
    assert received.status == SubmissionStatus.ACCEPTED
    (warning,) = Finding.objects.filter(submission=received, code="GDN_LEVEL_DIFFERS")
    assert warning.severity == "warning"
    levels = {"1": "積極的支援", "2": "動機付け支援"}
    assert f"特定健診 {levels[checked.guidance_level]}" in warning.message and f"保健指導 {levels[other]}" in warning.message


def test_a_second_active_course_of_one_person_in_a_year_is_returned(parties: Parties, capture: Callable[..., Any]) -> None:
    pair = next(generate_guidance(_config(records=20), parties))
    assert receive(pair.start, capture).status == SubmissionStatus.ACCEPTED
    plan = next(p for p in pair.plans if p.level == "1")  # about 40 % of the generated courses are 積極的支援
    again = replace(plan, ticket=replace(plan.ticket, number=plan.ticket.number[:3] + "99999999"),
                    first_date=plan.first_date + timedelta(days=3))
    institution = next(i for i in parties.institutions if i.number == pair.start.institution)
    day = again.first_date + timedelta(days=1)
    name = ArchiveName(institution.number, AGENCY, day, 0, "2")
    member = MemberName("g", institution.number, day, 0, "2", 1)
    submission = build_submission(
        name=name, interaction_type="1", sender=institution_party(institution.number), receiver=agency_party(AGENCY),
        guidance=[Member(member.path, guidance_document(again, "1", created_on=day, institution=institution))],
        guidance_claims=[Member(member.with_prefix("p").path, guidance_claim(again, "1", institution=institution))],
    )
    second = receive(replace(pair.start, submission=submission, filename=name.filename, data=write_archive(submission)), capture)
    assert second.status == SubmissionStatus.REJECTED
    (finding,) = _found(second)
    assert finding.code == "GDN_ACTIVE_TWICE" and plan.ticket.number in finding.message and "2024年度" in finding.message


def test_the_institution_reads_its_guidance_submission_and_documents(
    parties: Parties, capture: Callable[..., Any], user_client: Callable[..., Any]
) -> None:
    pair = next(generate_guidance(_config(records=4), parties, defects=["guidance_amount_mismatch"]))
    assert pair.evaluation is not None
    receive(pair.start, capture)
    submission = receive(pair.evaluation, capture)
    institution = Institution.objects.get(number=pair.evaluation.institution)
    client = user_client(Role.INSTITUTION_STAFF, institution=institution)
    for name in ("submission_detail", "receipt", "receipt_pdf", "error_list", "error_list_csv", "error_list_pdf", "returned_archive"):
        response = client.get(reverse(f"intake:{name}", args=[submission.pk]))
        assert response.status_code == 200, name
    record = Record.objects.get(submission=submission, status=RecordStatus.RETURNED)
    page = client.get(reverse("intake:record_detail", args=[record.pk]))
    assert page.status_code == 200 and record.name_kana in page.content.decode()
    errors = client.get(reverse("intake:error_list", args=[submission.pk])).content.decode()
    assert "GDN_AMOUNT_INCONSISTENT" in errors and record.ticket_number in errors
    rules = client.get(reverse("intake:rule_catalogue")).content.decode()
    assert "GDN_EVALUATION_TOO_EARLY" in rules and "AGY_NOTHING_TO_CHECK" in rules


def test_guidance_is_checked_against_the_insurers_guidance_tickets(parties: Parties, capture: Callable[..., Any]) -> None:
    pair = next(generate_guidance(_config(records=6), parties))
    plans = list(pair.plans)
    insurer = Insurer.objects.get(number=plans[0].subject.insurer_number)
    mine = [p for p in plans if p.subject.insurer_number == insurer.number]
    assert len(mine) >= 3
    header = "受診券整理番号,有効期限,被保険者証記号,被保険者証番号,被保険者証枝番,生年月日,性別,基本負担区分,基本負担額,基本負担率,基本上限額,券面種別"
    lines = [header]
    for n, plan in enumerate(mine[1:]):  # the first person's 利用券 is not in the insurer's data
        s, copay = plan.subject, plan.copay
        amount = copay.amount + (500 if n == 0 else 0)  # the second person's 窓口負担 differs from the claim's
        code = copay.code.value if n else "2"
        lines.append(
            f"{plan.ticket.number},{plan.ticket.expires_on:%Y%m%d},{s.card_symbol or ''},{s.card_number},{s.card_branch or ''},"
            f"{s.birth_date:%Y%m%d},{s.sex},{code},{amount if code == '2' else 0},{copay.rate},{copay.cap},2"
        )
    eligibility_upload(insurer=insurer, file_name="riyouken.csv", data="\n".join(lines).encode(), actor=None)
    submission = receive(pair.start, capture)
    codes = _codes(submission)
    start = {m.record.guidance_ticket_number: m.path for m in pair.start.submission.guidance_claims}
    as_data = {number: path.replace("CLAIMS/p", "DATA/g") for number, path in start.items()}
    assert "GDN_TICKET_UNKNOWN" in codes[as_data[mine[0].ticket.number]]
    assert "GDN_COPAY_MISMATCH" in codes[as_data[mine[1].ticket.number]]
    for plan in mine[2:]:
        assert not codes.get(as_data[plan.ticket.number]), codes.get(as_data[plan.ticket.number])
    # people of other insurers (no 利用券 data uploaded) are not checked against tickets
    others = [p for p in plans if p.subject.insurer_number != insurer.number]
    assert all(not codes.get(as_data[p.ticket.number]) for p in others)
