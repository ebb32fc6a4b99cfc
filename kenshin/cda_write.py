"""Serialise 特定健診情報 (hc08) and 特定保健指導情報 (hg08) CDA documents."""

from __future__ import annotations

from kenshin.codes import (
    CDA_TYPE_ID_EXTENSION,
    CDA_TYPE_ID_ROOT,
    HL7_NS,
    OID_CARD_BRANCH,
    OID_CARD_NUMBER,
    OID_CARD_SYMBOL,
    OID_CONFIDENTIALITY,
    OID_INPUT_RANGE_FLAG,
    OID_INSTITUTION,
    OID_INSURER,
    OID_PROGRAM,
    OID_REPORT_CATEGORY,
    OID_SECTION,
    OID_SEX,
    OID_TICKET_KIND,
    XSI_NS,
    ticket_root_in_document,
)
from kenshin.naming import yyyymmdd
from kenshin.records import (
    CheckupDocument,
    DocumentHeader,
    GuidanceDocument,
    Observation,
    Organization,
    Section,
    Ticket,
)
from kenshin.xmltext import attr_value, code_value, document, text, text_value

_RANGE_FLAG_NAMES = {"H": "以上", "L": "以下"}
_OPEN = '<observation classCode="OBS" moodCode="EVN">'
_OPEN_NEGATED = '<observation classCode="OBS" moodCode="EVN" negationInd="true">'


def _address(postal_code: str | None, address: str | None) -> str:
    tail = text_value(address) if address else ""
    postal = f"<postalCode>{text_value(postal_code)}</postalCode>" if postal_code is not None else ""
    return f"<addr>{postal}{tail}</addr>"


def _organization(organization: Organization) -> str:
    a = attr_value
    parts = [
        f'<representedOrganization><id extension="{a(organization.number)}" root="{OID_INSTITUTION}"/>',
        text("name", organization.name),
    ]
    if organization.telephone:
        parts.append(f'<telecom value="{a("tel:" + organization.telephone)}"/>')
    if organization.postal_code is not None or organization.address is not None:
        parts.append(_address(organization.postal_code, organization.address))
    parts.append("</representedOrganization>")
    return "".join(parts)


def _ticket(ticket: Ticket) -> str:
    a = attr_value
    expiry = f'<time><high value="{yyyymmdd(ticket.expires_on)}"/></time>' if ticket.expires_on is not None else ""
    root = ticket_root_in_document(ticket.base_oid, ticket.insurer_number)
    return (
        f'<participant typeCode="HLD"><functionCode code="{a(ticket.kind)}" codeSystem="{OID_TICKET_KIND}"/>'
        f'{expiry}<associatedEntity classCode="IDENT"><id extension="{a(ticket.number)}" root="{a(root)}"/>'
        f'<scopingOrganization><id extension="{a(ticket.insurer_number)}" root="{OID_INSURER}"/>'
        "</scopingOrganization></associatedEntity></participant>"
    )


def _header(out: list[str], header: DocumentHeader, schema_file: str) -> None:
    a = attr_value
    subject = header.subject
    created = yyyymmdd(header.created_on)
    out.append(
        f'<ClinicalDocument xmlns="{HL7_NS}" xmlns:xsi="{XSI_NS}" xsi:schemaLocation="{HL7_NS} ../XSD/{schema_file}">'
        f'<typeId root="{CDA_TYPE_ID_ROOT}" extension="{CDA_TYPE_ID_EXTENSION}"/><id nullFlavor="NI"/>'
        f'<code code="{a(header.report_category)}" codeSystem="{OID_REPORT_CATEGORY}"/>'
        f'<effectiveTime value="{created}"/><confidentialityCode code="N" codeSystem="{OID_CONFIDENTIALITY}"/>'
        f'<recordTarget><patientRole><id extension="{a(subject.insurer_number)}" root="{OID_INSURER}"/>'
    )
    if subject.card_symbol is not None:
        out.append(f'<id extension="{a(subject.card_symbol)}" root="{OID_CARD_SYMBOL}"/>')
    out.append(f'<id extension="{a(subject.card_number)}" root="{OID_CARD_NUMBER}"/>')
    if subject.card_branch is not None:
        out.append(f'<id extension="{a(subject.card_branch)}" root="{OID_CARD_BRANCH}"/>')
    out.append(
        f"{_address(subject.postal_code, subject.address)}<patient>{text('name', subject.name_kana)}"
        f'<administrativeGenderCode code="{a(subject.sex)}" codeSystem="{OID_SEX}"/>'
        f'<birthTime value="{yyyymmdd(subject.birth_date)}"/></patient></patientRole></recordTarget>'
        f'<author><time value="{created}"/><assignedAuthor><id nullFlavor="NI"/>'
        f"{_organization(header.author)}</assignedAuthor></author>"
        '<custodian><assignedCustodian><representedCustodianOrganization><id nullFlavor="NI"/>'
        "</representedCustodianOrganization></assignedCustodian></custodian>"
    )
    out.extend([_ticket(ticket) for ticket in header.tickets])
    out.append("<documentationOf><serviceEvent>")
    if header.program_code is not None:
        out.append(f'<code code="{a(header.program_code)}" codeSystem="{OID_PROGRAM}"/>')
    if header.service_date is not None:
        out.append(f'<effectiveTime value="{yyyymmdd(header.service_date)}"/>')
    if header.performer is not None:
        out.append(
            '<performer typeCode="PRF"><assignedEntity><id nullFlavor="NI"/>'
            f"{_organization(header.performer)}</assignedEntity></performer>"
        )
    out.append("</serviceEvent></documentationOf>")


