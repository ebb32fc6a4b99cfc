"""Typed records of the standard format.

The reader produces these frozen dataclasses and the writer consumes the same ones, so a record
written and read back compares equal. Numbers that identify parties are kept as strings (leading
zeros matter), money as `int` yen, dates as `datetime.date`. Observation values keep the text of
the file (``"26.0"`` stays ``"26.0"``); `Observation.quantity` gives the `Decimal`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Generic, TypeVar

from kenshin.codes import OID_CHECKUP_TICKET, SERVICE_CHECKUP, Namespace
from kenshin.naming import ArchiveName

T = TypeVar("T")


@dataclass(frozen=True)
class PartyId:
    """An identifier as written in ix08 sender/receiver: OID root + number."""

    root: str
    extension: str


@dataclass(frozen=True)
class IndexRecord:
    """交換用基本情報 ix08_V08.xml."""

    interaction_type: str
    created_on: date
    sender: PartyId
    receiver: PartyId | None
    service_event_type: str
    total_record_count: int
    namespace: Namespace = Namespace.MHLW_2024


@dataclass(frozen=True)
class SummaryRecord:
    """集計情報 su08_V08.xml."""

    service_event_type: str
    total_subject_count: int
    total_cost_amount: int
    total_payment_amount: int
    total_payment_by_other_program: int | None
    total_claim_amount: int
    namespace: Namespace = Namespace.MHLW_2024


@dataclass(frozen=True)
class Subject:
    """受診者・利用者: the identity carried by both the data file and the claim file."""

    insurer_number: str
    card_symbol: str | None
    card_number: str
    card_branch: str | None
    name_kana: str
    sex: str
    birth_date: date
    postal_code: str
    address: str


@dataclass(frozen=True)
class Organization:
    """An institution as written in a CDA header (author or performer)."""

    number: str
    name: str
    telephone: str | None = None
    postal_code: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class Ticket:
    """受診券 / 利用券 in a CDA header (participant typeCode=HLD)."""

    number: str
    expires_on: date | None
    insurer_number: str
    kind: str = "1"
    base_oid: str = OID_CHECKUP_TICKET


@dataclass(frozen=True)
class Relationship:
    """entryRelationship of a group observation: COMP (results) or RSON (対象者・実施理由)."""

    type_code: str
    observation: Observation


@dataclass(frozen=True)
class Observation:
    """One result item.

    `xml_type` is the xsi:type of the value (PQ, CD, CO, ST) or None when there is no value
    element. A group observation (一連検査グループ) has `code` None with `code_null_flavor` "NA"
    and its members in `relationships`. `input_range_flag` is "H"/"L" when the measurement was
    outside the input range (second value of type CD in code system 2.16.840.1.113883.5.83).
    """

    code: str | None
    xml_type: str | None = None
    value: str | None = None
    unit: str | None = None
    answer_code: str | None = None
    answer_oid: str | None = None
    null_flavor: str | None = None
    negation: bool = False
    interpretation: str | None = None
    method_code: str | None = None
    display_name: str | None = None
    code_null_flavor: str | None = None
    input_range_flag: str | None = None
    reference_low: str | None = None
    reference_high: str | None = None
    author_name: str | None = None
    relationships: tuple[Relationship, ...] = ()

    @classmethod
    def from_fields(cls, fields: dict[str, object]) -> Observation:
        """An observation from a mapping of every field, skipping the frozen per-field ``__setattr__``
        (the reader builds some fifty per document). ``fields`` must name each field exactly once."""
        observation = object.__new__(cls)
        observation.__dict__.update(fields)
        return observation

    @property
    def quantity(self) -> Decimal | None:
        if self.xml_type != "PQ" or self.value is None:
            return None
        try:
            return Decimal(self.value)
        except InvalidOperation:
            return None

    def walk(self) -> Iterator[Observation]:
        """This observation and, depth first, every member of its group."""
        yield self
        for relationship in self.relationships:
            yield from relationship.observation.walk()


@dataclass(frozen=True)
class Section:
    code: str
    title: str | None
    observations: tuple[Observation, ...]


@dataclass(frozen=True)
class DocumentHeader:
    """The CDA header shared by 特定健診情報 (h) and 特定保健指導情報 (g) files."""

    report_category: str
    created_on: date
    subject: Subject
    author: Organization
    tickets: tuple[Ticket, ...]
    program_code: str | None
    service_date: date | None
    performer: Organization | None


@dataclass(frozen=True)
class CheckupDocument:
    """特定健診情報ファイル (DATA/h…)."""

    header: DocumentHeader
    sections: tuple[Section, ...]

    @property
    def subject(self) -> Subject:
        return self.header.subject

    @property
    def checkup_date(self) -> date | None:
        return self.header.service_date

    @property
    def ticket(self) -> Ticket | None:
        return self.header.tickets[0] if self.header.tickets else None

    @property
    def institution_number(self) -> str:
        performer = self.header.performer
        return performer.number if performer is not None else self.header.author.number

    def observations(self) -> Iterator[Observation]:
        """Every observation, group members included (groups themselves too)."""
        return iter(self._derived()[0])

    def results(self) -> Mapping[str, Observation]:
        """Coded observations by item code (the first occurrence wins), read-only."""
        return self._derived()[1]

    def _derived(self) -> tuple[tuple[Observation, ...], Mapping[str, Observation]]:
        """The flattened observations and the results by code, computed once per document (the
        rules ask for them many times); kept beside the fields, outside equality and repr."""
        derived = self.__dict__.get("_derived_views")
        if derived is None:
            flat: list[Observation] = []
            for section in self.sections:
                for observation in section.observations:
                    if observation.relationships:
                        flat.extend(observation.walk())
                    else:
                        flat.append(observation)
            found: dict[str, Observation] = {}
            for observation in flat:
                code = observation.code
                if code is not None and code not in found:
                    found[code] = observation
            derived = self.__dict__["_derived_views"] = (tuple(flat), MappingProxyType(found))
        return derived

    def __getstate__(self) -> dict[str, object]:
        return {name: value for name, value in self.__dict__.items() if name != "_derived_views"}


@dataclass(frozen=True)
class GuidanceDocument:
    """特定保健指導情報ファイル (DATA/g…): the header and every section with its observations (items of
    the XML用特定保健指導項目情報, code system …6.1006). `kenshin.guidance.course_of` reads them into the
    typed facts of a guidance course (level, 初回面接, 支援, 実績評価)."""

    header: DocumentHeader
    sections: tuple[Section, ...]

    @property
    def subject(self) -> Subject:
        return self.header.subject

    @property
    def ticket(self) -> Ticket | None:
        """The 利用券 (the first ticket of the header)."""
        return self.header.tickets[0] if self.header.tickets else None

    @property
    def section_codes(self) -> tuple[str, ...]:
        return tuple(section.code for section in self.sections)

    @property
    def institution_number(self) -> str:
        performer = self.header.performer
        return performer.number if performer is not None else self.header.author.number

    def observations(self) -> Iterator[Observation]:
        """Every observation, group members included (groups themselves too)."""
        for section in self.sections:
            for observation in section.observations:
                yield from observation.walk()

    def results(self) -> Mapping[str, Observation]:
        """Coded observations by item code (the first occurrence wins)."""
        found: dict[str, Observation] = {}
        for observation in self.observations():
            if observation.code is not None and observation.code not in found:
                found[observation.code] = observation
        return MappingProxyType(found)


@dataclass(frozen=True)
class ChargeType:
    """窓口負担 as reported in a claim: 別表6 code with an amount (yen) or a rate (percent × 1000)."""

    code: str
    amount: int | None = None
    rate: int | None = None


@dataclass(frozen=True)
class DockCharge:
    """chargeTypeHumanDryDock: copayment (code 1–3) and 保険者負担上限額 (code 4)."""

    copayment: ChargeType | None
    max_insurance_limit: int | None


@dataclass(frozen=True)
class Charges:
    basic: ChargeType | None = None
    detail: ChargeType | None = None
    other: ChargeType | None = None
    dock: DockCharge | None = None


@dataclass(frozen=True)
class DetailPrice:
    """unitPriceDetail: price of one 詳細な健診 item (別表8 code)."""

    code: str
    amount: int


@dataclass(frozen=True)
class OtherPrice:
    """unitPriceOther: price of an additional item (17-digit code) or of the dock (no code)."""

    amount: int
    item_code: str | None = None


@dataclass(frozen=True)
class Settlement:
    claim_type: str
    commission_type: str
    unit_price_basic: int | None
    unit_price_details: tuple[DetailPrice, ...]
    unit_price_others: tuple[OtherPrice, ...]
    payment_basic: int | None
    payment_detail: int | None
    payment_other: int | None
    unit_amount: int
    payment_amount: int
    payment_by_other_program: int | None
    claim_amount: int


@dataclass(frozen=True)
class AdjudicationResult:
    """agencyAdjudicationResult (reason 別表9) or insurerAdjudicationResult (reason 別表10)."""

    interaction_type: str
    recorded_on: date
    reason_code: str | None
    reason_text: str | None = None


@dataclass(frozen=True)
class Claim:
    """特定健診決済情報ファイル (CLAIMS/c…, cc08)."""

    institution_number: str
    subject: Subject
    ticket_number: str | None
    ticket_expires_on: date | None
    charges: Charges
    settlement: Settlement
    service_event_type: str = SERVICE_CHECKUP
    agency_result: AdjudicationResult | None = None
    insurer_result: AdjudicationResult | None = None
    namespace: Namespace = Namespace.MHLW_2024


@dataclass(frozen=True)
class GuidanceClaim:
    """特定保健指導決済情報ファイル (CLAIMS/p…, gc08), header and settlement totals."""

    service_event_type: str
    guidance_level: str
    guidance_timing: str
    institution_number: str
    subject: Subject
    guidance_ticket_number: str | None
    checkup_ticket_number: str | None
    ticket_expires_on: date | None
    copayment: ChargeType | None
    max_insurance_limit: int | None
    unit_price: int
    payment_rate: int
    points_completed: int | None
    points_intended: int | None
    calculated_amount: int
    payment_status: str
    payment_amount: int
    claim_amount: int
    agency_result: AdjudicationResult | None = None
    insurer_result: AdjudicationResult | None = None
    namespace: Namespace = Namespace.MHLW_2024


@dataclass(frozen=True)
class Member(Generic[T]):
    """A record with its path inside the root folder (``DATA/h….xml``)."""

    path: str
    record: T

    @property
    def stem(self) -> str:
        """The file name without folder, prefix letter and extension: what pairs h with c."""
        name = self.path.rsplit("/", 1)[-1]
        return name[1:].rsplit(".", 1)[0]


@dataclass(frozen=True)
class Submission:
    """Everything inside one archive. The writer takes it; the reader gives it back."""

    name: ArchiveName
    index: IndexRecord
    summary: SummaryRecord | None = None
    checkups: tuple[Member[CheckupDocument], ...] = ()
    claims: tuple[Member[Claim], ...] = ()
    guidance: tuple[Member[GuidanceDocument], ...] = ()
    guidance_claims: tuple[Member[GuidanceClaim], ...] = ()
