"""Read ix08, su08, cc08 and gc08 files, in either namespace generation."""

from __future__ import annotations

from lxml import etree

from kenshin.codes import Namespace
from kenshin.records import (
    AdjudicationResult,
    Charges,
    ChargeType,
    Claim,
    DetailPrice,
    DockCharge,
    GuidanceClaim,
    IndexRecord,
    OtherPrice,
    PartyId,
    Settlement,
    Subject,
    SummaryRecord,
)
from kenshin.xmlutil import Fields, text_content


def _party(f: Fields, parent: etree._Element, name: str) -> PartyId:
    identifier = f.element(parent, f"{name}/id")
    return PartyId(f.attr(identifier, "root"), f.attr(identifier, "extension"))


def read_index(root: etree._Element, file: str, namespace: Namespace) -> IndexRecord:
    f = Fields(file, namespace.value)
    record = IndexRecord(
        interaction_type=f.attr_at(root, "interactionType", "code"),
        created_on=f.date_at(root, "creationTime"),
        sender=_party(f, root, "sender"),
        receiver=_party(f, root, "receiver") if f.find(root, "receiver") is not None else None,
        service_event_type=f.attr_at(root, "serviceEventType", "code"),
        total_record_count=f.int_at(root, "totalRecordCount"),
        namespace=namespace,
    )
    f.raise_if_errors()
    return record


def read_summary(root: etree._Element, file: str, namespace: Namespace) -> SummaryRecord:
    f = Fields(file, namespace.value)
    record = SummaryRecord(
        service_event_type=f.attr_at(root, "serviceEventType", "code"),
        total_subject_count=f.int_at(root, "totalSubjectCount"),
        total_cost_amount=f.int_at(root, "totalCostAmount"),
        total_payment_amount=f.int_at(root, "totalPaymentAmount"),
        total_payment_by_other_program=f.opt_int_at(root, "totalPaymentByOtherProgram"),
        total_claim_amount=f.int_at(root, "totalClaimAmount"),
        namespace=namespace,
    )
    f.raise_if_errors()
    return record


def _subject(f: Fields, person: etree._Element) -> Subject:
    card = f.element(person, "insuranceCard")
    addr = f.element(person, "addr")
    return Subject(
        insurer_number=f.attr_at(card, "insurerNumber", "extension"),
        card_symbol=f.opt_attr(card, "symbol", "extension"),
        card_number=f.attr_at(card, "number", "extension"),
        card_branch=f.opt_attr(card, "branchCode", "extension"),
        name_kana=text_content(f.element(person, "name")),
        sex=f.attr_at(person, "administrativeGender", "code"),
        birth_date=f.date_at(person, "birthTime"),
        postal_code=(f.element(addr, "postalCode").text or "").strip(),
        address=f.tail_text(addr),
    )


def _charge(f: Fields, element: etree._Element | None) -> ChargeType | None:
    if element is None:
        return None
    return ChargeType(
        code=f.attr(element, "code"),
        amount=f.opt_int_at(element, "amount"),
        rate=f.opt_int_at(element, "rate"),
    )


def _adjudication(f: Fields, root: etree._Element, name: str) -> AdjudicationResult | None:
    element = f.find(root, name)
    if element is None:
        return None
    reason = f.element(element, "reason")
    text = f.find(reason, "text")
    return AdjudicationResult(
        interaction_type=f.attr_at(element, "interactionType", "code"),
        recorded_on=f.date_at(element, "recordDate"),
        reason_code=reason.get("code"),
        reason_text=text.text if text is not None else None,
    )


