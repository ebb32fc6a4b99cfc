"""Format checks of observations against the item master: type, unit, digits, answer codes.

These are format facts of an item (what the file must look like). Whether a value lies inside
its input range, whether required items are present and how values relate to each other are
business rules of intake; see `rules.py`.
"""

from __future__ import annotations

from kenshin import findings as F
from kenshin.findings import Finding
from kenshin.items import ItemMaster
from kenshin.records import CheckupDocument, Observation


def _where(section: int, entry: int) -> str:
    return f"/ClinicalDocument/component/structuredBody/component[{section}]/section/entry[{entry}]"


def _observation_findings(observation: Observation, master: ItemMaster, file: str, place: tuple[int, int]) -> list[Finding]:
    """The format findings of one observation (``place``: section and entry, for the XPath).

    A plain function rather than a generator: the common case, a conforming value, returns at once.
    """
    code = observation.code
    if code is None:
        return []
    item = master.get(code)
    if item is None:
        return [F.OBS_UNKNOWN_CODE.at(file=file, xpath=_where(*place), detail=code)]
    if observation.negation or observation.xml_type is None:
        return []
    if observation.xml_type != item.xml_type:
        return [F.OBS_TYPE_MISMATCH.at(file=file, xpath=_where(*place), detail=f"{code}: {observation.xml_type} ≠ {item.xml_type}")]
    if observation.null_flavor is not None:
        return []
    found: list[Finding] = []
    if item.xml_type == "PQ":
        if (observation.unit or None) != item.unit:
            found.append(F.OBS_UNIT_MISMATCH.at(file=file, xpath=_where(*place), detail=f"{code}: {observation.unit} ≠ {item.unit}"))
        if observation.value is None or not item.fits_format(observation.value):
            found.append(
                F.OBS_VALUE_FORMAT.at(file=file, xpath=_where(*place), detail=f"{code}: {observation.value} ({item.format})")
            )
    elif item.xml_type in ("CD", "CO") and (
        observation.answer_oid != item.answer_oid or observation.answer_code not in item.answer_codes
    ):
        found.append(
            F.OBS_ANSWER_CODE.at(
                file=file, xpath=_where(*place), detail=f"{code}: {observation.answer_code}@{observation.answer_oid}"
            )
        )
    return found


def item_format_findings(document: CheckupDocument, master: ItemMaster, file: str) -> list[Finding]:
    found: list[Finding] = []
    for section_index, section in enumerate(document.sections, start=1):
        for entry_index, top in enumerate(section.observations, start=1):
            place = (section_index, entry_index)
            for observation in top.walk() if top.relationships else (top,):
                if problems := _observation_findings(observation, master, file, place):
                    found += problems
    return found
