"""Cross-file structural checks: ix08 against the archive, su08 against the claims, h/c pairing,
identity between paired files, check digits, date order and the internal sums of each claim.

The reader goes through an archive one person at a time, so the checks come in two parts:
``record_findings`` for one DATA file and the CLAIMS file paired with it, and
``archive_findings`` for what needs the whole archive, from ``Totals`` kept along the way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kenshin import findings as F
from kenshin.checkdigits import (
    is_valid_agency_number,
    is_valid_institution_number,
    is_valid_insurer_number,
    normalize_insurer_number,
)
from kenshin.codes import (
    CHECKUP_SECTION_CODES,
    INTERACTION_TYPES,
    OID_AGENCY,
    OID_CHECKUP_TICKET,
    OID_GUIDANCE_TICKET,
    OID_INSTITUTION,
    OID_INSURER,
    PROGRAM_CODES,
    PROGRAM_SPECIFIC_CHECKUP,
    REPORT_CATEGORIES,
    REPORT_CHECKUP,
    SERVICE_CHECKUP,
    SERVICE_GUIDANCE,
    SERVICE_OTHER_CHECKUP,
    SEX_CODES,
    TICKET_KIND_CHECKUP,
    TICKET_KINDS,
    ClaimType,
    CommissionType,
    CopayCode,
    DetailItem,
)
from kenshin.copay import guidance_claim_differences, settlement_consistent
from kenshin.findings import Finding
from kenshin.guidance import GUIDANCE_SECTION_CODES, LEVELS, TIMING_OF_REPORT_CATEGORY, course_of
from kenshin.naming import INDEX_FILE, SUMMARY_FILE, ArchiveName, MemberName
from kenshin.records import (
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

CHECKUP_SERVICES = frozenset({SERVICE_CHECKUP, SERVICE_OTHER_CHECKUP})
# The programs a 他の健診結果受領分 (実施区分 4) document may carry: 事業者健診, or a checkup equivalent to a
# 特定健診 done by others; a 特定健診 (010) received that way is accepted too.
OTHER_CHECKUP_PROGRAMS = frozenset({PROGRAM_SPECIFIC_CHECKUP, "030", "070"})

IDENTITY_FIELDS = (
    ("insurer_number", "保険者番号"),
    ("card_symbol", "記号"),
    ("card_number", "番号"),
    ("card_branch", "枝番"),
    ("name_kana", "氏名"),
    ("sex", "性別"),
    ("birth_date", "生年月日"),
)


@dataclass
class Totals:
    """What the archive-wide checks need, added up record by record."""

    data_files: int = 0
    claim_files: int = 0
    checkups: bool = False
    guidance: bool = False
    cost: int = 0
    payment: int = 0
    paid_by_other_program: int = 0
    claimed: int = 0

    def add(self, pair: Pair) -> None:
        self.checkups = self.checkups or pair.checkup is not None
        self.guidance = self.guidance or pair.guidance is not None
        if pair.claim is not None:
            settlement = pair.claim.record.settlement
            self.cost += settlement.unit_amount
            self.payment += settlement.payment_amount
            self.paid_by_other_program += settlement.payment_by_other_program or 0
            self.claimed += settlement.claim_amount
        if pair.guidance_claim is not None:
            guidance = pair.guidance_claim.record
            self.cost += guidance.calculated_amount
            self.payment += guidance.payment_amount
            self.claimed += guidance.claim_amount


@dataclass(frozen=True)
class Pair:
    """One person's files as read: a DATA file (h or g) and the CLAIMS file (c or p) of the same
    name; ``data_path``/``claim_path`` name them even when they could not be read."""

    data_path: str | None = None
    claim_path: str | None = None
    checkup: Member[CheckupDocument] | None = None
    guidance: Member[GuidanceDocument] | None = None
    claim: Member[Claim] | None = None
    guidance_claim: Member[GuidanceClaim] | None = None


def _digits(text: str, length: int) -> bool:
    return len(text) == length and text.isascii() and text.isdigit()


def insurer_number_finding(number: str, file: str | None, xpath: str | None = None) -> Finding | None:
    """A wrong length (or a non-digit) says so; a number of the right shape with a wrong last digit
    is a check-digit error."""
    if not _digits(normalize_insurer_number(number), 8):
        return F.ID_INSURER_LENGTH.at(file=file, xpath=xpath, detail=f"{number!r}（{len(number)}桁）")
    if not is_valid_insurer_number(number):
        return F.ID_INSURER_CHECK_DIGIT.at(file=file, xpath=xpath, detail=number)
    return None


def institution_number_finding(number: str, file: str | None, xpath: str | None = None) -> Finding | None:
    if not _digits(number, 10):
        return F.ID_INSTITUTION_LENGTH.at(file=file, xpath=xpath, detail=f"{number!r}（{len(number)}桁）")
    if not is_valid_institution_number(number):
        return F.ID_INSTITUTION_CHECK_DIGIT.at(file=file, xpath=xpath, detail=number)
    return None


def _party_check_digit(party: PartyId, file: str, xpath: str) -> Finding | None:
    if party.root == OID_INSTITUTION:
        return institution_number_finding(party.extension, file, xpath)
    if party.root == OID_INSURER:
        return insurer_number_finding(party.extension, file, xpath)
    if party.root == OID_AGENCY:
        if not _digits(party.extension, 8):
            return F.ID_AGENCY_LENGTH.at(file=file, xpath=xpath, detail=f"{party.extension!r}（{len(party.extension)}桁）")
        if not is_valid_agency_number(party.extension):
            return F.ID_AGENCY_CHECK_DIGIT.at(file=file, xpath=xpath, detail=party.extension)
    return None


def index_findings(name: ArchiveName | None, index: IndexRecord | None, totals: Totals) -> list[Finding]:
    if index is None:
        return [F.ARC_INDEX_MISSING.at(file=INDEX_FILE)]
    found: list[Finding] = []
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
    files = totals.data_files + totals.claim_files
    if index.total_record_count != files:
        found.append(
            F.IDX_COUNT_MISMATCH.at(
                file=INDEX_FILE,
                xpath="/index/totalRecordCount/@value",
                detail=f"{index.total_record_count} ≠ {files}",
            )
        )
    return found


def _service_findings(index: IndexRecord | None, pair: Pair) -> list[Finding]:
    expected = index.service_event_type if index else None
    if expected is None:
        return []
    typed: list[tuple[str, str]] = []
    if pair.claim is not None:
        typed.append((pair.claim.path, pair.claim.record.service_event_type))
    if pair.guidance_claim is not None:
        typed.append((pair.guidance_claim.path, pair.guidance_claim.record.service_event_type))
    if pair.checkup is not None:
        # 他の健診結果受領分 (事業者健診等, 実施区分 4) are checkup documents too.
        typed.append((pair.checkup.path, expected if expected in CHECKUP_SERVICES else SERVICE_CHECKUP))
    if pair.guidance is not None:
        typed.append((pair.guidance.path, SERVICE_GUIDANCE))
    return [
        F.IDX_SERVICE_MISMATCH.at(file=path, detail=f"{service} ≠ {expected}") for path, service in typed if service != expected
    ]


def summary_findings(summary: SummaryRecord | None, totals: Totals) -> list[Finding]:
    has_claims = bool(totals.claim_files)
    if summary is None:
        return [F.ARC_SUMMARY_MISSING.at(file=SUMMARY_FILE)] if has_claims else []
    if not has_claims:
        return [F.ARC_SUMMARY_UNEXPECTED.at(file=SUMMARY_FILE)]
    found: list[Finding] = []
    if summary.total_subject_count != totals.claim_files:
        found.append(
            F.SUM_SUBJECT_COUNT_MISMATCH.at(
                file=SUMMARY_FILE,
                xpath="/summary/totalSubjectCount/@value",
                detail=f"{summary.total_subject_count} ≠ {totals.claim_files}",
            )
        )
    sums = {
        "totalCostAmount": totals.cost,
        "totalPaymentAmount": totals.payment,
        "totalPaymentByOtherProgram": totals.paid_by_other_program,
        "totalClaimAmount": totals.claimed,
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


def _pairing_findings(pair: Pair, archive_has_claims: bool) -> list[Finding]:
    if not archive_has_claims:
        return []
    if pair.data_path is not None and pair.claim_path is None:
        return [F.ARC_PAIR_MISSING.at(file=pair.data_path)]
    if pair.claim_path is not None and pair.data_path is None:
        return [F.ARC_PAIR_MISSING.at(file=pair.claim_path)]
    return []


def _identity_difference(left: Subject, right: Subject) -> list[str]:
    return [label for attr, label in IDENTITY_FIELDS if getattr(left, attr) != getattr(right, attr)]


def _guidance_pair_findings(pair: Pair) -> list[Finding]:
    """A guidance document and its claim: the same person, 利用券, 保健指導区分 and 実施時点."""
    if pair.guidance is None or pair.guidance_claim is None:
        return []
    document, claim, path = pair.guidance.record, pair.guidance_claim.record, pair.guidance_claim.path
    found: list[Finding] = []
    different = _identity_difference(document.subject, claim.subject)
    if document.institution_number != claim.institution_number:
        different.append("保健指導機関番号")
    if different:
        found.append(F.PAIR_IDENTITY_MISMATCH.at(file=path, detail="・".join(different)))
    course = course_of(document)
    mismatched = []
    ticket = document.ticket.number if document.ticket else None
    if ticket != claim.guidance_ticket_number:
        mismatched.append(f"利用券 {ticket} ≠ {claim.guidance_ticket_number}")
    if course.timing is not None and course.timing != claim.guidance_timing:
        mismatched.append(f"実施時点 {course.timing} ≠ {claim.guidance_timing}")
    if course.level is not None and course.level != claim.guidance_level:
        mismatched.append(f"保健指導区分 {course.level} ≠ {claim.guidance_level}")
    if mismatched:
        found.append(F.PAIR_GUIDANCE_MISMATCH.at(file=path, detail="・".join(mismatched)))
    return found


def _guidance_code_findings(member: Member[GuidanceDocument]) -> list[Finding]:
    """The coded values of a guidance document: 報告区分 21–25, 保健指導区分, section codes, the 利用券."""
    document = member.record
    header = document.header
    invalid: list[str] = []
    if header.report_category not in TIMING_OF_REPORT_CATEGORY:
        invalid.append(f"報告区分 {header.report_category}")
    level = course_of(document).level
    if level is not None and level not in LEVELS:
        invalid.append(f"保健指導区分 {level}")
    if header.subject.sex not in SEX_CODES:
        invalid.append(f"性別 {header.subject.sex}")
    invalid += [f"セクション {code}" for code in document.section_codes if code not in GUIDANCE_SECTION_CODES]
    for ticket in header.tickets:
        if ticket.kind != "2" or ticket.base_oid != OID_GUIDANCE_TICKET:
            invalid.append("券面種別（特定保健指導は利用券 2・OID …6.210）")
    if not invalid:
        return []
    return [F.DOC_CODE_INVALID.at(file=member.path, detail="・".join(invalid))]


def _guidance_claim_findings(pair: Pair) -> list[Finding]:
    if pair.guidance_claim is None:
        return []
    member = pair.guidance_claim
    try:
        differences = guidance_claim_differences(member.record)
    except ValueError:
        return [F.DOC_CODE_INVALID.at(file=member.path, detail="窓口負担")]
    if not differences:
        return []
    return [F.GDN_AMOUNT_INCONSISTENT.at(file=member.path, xpath="/healthGuidanceClaim/settlement", detail=", ".join(differences))]


def _identity_findings(pair: Pair) -> list[Finding]:
    if pair.checkup is None or pair.claim is None:
        return []
    document, claim, path = pair.checkup.record, pair.claim.record, pair.claim.path
    found: list[Finding] = []
    different = _identity_difference(document.subject, claim.subject)
    if document.institution_number != claim.institution_number:
        different.append("健診機関番号")
    if different:
        found.append(F.PAIR_IDENTITY_MISMATCH.at(file=path, detail="・".join(different)))
    ticket = document.ticket.number if document.ticket else None
    if ticket != claim.ticket_number:
        found.append(F.PAIR_TICKET_MISMATCH.at(file=path, detail=f"{ticket} ≠ {claim.ticket_number}"))
    return found


def _number_findings(file: str, insurer: str, institutions: Sequence[tuple[str, str]]) -> list[Finding]:
    found = [finding] if (finding := insurer_number_finding(insurer, file)) else []
    for number, xpath in institutions:
        if (finding := institution_number_finding(number, file, xpath)) is not None:
            found.append(finding)
    return found


def _sender_findings(pair: Pair, sender: str | None) -> list[Finding]:
    """The institution number in a file's name, or as the document's author or performer, that is
    not the sender's: a warning naming both (one institution may send for another)."""
    if not sender:
        return []
    found: list[Finding] = []
    for path in (pair.data_path, pair.claim_path):
        name = MemberName.parse(path.rsplit("/", 1)[-1]) if path else None
        if name is not None and name.institution != sender:
            found.append(F.ARC_MEMBER_INSTITUTION_DIFFERS.at(file=path, detail=f"送付元 {sender}・ファイル名 {name.institution}"))
    for member in (pair.checkup, pair.guidance):
        if member is None:
            continue
        header = member.record.header
        for label, organization, xpath in (
            ("作成機関", header.author, "/ClinicalDocument/author/assignedAuthor/representedOrganization/id"),
            ("実施機関", header.performer, "/ClinicalDocument/documentationOf/serviceEvent/performer"),
        ):
            if organization is not None and organization.number and organization.number != sender:
                found.append(
                    F.DOC_INSTITUTION_DIFFERS.at(file=member.path, xpath=xpath, detail=f"送付元 {sender}・{label} {organization.number}")
                )
    return found