def _settlement(f: Fields, element: etree._Element) -> Settlement:
    return Settlement(
        claim_type=f.attr_at(element, "claimType", "code"),
        commission_type=f.attr_at(element, "commissionType", "code"),
        unit_price_basic=f.opt_int_at(element, "unitPriceBasic/amount"),
        unit_price_details=tuple(
            DetailPrice(f.attr_at(line, "observation", "code"), f.int_at(line, "amount"))
            for line in f.findall(element, "unitPriceDetail")
        ),
        unit_price_others=tuple(
            OtherPrice(f.int_at(line, "amount"), f.opt_attr(line, "observation", "code"))
            for line in f.findall(element, "unitPriceOther")
        ),
        payment_basic=f.opt_int_at(element, "paymentForBasic/amount"),
        payment_detail=f.opt_int_at(element, "paymentForDetail/amount"),
        payment_other=f.opt_int_at(element, "paymentForOther/amount"),
        unit_amount=f.int_at(element, "unitAmount"),
        payment_amount=f.int_at(element, "paymentAmount"),
        payment_by_other_program=f.opt_int_at(element, "paymentByOtherProgram"),
        claim_amount=f.int_at(element, "claimAmount"),
    )


def read_claim(root: etree._Element, file: str, namespace: Namespace) -> Claim:
    f = Fields(file, namespace.value)
    person = f.element(root, "subjectPerson")
    card = f.element(root, "checkupCard")
    dock_element = f.find(card, "chargeTypeHumanDryDock")
    dock = None
    if dock_element is not None:
        dock = DockCharge(
            copayment=_charge(f, f.find(dock_element, "copayment")),
            max_insurance_limit=f.opt_int_at(dock_element, "maxInsuranceLimit/amount"),
        )
    claim = Claim(
        institution_number=f.attr_at(person, "performerOrganization/id", "extension"),
        subject=_subject(f, person),
        ticket_number=f.opt_attr(card, "id", "extension"),
        ticket_expires_on=f.opt_date_at(card, "effectiveTime/high"),
        charges=Charges(
            basic=_charge(f, f.find(card, "chargeTypeBasic")),
            detail=_charge(f, f.find(card, "chargeTypeDetail")),
            other=_charge(f, f.find(card, "chargeTypeOther")),
            dock=dock,
        ),
        settlement=_settlement(f, f.element(root, "settlement")),
        service_event_type=f.attr_at(root, "encounter/serviceEventType", "code"),
        agency_result=_adjudication(f, root, "agencyAdjudicationResult"),
        insurer_result=_adjudication(f, root, "insurerAdjudicationResult"),
        namespace=namespace,
    )
    f.raise_if_errors()
    return claim


def read_guidance_claim(root: etree._Element, file: str, namespace: Namespace) -> GuidanceClaim:
    f = Fields(file, namespace.value)
    encounter = f.element(root, "encounter")
    person = f.element(root, "subjectPerson")
    card = f.element(root, "healthGuidanceCard")
    settlement = f.element(root, "settlement")
    claim = GuidanceClaim(
        service_event_type=f.attr_at(encounter, "serviceEventType", "code"),
        guidance_level=f.attr_at(encounter, "guidanceLevel", "code"),
        guidance_timing=f.attr_at(encounter, "guidanceTiming", "code"),
        institution_number=f.attr_at(person, "performerOrganization/id", "extension"),
        subject=_subject(f, person),
        guidance_ticket_number=f.opt_attr(card, "id", "extension"),
        checkup_ticket_number=f.opt_attr(card, "checkupCardId", "extension"),
        ticket_expires_on=f.opt_date_at(card, "effectiveTime/high"),
        copayment=_charge(f, f.find(card, "copayment")),
        max_insurance_limit=f.opt_int_at(card, "maxInsuranceLimit/amount"),
        unit_price=f.int_at(settlement, "unitPrice/amount"),
        payment_rate=f.int_at(settlement, "paymentRate"),
        points_completed=f.opt_int_at(settlement, "pointCountCompleted"),
        points_intended=f.opt_int_at(settlement, "pointCountIntended"),
        calculated_amount=f.int_at(settlement, "calculatedAmount"),
        payment_status=f.attr_at(settlement, "payment/status", "code"),
        payment_amount=f.int_at(settlement, "payment/amount"),
        claim_amount=f.int_at(settlement, "claimAmount"),
        agency_result=_adjudication(f, root, "agencyAdjudicationResult"),
        insurer_result=_adjudication(f, root, "insurerAdjudicationResult"),
        namespace=namespace,
    )
    f.raise_if_errors()
    return claim
