"""受診券 eligibility data: the CSV upload (every row checked, errors by line, all or nothing) and the
intake rules that use it (unknown ticket → 05, person mismatch → 05, expired → 06, copay → 07)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from agency.demo import seed_demo
from agency.models import Contract, Insurer, Role
from agency.services import synthetic_parties_load
from audit.models import AuditEvent, Outcome
from intake import checks
from intake.models import EligibilityTicket, EligibilityUpload, Finding, RecordStatus
from intake.services.eligibility import COLUMNS, TEMPLATE_HEADER, EligibilityFileInvalid, eligibility_upload, parse_csv
from kenshin.copay import rule_from_charge
from kenshin.synth.generator import GeneratedArchive, GeneratorConfig, default_parties, generate

from ..conftest import login_verified
from ..factories import UserFactory
from ..routing.helpers import AGENCY, receive


def _row(**values: Any) -> dict[str, str]:
    row = dict.fromkeys(COLUMNS.values(), "")
    row.update({COLUMNS[key]: str(value) for key, value in values.items()})
    return row


def _csv(rows: list[dict[str, str]], *, header: list[str] | None = None, encoding: str = "utf-8") -> bytes:
    columns = header or list(COLUMNS.values())
    lines = [",".join(columns)] + [",".join(row.get(column, "") for column in columns) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


GOOD = {
    "ticket_number": "24100000001", "expires_on": "20250331", "card_symbol": "12", "card_number": "345",
    "card_branch": "01", "birth_date": "19600401", "sex": "1",
}


# --- the upload --------------------------------------------------------------------------------------


def test_a_valid_file_is_imported_and_a_later_one_updates_it(insurer_a: Any, make_user: Callable[..., Any]) -> None:
    user = make_user(Role.INSURER_STAFF)
    data = _csv([
        _row(**GOOD, basic_copay_code=3, basic_copay_rate=30000),
        _row(**{**GOOD, "ticket_number": "24100000002", "card_branch": ""}, basic_copay_code=2, basic_copay_amount=1000),
    ])
    result = eligibility_upload(insurer=insurer_a, file_name="tickets.csv", data=data, actor=user)
    assert (result.created, result.updated) == (2, 0)
    ticket = EligibilityTicket.objects.get(ticket_number="24100000001")
    assert (ticket.expires_on, ticket.birth_date, ticket.card_branch) == (dt.date(2025, 3, 31), dt.date(1960, 4, 1), "01")
    assert (ticket.basic_copay_code, ticket.basic_copay_rate, ticket.detail_copay_code) == (3, 30000, 1)

    later = _csv([_row(**{**GOOD, "expires_on": "2026-03-31"})], encoding="cp932")
    again = eligibility_upload(insurer=insurer_a, file_name="更新.csv", data=later, actor=user)
    assert (again.created, again.updated) == (0, 1)
    ticket.refresh_from_db()
    assert ticket.expires_on == dt.date(2026, 3, 31) and ticket.upload == again.upload and ticket.basic_copay_code == 1
    event = AuditEvent.objects.filter(action="eligibility.uploaded").order_by("-seq").first()
    assert event.detail["rows"] == 1 and event.detail["updated"] == 1
    assert "19600401" not in str(event.detail)


def test_every_row_is_checked_errors_name_their_line_and_nothing_is_imported(insurer_a: Any, make_user: Callable[..., Any]) -> None:
    user = make_user(Role.INSURER_STAFF)
    data = _csv([
        _row(**GOOD),
        _row(**{**GOOD, "ticket_number": "2410000000X", "sex": "3"}),  # line 3: two problems
        _row(**{**GOOD, "ticket_number": "24100000004"}, basic_copay_code=3),  # line 4: a rate is required
        _row(**{**GOOD, "ticket_number": "24100000001"}),  # line 5: repeats line 2
        _row(**{**GOOD, "ticket_number": "24100000006", "birth_date": "19600231"}),  # line 6: no such date
    ])
    with pytest.raises(EligibilityFileInvalid) as caught:
        eligibility_upload(insurer=insurer_a, file_name="bad.csv", data=data, actor=user)
    errors = {(e.line, e.column) for e in caught.value.errors}
    assert errors == {
        (3, "受診券整理番号"), (3, "性別"), (4, "基本負担率"), (5, "受診券整理番号"), (6, "生年月日"),
    }
    assert not EligibilityTicket.objects.exists() and not EligibilityUpload.objects.exists()
    event = AuditEvent.objects.get(action="eligibility.upload_refused")
    assert event.outcome == Outcome.FAILURE and event.detail["errors"] == 5


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", {(1, "")}),
        (_csv([_row(**GOOD)], header=["受診券整理番号", "有効期限", "性別", "余分な列"]), {
            (1, "余分な列"), (1, "被保険者証記号"), (1, "被保険者証番号"), (1, "被保険者証枝番"), (1, "生年月日"),
        }),
        (_csv([]), {(2, "")}),
        ((TEMPLATE_HEADER + "\r\n24100000001,20250331\r\n").encode(), {(2, "")}),
        (b"\xff\xfe\x00garbage\x81", {(1, "")}),
    ],
)
def test_file_level_problems_are_reported(data: bytes, expected: set[tuple[int, str]]) -> None:
    with pytest.raises(EligibilityFileInvalid) as caught:
        parse_csv(data)
    assert {(e.line, e.column) for e in caught.value.errors} == expected


def test_the_template_header_round_trips() -> None:
    assert parse_csv((TEMPLATE_HEADER + "\r\n" + ",".join(_row(**GOOD).values()) + "\r\n").encode("utf-8-sig"))


# --- the rules ----------------------------------------------------------------------------------------------


def test_eligibility_rules_are_in_the_catalogue() -> None:
    rows = {row["code"]: row for row in checks.catalogue()}
    assert {code: rows[code]["return_reason"] for code in (
        "ELG_TICKET_UNKNOWN", "ELG_PERSON_MISMATCH", "ELG_TICKET_EXPIRED", "ELG_COPAY_MISMATCH"
    )} == {"ELG_TICKET_UNKNOWN": "05", "ELG_PERSON_MISMATCH": "05", "ELG_TICKET_EXPIRED": "06", "ELG_COPAY_MISMATCH": "07"}


def _archive(*, records: int, seed: int, insurers: int = 1) -> GeneratedArchive:
    seed_demo()
    config = GeneratorConfig(year=2024, records=records, seed=seed, insurers=insurers, agency_number=AGENCY)
    parties = default_parties(config)
    synthetic_parties_load(parties=parties, agency_number=AGENCY)
    return next(generate(config, parties))


def _ticket_rows(archive: GeneratedArchive) -> list[dict[str, Any]]:
    """One ticket per record, exactly as the record says (so nothing differs)."""
    rows = []
    for checkup, claim in zip(archive.submission.checkups, archive.submission.claims, strict=True):
        subject, ticket = checkup.record.subject, checkup.record.ticket
        contract = Contract.objects.get(
            insurer__number=subject.insurer_number, institution__number=archive.institution,
            commission_type=int(claim.record.settlement.commission_type),
        )
        row = {
            "ticket_number": ticket.number, "expires_on": f"{ticket.expires_on:%Y%m%d}", "card_symbol": subject.card_symbol or "",
            "card_number": subject.card_number, "card_branch": subject.card_branch or "",
            "birth_date": f"{subject.birth_date:%Y%m%d}", "sex": subject.sex,
        }
        assert contract.is_valid_on(checkup.record.checkup_date)
        charges = claim.record.charges
        for component, charge in (("basic", charges.basic), ("detail", charges.detail), ("other", charges.other)):
            rule = rule_from_charge(charge)  # the copay the claim's checkupCard states, as the insurer issued it
            row.update({f"{component}_copay_code": rule.code.value, f"{component}_copay_amount": rule.amount,
                        f"{component}_copay_rate": rule.rate, f"{component}_copay_cap": rule.cap})
        rows.append({"insurer": subject.insurer_number, "path": checkup.path, "row": row})
    return rows


def test_records_are_checked_against_the_insurers_tickets(capture: Any, db: Any, make_user: Callable[..., Any]) -> None:
    archive = _archive(records=6, seed=201)
    tickets = _ticket_rows(archive)
    insurer = Insurer.objects.get(number=tickets[0]["insurer"])
    user = make_user(Role.INSURER_STAFF, insurer=insurer)
    expected: dict[str, set[str]] = {}
    rows = []
    for position, entry in enumerate(tickets):
        row = dict(entry["row"])
        if position == 0:
            row["ticket_number"] = "24999999999"  # the record's ticket is unknown to the insurer
            expected[entry["path"]] = {"ELG_TICKET_UNKNOWN"}
        elif position == 1:
            row["card_number"] = row["card_number"] + "9"
            expected[entry["path"]] = {"ELG_PERSON_MISMATCH"}
        elif position == 2:
            checkup = archive.submission.checkups[2].record
            row["expires_on"] = f"{checkup.checkup_date - dt.timedelta(days=1):%Y%m%d}"
            expected[entry["path"]] = {"ELG_TICKET_EXPIRED"}
        elif position == 3:
            row.update(basic_copay_code=2, basic_copay_amount=4321, basic_copay_rate=0, basic_copay_cap=0)
            expected[entry["path"]] = {"ELG_COPAY_MISMATCH"}
        else:
            expected[entry["path"]] = set()
        rows.append(_row(**row))
    eligibility_upload(insurer=insurer, file_name="tickets.csv", data=_csv(rows), actor=user)

    submission = receive(capture, archive).submission
    for record in submission.records.all():
        codes = set(record.findings.filter(code__startswith="ELG_").values_list("code", flat=True))
        assert codes == expected[record.data_path], record.data_path
        assert record.status == (RecordStatus.RETURNED if codes else RecordStatus.ACCEPTED)
    # One source of the copay: the insurer's ticket data; the claim's own checkupCard is not checked besides.
    assert not Finding.objects.filter(submission=submission, code="REC_COPAY_MISMATCH").exists()
    reasons = dict(Finding.objects.filter(code__startswith="ELG_").values_list("code", "return_reason"))
    assert reasons == {"ELG_TICKET_UNKNOWN": "05", "ELG_PERSON_MISMATCH": "05", "ELG_TICKET_EXPIRED": "06", "ELG_COPAY_MISMATCH": "07"}


def test_no_upload_means_no_eligibility_rules(capture: Any, db: Any) -> None:
    submission = receive(capture, _archive(records=4, seed=202)).submission
    assert not Finding.objects.filter(submission=submission, code__startswith="ELG_").exists()
    assert submission.records_accepted == 4


def test_another_insurers_tickets_are_never_used(capture: Any, db: Any, insurer_b: Any, make_user: Callable[..., Any]) -> None:
    archive = _archive(records=3, seed=203)
    tickets = _ticket_rows(archive)
    # Insurer B uploads tickets carrying the same numbers: the records' own insurer has uploaded nothing.
    rows = [_row(**entry["row"]) for entry in tickets]
    eligibility_upload(insurer=insurer_b, file_name="b.csv", data=_csv(rows), actor=make_user(Role.INSURER_STAFF, insurer=insurer_b))
    submission = receive(capture, archive).submission
    assert submission.records_accepted == 3
    # Once the records' insurer uploads a file without them, they are unknown (05).
    own = Insurer.objects.get(number=tickets[0]["insurer"])
    other_row = _row(**{**tickets[0]["row"], "ticket_number": "24888888888"})
    eligibility_upload(insurer=own, file_name="own.csv", data=_csv([other_row]), actor=make_user(Role.INSURER_STAFF, insurer=own))
    original = archive.submission
    later = replace(original, name=replace(original.name, same_day_count=1))
    from kenshin.writer import write_archive

    again = receive(capture, archive, file_name=later.name.filename, data=write_archive(later)).submission
    assert set(Finding.objects.filter(submission=again, code__startswith="ELG_").values_list("code", flat=True)) == {"ELG_TICKET_UNKNOWN"}


# --- the page ------------------------------------------------------------------------------------------------


def test_upload_page_shows_errors_by_line_and_imports_nothing(insurer_a: Any, make_user: Callable[..., Any]) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = login_verified(Client(), make_user(Role.INSURER_STAFF))
    url = reverse("insurer:eligibility_upload")
    bad = _csv([_row(**GOOD), _row(**{**GOOD, "ticket_number": "1"})])
    response = client.post(url, {"file": SimpleUploadedFile("t.csv", bad, content_type="text/csv")})
    assert response.status_code == 200
    problems = response.context["problems"]
    assert [(e.line, e.column) for e in problems.errors] == [(3, "受診券整理番号")]
    assert "3" in response.content.decode() and not EligibilityTicket.objects.exists()

    good = _csv([_row(**GOOD)])
    response = client.post(url, {"file": SimpleUploadedFile("t.csv", good, content_type="text/csv")})
    assert response.status_code == 302
    assert EligibilityTicket.objects.get().insurer == insurer_a
    page = client.get(url).content.decode()
    assert "t.csv" in page
    template = client.get(reverse("insurer:eligibility_template"))
    assert template.content.decode("utf-8-sig").strip() == TEMPLATE_HEADER


def test_upload_page_is_for_insurer_staff_of_their_own_insurer(insurer_a: Any, insurer_b: Any, make_user: Callable[..., Any]) -> None:
    other = UserFactory(role=Role.INSURER_STAFF, insurer=insurer_b)
    eligibility_upload(insurer=insurer_b, file_name="b-only.csv", data=_csv([_row(**GOOD)]), actor=other)
    mine = login_verified(Client(), make_user(Role.INSURER_STAFF))
    assert "b-only.csv" not in mine.get(reverse("insurer:eligibility_upload")).content.decode()
    for role in (Role.AGENCY_CLERK, Role.INSTITUTION_STAFF, Role.AUDITOR):
        assert login_verified(Client(), make_user(role)).get(reverse("insurer:eligibility_upload")).status_code == 403
