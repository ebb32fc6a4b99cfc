"""Format checks of observations against the item master: type, unit, digits, answer codes.

These are format facts of an item (what the file must look like). Whether a value lies inside
its input range, whether required items are present and how values relate to each other are
business rules of intake; see `rules.py`.
"""

from __future__ import annotations

from collections.abc import Iterator

from intake.standard import findings as F
from intake.standard.findings import Finding
from intake.standard.items import ItemMaster
from intake.standard.records import CheckupDocument, Observation


def _observation_findings(observation: Observation, master: ItemMaster, file: str, where: str) -> Iterator[Finding]:
    if observation.code is None:
        return
    item = master.get(observation.code)
    if item is None:
        yield F.OBS_UNKNOWN_CODE.at(file=file, xpath=where, detail=observation.code)
        return
    if observation.negation or observation.xml_type is None:
        return
    if observation.xml_type != item.xml_type:
        yield F.OBS_TYPE_MISMATCH.at(
            file=file,
            xpath=where,
            detail=f"{observation.code}: {observation.xml_type} ≠ {item.xml_type}",
        )
        return
    if observation.null_flavor is not None:
        return
    if item.xml_type == "PQ":
        if (observation.unit or None) != item.unit:
            yield F.OBS_UNIT_MISMATCH.at(
                file=file, xpath=where, detail=f"{observation.code}: {observation.unit} ≠ {item.unit}"
            )
        if observation.value is None or not item.fits_format(observation.value):
            yield F.OBS_VALUE_FORMAT.at(
                file=file, xpath=where, detail=f"{observation.code}: {observation.value} ({item.format})"
            )
    elif item.xml_type in ("CD", "CO") and (
        observation.answer_oid != item.answer_oid or observation.answer_code not in item.answer_codes
    ):
        yield F.OBS_ANSWER_CODE.at(
            file=file,
            xpath=where,
            detail=f"{observation.code}: {observation.answer_code}@{observation.answer_oid}",
        )


def item_format_findings(document: CheckupDocument, master: ItemMaster, file: str) -> list[Finding]:
    found: list[Finding] = []
    for section_index, section in enumerate(document.sections, start=1):
        for entry_index, top in enumerate(section.observations, start=1):
            where = (
                f"/ClinicalDocument/component/structuredBody/component[{section_index}]/section/entry[{entry_index}]"
            )
            for observation in top.walk():
                found.extend(_observation_findings(observation, master, file, where))
    return found
