"""Serialise ix08, su08, cc08 and gc08 files (the exchange namespace of the record)."""

from __future__ import annotations

from kenshin.codes import (
    OID_CARD_BRANCH,
    OID_CARD_NUMBER,
    OID_CARD_SYMBOL,
    OID_CHECKUP_ITEM,
    OID_CHECKUP_TICKET,
    OID_GUIDANCE_TICKET,
    OID_INSTITUTION,
    OID_INSURER,
    XSI_NS,
    Namespace,
)
from kenshin.naming import yyyymmdd
from kenshin.records import (
    AdjudicationResult,
    ChargeType,
    Claim,
    GuidanceClaim,
    IndexRecord,
    Subject,
    SummaryRecord,
)
from kenshin.xmltext import document, empty, start, text, text_value


def six_digits(value: int) -> str:
    """The fixed six-digit form of 窓口負担金額 and 負担率 (``002400``)."""
    if not 0 <= value <= 999_999:
        raise ValueError(f"{value} does not fit the six-digit amount/rate field")
    return f"{value:06d}"


def _total(value: int) -> str:
    if not 0 <= value <= 999_999_999:
        raise ValueError(f"{value} does not fit a nine-digit total")
    return str(value)


def _root(out: list[str], tag: str, namespace: Namespace, schema_location: str) -> None:
    ns = namespace.value
    out.append(f'<{tag} xmlns="{ns}" xmlns:xsi="{XSI_NS}" xsi:schemaLocation="{ns} {schema_location}">')


def _amount(out: list[str], tag: str, value: int) -> None:
    out.append(f'<{tag} value="{_total(value)}" currency="JPY"/>')


def _charge(out: list[str], tag: str, charge: ChargeType) -> None:
    out.append(start(tag, ("code", charge.code)))
    if charge.amount is not None:
        out.append(f'<amount value="{six_digits(charge.amount)}"/>')
    elif charge.rate is not None:
        out.append(f'<rate value="{six_digits(charge.rate)}" unit="%"/>')
    out.append(f"</{tag}>")


def _subject(out: list[str], institution: str, subject: Subject, *, address_line: bool) -> None:
    out.append("<subjectPerson><performerOrganization>")
    out.append(empty("id", ("root", OID_INSTITUTION), ("extension", institution)))
    out.append("</performerOrganization><insuranceCard>")
    out.append(empty("insurerNumber", ("root", OID_INSURER), ("extension", subject.insurer_number)))
    if subject.card_symbol is not None:
        out.append(empty("symbol", ("root", OID_CARD_SYMBOL), ("extension", subject.card_symbol)))
    out.append(empty("number", ("root", OID_CARD_NUMBER), ("extension", subject.card_number)))
    if subject.card_branch is not None:
        out.append(empty("branchCode", ("root", OID_CARD_BRANCH), ("extension", subject.card_branch)))
    out.append("</insuranceCard>")
    out.append(text("name", subject.name_kana))
    tail = text_value(subject.address) if address_line and subject.address else ""
    out.append(f"<addr><postalCode>{text_value(subject.postal_code)}</postalCode>{tail}</addr>")
    out.append(f'<birthTime value="{yyyymmdd(subject.birth_date)}"/>')
    out.append(empty("administrativeGender", ("code", subject.sex)))
    out.append("</subjectPerson>")


def _adjudication(out: list[str], tag: str, result: AdjudicationResult | None) -> None:
    if result is None:
        return
    out.append(f"<{tag}>")
    out.append(empty("interactionType", ("code", result.interaction_type)))
    out.append(f'<recordDate value="{yyyymmdd(result.recorded_on)}"/>')
    if result.reason_text is None:
        out.append(empty("reason", ("code", result.reason_code)))
    else:
        out.append(start("reason", ("code", result.reason_code)))
        out.append(f"<text>{text_value(result.reason_text)}</text></reason>")
    out.append(f"</{tag}>")


def _max_insurance_limit(out: list[str], amount: int | None) -> None:
    if amount is not None:
        out.append(f'<maxInsuranceLimit code="4"><amount value="{six_digits(amount)}"/></maxInsuranceLimit>')


def index_xml(record: IndexRecord) -> bytes:
    out: list[str] = []
    _root(out, "index", record.namespace, "./XSD/ix08_V08.xsd")
    out.append(empty("interactionType", ("code", record.interaction_type)))
    out.append(f'<creationTime value="{yyyymmdd(record.created_on)}"/>')
    out.append("<sender>" + empty("id", ("root", record.sender.root), ("extension", record.sender.extension)))
    out.append("</sender>")
    if record.receiver is not None:
        receiver = record.receiver
        out.append("<receiver>" + empty("id", ("root", receiver.root), ("extension", receiver.extension)))
        out.append("</receiver>")
    out.append(empty("serviceEventType", ("code", record.service_event_type)))
    out.append(f'<totalRecordCount value="{record.total_record_count}"/>')
    out.append("</index>")
    return document(out)


def summary_xml(record: SummaryRecord) -> bytes:
    out: list[str] = []
    _root(out, "summary", record.namespace, "./XSD/su08_V08.xsd")
    out.append(empty("serviceEventType", ("code", record.service_event_type)))
    out.append(f'<totalSubjectCount value="{record.total_subject_count}"/>')
    _amount(out, "totalCostAmount", record.total_cost_amount)
    _amount(out, "totalPaymentAmount", record.total_payment_amount)
    if record.total_payment_by_other_program is not None:
        _amount(out, "totalPaymentByOtherProgram", record.total_payment_by_other_program)
    _amount(out, "totalClaimAmount", record.total_claim_amount)
    out.append("</summary>")
    return document(out)


