"""Cross-file structural checks: ix08 against the archive, su08 against the claims, h/c pairing,
identity between paired files, check digits, date order and the internal sums of each claim.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from intake.standard import findings as F
from intake.standard.billing import settlement_consistent
from intake.standard.checkdigits import (
    is_valid_agency_number,
    is_valid_institution_number,
    is_valid_insurer_number,
)
from intake.standard.codes import (
    INTERACTION_TYPES,
    OID_AGENCY,
    OID_INSTITUTION,
    OID_INSURER,
    SERVICE_CHECKUP,
    SERVICE_GUIDANCE,
    ClaimType,
)
from intake.standard.findings import Finding
from intake.standard.naming import INDEX_FILE, SUMMARY_FILE, ArchiveName
from intake.standard.records import (
    CheckupDocument,
    Claim,
    GuidanceClaim,
    GuidanceDocument,
    IndexRecord,
    Member,
    PartyId,
    Subject,
    SummaryRecord,
)

IDENTITY_FIELDS = (
    ("insurer_number", "保険者番号"),
    ("card_symbol", "記号"),
    ("card_number", "番号"),
    ("card_branch", "枝番"),
    ("name_kana", "氏名"),
    ("sex", "性別"),
    ("birth_date", "生年月日"),
)


@dataclass(frozen=True)
class Contents:
    """What the reader got out of one archive, ready for the cross-file checks."""

    name: ArchiveName | None
    index: IndexRecord | None
    summary: SummaryRecord | None
    checkups: Sequence[Member[CheckupDocument]]
    claims: Sequence[Member[Claim]]
    guidance: Sequence[Member[GuidanceDocument]]
    guidance_claims: Sequence[Member[GuidanceClaim]]
    data_paths: Sequence[str]
    claim_paths: Sequence[str]


def _party_check_digit(party: PartyId, file: str, xpath: str) -> Finding | None:
    if party.root == OID_INSTITUTION and not is_valid_institution_number(party.extension):
        return F.ID_INSTITUTION_CHECK_DIGIT.at(file=file, xpath=xpath, detail=party.extension)
    if party.root == OID_INSURER and not is_valid_insurer_number(party.extension):
        return F.ID_INSURER_CHECK_DIGIT.at(file=file, xpath=xpath, detail=party.extension)
    if party.root == OID_AGENCY and not is_valid_agency_number(party.extension):
        return F.ID_AGENCY_CHECK_DIGIT.at(file=file, xpath=xpath, detail=party.extension)
    return None


def index_findings(contents: Contents) -> list[Finding]:
    index = contents.index
    if index is None:
        return [F.ARC_INDEX_MISSING.at(file=INDEX_FILE)]
    found: list[Finding] = []
    name = contents.name
    if name is not None:
        mismatched = [
            label
            for label, ok in (
                ("送付元", index.sender.extension == name.sender),
                ("送付先", index.receiver is not None and index.receiver.extension == name.receiver),
                ("実施区分", index.service_event_type == name.service_event_type),
            )
            if not ok
        ]
        if mismatched:
            found.append(F.IDX_NAME_MISMATCH.at(file=INDEX_FILE, detail="・".join(mismatched)))
    pairing = INTERACTION_TYPES.get(index.interaction_type)
    if pairing is not None:
        _, sender_oid, receiver_oid = pairing
        if index.sender.root != sender_oid or (index.receiver is not None and index.receiver.root != receiver_oid):
            found.append(F.IDX_OID_MISMATCH.at(file=INDEX_FILE, detail=f"種別 {index.interaction_type}"))
    for party, xpath in ((index.sender, "/index/sender/id"), (index.receiver, "/index/receiver/id")):
        if party is not None and (finding := _party_check_digit(party, INDEX_FILE, xpath)):
            found.append(finding)
    files = len(contents.data_paths) + len(contents.claim_paths)
    if index.total_record_count != files:
        found.append(
            F.IDX_COUNT_MISMATCH.at(
                file=INDEX_FILE,
                xpath="/index/totalRecordCount/@value",
                detail=f"{index.total_record_count} ≠ {files}",
            )
        )
    return found


def service_findings(contents: Contents) -> list[Finding]:
    found: list[Finding] = []
    if contents.checkups and contents.guidance:
        found.append(F.ARC_MIXED_SERVICE.at())
    expected = contents.index.service_event_type if contents.index else None
    if expected is None:
        return found
    typed: list[tuple[str, str]] = [(m.path, m.record.service_event_type) for m in contents.claims]
    typed += [(m.path, m.record.service_event_type) for m in contents.guidance_claims]
    typed += [(m.path, SERVICE_CHECKUP) for m in contents.checkups]
    typed += [(m.path, SERVICE_GUIDANCE) for m in contents.guidance]
    if contents.summary is not None:
        typed.append((SUMMARY_FILE, contents.summary.service_event_type))
    found += [
        F.IDX_SERVICE_MISMATCH.at(file=path, detail=f"{service} ≠ {expected}")
        for path, service in typed
        if service != expected
    ]
    return found


def summary_findings(contents: Contents) -> list[Finding]:
    summary = contents.summary
    has_claims = bool(contents.claim_paths)
    if summary is None:
        return [F.ARC_SUMMARY_MISSING.at(file=SUMMARY_FILE)] if has_claims else []
    if not has_claims:
        return [F.ARC_SUMMARY_UNEXPECTED.at(file=SUMMARY_FILE)]
    found: list[Finding] = []
    if summary.total_subject_count != len(contents.claim_paths):
        found.append(
            F.SUM_SUBJECT_COUNT_MISMATCH.at(
                file=SUMMARY_FILE,
                xpath="/summary/totalSubjectCount/@value",
                detail=f"{summary.total_subject_count} ≠ {len(contents.claim_paths)}",
            )
        )
    claims = [member.record for member in contents.claims]
    guidance = [member.record for member in contents.guidance_claims]
    sums = {
        "totalCostAmount": sum(c.settlement.unit_amount for c in claims) + sum(g.calculated_amount for g in guidance),
        "totalPaymentAmount": sum(c.settlement.payment_amount for c in claims)
        + sum(g.payment_amount for g in guidance),
        "totalPaymentByOtherProgram": sum(c.settlement.payment_by_other_program or 0 for c in claims),
        "totalClaimAmount": sum(c.settlement.claim_amount for c in claims) + sum(g.claim_amount for g in guidance),
    }
    stated = {
        "totalCostAmount": summary.total_cost_amount,
        "totalPaymentAmount": summary.total_payment_amount,
        "totalPaymentByOtherProgram": summary.total_payment_by_other_program or 0,
        "totalClaimAmount": summary.total_claim_amount,
    }
    for element, total in sums.items():
        if stated[element] != total:
            found.append(
                F.SUM_TOTAL_MISMATCH.at(
                    file=SUMMARY_FILE,
                    xpath=f"/summary/{element}/@value",
                    detail=f"{stated[element]} ≠ Σ {total}",
                )
            )
    return found


def _stems(members: Sequence[str]) -> dict[str, str]:
    return {path.rsplit("/", 1)[-1][1:].rsplit(".", 1)[0]: path for path in members}


def pairing_findings(contents: Contents) -> list[Finding]:
    if not contents.claim_paths:
        return []
    data, claims = _stems(contents.data_paths), _stems(contents.claim_paths)
    orphans = [data[stem] for stem in data.keys() - claims.keys()]
    orphans += [claims[stem] for stem in claims.keys() - data.keys()]
    return [F.ARC_PAIR_MISSING.at(file=path) for path in sorted(orphans)]


def _identity_difference(left: Subject, right: Subject) -> list[str]:
    return [label for attr, label in IDENTITY_FIELDS if getattr(left, attr) != getattr(right, attr)]


def identity_findings(contents: Contents) -> list[Finding]:
    found: list[Finding] = []
    documents = {member.stem: member.record for member in contents.checkups}
    for member in contents.claims:
        document = documents.get(member.stem)
        if document is None:
            continue
        claim = member.record
        different = _identity_difference(document.subject, claim.subject)
        if document.institution_number != claim.institution_number:
            different.append("健診機関番号")
        if different:
            found.append(F.PAIR_IDENTITY_MISMATCH.at(file=member.path, detail="・".join(different)))
        ticket = document.ticket.number if document.ticket else None
        if ticket != claim.ticket_number:
            found.append(F.PAIR_TICKET_MISMATCH.at(file=member.path, detail=f"{ticket} ≠ {claim.ticket_number}"))
    return found


def _number_findings(file: str, insurer: str, institutions: Sequence[tuple[str, str]]) -> list[Finding]:
    found: list[Finding] = []
    if not is_valid_insurer_number(insurer):
        found.append(F.ID_INSURER_CHECK_DIGIT.at(file=file, detail=insurer))
    for number, xpath in institutions:
        if not is_valid_institution_number(number):
            found.append(F.ID_INSTITUTION_CHECK_DIGIT.at(file=file, xpath=xpath, detail=number))
    return found


def document_findings(contents: Contents) -> list[Finding]:
    found: list[Finding] = []
    for member in (*contents.checkups, *contents.guidance):
        header = member.record.header
        institutions = {header.author.number: "/ClinicalDocument/author"}
        if header.performer is not None:
            institutions.setdefault(header.performer.number, "/ClinicalDocument/documentationOf")
        found += _number_findings(member.path, header.subject.insurer_number, list(institutions.items()))
        if header.service_date is not None and header.service_date > header.created_on:
            found.append(
                F.DOC_DATE_ORDER.at(
                    file=member.path,
                    xpath="/ClinicalDocument/documentationOf/serviceEvent/effectiveTime",
                    detail=f"{header.service_date:%Y%m%d} > {header.created_on:%Y%m%d}",
                )
            )
    for claim_member in (*contents.claims, *contents.guidance_claims):
        record = claim_member.record
        found += _number_findings(
            claim_member.path,
            record.subject.insurer_number,
            [(record.institution_number, "/subjectPerson/performerOrganization/id")],
        )
    return found


_EXPECTED = {
    ClaimType.BASIC: {"basic"},
    ClaimType.BASIC_DETAIL: {"basic", "detail"},
    ClaimType.BASIC_OTHER: {"basic", "other"},
    ClaimType.BASIC_DETAIL_OTHER: {"basic", "detail", "other"},
    ClaimType.HUMAN_DOCK: {"dock"},
}


def _components(claim: Claim) -> dict[str, set[str]]:
    """Which components each part of the claim speaks of."""
    charges, settlement = claim.charges, claim.settlement
    present = {
        "chargeType": {
            name
            for name, value in (
                ("basic", charges.basic),
                ("detail", charges.detail),
                ("other", charges.other),
                ("dock", charges.dock),
            )
            if value is not None
        },
        "unitPrice": {
            name
            for name, value in (
                ("basic", settlement.unit_price_basic is not None),
                ("detail", bool(settlement.unit_price_details)),
                ("other", bool(settlement.unit_price_others)),
            )
            if value
        },
        "payment": {
            name
            for name, value in (
                ("basic", settlement.payment_basic),
                ("detail", settlement.payment_detail),
                ("other", settlement.payment_other),
            )
            if value is not None
        },
    }
    if "dock" in present["chargeType"]:
        present["unitPrice"] = {"dock" if name == "other" else name for name in present["unitPrice"]}
        present["payment"] = {"dock" if name == "other" else name for name in present["payment"]}
    return present


def claim_findings(contents: Contents) -> list[Finding]:
    found: list[Finding] = []
    for member in contents.claims:
        claim = member.record
        try:
            expected = _EXPECTED[ClaimType(claim.settlement.claim_type)]
        except ValueError:
            found.append(F.XML_FIELD_INVALID.at(file=member.path, xpath="/checkupClaim/settlement/claimType"))
            continue
        wrong = [part for part, names in _components(claim).items() if names != expected]
        if wrong:
            found.append(
                F.CLM_CLAIM_TYPE_INCONSISTENT.at(
                    file=member.path,
                    detail=f"請求区分 {claim.settlement.claim_type}: {'・'.join(wrong)}",
                )
            )
        for problem in settlement_consistent(claim.settlement):
            found.append(
                F.CLM_AMOUNT_INCONSISTENT.at(file=member.path, xpath="/checkupClaim/settlement", detail=problem)
            )
    return found


def consistency_findings(contents: Contents) -> list[Finding]:
    return [
        *index_findings(contents),
        *service_findings(contents),
        *summary_findings(contents),
        *pairing_findings(contents),
        *identity_findings(contents),
        *document_findings(contents),
        *claim_findings(contents),
    ]