def _checkup_code_findings(member: Member[CheckupDocument], service: str | None = None) -> list[Finding]:
    """The coded header values of a 特定健診 document against their code tables, and whether the
    document is a 特定健診 at all (報告区分 10, プログラム種別 010)."""
    document, path = member.record, member.path
    header = document.header
    found: list[Finding] = []
    invalid: list[str] = []
    category, program = header.report_category, header.program_code
    if category not in REPORT_CATEGORIES:
        invalid.append(f"報告区分 {category}")
    if program is not None and program not in PROGRAM_CODES:
        invalid.append(f"プログラム種別 {program}")
    if header.subject.sex not in SEX_CODES:
        invalid.append(f"性別 {header.subject.sex}")
    invalid += [f"セクション {section.code}" for section in document.sections if section.code not in CHECKUP_SECTION_CODES]
    for ticket in header.tickets:
        if ticket.kind not in TICKET_KINDS:
            invalid.append(f"券面種別 {ticket.kind}")
        elif ticket.kind != TICKET_KIND_CHECKUP or ticket.base_oid != OID_CHECKUP_TICKET:
            invalid.append("券面種別（特定健診は受診券 1・OID …6.209）")
    if invalid:
        found.append(F.DOC_CODE_INVALID.at(file=path, detail="・".join(invalid)))
    programs = OTHER_CHECKUP_PROGRAMS if service == SERVICE_OTHER_CHECKUP else {PROGRAM_SPECIFIC_CHECKUP}
    if (category in REPORT_CATEGORIES and category != REPORT_CHECKUP) or (
        program in PROGRAM_CODES and program not in programs
    ) or program is None:
        found.append(
            F.DOC_NOT_SPECIFIC_CHECKUP.at(
                file=path, xpath="/ClinicalDocument/code", detail=f"報告区分 {category}・プログラム種別 {program or 'なし'}"
            )
        )
    subject_insurer = normalize_insurer_number(header.subject.insurer_number)
    for ticket in header.tickets:
        if ticket.insurer_number and normalize_insurer_number(ticket.insurer_number) != subject_insurer:
            found.append(
                F.DOC_TICKET_INSURER_MISMATCH.at(
                    file=path, xpath="/ClinicalDocument/participant/associatedEntity",
                    detail=f"受診券 {ticket.insurer_number}・受診者 {header.subject.insurer_number}",
                )
            )
    return found


