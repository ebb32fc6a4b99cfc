"""The official 第4期 XSDs, loaded from the directory named by ``KENSHIN_XSD_DIR``.

The schemas are never shipped with the code and never taken from an uploaded archive (whose
``XSD/`` folder is ignored). Compiled schemas are cached per thread.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from lxml import etree

from kenshin.xmlutil import xpath_of

XSD_DIR_ENV = "KENSHIN_XSD_DIR"


class FileKind(StrEnum):
    INDEX = "index"
    SUMMARY = "summary"
    CHECKUP = "checkup"
    CLAIM = "claim"
    GUIDANCE = "guidance"
    GUIDANCE_CLAIM = "guidance_claim"


SCHEMA_FILES = {
    FileKind.INDEX: "ix08_V08.xsd",
    FileKind.SUMMARY: "su08_V08.xsd",
    FileKind.CHECKUP: "hc08_V08.xsd",
    FileKind.CLAIM: "cc08_V08.xsd",
    FileKind.GUIDANCE: "hg08_V08.xsd",
    FileKind.GUIDANCE_CLAIM: "gc08_V08.xsd",
}
MAX_REPORTED_ERRORS = 20
"""Schema errors reported per file; past this many, one more finding counts the rest."""

_local = threading.local()


class SchemaDirectoryError(RuntimeError):
    """The XSD directory is missing a schema or a schema does not compile."""


def xsd_dir_from_env() -> Path | None:
    value = os.environ.get(XSD_DIR_ENV, "").strip()
    return Path(value) if value else None


def _load(directory: Path, kind: FileKind) -> etree.XMLSchema:
    path = directory / SCHEMA_FILES[kind]
    if not path.is_file():
        raise SchemaDirectoryError(f"{path} not found ({XSD_DIR_ENV} = {directory})")
    try:
        return etree.XMLSchema(file=str(path))
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError) as exc:
        raise SchemaDirectoryError(f"{path} does not compile: {exc}") from exc


def schema(directory: Path, kind: FileKind) -> etree.XMLSchema:
    """The compiled schema for a file kind (cached for this thread)."""
    cache: dict[tuple[str, FileKind], etree.XMLSchema] = _local.__dict__.setdefault("cache", {})
    key = (str(directory), kind)
    if key not in cache:
        cache[key] = _load(directory, kind)
    return cache[key]


@dataclass(frozen=True)
class SchemaError:
    line: int
    xpath: str | None
    message: str


def _readable_path(root: etree._Element, path: str | None) -> str | None:
    """libxml2 reports ``/*/*[1]``; turn it into ``/index/interactionType``."""
    if not path:
        return None
    try:
        nodes = root.getroottree().xpath(path)
    except etree.XPathError:
        return path
    if isinstance(nodes, list) and nodes and isinstance(nodes[0], etree._Element):
        return xpath_of(nodes[0])
    return path


def validate(directory: Path, kind: FileKind, root: etree._Element) -> list[SchemaError]:
    """Every schema error libxml2 reports for the document, in document order; empty when valid.
    (The reader shows the first MAX_REPORTED_ERRORS and counts the rest.)"""
    validator = schema(directory, kind)
    if validator.validate(root):
        return []
    return [
        SchemaError(error.line, _readable_path(root, error.path), error.message)
        # lxml's error log iterates over its entries; lxml-stubs declare _ErrorLog without any members.
        for error in list(validator.error_log)  # type: ignore[call-overload]
    ]
