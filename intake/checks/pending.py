"""A person's record as level 0 builds it from the reader's output, before the agency's rules run."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from kenshin.findings import Finding
from kenshin.reader import RecordRead
from kenshin.records import CheckupDocument, Claim
from kenshin.rules import fiscal_year, person_key

from ..models import Record, Submission


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


def pending_record(read: RecordRead, submission: Submission, position: int) -> PendingRecord | None:
    """The pending record of one person's files (None when no 特定健診 DATA file could be read:
    its findings then concern the archive). The findings on the person's files come along."""
    document = read.pair.checkup.record if read.pair.checkup is not None else None
    if document is None:
        return None
    claim_member = read.pair.claim
    claim = claim_member.record if claim_member else None
    subject = document.subject
    ticket = document.ticket
    settlement = claim.settlement if claim else None
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
    )
    return PendingRecord(record, document, claim, list(read.findings))
