"""A small, fast XML text builder for the writers.

Every attribute value and text node goes through `attr_value` / `text_value`, which escape the
markup characters and refuse characters XML 1.0 does not allow. Output is UTF-8 with a
double-quoted declaration and no DOCTYPE.
"""

from __future__ import annotations

import re

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\r\n'

_ATTR = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
)
_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _refuse_non_xml(value: str) -> None:
    bad = _NOT_XML.search(value)
    if bad is not None:
        raise ValueError(f"character U+{ord(bad.group()):04X} cannot be written in XML")


def attr_value(value: str) -> str:
    """Escape an attribute value; raise ValueError on characters XML forbids."""
    if value.isalnum():
        return value
    if not value.isprintable():
        _refuse_non_xml(value)
    return value.translate(_ATTR)


_CODE_CACHE: dict[str, str] = {}
_CODE_CACHE_LIMIT = 1 << 16


def code_value(value: str) -> str:
    """`attr_value` for codes, OIDs, units and measured values, which repeat in every document
    and are remembered (bounded). Never use it for identifiers of persons."""
    escaped = _CODE_CACHE.get(value)
    if escaped is None:
        escaped = attr_value(value)
        if len(_CODE_CACHE) < _CODE_CACHE_LIMIT:
            _CODE_CACHE[value] = escaped
    return escaped


def text_value(value: str) -> str:
    """Escape a text node; raise ValueError on characters XML forbids."""
    if value.isalnum():
        return value
    if not value.isprintable():
        _refuse_non_xml(value)
    return value.translate(_TEXT)


def attrs(*pairs: tuple[str, str | None]) -> str:
    """`` name="value"`` for every pair whose value is not None."""
    return "".join([f' {name}="{attr_value(value)}"' for name, value in pairs if value is not None])


def empty(tag: str, *pairs: tuple[str, str | None]) -> str:
    return f"<{tag}{attrs(*pairs)}/>"


def start(tag: str, *pairs: tuple[str, str | None]) -> str:
    return f"<{tag}{attrs(*pairs)}>"


def text(tag: str, value: str | None, *pairs: tuple[str, str | None]) -> str:
    if not value:
        return f"<{tag}{attrs(*pairs)}/>"
    return f"<{tag}{attrs(*pairs)}>{text_value(value)}</{tag}>"


def document(parts: list[str]) -> bytes:
    """The parts (all built with the escaping helpers above) behind the XML declaration."""
    return (XML_DECLARATION + "".join(parts)).encode("utf-8")