def _claim_code_findings(member: Member[Claim]) -> list[Finding]:
    """The coded values of a claim against their tables (the XSD enumerates them too; this names them)."""
    claim = member.record
    invalid: list[str] = []
    if claim.subject.sex not in SEX_CODES:
        invalid.append(f"性別 {claim.subject.sex}")
    if claim.settlement.commission_type not in {c.value for c in CommissionType}:
        invalid.append(f"委託料単価区分 {claim.settlement.commission_type}")
    codes = {c.value for c in CopayCode}
    charges = claim.charges
    for label, charge in (("基本", charges.basic), ("詳細", charges.detail), ("追加", charges.other)):
        if charge is not None and charge.code not in codes:
            invalid.append(f"窓口負担（{label}） {charge.code}")
    details = {d.value for d in DetailItem}
    invalid += [f"詳細な健診項目 {line.code}" for line in claim.settlement.unit_price_details if line.code not in details]
    if not invalid:
        return []
    return [F.DOC_CODE_INVALID.at(file=member.path, detail="・".join(invalid))]


def _document_findings(pair: Pair, service: str | None = None) -> list[Finding]:
    found: list[Finding] = []
    if pair.checkup is not None:
        found += _checkup_code_findings(pair.checkup, service)
    if pair.guidance is not None:
        found += _guidance_code_findings(pair.guidance)
    if pair.claim is not None:
        found += _claim_code_findings(pair.claim)
    for member in (pair.checkup, pair.guidance):
        if member is None:
            continue
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
    for claim_member in (pair.claim, pair.guidance_claim):
        if claim_member is None:
            continue
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


