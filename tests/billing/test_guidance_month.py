"""特定保健指導, results-only and 事業者健診 archives end to end: generated, accepted, routed to each
insurer as 種別 3 archives of their own kind (valid against the official XSDs where configured), and
billed — the guidance parts in the month each was accepted, the others never."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import replace
from typing import Any

import pytest
import time_machine
from django.urls import reverse

from agency.demo import seed_demo
from agency.models import Contract, Institution, Insurer, Role
from agency.services import synthetic_parties_load
from billing.models import (
    BillingMonth,
    ClaimsStatement,
    ClaimsStatementLine,
    InsurerBillingTerms,
    Invoice,
    InvoiceKind,
    InvoiceLineKind,
    LineKind,
    PaymentStatement,
)
from billing.services.closing import month_close
from intake.models import Channel, Record, RecordKind, RecordStatus, SubmissionStatus
from intake.selectors import fiscal_year_checkups, guidance_courses
from intake.services import receive
from kenshin.reader import read_archive
from kenshin.synth.generator import GeneratedArchive, GeneratorConfig, default_parties
from kenshin.synth.guidance import DEFAULT_GUIDANCE_PRICES, generate_employer, generate_guidance, generate_results_only
from routing.models import Delivery
from routing.services import deliveries as delivery_services
from routing.services.returns import insurer_return_create

from ..factories import UserFactory
from .conftest import at

AGENCY = "91399055"
JUN, OCT = dt.date(2024, 6, 1), dt.date(2024, 10, 1)
GUIDANCE_FEE = 330


def _intake(archive: GeneratedArchive, capture: Any) -> Any:
    institution = Institution.objects.get(number=archive.institution)
    with capture(execute=True):
        result = receive.submission_receive(source=archive.data, file_name=archive.filename, institution=institution, channel=Channel.MEDIA)
    result.submission.refresh_from_db()
    assert result.submission.status == SubmissionStatus.ACCEPTED, list(result.submission.findings.values_list("code", "message"))
    return result.submission


def _close(period: dt.date) -> None:
    """Close ``period`` on the 10th of the next month, after its cut-off (the 5th, or the next business day)."""
    following = (period.replace(day=28) + dt.timedelta(days=4)).replace(day=10)
    month_close(period=period, now=at(f"{following:%Y-%m-%d} 09:00"))


@pytest.fixture
def course(db: Any, django_capture_on_commit_callbacks: Any) -> dict[str, Any]:
    seed_demo()
    config = GeneratorConfig(year=2024, records=6, seed=17, agency_number=AGENCY, insurers=2)
    parties = default_parties(config)
    synthetic_parties_load(parties=parties, agency_number=AGENCY)
    Contract.objects.update(
        guidance_active_price=DEFAULT_GUIDANCE_PRICES["1"], guidance_motivational_price=DEFAULT_GUIDANCE_PRICES["2"],
        results_only=True, other_checkups=True,
    )
    Insurer.objects.update(contract_start=dt.date(2024, 4, 1))
    charged = Insurer.objects.order_by("number").first()
    assert charged is not None
    InsurerBillingTerms.objects.create(insurer=charged, fee_per_guidance=GUIDANCE_FEE)
    pair = next(generate_guidance(config, parties, start_on=dt.date(2024, 6, 10), evaluation_on=dt.date(2024, 10, 15)))
    assert pair.evaluation is not None and len(pair.evaluation.submission.guidance) == 6
    results_only = next(generate_results_only(config, parties))
    employer = next(generate_employer(replace(config, seed=18, ticket_offset=1000), parties))  # other people
    with time_machine.travel(at("2024-06-12 10:00"), tick=True):
        start = _intake(pair.start, django_capture_on_commit_callbacks)
        delivery_services.deliveries_route()
    with time_machine.travel(at("2024-10-16 10:00"), tick=True):
        evaluation = _intake(pair.evaluation, django_capture_on_commit_callbacks)
        others = [_intake(a, django_capture_on_commit_callbacks) for a in (results_only, employer)]
        delivery_services.deliveries_route()
    return {"pair": pair, "start": start, "evaluation": evaluation, "others": others, "charged": charged,
            "archives": {"results_only": results_only, "other_checkup": employer}}


def test_guidance_goes_to_insurers_as_archives_of_its_own(course: dict[str, Any]) -> None:
    pair = course["pair"]
    deliveries = Delivery.objects.filter(record_kind=RecordKind.GUIDANCE)
    assert deliveries.count() >= 2
    kinds = set(Delivery.objects.values_list("record_kind", flat=True))
    assert kinds == {RecordKind.GUIDANCE, RecordKind.RESULTS_ONLY, RecordKind.OTHER_CHECKUP}
    sent: dict[str, bytes] = {}
    for archive in (pair.start, pair.evaluation):
        with zipfile.ZipFile(io.BytesIO(archive.data)) as z:
            sent.update({name.split("/", 1)[1]: z.read(name) for name in z.namelist() if "/DATA/" in name or "/CLAIMS/" in name})
    for delivery in deliveries:
        data = _stored(delivery)
        result = read_archive(data, filename=delivery.file_name)
        assert delivery.file_name.endswith("_2.zip")
        assert [f.code for f in result.findings if f.code != "XML_SCHEMA_UNAVAILABLE"] == []
        assert result.index is not None and (result.index.interaction_type, result.index.service_event_type) == ("3", "2")
        assert result.checkups == () and len(result.guidance) == len(result.guidance_claims) == delivery.record_count
        assert result.summary is not None and result.summary.total_claim_amount == delivery.claim_total
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for name in z.namelist():
                if "/DATA/" in name or "/CLAIMS/" in name:
                    assert z.read(name) == sent[name.split("/", 1)[1]]  # byte for byte
        insurers = {m.record.subject.insurer_number for m in result.guidance}
        assert insurers == {delivery.insurer.number}


def _stored(delivery: Delivery) -> bytes:
    from intake import storage

    return storage.read(delivery.archive.sha256)


def test_results_only_and_other_checkups_are_routed_without_claims(course: dict[str, Any]) -> None:
    for kind, suffix in ((RecordKind.RESULTS_ONLY, "_1.zip"), (RecordKind.OTHER_CHECKUP, "_4.zip")):
        deliveries = list(Delivery.objects.filter(record_kind=kind))
        assert deliveries and sum(d.record_count for d in deliveries) == 6
        for delivery in deliveries:
            result = read_archive(_stored(delivery), filename=delivery.file_name)
            assert delivery.file_name.endswith(suffix) and delivery.claim_total == 0
            assert [f.code for f in result.findings if f.code != "XML_SCHEMA_UNAVAILABLE"] == []
            assert result.summary is None and result.claims == () and len(result.checkups) == delivery.record_count


def test_each_part_is_billed_in_the_month_it_was_accepted(course: dict[str, Any]) -> None:
    for period in (JUN, dt.date(2024, 7, 1), dt.date(2024, 8, 1), dt.date(2024, 9, 1), OCT):
        _close(period)
    pair = course["pair"]
    for month, archive, submission in ((JUN, pair.start, course["start"]), (OCT, pair.evaluation, course["evaluation"])):
        billing_month = BillingMonth.objects.get(period=month)
        claimed = sum(m.record.claim_amount for m in archive.submission.guidance_claims)
        assert claimed == submission.amount_accepted > 0
        statements = ClaimsStatement.objects.filter(month=billing_month)
        assert sum(s.total for s in statements) == claimed
        lines = ClaimsStatementLine.objects.filter(statement__month=billing_month, kind=LineKind.CLAIM)
        assert {line.record.kind for line in lines} == {RecordKind.GUIDANCE}
        assert sum(p.total for p in PaymentStatement.objects.filter(month=billing_month)) == claimed
    # split payments: each course's two parts, in two months, add up to what the institution claims in all
    total = sum(ClaimsStatement.objects.filter(month__period__in=[JUN, OCT]).values_list("total", flat=True))
    assert total == sum(r.claim_amount for r in Record.objects.filter(kind=RecordKind.GUIDANCE, status=RecordStatus.ACCEPTED))
    # results only and 事業者健診等: never on a statement, no per-checkup fee (the insurers' terms say nothing)
    others = Record.objects.filter(kind__in=[RecordKind.RESULTS_ONLY, RecordKind.OTHER_CHECKUP])
    assert others.count() == 12 and not ClaimsStatementLine.objects.filter(record__in=others).exists()
    invoices = Invoice.objects.filter(kind=InvoiceKind.INVOICE, month__period=OCT)
    assert not any(line.kind == InvoiceLineKind.PER_CHECKUP for invoice in invoices for line in invoice.lines.all())
    # the per-guidance fee only for the insurer whose terms set one: one unit per part delivered
    charged = course["charged"]
    for month in (JUN, OCT):
        units = Record.objects.filter(
            kind=RecordKind.GUIDANCE, insurer=charged, submission=course["start" if month == JUN else "evaluation"]
        ).count()
        lines = [
            line for invoice in Invoice.objects.filter(month__period=month, kind=InvoiceKind.INVOICE)
            for line in invoice.lines.filter(kind=InvoiceLineKind.PER_GUIDANCE)
        ]
        assert [(line.invoice.insurer_id, line.quantity, line.unit_price) for line in lines] == (
            [(charged.pk, units, GUIDANCE_FEE)] if units else []
        )


def test_the_insurer_reads_a_course_beside_the_persons_records(course: dict[str, Any], user_client: Any) -> None:
    insurer = course["charged"]
    evaluation = Record.objects.filter(kind=RecordKind.GUIDANCE, insurer=insurer, guidance_timing="2").first()
    assert evaluation is not None
    start = Record.objects.get(kind=RecordKind.GUIDANCE, ticket_number=evaluation.ticket_number, guidance_timing="1")
    client = user_client(Role.INSURER_STAFF, insurer=insurer)
    page = client.get(reverse("insurer:record_detail", args=[evaluation.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "特定保健指導" in text and "実績評価日" in text and "アウトカム評価" in text
    assert reverse("insurer:record_detail", args=[start.pk]) in text  # 開始時 → 実績評価時, linked
    assert f"{start.checkup_date:%Y-%m-%d}" in text and f"{evaluation.checkup_date:%Y-%m-%d}" in text
    assert f"{evaluation.claim_amount:,}" in text
    other = Record.objects.filter(kind=RecordKind.RESULTS_ONLY, insurer=insurer).first()
    if other is not None:
        assert "決済情報はありません" in client.get(reverse("insurer:record_detail", args=[other.pk])).content.decode()
    # to another insurer's staff this guidance is a 404
    other_insurer = Insurer.objects.exclude(pk=insurer.pk).first()
    assert other_insurer is not None
    stranger = user_client(Role.INSURER_STAFF, insurer=other_insurer)
    assert stranger.get(reverse("insurer:record_detail", args=[evaluation.pk])).status_code == 404


def test_the_courses_of_a_fiscal_year_name_starters_and_finishers(course: dict[str, Any]) -> None:
    pair = course["pair"]
    rows = [row for insurer in Insurer.objects.all() for row in guidance_courses(insurer=insurer, fiscal_year=2024)]
    assert len(rows) == len(pair.plans)
    assert all(row.started and row.finished for row in rows)
    by_ticket = {row.ticket_number: row for row in rows}
    for plan in pair.plans:
        row = by_ticket[plan.ticket.number]
        assert (row.level, row.first_date) == (plan.level, plan.first_date)
        assert row.claim_total == row.start.claim_amount + row.evaluation.claim_amount  # type: ignore[union-attr]
    assert guidance_courses(insurer=course["charged"], fiscal_year=2025) == []
    counts = dict.fromkeys(("checkup", "results_only", "other_checkup"), 0)
    for insurer in Insurer.objects.all():
        for kind, count in fiscal_year_checkups(insurer=insurer, fiscal_year=2024).items():
            counts[kind] += count
    assert counts == {"checkup": 0, "results_only": 6, "other_checkup": 6}


def test_a_guidance_part_returned_by_the_insurer_goes_back_and_is_deducted(course: dict[str, Any], capture: Any) -> None:
    for period in (JUN, dt.date(2024, 7, 1), dt.date(2024, 8, 1), dt.date(2024, 9, 1), OCT):
        _close(period)
    insurer = course["charged"]
    part = Record.objects.filter(kind=RecordKind.GUIDANCE, insurer=insurer, guidance_timing="2").first()
    assert part is not None
    staff = UserFactory(role=Role.INSURER_STAFF, insurer=insurer)
    with time_machine.travel(at("2024-11-10 10:00"), tick=True), capture(execute=True):
        returned = insurer_return_create(record=part, reason="02", note="", actor=staff)
    back = read_archive(_stored_return(returned), filename=returned.archive_file_name)
    assert [f.code for f in back.findings if f.code != "XML_SCHEMA_UNAVAILABLE"] == []
    assert back.index is not None and (back.index.interaction_type, back.index.service_event_type) == ("2", "2")
    (claim,) = back.guidance_claims
    assert claim.record.insurer_result is not None and claim.record.insurer_result.reason_code == "02"
    _close(dt.date(2024, 11, 1))
    deduction = ClaimsStatementLine.objects.get(kind=LineKind.RETURN, record=part)
    assert deduction.amount == -part.claim_amount and deduction.statement.month.period == dt.date(2024, 11, 1)


def _stored_return(returned: Any) -> bytes:
    from intake import storage

    return storage.read(returned.archive.sha256)


def test_results_only_and_other_checkups_bear_the_per_checkup_fee_only_when_the_terms_say_so(course: dict[str, Any]) -> None:
    others = Record.objects.filter(kind__in=[RecordKind.RESULTS_ONLY, RecordKind.OTHER_CHECKUP])
    insurer = others.values_list("insurer", flat=True).first()
    assert insurer is not None
    InsurerBillingTerms.objects.update_or_create(insurer_id=insurer, defaults={"fee_other_checkups": True, "fee_per_checkup": 500})
    for period in (JUN, dt.date(2024, 7, 1), dt.date(2024, 8, 1), dt.date(2024, 9, 1), OCT):
        _close(period)
    delivered = others.filter(insurer_id=insurer).count()
    lines = [
        (line.quantity, line.unit_price) for invoice in Invoice.objects.filter(month__period=OCT, kind=InvoiceKind.INVOICE)
        for line in invoice.lines.filter(kind=InvoiceLineKind.PER_CHECKUP)
    ]
    assert lines == [(delivered, 500)]  # the other insurers' results only and 事業者健診等 bear none
    assert not ClaimsStatementLine.objects.filter(record__in=others).exists()  # and they are still never billed as claims
