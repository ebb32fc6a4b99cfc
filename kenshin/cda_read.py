"""Read 特定健診情報 (hc08) and 特定保健指導情報 (hg08) CDA documents."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import cast

from lxml import etree

from kenshin.codes import (
    HL7_NS,
    OID_CARD_BRANCH,
    OID_CARD_NUMBER,
    OID_CARD_SYMBOL,
    OID_CHECKUP_TICKET,
    OID_GUIDANCE_TICKET,
    OID_INPUT_RANGE_FLAG,
    OID_INSTITUTION,
    OID_INSURER,
    XSI_NS,
)
from kenshin.records import (
    CheckupDocument,
    DocumentHeader,
    GuidanceDocument,
    Observation,
    Organization,
    Relationship,
    Section,
    Subject,
    Ticket,
)
from kenshin.xmlutil import Fields, text_content

_XSI_TYPE = f"{{{XSI_NS}}}type"
_TEL_PREFIX = "tel:"


def _q(name: str) -> str:
    return f"{{{HL7_NS}}}{name}"


_CODE, _VALUE, _NAME = _q("code"), _q("value"), _q("name")
_INTERPRETATION, _METHOD, _AUTHOR = _q("interpretationCode"), _q("methodCode"), _q("author")
_ASSIGNED_AUTHOR, _ASSIGNED_PERSON = _q("assignedAuthor"), _q("assignedPerson")
_ENTRY_RELATIONSHIP, _OBSERVATION = _q("entryRelationship"), _q("observation")
_REFERENCE_RANGE, _OBSERVATION_RANGE, _LOW, _HIGH = _q("referenceRange"), _q("observationRange"), _q("low"), _q("high")


def _address(f: Fields, parent: etree._Element) -> tuple[str | None, str | None]:
    addr = f.find(parent, "addr")
    if addr is None:
        return None, None
    postal = f.find(addr, "postalCode")
    return (
        (postal.text or "").strip() if postal is not None else None,
        f.tail_text(addr) or None,
    )


def _organization(f: Fields, element: etree._Element) -> Organization:
    number = None
    for identifier in f.findall(element, "id"):
        if identifier.get("root") == OID_INSTITUTION:
            number = identifier.get("extension")
    if not number:
        f.note_missing(element, f"id[@root='{OID_INSTITUTION}']/@extension")
        number = ""
    name = f.find(element, "name")
    telecom = f.opt_attr(element, "telecom", "value")
    if telecom is not None and telecom.startswith(_TEL_PREFIX):
        telecom = telecom[len(_TEL_PREFIX) :]
    postal_code, address = _address(f, element)
    return Organization(
        number=number,
        name=text_content(name) if name is not None else "",
        telephone=telecom or None,
        postal_code=postal_code,
        address=address,
    )


def _subject(f: Fields, root: etree._Element) -> Subject:
    role = f.element(root, "recordTarget/patientRole")
    ids: dict[str, str] = {}
    for identifier in f.findall(role, "id"):
        root_oid, extension = identifier.get("root"), identifier.get("extension")
        if root_oid and extension is not None:
            ids.setdefault(root_oid, extension)
    for required in (OID_INSURER, OID_CARD_NUMBER):
        if required not in ids:
            f.note_missing(role, f"id[@root='{required}']")
    postal_code, address = _address(f, role)
    if postal_code is None:
        f.note_missing(role, "addr/postalCode")
    patient = f.element(role, "patient")
    return Subject(
        insurer_number=ids.get(OID_INSURER, ""),
        card_symbol=ids.get(OID_CARD_SYMBOL),
        card_number=ids.get(OID_CARD_NUMBER, ""),
        card_branch=ids.get(OID_CARD_BRANCH),
        name_kana=f.text(patient, "name"),
        sex=f.attr_at(patient, "administrativeGenderCode", "code"),
        birth_date=f.date_at(patient, "birthTime"),
        postal_code=postal_code or "",
        address=address or "",
    )


def _ticket(f: Fields, participant: etree._Element) -> Ticket:
    entity = f.element(participant, "associatedEntity")
    identifier = f.element(entity, "id")
    number = f.attr(identifier, "extension")
    root_oid = f.attr(identifier, "root")
    base = OID_GUIDANCE_TICKET if root_oid.startswith(OID_GUIDANCE_TICKET + ".") else OID_CHECKUP_TICKET
    insurer = f.opt_attr(entity, "scopingOrganization/id", "extension")
    if insurer is None:
        prefix = f"{base}.1"
        if root_oid.startswith(prefix):
            insurer = root_oid[len(prefix) :]
        else:
            f.note_invalid(identifier, "@root", root_oid)
            insurer = ""
    return Ticket(
        number=number,
        expires_on=f.opt_date_at(participant, "time/high"),
        insurer_number=insurer,
        kind=f.opt_attr(participant, "functionCode", "code") or "1",
        base_oid=base,
    )


def read_header(f: Fields, root: etree._Element) -> DocumentHeader:
    tickets = tuple(
        _ticket(f, participant)
        for participant in f.findall(root, "participant")
        if participant.get("typeCode") == "HLD"
    )
    event = f.find(root, "documentationOf/serviceEvent")
    program_code = service_date = performer = None
    if event is not None:
        program_code = f.opt_attr(event, "code", "code")
        service_date = f.opt_date_at(event, "effectiveTime") or f.opt_date_at(event, "effectiveTime/low")
        organization = f.find(event, "performer/assignedEntity/representedOrganization")
        if organization is not None:
            performer = _organization(f, organization)
    return DocumentHeader(
        report_category=f.attr_at(root, "code", "code"),
        created_on=f.date_at(root, "effectiveTime"),
        subject=_subject(f, root),
        author=_organization(f, f.element(root, "author/assignedAuthor/representedOrganization")),
        tickets=tickets,
        program_code=program_code,
        service_date=service_date,
        performer=performer,
    )


def _xsi_type(value: etree._Element) -> str | None:
    declared = value.get(_XSI_TYPE)
    return declared.rsplit(":", 1)[-1] if declared else None


def _child(element: etree._Element | None, tag: str) -> etree._Element | None:
    """The first child with a tag (a plain loop: cheaper than ``iterchildren(tag)`` on small nodes)."""
    if element is not None:
        for child in element:
            if child.tag == tag:
                return child
    return None


def _first_text(element: etree._Element, *steps: str) -> str | None:
    """Text of the first descendant along a path of child tags."""
    node: etree._Element | None = element
    for step in steps:
        node = _child(node, step)
    return node.text if node is not None else None


_local = threading.local()


def _paths() -> _Paths:
    """The compiled XPaths of this module, built once per thread."""
    paths = getattr(_local, "paths", None)
    if paths is None:
        paths = _local.paths = _Paths()
    return paths


_ElementPath = Callable[[etree._Element], list[etree._Element]]


def _element_path(path: str) -> _ElementPath:
    """A compiled XPath of child elements: its result is always a list of elements (lxml-stubs type
    every XPath result as any XPath value: number, string, boolean or node list)."""
    return cast(_ElementPath, etree.XPath(path, namespaces={"h": HL7_NS}))


class _Paths:
    """Child steps evaluated in C: one call per section instead of one per entry."""

    def __init__(self) -> None:
        self.sections = _element_path("h:component/h:section")
        self.entries = _element_path("h:entry/h:observation")
        self.members = _element_path("h:observation")


def read_observation(element: etree._Element, paths: _Paths | None = None) -> Observation:
    """One observation and its group members, in a single pass over its children."""
    paths = paths or _paths()
    code = primary = interpretation = method = author_name = low = high = range_flag = None
    relationships: list[Relationship] = []
    for child in element:
        tag = child.tag
        if tag == _CODE:
            code = child
        elif tag == _VALUE:
            if child.get("codeSystem") == OID_INPUT_RANGE_FLAG and _xsi_type(child) == "CD":
                range_flag = child.get("code")
            elif primary is None:
                primary = child
        elif tag == _INTERPRETATION:
            interpretation = interpretation if interpretation is not None else child.get("code")
        elif tag == _METHOD:
            method = method if method is not None else child.get("code")
        elif tag == _AUTHOR:
            author_name = _first_text(child, _ASSIGNED_AUTHOR, _ASSIGNED_PERSON, _NAME)
        elif tag == _ENTRY_RELATIONSHIP:
            type_code = child.get("typeCode") or ""
            relationships += [
                Relationship(type_code, read_observation(member, paths)) for member in paths.members(child)
            ]
        elif tag == _REFERENCE_RANGE and low is None and high is None:
            low, high = _reference_bounds(child)
    xml_type = text_value = unit = answer_code = answer_oid = null_flavor = None
    if primary is not None:
        xml_type = _xsi_type(primary)
        null_flavor = primary.get("nullFlavor")
        if xml_type == "ST":
            text_value = primary.text
        elif xml_type in ("CD", "CO"):
            answer_code, answer_oid = primary.get("code"), primary.get("codeSystem")
        else:
            text_value, unit = primary.get("value"), primary.get("unit")
    return Observation.from_fields({
        "code": code.get("code") if code is not None else None,
        "xml_type": xml_type,
        "value": text_value,
        "unit": unit,
        "answer_code": answer_code,
        "answer_oid": answer_oid,
        "null_flavor": null_flavor,
        "negation": element.get("negationInd") == "true",
        "interpretation": interpretation,
        "method_code": method,
        "display_name": code.get("displayName") if code is not None else None,
        "code_null_flavor": code.get("nullFlavor") if code is not None else None,
        "input_range_flag": range_flag,
        "reference_low": low,
        "reference_high": high,
        "author_name": author_name,
        "relationships": tuple(relationships),
    })


def _reference_bounds(reference: etree._Element) -> tuple[str | None, str | None]:
    value = _child(_child(reference, _OBSERVATION_RANGE), _VALUE)
    if value is None:
        return None, None
    low, high = _child(value, _LOW), _child(value, _HIGH)
    return (low.get("value") if low is not None else None), (high.get("value") if high is not None else None)


def _sections(f: Fields, root: etree._Element) -> list[etree._Element]:
    return _paths().sections(f.element(root, "component/structuredBody"))


def _read_sections(f: Fields, root: etree._Element) -> tuple[Section, ...]:
    sections = []
    paths = _paths()
    for section in _sections(f, root):
        title = f.find(section, "title")
        sections.append(
            Section(
                code=f.attr_at(section, "code", "code"),
                title=title.text if title is not None else None,
                observations=tuple(read_observation(observation, paths) for observation in paths.entries(section)),
            )
        )
    return tuple(sections)


def read_checkup(root: etree._Element, file: str) -> CheckupDocument:
    f = Fields(file, HL7_NS)
    header = read_header(f, root)
    sections = _read_sections(f, root)
    f.raise_if_errors()
    return CheckupDocument(header=header, sections=sections)


def read_guidance(root: etree._Element, file: str) -> GuidanceDocument:
    f = Fields(file, HL7_NS)
    header = read_header(f, root)
    document = GuidanceDocument(header=header, sections=_read_sections(f, root))
    f.raise_if_errors()
    return document
