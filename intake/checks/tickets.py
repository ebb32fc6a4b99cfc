"""受診券 rules (level 1), applied only for insurers that have uploaded the tickets they issued
(``intake.services.eligibility``): unknown ticket → 返戻理由 05; the person differs from the ticket's →
05; checkup after the ticket's expiry → 06; the claim's copay differs from the ticket's terms → 07."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kenshin import rules as standard_rules
from kenshin.codes import ClaimType, CommissionType, DetailItem
from kenshin.copay import ContractTerms, CopayRule
from kenshin.findings import Finding

from ..models import EligibilityTicket, EligibilityUpload
from .catalogue import ERROR, R, Rule, rule
from .pending import PendingRecord

COPAY_FIELDS = frozenset({"charges", "payment_basic", "payment_detail", "payment_other", "payment_amount", "claim_amount"})

TICKET_UNKNOWN: Rule = rule(
    "ELG_TICKET_UNKNOWN", 1, ERROR, R.TICKET_NUMBER, "受診券整理番号が保険者の発行した受診券にありません",
    "受診券に記載の整理番号（11桁）を確認してください。保険者が受診券データを登録済みの場合に点検します。",
)
PERSON_MISMATCH: Rule = rule(
    "ELG_PERSON_MISMATCH", 1, ERROR, R.TICKET_NUMBER, "受診者が受診券の被保険者（記号・番号・枝番・生年月日・性別）と一致しません",
    "受診券と被保険者証で、記号・番号・枝番・生年月日・性別を確認してください。",
)
TICKET_EXPIRED: Rule = rule(
    "ELG_TICKET_EXPIRED", 1, ERROR, R.EXPIRED, "健診実施日が保険者登録の受診券の有効期限を過ぎています",
    "受診券の有効期限内に実施した健診か確認してください。",
)
COPAY_MISMATCH: Rule = rule(
    "ELG_COPAY_MISMATCH", 1, ERROR, R.COPAY, "窓口負担が受診券の負担条件（区分・額・率・上限額）と一致しません",
    "受診券に記載の窓口負担（基本・詳細・追加）で窓口負担額と請求額を計算してください。",
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
        for ticket in EligibilityTicket.objects.filter(insurer__number__in=with_uploads, ticket_number__in=wanted).select_related("insurer")
    }
    return TicketLookup(with_uploads, tickets)


def _copayrule(ticket: EligibilityTicket, component: str) -> CopayRule:
    return CopayRule.from_fields(
        getattr(ticket, f"{component}_copay_code"),
        getattr(ticket, f"{component}_copay_amount"),
        getattr(ticket, f"{component}_copay_rate"),
        getattr(ticket, f"{component}_copay_cap"),
    )


def copay_differences(pending: PendingRecord, ticket: EligibilityTicket) -> list[str]:
    """The claim recomputed with its own prices and the ticket's copay terms: what differs."""
    claim = pending.claim
    if claim is None:
        return []
    settlement = claim.settlement
    try:
        terms = ContractTerms(
            commission_type=CommissionType(settlement.commission_type),
            basic_price=settlement.unit_price_basic or 0,
            basic_copay=_copayrule(ticket, "basic"),
            detail_prices={DetailItem(line.code): line.amount for line in settlement.unit_price_details},
            detail_copay=_copayrule(ticket, "detail"),
            other_prices={line.item_code: line.amount for line in settlement.unit_price_others if line.item_code},
            other_copay=_copayrule(ticket, "other"),
        )
    except ValueError:
        return []  # codes the format checks report themselves
    if settlement.claim_type == ClaimType.HUMAN_DOCK.value:
        return []  # a dock's copay comes from its own contract terms, not the 受診券's components
    return [name for name in standard_rules.copay_differences(claim, terms) if name in COPAY_FIELDS]


def ticket_findings(pending: PendingRecord, lookup: TicketLookup | None) -> list[Finding]:
    """The eligibility rules for one record (nothing when its insurer has uploaded no tickets)."""
    record = pending.record
    if lookup is None or record.insurer_number not in lookup.insurers:
        return []
    path = record.data_path
    ticket = lookup.tickets.get((record.insurer_number, record.ticket_number))
    if ticket is None:
        return [TICKET_UNKNOWN.at(file=path, xpath="//participant/associatedEntity/id/@extension", detail=record.ticket_number)]
    found: list[Finding] = []
    mismatched = [
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
    if mismatched:
        found.append(PERSON_MISMATCH.at(file=path, xpath="//recordTarget/patientRole", detail="・".join(mismatched)))
    if record.checkup_date is not None and record.checkup_date > ticket.expires_on:
        found.append(TICKET_EXPIRED.at(file=path, xpath="//documentationOf/serviceEvent/effectiveTime/@value",
                                       detail=f"{ticket.expires_on:%Y-%m-%d}"))
    differences = copay_differences(pending, ticket)
    if differences:
        found.append(COPAY_MISMATCH.at(file=record.claim_path or path, xpath="/checkupClaim/checkupCard",
                                       detail=", ".join(differences)))
    return found
