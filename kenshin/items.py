"""The project's item master (特定健診項目) and its loader.

`data/items.csv` holds one row per 17-character item code of the 第4期 checkup items: basic and
detailed items, the questionnaire, and the other items an institution may report. Columns:

code, name, category
    item code (code system 1.2.392.200119.6.1005), display name, category.
xml_type, format, unit
    XML data type (PQ, CD, CO, ST); for PQ the numeric format (``NNN.N``), for ST the maximum
    length in bytes, for codes the digit pattern; UCUM unit of PQ values.
answer_oid, answer_codes
    for CD/CO the code system of the answer and the allowed codes (``1|2``).
input_low, input_high
    input range (入力範囲) used by the L/H rule; empty = unbounded.
requirement, one_of
    required (必須) / detail (詳細な健診) / optional (あれば) / none (特定健診の対象外);
    ``one_of`` names a group of which one item suffices (腹囲の測定方法, the glycaemia group …).
series_group, series_relation, depends_on, author_item, element
    一連検査グループ (group code, COMP / RSON / RSON1), the parent item a detail depends on, the
    item written as ``author`` of this one, and whether the item is an observation or an author.
method_code
    XML検査方法コード (code system 1.2.392.200119.6.1007).
reference_{male,female}_{low,high}
    reference range (基準範囲) for the L/N/H interpretation.
guidance_{male,female}, recommend_{male,female}, direction
    保健指導判定値 and 受診勧奨判定値; direction ``high`` means "at or above", ``low`` "below".
detail_item
    別表8 code of the 詳細な健診 the item belongs to.

Sources: the MHLW XML用特定健診項目情報 (第4期) for codes, types, formats, units, groups and answer
codes; input and reference ranges are the defaults of the CC2X conversion tool; thresholds follow
標準的な健診・保健指導プログラム (令和6年度版).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache, cached_property
from pathlib import Path
from types import MappingProxyType

DEFAULT_PATH = Path(__file__).with_name("data") / "items.csv"

XML_TYPES = frozenset({"PQ", "CD", "CO", "ST"})
SERIES_RELATIONS = frozenset({"COMP", "RSON", "RSON1"})
ELEMENTS = frozenset({"observation", "author"})
_FORMAT_RE = re.compile(r"(N+)(?:\.(N+))?")
_VALUE_RE = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
_CODE_RE = re.compile(r"[0-9A-Z]{17}")


@cache
def _format_digits(xml_type: str, pattern: str) -> tuple[int, int] | None:
    """(integer digits, decimal digits) of a PQ format such as NNN.N (cached per format)."""
    match = _FORMAT_RE.fullmatch(pattern) if xml_type == "PQ" else None
    if match is None:
        return None
    return len(match[1]), len(match[2] or "")


_COLUMNS = (
    "code",
    "name",
    "category",
    "xml_type",
    "format",
    "unit",
    "answer_oid",
    "answer_codes",
    "input_low",
    "input_high",
    "requirement",
    "one_of",
    "series_group",
    "series_relation",
    "depends_on",
    "author_item",
    "element",
    "method_code",
    "reference_male_low",
    "reference_male_high",
    "reference_female_low",
    "reference_female_high",
    "guidance_male",
    "guidance_female",
    "recommend_male",
    "recommend_female",
    "direction",
    "detail_item",
)


class ItemMasterError(ValueError):
    """The item master file is not usable; the message lists every problem with its line."""


class Requirement(StrEnum):
    REQUIRED = "required"
    DETAIL = "detail"
    OPTIONAL = "optional"
    NONE = "none"

    @property
    def label(self) -> str:
        return {"required": "必須", "detail": "詳細", "optional": "あれば", "none": "対象外"}[self.value]


class Judgement(StrEnum):
    """Where a value stands against 保健指導判定値 / 受診勧奨判定値."""

    NORMAL = "normal"
    GUIDANCE = "guidance"
    RECOMMEND = "recommend"


@dataclass(frozen=True)
class SexRange:
    low: Decimal | None
    high: Decimal | None


@dataclass(frozen=True)
class ItemDefinition:
    code: str
    name: str
    category: str
    xml_type: str
    format: str
    unit: str | None
    answer_oid: str | None
    answer_codes: tuple[str, ...]
    input_low: Decimal | None
    input_high: Decimal | None
    requirement: Requirement
    one_of: str | None
    series_group: str | None
    series_relation: str | None
    depends_on: str | None
    author_item: str | None
    element: str
    method_code: str | None
    reference_male: SexRange
    reference_female: SexRange
    guidance_male: Decimal | None
    guidance_female: Decimal | None
    recommend_male: Decimal | None
    recommend_female: Decimal | None
    direction: str | None
    detail_item: str | None

    @property
    def digits(self) -> tuple[int, int] | None:
        """(integer digits, decimal digits) of a PQ format such as NNN.N."""
        return _format_digits(self.xml_type, self.format)

    def fits_format(self, value: str) -> bool:
        """Whether a PQ value fits the digit format (fewer decimals are allowed)."""
        digits = _format_digits(self.xml_type, self.format)
        if digits is None:
            return True
        match = _VALUE_RE.fullmatch(value)
        if match is None:
            return False
        return len(match[1].lstrip("0") or "0") <= digits[0] and len(match[2] or "") <= digits[1]

    def input_range_flag(self, value: Decimal) -> str | None:
        """ "L" at or below the input minimum (以下), "H" at or above the maximum (以上), None strictly
        inside: 入力最小値以下→L, 入力最大値以上→H, as the MHLW program and ORCA (``Observation.java``) do."""
        if self.input_low is not None and value <= self.input_low:
            return "L"
        if self.input_high is not None and value >= self.input_high:
            return "H"
        return None

    def reference_flag(self, value: Decimal, sex: str) -> str | None:
        """L / N / H against the reference range for the sex, None without a range."""
        reference = self.reference_male if sex == "1" else self.reference_female
        if reference.low is None or reference.high is None:
            return None
        if value < reference.low:
            return "L"
        return "N" if value <= reference.high else "H"

    def judge(self, value: Decimal, sex: str) -> Judgement:
        """保健指導判定値 / 受診勧奨判定値 for the sex."""
        guidance = self.guidance_male if sex == "1" else self.guidance_female
        recommend = self.recommend_male if sex == "1" else self.recommend_female
        if self.direction == "low":
            if recommend is not None and value < recommend:
                return Judgement.RECOMMEND
            if guidance is not None and value < guidance:
                return Judgement.GUIDANCE
            return Judgement.NORMAL
        if recommend is not None and value >= recommend:
            return Judgement.RECOMMEND
        if guidance is not None and value >= guidance:
            return Judgement.GUIDANCE
        return Judgement.NORMAL


@dataclass(frozen=True)
class ItemMaster:
    items: Mapping[str, ItemDefinition]

    def __contains__(self, code: object) -> bool:
        return code in self.items

    def __iter__(self) -> Iterator[ItemDefinition]:
        return iter(self.items.values())

    def __len__(self) -> int:
        return len(self.items)

    def get(self, code: str) -> ItemDefinition | None:
        return self.items.get(code)

    def __getitem__(self, code: str) -> ItemDefinition:
        return self.items[code]

    def with_requirement(self, requirement: Requirement) -> tuple[ItemDefinition, ...]:
        return self._by_requirement.get(requirement, ())

    @cached_property
    def _by_requirement(self) -> dict[Requirement, tuple[ItemDefinition, ...]]:
        grouped: dict[Requirement, list[ItemDefinition]] = {}
        for item in self:
            grouped.setdefault(item.requirement, []).append(item)
        return {requirement: tuple(items) for requirement, items in grouped.items()}

    def author_parents(self, code: str) -> tuple[str, ...]:
        """The items whose author (医師の氏名 and the like) is recorded as item ``code``."""
        return self._author_parents.get(code, ())

    @cached_property
    def _author_parents(self) -> dict[str, tuple[str, ...]]:
        parents: dict[str, list[str]] = {}
        for item in self:
            if item.author_item:
                parents.setdefault(item.author_item, []).append(item.code)
        return {code: tuple(codes) for code, codes in parents.items()}

    def one_of_groups(self) -> dict[str, tuple[str, ...]]:
        groups: dict[str, list[str]] = {}
        for item in self:
            if item.one_of:
                groups.setdefault(item.one_of, []).append(item.code)
        return {name: tuple(codes) for name, codes in groups.items()}

    def detail_groups(self) -> dict[str, str]:
        """別表8 code → the series group code of that 詳細な健診."""
        return {item.detail_item: item.code for item in self if item.detail_item and item.series_relation == "RSON"}


def _decimal(text: str, column: str, problems: list[str], line: int) -> Decimal | None:
    if text == "":
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        problems.append(f"line {line}: {column} is not a number: {text!r}")
        return None


def _definition(row: dict[str, str], line: int, problems: list[str]) -> ItemDefinition | None:
    before = len(problems)
    code = row["code"]
    if not _CODE_RE.fullmatch(code):
        problems.append(f"line {line}: item code must be 17 characters [0-9A-Z]: {code!r}")
    xml_type = row["xml_type"]
    if xml_type not in XML_TYPES:
        problems.append(f"line {line}: unknown XML type {xml_type!r}")
    if xml_type == "PQ" and not _FORMAT_RE.fullmatch(row["format"]):
        problems.append(f"line {line}: PQ format must look like NNN.N: {row['format']!r}")
    answer_codes = tuple(code for code in row["answer_codes"].split("|") if code)
    if xml_type in ("CD", "CO") and (not row["answer_oid"] or not answer_codes):
        problems.append(f"line {line}: coded item {code} needs answer_oid and answer_codes")
    try:
        requirement = Requirement(row["requirement"])
    except ValueError:
        problems.append(f"line {line}: unknown requirement {row['requirement']!r}")
        requirement = Requirement.NONE
    if row["one_of"] and requirement is not Requirement.REQUIRED:
        problems.append(f"line {line}: one_of groups are for required items")
    if row["series_relation"] and (row["series_relation"] not in SERIES_RELATIONS or not row["series_group"]):
        problems.append(f"line {line}: series relation needs a group and COMP/RSON/RSON1")
    if row["element"] not in ELEMENTS:
        problems.append(f"line {line}: element must be observation or author")
    if row["direction"] not in ("", "high", "low"):
        problems.append(f"line {line}: direction must be high or low")
    numbers = {
        column: _decimal(row[column], column, problems, line)
        for column in _COLUMNS
        if column.startswith(("input_", "reference_", "guidance_", "recommend_"))
    }
    for low, high in (
        ("input_low", "input_high"),
        ("reference_male_low", "reference_male_high"),
        ("reference_female_low", "reference_female_high"),
    ):
        low_value, high_value = numbers[low], numbers[high]
        if low_value is not None and high_value is not None and low_value > high_value:
            problems.append(f"line {line}: {low} {low_value} is above {high} {high_value}")
    for sex in ("male", "female"):
        guidance, recommend = numbers[f"guidance_{sex}"], numbers[f"recommend_{sex}"]
        if guidance is None or recommend is None:
            continue
        ordered = guidance <= recommend if row["direction"] == "high" else guidance >= recommend
        if not ordered:
            problems.append(f"line {line}: thresholds for {sex} are out of order")
    if (numbers["guidance_male"] or numbers["recommend_male"]) is not None and not row["direction"]:
        problems.append(f"line {line}: thresholds need a direction")
    if len(problems) > before:
        return None
    return ItemDefinition(
        code=code,
        name=row["name"],
        category=row["category"],
        xml_type=xml_type,
        format=row["format"],
        unit=row["unit"] or None,
        answer_oid=row["answer_oid"] or None,
        answer_codes=answer_codes,
        input_low=numbers["input_low"],
        input_high=numbers["input_high"],
        requirement=requirement,
        one_of=row["one_of"] or None,
        series_group=row["series_group"] or None,
        series_relation=row["series_relation"] or None,
        depends_on=row["depends_on"] or None,
        author_item=row["author_item"] or None,
        element=row["element"],
        method_code=row["method_code"] or None,
        reference_male=SexRange(numbers["reference_male_low"], numbers["reference_male_high"]),
        reference_female=SexRange(numbers["reference_female_low"], numbers["reference_female_high"]),
        guidance_male=numbers["guidance_male"],
        guidance_female=numbers["guidance_female"],
        recommend_male=numbers["recommend_male"],
        recommend_female=numbers["recommend_female"],
        direction=row["direction"] or None,
        detail_item=row["detail_item"] or None,
    )


def _cross_checks(items: Mapping[str, ItemDefinition], problems: list[str]) -> None:
    for item in items.values():
        for column, reference in (
            ("depends_on", item.depends_on),
            ("author_item", item.author_item),
            ("series_group", item.series_group),
        ):
            if reference is not None and reference not in items:
                problems.append(f"{item.code}: {column} {reference} is not in the master")
    groups: dict[str, set[str]] = {}
    for item in items.values():
        if item.one_of:
            groups.setdefault(item.one_of, set()).add(item.xml_type)
    for name, types in groups.items():
        if len(types) != 1:
            problems.append(f"one_of group {name} mixes XML types {sorted(types)}")
    series = {item.series_group for item in items.values() if item.series_group}
    for group in series:
        members = [item for item in items.values() if item.series_group == group]
        if not any(item.series_relation == "COMP" for item in members):
            problems.append(f"series group {group} has no COMP member")
        detail_codes = {item.detail_item for item in members if item.detail_item}
        if len(detail_codes) > 1:
            problems.append(f"series group {group} maps to several 別表8 codes")


def load_item_master(path: Path | str = DEFAULT_PATH) -> ItemMaster:
    """Load and validate an item master file; raise ItemMasterError listing every problem."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [column for column in _COLUMNS if column not in (reader.fieldnames or [])]
            if missing:
                raise ItemMasterError(f"{path}: missing columns {', '.join(missing)}")
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ItemMasterError(f"{path}: cannot read the item master: {exc}") from exc
    problems: list[str] = []
    items: dict[str, ItemDefinition] = {}
    for line, row in enumerate(rows, start=2):
        cleaned = {column: (row.get(column) or "").strip() for column in _COLUMNS}
        definition = _definition(cleaned, line, problems)
        if definition is None:
            continue
        if definition.code in items:
            problems.append(f"line {line}: duplicate item code {definition.code}")
            continue
        items[definition.code] = definition
    if not items and not problems:
        problems.append("the item master is empty")
    _cross_checks(items, problems)
    if problems:
        raise ItemMasterError(f"{path}: invalid item master:\n" + "\n".join(problems))
    return ItemMaster(MappingProxyType(items))


@cache
def item_master() -> ItemMaster:
    """The packaged item master, loaded once."""
    return load_item_master(DEFAULT_PATH)
