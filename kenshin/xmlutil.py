"""Small helpers shared by the XML readers: navigation, XPath for findings, field extraction."""

from __future__ import annotations

from datetime import date
from typing import Any

from lxml import etree

from kenshin import findings as F
from kenshin.findings import Finding
from kenshin.naming import parse_yyyymmdd


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname


def text_content(element: etree._Element) -> str:
    """The text of an element and its descendants, stripped."""
    # An element parsed from bytes yields str text; lxml-stubs declare itertext() as yielding str or bytes.
    return "".join(element.itertext()).strip()  # type: ignore[arg-type]


def xpath_of(element: etree._Element) -> str:
    """A readable XPath with local names and positions where siblings share a name."""
    steps: list[str] = []
    node: etree._Element | None = element
    while node is not None:
        parent = node.getparent()
        name = local_name(node)
        if parent is not None:
            same = [sibling for sibling in parent if sibling.tag == node.tag]
            if len(same) > 1:
                name = f"{name}[{same.index(node) + 1}]"
        steps.append(name)
        node = parent
    return "/" + "/".join(reversed(steps))


MAX_FIELD_ERRORS = 20
"""Field errors reported per file; past this many, one more finding counts the rest."""
PLACEHOLDER_DATE = date(1, 1, 1)


class FieldError(Exception):
    """Required fields are missing or malformed: the record cannot be built. ``findings`` holds
    every such field of the file (at most MAX_FIELD_ERRORS, then one finding counting the rest)."""

    def __init__(self, findings: Finding | list[Finding]) -> None:
        self.findings = [findings] if isinstance(findings, Finding) else list(findings)
        super().__init__("; ".join(finding.message for finding in self.findings))

    @property
    def finding(self) -> Finding:
        return self.findings[0]


_TAG_CACHE: dict[str, dict[str, tuple[str, ...]]] = {}


