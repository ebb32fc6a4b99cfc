"""受診券 rules (level 1), applied only for insurers that have uploaded the tickets they issued
(``intake.services.eligibility``): unknown ticket → 返戻理由 05; the person differs from the ticket's →
05; checkup after the ticket's expiry → 06. The ticket found is the source of the person's 窓口負担
(``copay_rules``); ``records`` recomputes the claim with it (07 when it differs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kenshin.copay import CopayRule
from kenshin.findings import Finding

from ..models import EligibilityTicket, EligibilityUpload, Record
from .catalogue import ERROR, R, Rule, rule
from .pending import PendingRecord

TICKET_DATA = "保険者が登録した受診券データ（受診券の券面事項: 整理番号・被保険者・有効期限・窓口負担）"

TICKET_UNKNOWN: Rule = rule(
    "ELG_TICKET_UNKNOWN", 1, ERROR, R.TICKET_NUMBER, "受診券整理番号が保険者の発行した受診券にありません",
    "受診券に記載の整理番号（11桁）を確認してください。保険者が受診券データを登録済みの場合に点検します。",
    source=TICKET_DATA,
)
PERSON_MISMATCH: Rule = rule(
    "ELG_PERSON_MISMATCH", 1, ERROR, R.TICKET_NUMBER, "受診者が受診券の被保険者（記号・番号・枝番・生年月日・性別）と一致しません",
    "受診券と被保険者証で、記号・番号・枝番・生年月日・性別を確認してください。",
    source=TICKET_DATA,
)
TICKET_EXPIRED: Rule = rule(
    "ELG_TICKET_EXPIRED", 1, ERROR, R.EXPIRED, "健診実施日が保険者登録の受診券の有効期限を過ぎています",
    "受診券の有効期限内に実施した健診か確認してください。",
    source=TICKET_DATA,
)
COPAY_MISMATCH: Rule = rule(
    "ELG_COPAY_MISMATCH", 1, ERROR, R.COPAY, "窓口負担が受診券の負担条件（区分・額・率・上限額）と一致しません",
    "保険者の受診券データに記載の窓口負担（基本・詳細・追加）で、決済情報の窓口負担と窓口負担額・請求額を計算してください。",
    source=f"{TICKET_DATA}。窓口負担の計算は日医特定健診システム（ORCA）と同じ決済情報の計算、単価は契約による",
)


@dataclass(frozen=True)
class TicketLookup:
    """The uploaded tickets that one archive's records refer to, and which insurers have uploaded any."""

    insurers: frozenset[str] = frozenset()
    tickets: dict[tuple[str, str], EligibilityTicket] = field(default_factory=dict)


def tickets_for(pending: Sequence[PendingRecord]) -> TicketLookup:
    """Two queries per archive: the insurers with uploads, and the tickets named by the records."""
    numbers = {p.record.insurer_number for p in pending if p.record.insurer_number}
    if not numbers:
        return TicketLookup()
    with_uploads = frozenset(
        EligibilityUpload.objects.filter(insurer__number__in=numbers).values_list("insurer__number", flat=True).distinct()
    )
    if not with_uploads:
        return TicketLookup()
    wanted = {p.record.ticket_number for p in pending if p.record.insurer_number in with_uploads and p.record.ticket_number}
    tickets = {
        (ticket.insurer.number, ticket.ticket_number): ticket
        for ticket in EligibilityTicket.objects.filter(
            insurer__number__in=with_uploads, ticket_number__in=wanted, kind=EligibilityTicket.Kind.CHECKUP
        ).select_related("insurer")
    }
    return TicketLookup(with_uploads, tickets)


def copay_rules(ticket: EligibilityTicket) -> dict[str, CopayRule]:
    """The ticket's 窓口負担 per component (basic, detail, other) as copay rules."""
    return {
        component: CopayRule.from_fields(
            getattr(ticket, f"{component}_copay_code"),
            getattr(ticket, f"{component}_copay_amount"),
            getattr(ticket, f"{component}_copay_rate"),
            getattr(ticket, f"{component}_copay_cap"),
        )
        for component in ("basic", "detail", "other")
    }


def person_mismatches(record: Record, ticket: EligibilityTicket) -> list[str]:
    """What of the person differs between a record and the ticket (受診券 or 利用券) it names."""
    return [
        label
        for label, ours, theirs in (
            ("記号", record.card_symbol, ticket.card_symbol),
            ("番号", record.card_number, ticket.card_number),
            ("枝番", record.card_branch, ticket.card_branch),
            ("生年月日", record.birth_date, ticket.birth_date),
            ("性別", record.sex, ticket.sex),
        )
        if ours != theirs
    ]


def ticket_findings(pending: PendingRecord, lookup: TicketLookup | None) -> tuple[list[Finding], EligibilityTicket | None]:
    """The eligibility rules for one record, and the uploaded ticket it refers to (nothing when its
    insurer has uploaded no tickets)."""
    record = pending.record
    if lookup is None or record.insurer_number not in lookup.insurers:
        return [], None
    path = record.data_path
    ticket = lookup.tickets.get((record.insurer_number, record.ticket_number))
    if ticket is None:
        finding = TICKET_UNKNOWN.at(file=path, xpath="//participant/associatedEntity/id/@extension", detail=record.ticket_number or "なし")
        return [finding], None
    found: list[Finding] = []
    mismatched = person_mismatches(record, ticket)
    if mismatched:
        found.append(PERSON_MISMATCH.at(file=path, xpath="//recordTarget/patientRole", detail="・".join(mismatched)))
    if record.checkup_date is not None and record.checkup_date > ticket.expires_on:
        found.append(TICKET_EXPIRED.at(file=path, xpath="//documentationOf/serviceEvent/effectiveTime/@value",
                                       detail=f"{ticket.expires_on:%Y-%m-%d}"))
    return found, ticket