def _claim_findings(pair: Pair) -> list[Finding]:
    if pair.claim is None:
        return []
    member = pair.claim
    claim = member.record
    try:
        expected = _EXPECTED[ClaimType(claim.settlement.claim_type)]
    except ValueError:
        return [F.XML_FIELD_INVALID.at(file=member.path, xpath="/checkupClaim/settlement/claimType")]
    found: list[Finding] = []
    wrong = [part for part, names in _components(claim).items() if names != expected]
    if wrong:
        found.append(
            F.CLM_CLAIM_TYPE_INCONSISTENT.at(
                file=member.path,
                detail=f"請求区分 {claim.settlement.claim_type}: {'・'.join(wrong)}",
            )
        )
    for problem in settlement_consistent(claim.settlement):
        found.append(F.CLM_AMOUNT_INCONSISTENT.at(file=member.path, xpath="/checkupClaim/settlement", detail=problem))
    return found


def record_findings(
    pair: Pair, *, index: IndexRecord | None, archive_has_claims: bool, sender: str | None = None
) -> list[Finding]:
    """The cross-file checks of one person's files (``sender``: the archive's 送付元 機関番号)."""
    return [
        *_service_findings(index, pair),
        *_pairing_findings(pair, archive_has_claims),
        *_identity_findings(pair),
        *_guidance_pair_findings(pair),
        *_document_findings(pair, index.service_event_type if index else None),
        *_claim_findings(pair),
        *_guidance_claim_findings(pair),
        *_sender_findings(pair, sender),
    ]


def archive_findings(
    *, name: ArchiveName | None, index: IndexRecord | None, summary: SummaryRecord | None, totals: Totals
) -> list[Finding]:
    """The checks that need the whole archive: ix08 against it, the service mix, su08 against the sums."""
    found = index_findings(name, index, totals)
    if totals.checkups and totals.guidance:
        found.append(F.ARC_MIXED_SERVICE.at())
    expected = index.service_event_type if index else None
    if expected is not None and summary is not None and summary.service_event_type != expected:
        found.append(F.IDX_SERVICE_MISMATCH.at(file=SUMMARY_FILE, detail=f"{summary.service_event_type} ≠ {expected}"))
    return found + summary_findings(summary, totals)