class Fields:
    """Field extraction inside one namespace.

    A missing or malformed required field is noted as a coded finding and a placeholder stands in
    for it (an empty element, "", 0, `PLACEHOLDER_DATE`), so that reading goes on and every
    defect of the file is reported at once; nothing is reported again beneath a missing element.
    The reader calls `raise_if_errors` once the record is built: a record with placeholders is
    never kept.
    """

    def __init__(self, file: str, namespace: str) -> None:
        self.file = file
        self.ns = namespace
        self.errors: list[Finding] = []
        self._cache = _TAG_CACHE.setdefault(namespace, {})
        self._children: dict[etree._Element, dict[Any, etree._Element]] = {}
        self._placeholders: set[etree._Element] = set()

    def q(self, name: str) -> str:
        return f"{{{self.ns}}}{name}"

    def _tags(self, steps: str) -> tuple[str, ...]:
        tags = self._cache.get(steps)
        if tags is None:
            tags = self._cache[steps] = tuple(self.q(step) for step in steps.split("/"))
        return tags

    def _first_children(self, node: etree._Element) -> dict[Any, etree._Element]:
        """The first child of each tag, indexed once per element of this file (its proxy is kept
        alive by the index, so the same node maps to the same key)."""
        index = self._children.get(node)
        if index is None:
            index = self._children[node] = {}
            for child in node:
                index.setdefault(child.tag, child)
        return index

    def find(self, parent: etree._Element, steps: str) -> etree._Element | None:
        """The first element along a path of child names (no XPath)."""
        tags = self._cache.get(steps) or self._tags(steps)
        node: etree._Element | None = parent
        for tag in tags:
            if node is None:
                return None
            node = self._first_children(node).get(tag)
        return node

    def findall(self, parent: etree._Element, steps: str) -> list[etree._Element]:
        tags = self._cache.get(steps) or self._tags(steps)
        if len(tags) == 1:
            return list(parent.iterchildren(tags[0]))
        nodes = [parent]
        for tag in tags:
            nodes = [child for node in nodes for child in node.iterchildren(tag)]
        return nodes

    # --- defects ------------------------------------------------------------------------------------

    def note_missing(self, parent: etree._Element, what: str) -> None:
        """A required element or attribute is absent."""
        if parent not in self._placeholders:
            self.errors.append(F.XML_FIELD_MISSING.at(file=self.file, xpath=f"{xpath_of(parent)}/{what}"))

    def note_invalid(self, element: etree._Element, what: str, value: str | None) -> None:
        """A value does not have the form the format requires."""
        if element not in self._placeholders:
            self.errors.append(
                F.XML_FIELD_INVALID.at(file=self.file, xpath=f"{xpath_of(element)}/{what}", detail=repr(value))
            )

    def raise_if_errors(self) -> None:
        """Raise `FieldError` with every defect noted so far (capped, with a count of the rest)."""
        if not self.errors:
            return
        shown = self.errors[:MAX_FIELD_ERRORS]
        rest = len(self.errors) - len(shown)
        if rest > 0:
            shown.append(
                F.XML_FIELD_INVALID.at(file=self.file, detail=f"ほかに{rest}件の項目エラーがあります（先頭{MAX_FIELD_ERRORS}件を表示）")
            )
        raise FieldError(shown)

    def _placeholder(self, steps: str) -> etree._Element:
        element = etree.Element(self.q(steps.rsplit("/", 1)[-1]))
        self._placeholders.add(element)
        return element

    # --- fields ---------------------------------------------------------------------------------------

    def element(self, parent: etree._Element, steps: str) -> etree._Element:
        found = self.find(parent, steps)
        if found is None:
            self.note_missing(parent, steps)
            return self._placeholder(steps)
        return found

    def attr(self, element: etree._Element, name: str) -> str:
        value = element.get(name)
        if value is None or value == "":
            self.note_missing(element, f"@{name}")
            return ""
        return value

    def opt_attr(self, parent: etree._Element, steps: str, name: str) -> str | None:
        found = self.find(parent, steps)
        return None if found is None else found.get(name)

    def attr_at(self, parent: etree._Element, steps: str, name: str) -> str:
        return self.attr(self.element(parent, steps), name)

    def _date(self, element: etree._Element, name: str, text: str) -> date | None:
        parsed = parse_yyyymmdd(text)
        if parsed is None:
            self.note_invalid(element, f"@{name}", text)
        return parsed

    def date_at(self, parent: etree._Element, steps: str, name: str = "value") -> date:
        element = self.element(parent, steps)
        text = self.attr(element, name)
        if not text:
            return PLACEHOLDER_DATE
        return self._date(element, name, text) or PLACEHOLDER_DATE

    def opt_date_at(self, parent: etree._Element, steps: str, name: str = "value") -> date | None:
        element = self.find(parent, steps)
        if element is None or element.get(name) is None:
            return None
        return self._date(element, name, element.get(name) or "")

    def _int(self, element: etree._Element, name: str, text: str) -> int | None:
        if not (text.isascii() and text.isdigit()):
            self.note_invalid(element, f"@{name}", text)
            return None
        return int(text)

    def int_at(self, parent: etree._Element, steps: str, name: str = "value") -> int:
        element = self.element(parent, steps)
        text = self.attr(element, name)
        if not text:
            return 0
        return self._int(element, name, text) or 0

    def opt_int_at(self, parent: etree._Element, steps: str, name: str = "value") -> int | None:
        element = self.find(parent, steps)
        if element is None:
            return None
        text = self.attr(element, name)
        return self._int(element, name, text) if text else None

    def text(self, parent: etree._Element, steps: str) -> str:
        return text_content(self.element(parent, steps))

    def tail_text(self, element: etree._Element) -> str:
        """The text of a mixed-content element outside its child elements (an address line)."""
        parts = [element.text or ""] + [child.tail or "" for child in element]
        return "".join(parts).strip()