def _value(observation: Observation) -> str:
    xml_type = observation.xml_type
    if xml_type is None:
        return ""
    a = code_value
    flavor = f' nullFlavor="{a(observation.null_flavor)}"' if observation.null_flavor is not None else ""
    if xml_type == "ST":
        body = text_value(observation.value) if observation.value else ""
        return f'<value xsi:type="ST"{flavor}>{body}</value>' if body else f'<value xsi:type="ST"{flavor}/>'
    if xml_type in ("PQ", "INT", "TS"):
        first, second = ("value", observation.value), ("unit", observation.unit)
    else:
        first, second = ("code", observation.answer_code), ("codeSystem", observation.answer_oid)
    one = f' {first[0]}="{a(first[1])}"' if first[1] is not None else ""
    two = f' {second[0]}="{a(second[1])}"' if second[1] is not None else ""
    return f'<value xsi:type="{a(xml_type)}"{flavor}{one}{two}/>'


_RENDERED: dict[int, tuple[Observation, str]] = {}
_RENDERED_LIMIT = 8192


def _observation(observation: Observation) -> str:
    """One observation as text.

    Records built in bulk share identical observation objects (the same answer code, the same
    blood pressure), so the text of a coded or measured leaf observation is remembered by
    identity; free text and names never are. The cache holds the object itself, so its id
    cannot be reused while the entry lives.
    """
    if observation.relationships or observation.xml_type == "ST" or observation.author_name is not None:
        return _render(observation)
    hit = _RENDERED.get(id(observation))
    if hit is not None and hit[0] is observation:
        return hit[1]
    rendered = _render(observation)
    if len(_RENDERED) >= _RENDERED_LIMIT:
        _RENDERED.clear()
    _RENDERED[id(observation)] = (observation, rendered)
    return rendered


def _render(observation: Observation) -> str:
    a = code_value
    code = f' code="{a(observation.code)}"' if observation.code is not None else ""
    if observation.code_null_flavor is not None:
        code += f' nullFlavor="{a(observation.code_null_flavor)}"'
    if observation.display_name is not None:
        code += f' displayName="{a(observation.display_name)}"'
    parts = [_OPEN_NEGATED if observation.negation else _OPEN, f"<code{code}/>", _value(observation)]
    flag = observation.input_range_flag
    if flag is not None:
        name = _RANGE_FLAG_NAMES.get(flag, "")
        parts.append(
            f'<value xsi:type="CD" code="{a(flag)}" codeSystem="{OID_INPUT_RANGE_FLAG}" displayName="{name}"/>'
        )
    if observation.interpretation is not None:
        parts.append(f'<interpretationCode code="{a(observation.interpretation)}"/>')
    if observation.method_code is not None:
        parts.append(f'<methodCode code="{a(observation.method_code)}"/>')
    if observation.author_name is not None:
        parts.append(
            '<author><time nullFlavor="NI"/><assignedAuthor><id nullFlavor="NI"/><assignedPerson>'
            f"{text('name', observation.author_name)}</assignedPerson></assignedAuthor></author>"
        )
    for relationship in observation.relationships:
        parts.append(
            f'<entryRelationship typeCode="{a(relationship.type_code)}">'
            f"{_observation(relationship.observation)}</entryRelationship>"
        )
    low, high = observation.reference_low, observation.reference_high
    if low is not None or high is not None:
        unit = f' unit="{a(observation.unit)}"' if observation.unit is not None else ""
        bounds = f'<low value="{a(low)}"{unit}/>' if low is not None else ""
        bounds += f'<high value="{a(high)}"{unit}/>' if high is not None else ""
        parts.append(
            f'<referenceRange><observationRange><value xsi:type="IVL_PQ">{bounds}</value></observationRange></referenceRange>'
        )
    parts.append("</observation>")
    return "".join(parts)


def _body(out: list[str], sections: tuple[Section, ...]) -> None:
    out.append("<component><structuredBody>")
    for section in sections:
        out.append(f'<component><section><code code="{code_value(section.code)}" codeSystem="{OID_SECTION}"/>')
        if section.title is not None:
            out.append(text("title", section.title))
        out.extend([f"<entry>{_observation(observation)}</entry>" for observation in section.observations])
        out.append("</section></component>")
    out.append("</structuredBody></component></ClinicalDocument>")


def checkup_xml(checkup: CheckupDocument) -> bytes:
    out: list[str] = []
    _header(out, checkup.header, "hc08_V08.xsd")
    _body(out, checkup.sections)
    return document(out)


def guidance_xml(guidance: GuidanceDocument) -> bytes:
    if not guidance.sections:
        raise ValueError("a guidance document needs at least one section")
    out: list[str] = []
    _header(out, guidance.header, "hg08_V08.xsd")
    _body(out, guidance.sections)
    return document(out)
