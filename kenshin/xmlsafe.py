"""Hardened XML parsing: UTF-8 only, no DOCTYPE, no entities, no network.

Documents carrying a DOCTYPE are refused before any parser sees them, so neither external
entities (XXE) nor entity expansion (billion laughs) can come into play. The lxml parser is
configured to refuse them anyway, as a second line.
"""

from __future__ import annotations

import re
import threading

from lxml import etree

from kenshin import findings as F
from kenshin.findings import Finding

_BOMS_OTHER = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")
_UTF8_BOM = b"\xef\xbb\xbf"
_DECLARED_ENCODING = re.compile(rb"^<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_EXTERNAL = re.compile(rb"<!ENTITY[^>]*\b(SYSTEM|PUBLIC)\b", re.IGNORECASE | re.DOTALL)


_local = threading.local()


def _new_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


def _parser() -> etree.XMLParser:
    """The hardened parser, built once per thread (lxml parsers are not shared across threads)."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _new_parser()
    return parser


def check_prolog(data: bytes, file: str) -> Finding | None:
    """Encoding and DOCTYPE checks on the raw bytes, before parsing."""
    if data.startswith(_BOMS_OTHER) or b"\x00" in data[:4]:
        return F.XML_ENCODING.at(file=file, detail="UTF-16/32")
    body = data[3:] if data.startswith(_UTF8_BOM) else data
    declared = _DECLARED_ENCODING.match(body)
    if declared is not None and declared[1].lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        return F.XML_ENCODING.at(file=file, detail=declared[1].decode("ascii"))
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return F.XML_ENCODING.at(file=file, detail=f"byte {exc.start}")
    if b"<!" in body and _DOCTYPE.search(body):
        if _EXTERNAL.search(body):
            return F.XML_EXTERNAL_ENTITY.at(file=file)
        if _ENTITY.search(body):
            return F.XML_ENTITY_DECLARED.at(file=file)
        return F.XML_DOCTYPE.at(file=file)
    return None


def parse_xml(data: bytes, file: str) -> tuple[etree._Element | None, Finding | None]:
    """Parse one member; return the root element, or None and the finding that stopped it."""
    refused = check_prolog(data, file)
    if refused is not None:
        return None, refused
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else "?"
        return None, F.XML_MALFORMED.at(file=file, detail=f"{line}行目: {exc.msg}")
    except ValueError as exc:
        return None, F.XML_MALFORMED.at(file=file, detail=str(exc))
    # lxml's DocInfo has doctype (the DOCTYPE declaration, "" when absent); lxml-stubs leave it out.
    if root.getroottree().docinfo.doctype:  # type: ignore[union-attr]
        return None, F.XML_DOCTYPE.at(file=file)
    return root, None
