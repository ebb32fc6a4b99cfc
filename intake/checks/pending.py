"""A person's record as level 0 builds it from the reader's output, before the agency's rules run."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from kenshin.codes import SERVICE_CHECKUP, SERVICE_GUIDANCE, SERVICE_OTHER_CHECKUP
from kenshin.findings import Finding
from kenshin.guidance import GuidanceCourse, course_of
from kenshin.reader import RecordRead
from kenshin.records import CheckupDocument, Claim, GuidanceClaim, GuidanceDocument, Member
from kenshin.rules import fiscal_year, person_key

from ..models import Record, RecordKind, Submission


def as_json(value: Any) -> Any:
    """A compact JSON form of a record dataclass (None and empty values left out)."""
    if dataclasses.is_dataclass(value):
        out = {}
        for name in value.__dataclass_fields__:
            item = as_json(getattr(value, name))
            if item is not None and item != [] and item != "":
                out[name] = item
        return out
    if isinstance(value, tuple | list):
        return [as_json(item) for item in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


@dataclass
class PendingRecord:
    record: Record
    checkup: CheckupDocument | None
    claim: Claim | None
    findings: list[Finding] = field(default_factory=list)
    guidance: GuidanceDocument | None = None
    guidance_claim: GuidanceClaim | None = None
    course: GuidanceCourse | None = None


# 保健指導レベル of a checkup (9N506, OID …6.3001): 1 積極的支援, 2 動機付け支援, 3 なし, 4 判定不能.
CHECKUP_GUIDANCE_LEVEL = "9N506000000000011"


def _kind(service: str | None, archive_has_claims: bool) -> RecordKind:
    if service == SERVICE_OTHER_CHECKUP:
        return RecordKind.OTHER_CHECKUP
    return RecordKind.CHECKUP if archive_has_claims else RecordKind.RESULTS_ONLY


def pending_record(
    read: RecordRead, submission: Submission, position: int, *, service: str | None = None, archive_has_claims: bool = True
) -> PendingRecord | None:
    """The pending record of one person's files (None when no DATA file could be read: its findings
    then concern the archive). The findings on the person's files come along. ``service`` is the
    archive's 実施区分 (ix08); an archive without any CLAIMS file holds results only."""
    if read.pair.guidance is not None:
        return _guidance_record(read, read.pair.guidance, submission, position)
    document = read.pair.checkup.record if read.pair.checkup is not None else None
    if document is None:
        return None
    claim_member = read.pair.claim
    claim = claim_member.record if claim_member else None
    subject = document.subject
    ticket = document.ticket
    settlement = claim.settlement if claim else None
    level = document.results().get(CHECKUP_GUIDANCE_LEVEL)
    kind = _kind(service, archive_has_claims)
    record = Record(
        submission=submission,
        position=position,
        data_path=read.pair.checkup.path,
        claim_path=claim_member.path if claim_member else "",
        institution=submission.institution,
        insurer_number=subject.insurer_number,
        ticket_number=(ticket.number if ticket else (claim.ticket_number if claim else "")) or "",
        checkup_date=document.checkup_date,
        fiscal_year=fiscal_year(document.checkup_date) if document.checkup_date else None,
        person_key=person_key(subject.insurer_number, subject.card_symbol, subject.card_number, subject.card_branch)[:64],
        card_symbol=subject.card_symbol or "",
        card_number=subject.card_number,
        card_branch=subject.card_branch or "",
        name_kana=subject.name_kana,
        sex=subject.sex,
        birth_date=subject.birth_date,
        claim_type=settlement.claim_type if settlement else "",
        unit_amount=settlement.unit_amount if settlement else 0,
        payment_amount=settlement.payment_amount if settlement else 0,
        claim_amount=settlement.claim_amount if settlement else 0,
        kind=kind,
        service_event_type=service if service in (SERVICE_CHECKUP, SERVICE_OTHER_CHECKUP) else SERVICE_CHECKUP,
        guidance_level=(level.answer_code or "")[:1] if level is not None else "",
    )
    return PendingRecord(record, document, claim, list(read.findings))


def _guidance_record(
    read: RecordRead, member: Member[GuidanceDocument], submission: Submission, position: int
) -> PendingRecord:
    """A guidance document (g) with its claim (p): one part of a course (開始時, 実績評価時, …)."""
    document = member.record
    claim_member = read.pair.guidance_claim
    claim = claim_member.record if claim_member else None
    course = course_of(document)
    subject = document.subject
    ticket = document.ticket
    day = document.header.service_date or course.evaluation_date or course.first_date
    course_day = course.first_date or day
    record = Record(
        submission=submission,
        position=position,
        data_path=member.path,
        claim_path=claim_member.path if claim_member else "",
        institution=submission.institution,
        insurer_number=subject.insurer_number,
        ticket_number=(ticket.number if ticket else (claim.guidance_ticket_number if claim else "")) or "",
        checkup_date=day,
        # The 年度 of a course is that of its 初回面接.
        fiscal_year=fiscal_year(course_day) if course_day is not None else None,
        person_key=person_key(subject.insurer_number, subject.card_symbol, subject.card_number, subject.card_branch)[:64],
        card_symbol=subject.card_symbol or "",
        card_number=subject.card_number,
        card_branch=subject.card_branch or "",
        name_kana=subject.name_kana,
        sex=subject.sex,
        birth_date=subject.birth_date,
        unit_amount=claim.calculated_amount if claim else 0,
        payment_amount=claim.payment_amount if claim else 0,
        claim_amount=claim.claim_amount if claim else 0,
        kind=RecordKind.GUIDANCE,
        service_event_type=SERVICE_GUIDANCE,
        guidance_level=(claim.guidance_level if claim else course.level or "")[:1],
        guidance_timing=(claim.guidance_timing if claim else course.timing or "")[:1],
        guidance_first_date=course.first_date,
        payment_rate=claim.payment_rate if claim else None,
    )
    return PendingRecord(
        record, None, None, list(read.findings), guidance=document, guidance_claim=claim, course=course
    )