def claim_xml(claim: Claim) -> bytes:
    out: list[str] = []
    _root(out, "checkupClaim", claim.namespace, "../XSD/cc08_V08.xsd")
    out.append("<encounter>" + empty("serviceEventType", ("code", claim.service_event_type)) + "</encounter>")
    _subject(out, claim.institution_number, claim.subject, address_line=True)

    out.append("<checkupCard>")
    if claim.ticket_number is not None:
        out.append(empty("id", ("root", OID_CHECKUP_TICKET), ("extension", claim.ticket_number)))
    if claim.ticket_expires_on is not None:
        out.append(f'<effectiveTime><high value="{yyyymmdd(claim.ticket_expires_on)}"/></effectiveTime>')
    charges = claim.charges
    for tag, charge in (
        ("chargeTypeBasic", charges.basic),
        ("chargeTypeDetail", charges.detail),
        ("chargeTypeOther", charges.other),
    ):
        if charge is not None:
            _charge(out, tag, charge)
    if charges.dock is not None:
        out.append("<chargeTypeHumanDryDock>")
        if charges.dock.copayment is not None:
            _charge(out, "copayment", charges.dock.copayment)
        _max_insurance_limit(out, charges.dock.max_insurance_limit)
        out.append("</chargeTypeHumanDryDock>")
    out.append("</checkupCard>")

    s = claim.settlement
    out.append("<settlement>")
    out.append(empty("claimType", ("code", s.claim_type)))
    out.append(empty("commissionType", ("code", s.commission_type)))
    if s.unit_price_basic is not None:
        out.append(f'<unitPriceBasic><amount value="{_total(s.unit_price_basic)}" currency="JPY"/></unitPriceBasic>')
    for detail in s.unit_price_details:
        out.append(f'<unitPriceDetail><amount value="{_total(detail.amount)}" currency="JPY"/>')
        out.append(empty("observation", ("code", detail.code)) + "</unitPriceDetail>")
    for other in s.unit_price_others:
        out.append(f'<unitPriceOther><amount value="{_total(other.amount)}" currency="JPY"/>')
        if other.item_code is not None:
            out.append(empty("observation", ("code", other.item_code), ("codeSystem", OID_CHECKUP_ITEM)))
        out.append("</unitPriceOther>")
    for tag, amount in (
        ("paymentForBasic", s.payment_basic),
        ("paymentForDetail", s.payment_detail),
        ("paymentForOther", s.payment_other),
    ):
        if amount is not None:
            out.append(f'<{tag}><amount value="{six_digits(amount)}"/></{tag}>')
    _amount(out, "unitAmount", s.unit_amount)
    _amount(out, "paymentAmount", s.payment_amount)
    if s.payment_by_other_program is not None:
        _amount(out, "paymentByOtherProgram", s.payment_by_other_program)
    _amount(out, "claimAmount", s.claim_amount)
    out.append("</settlement>")
    _adjudication(out, "agencyAdjudicationResult", claim.agency_result)
    _adjudication(out, "insurerAdjudicationResult", claim.insurer_result)
    out.append("</checkupClaim>")
    return document(out)


def guidance_claim_xml(claim: GuidanceClaim) -> bytes:
    out: list[str] = []
    _root(out, "healthGuidanceClaim", claim.namespace, "../XSD/gc08_V08.xsd")
    out.append("<encounter>")
    out.append(empty("serviceEventType", ("code", claim.service_event_type)))
    out.append(empty("guidanceLevel", ("code", claim.guidance_level)))
    out.append(empty("guidanceTiming", ("code", claim.guidance_timing)))
    out.append("</encounter>")
    _subject(out, claim.institution_number, claim.subject, address_line=False)
    out.append("<healthGuidanceCard>")
    if claim.guidance_ticket_number is not None:
        out.append(empty("id", ("root", OID_GUIDANCE_TICKET), ("extension", claim.guidance_ticket_number)))
    if claim.checkup_ticket_number is not None:
        out.append(empty("checkupCardId", ("root", OID_CHECKUP_TICKET), ("extension", claim.checkup_ticket_number)))
    if claim.ticket_expires_on is not None:
        out.append(f'<effectiveTime><high value="{yyyymmdd(claim.ticket_expires_on)}"/></effectiveTime>')
    if claim.copayment is not None:
        _charge(out, "copayment", claim.copayment)
    _max_insurance_limit(out, claim.max_insurance_limit)
    out.append("</healthGuidanceCard><settlement>")
    out.append(f'<unitPrice><amount value="{_total(claim.unit_price)}" currency="JPY"/></unitPrice>')
    out.append(f'<paymentRate value="{claim.payment_rate}" unit="%"/>')
    if claim.points_completed is not None:
        out.append(f'<pointCountCompleted value="{claim.points_completed}"/>')
    if claim.points_intended is not None:
        out.append(f'<pointCountIntended value="{claim.points_intended}"/>')
    _amount(out, "calculatedAmount", claim.calculated_amount)
    out.append("<payment>" + empty("status", ("code", claim.payment_status)))
    _amount(out, "amount", claim.payment_amount)
    out.append("</payment>")
    _amount(out, "claimAmount", claim.claim_amount)
    out.append("</settlement>")
    _adjudication(out, "agencyAdjudicationResult", claim.agency_result)
    _adjudication(out, "insurerAdjudicationResult", claim.insurer_result)
    out.append("</healthGuidanceClaim>")
    return document(out)
