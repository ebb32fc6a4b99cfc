"""Putting submissions together: counts and totals computed from the members, and the
re-packaging an agency does (種別 3 to each insurer, 種別 2 back to the institution).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from kenshin.codes import OID_AGENCY, OID_INSTITUTION, OID_INSURER, Namespace
from kenshin.naming import ArchiveName
from kenshin.records import (
    AdjudicationResult,
    CheckupDocument,
    Claim,
    GuidanceClaim,
    GuidanceDocument,
    IndexRecord,
    Member,
    PartyId,
    Submission,
    SummaryRecord,
)


def institution_party(number: str) -> PartyId:
    return PartyId(OID_INSTITUTION, number)


def insurer_party(number: str) -> PartyId:
    return PartyId(OID_INSURER, number)


def agency_party(number: str) -> PartyId:
    return PartyId(OID_AGENCY, number)


@dataclass
class SummaryTotals:
    """su08 totals summed one claim at a time (for archives written member by member)."""

    subjects: int = 0
    cost: int = 0
    payment: int = 0
    other: int = 0
    has_other: bool = False
    claim: int = 0

    def add(self, claim: Claim) -> None:
        settlement = claim.settlement
        self.subjects += 1
        self.cost += settlement.unit_amount
        self.payment += settlement.payment_amount
        self.claim += settlement.claim_amount
        if settlement.payment_by_other_program is not None:
            self.other += settlement.payment_by_other_program
            self.has_other = True

    def add_guidance(self, claim: GuidanceClaim) -> None:
        self.subjects += 1
        self.cost += claim.calculated_amount
        self.payment += claim.payment_amount
        self.claim += claim.claim_amount

    def record(self, *, service_event_type: str, namespace: Namespace = Namespace.MHLW_2024) -> SummaryRecord:
        return SummaryRecord(
            service_event_type=service_event_type,
            total_subject_count=self.subjects,
            total_cost_amount=self.cost,
            total_payment_amount=self.payment,
            total_payment_by_other_program=self.other if self.has_other else None,
            total_claim_amount=self.claim,
            namespace=namespace,
        )


def summary_for(
    claims: Sequence[Claim],
    guidance_claims: Sequence[GuidanceClaim] = (),
    *,
    service_event_type: str,
    namespace: Namespace = Namespace.MHLW_2024,
) -> SummaryRecord:
    """su08 totals as the sums over the claim files."""
    totals = SummaryTotals()
    for claim in claims:
        totals.add(claim)
    for guidance_claim in guidance_claims:
        totals.add_guidance(guidance_claim)
    return totals.record(service_event_type=service_event_type, namespace=namespace)


def build_submission(
    *,
    name: ArchiveName,
    interaction_type: str,
    sender: PartyId,
    receiver: PartyId | None,
    created_on: date | None = None,
    checkups: Sequence[Member[CheckupDocument]] = (),
    claims: Sequence[Member[Claim]] = (),
    guidance: Sequence[Member[GuidanceDocument]] = (),
    guidance_claims: Sequence[Member[GuidanceClaim]] = (),
    namespace: Namespace = Namespace.MHLW_2024,
) -> Submission:
    """A submission whose ix08 counts every DATA/CLAIMS file and whose su08 sums the claims."""
    files = len(checkups) + len(claims) + len(guidance) + len(guidance_claims)
    index = IndexRecord(
        interaction_type=interaction_type,
        created_on=created_on or name.submitted_on,
        sender=sender,
        receiver=receiver,
        service_event_type=name.service_event_type,
        total_record_count=files,
        namespace=namespace,
    )
    summary = None
    if claims or guidance_claims:
        summary = summary_for(
            [member.record for member in claims],
            [member.record for member in guidance_claims],
            service_event_type=name.service_event_type,
            namespace=namespace,
        )
    return Submission(
        name=name,
        index=index,
        summary=summary,
        checkups=tuple(checkups),
        claims=tuple(claims),
        guidance=tuple(guidance),
        guidance_claims=tuple(guidance_claims),
    )


def readdress(
    submission: Submission,
    *,
    interaction_type: str,
    sender: PartyId,
    receiver: PartyId,
    submitted_on: date,
    same_day_count: int = 0,
) -> Submission:
    """The same members in a new archive from ``sender`` to ``receiver`` (new ix08 and su08)."""
    name = ArchiveName(
        sender.extension,
        receiver.extension,
        submitted_on,
        same_day_count,
        submission.name.service_event_type,
    )
    return build_submission(
        name=name,
        interaction_type=interaction_type,
        sender=sender,
        receiver=receiver,
        checkups=submission.checkups,
        claims=submission.claims,
        guidance=submission.guidance,
        guidance_claims=submission.guidance_claims,
        namespace=submission.index.namespace,
    )


def route_by_insurer(
    submission: Submission, *, agency_number: str, submitted_on: date, same_day_count: int = 0
) -> dict[str, Submission]:
    """Split an institution's submission into one 種別 3 archive per insurer (振分)."""
    insurer_of: dict[str, str] = {}
    documents: tuple[Member[CheckupDocument] | Member[GuidanceDocument], ...] = (
        *submission.checkups,
        *submission.guidance,
    )
    for member in documents:
        insurer_of[member.stem] = member.record.header.subject.insurer_number
    claims: tuple[Member[Claim] | Member[GuidanceClaim], ...] = (*submission.claims, *submission.guidance_claims)
    for claim in claims:
        insurer_of.setdefault(claim.stem, claim.record.subject.insurer_number)
    routed: dict[str, Submission] = {}
    for insurer in sorted(set(insurer_of.values())):
        mine = {stem for stem, number in insurer_of.items() if number == insurer}
        part = replace(
            submission,
            checkups=tuple(m for m in submission.checkups if m.stem in mine),
            claims=tuple(m for m in submission.claims if m.stem in mine),
            guidance=tuple(m for m in submission.guidance if m.stem in mine),
            guidance_claims=tuple(m for m in submission.guidance_claims if m.stem in mine),
        )
        routed[insurer] = readdress(
            part,
            interaction_type="3",
            sender=agency_party(agency_number),
            receiver=insurer_party(insurer),
            submitted_on=submitted_on,
            same_day_count=same_day_count,
        )
    return routed


def return_to_institution(
    submission: Submission,
    results: Mapping[str, AdjudicationResult],
    *,
    agency_number: str,
    submitted_on: date,
    same_day_count: int = 0,
) -> Submission:
    """A 種別 2 archive returning the given records (checkups or guidance), each claim carrying its 返戻理由.

    ``results`` maps the stem shared by the h/c (g/p) pair (see `Member.stem`) to the result.
    """
    claims = tuple(
        replace(member, record=replace(member.record, agency_result=results[member.stem]))
        for member in submission.claims
        if member.stem in results
    )
    guidance_claims = tuple(
        replace(member, record=replace(member.record, agency_result=results[member.stem]))
        for member in submission.guidance_claims
        if member.stem in results
    )
    part = replace(
        submission,
        checkups=tuple(m for m in submission.checkups if m.stem in results),
        claims=claims,
        guidance=tuple(m for m in submission.guidance if m.stem in results),
        guidance_claims=guidance_claims,
    )
    return readdress(
        part,
        interaction_type="2",
        sender=agency_party(agency_number),
        receiver=institution_party(submission.index.sender.extension),
        submitted_on=submitted_on,
        same_day_count=same_day_count,
    )
