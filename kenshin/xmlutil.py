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


class FieldError(Exception):
    """A required field is missing or malformed; the record cannot be built."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


_TAG_CACHE: dict[str, dict[str, tuple[str, ...]]] = {}


class Fields:
    """Field extraction inside one namespace, raising FieldError with a coded finding."""

    def __init__(self, file: str, namespace: str) -> None:
        self.file = file
        self.ns = namespace
        self._cache = _TAG_CACHE.setdefault(namespace, {})
        self._children: dict[etree._Element, dict[Any, etree._Element]] = {}

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

    def missing(self, parent: etree._Element, what: str) -> FieldError:
        return FieldError(F.XML_FIELD_MISSING.at(file=self.file, xpath=f"{xpath_of(parent)}/{what}"))

    def invalid(self, element: etree._Element, what: str, value: str | None) -> FieldError:
        return FieldError(
            F.XML_FIELD_INVALID.at(file=self.file, xpath=f"{xpath_of(element)}/{what}", detail=repr(value))
        )

    def element(self, parent: etree._Element, steps: str) -> etree._Element:
        found = self.find(parent, steps)
        if found is None:
            raise self.missing(parent, steps)
        return found

    def attr(self, element: etree._Element, name: str) -> str:
        value = element.get(name)
        if value is None or value == "":
            raise self.missing(element, f"@{name}")
        return value

    def opt_attr(self, parent: etree._Element, steps: str, name: str) -> str | None:
        found = self.find(parent, steps)
        return None if found is None else found.get(name)

    def attr_at(self, parent: etree._Element, steps: str, name: str) -> str:
        return self.attr(self.element(parent, steps), name)

    def date_at(self, parent: etree._Element, steps: str, name: str = "value") -> date:
        element = self.element(parent, steps)
        text = self.attr(element, name)
        parsed = parse_yyyymmdd(text)
        if parsed is None:
            raise self.invalid(element, f"@{name}", text)
        return parsed

    def opt_date_at(self, parent: etree._Element, steps: str, name: str = "value") -> date | None:
        element = self.find(parent, steps)
        if element is None or element.get(name) is None:
            return None
        text = element.get(name)
        parsed = parse_yyyymmdd(text)
        if parsed is None:
            raise self.invalid(element, f"@{name}", text)
        return parsed

    def int_at(self, parent: etree._Element, steps: str, name: str = "value") -> int:
        element = self.element(parent, steps)
        text = self.attr(element, name)
        if not (text.isascii() and text.isdigit()):
            raise self.invalid(element, f"@{name}", text)
        return int(text)

    def opt_int_at(self, parent: etree._Element, steps: str, name: str = "value") -> int | None:
        element = self.find(parent, steps)
        if element is None:
            return None
        text = self.attr(element, name)
        if not (text.isascii() and text.isdigit()):
            raise self.invalid(element, f"@{name}", text)
        return int(text)

    def text(self, parent: etree._Element, steps: str) -> str:
        return text_content(self.element(parent, steps))

    def tail_text(self, element: etree._Element) -> str:
        """The text of a mixed-content element outside its child elements (an address line)."""
        parts = [element.text or ""] + [child.tail or "" for child in element]
        return "".join(parts).strip()
