"""実施結果報告 (法定報告): the archive an insurer submits to 支払基金 for a 年度, 実施区分 3.

The archive (``write``, streamed one document at a time) carries the 年度's 特定健診情報 (h) files and
特定保健指導情報 (g) files — one per accepted 実施時点 (開始時, 実績評価時, 途中終了時, …) — of the
insurer, anonymised (``anonymise``, the same rules for both), with an ix08 of 種別 10 (保険者 → 国(支払基金)) and 実施区分 3; no CLAIMS and no su08 (nothing is billed).
Member names follow SPEC §1.3 with 実施区分 3 and a 6-digit serial; the 10-digit 機関番号 part is the
insurer number left-padded with zeros (an insurer has no 10-digit number — UNCONFIRMED, see README).

What stays and what goes (the national 匿名化 rules were not available — UNCONFIRMED, see README):
kept are 保険者番号, 性別, 生年月日, 健診実施日, the institutions and every coded or measured result;
gone are 氏名, 住所・郵便番号, 被保険者証等記号・枝番, the 受診券, free text (ST items) and the doctor's
name; a g file also loses its 利用券 and keeps its 報告区分 (21–25, the 実施時点) where an h file's becomes
30 (UNCONFIRMED, see README); 被保険者証等番号 becomes a one-way pseudonym the caller derives (the same person gets the same
pseudonym every year, nobody can reverse it without the insurer's key).
Plain Python: documents in, a ``Submission`` out; ``counts`` gives the figures of the preview.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TypeVar

from kenshin.assemble import insurer_party
from kenshin.cda_write import checkup_xml, guidance_xml
from kenshin.claim_write import index_xml
from kenshin.codes import SEX_FEMALE, SEX_MALE
from kenshin.naming import DATA_DIR, INDEX_FILE, PREFIX_CHECKUP, PREFIX_GUIDANCE, ArchiveName, MemberName
from kenshin.records import CheckupDocument, GuidanceDocument, IndexRecord, Observation, Relationship, Section
from kenshin.zipwrite import build_zip

SERVICE_EVENT_NATIONAL_REPORT = "3"  # 実施区分 (別表3): 国(支払基金)への実施結果報告（匿名化済）
INTERACTION_INSURER_TO_NATION = "10"  # 種別 (別表1): 保険者 → 国（支払基金）
REPORT_CATEGORY_NATIONAL = "30"  # 報告区分 (.1001): 国への実施結果報告
AGE_BANDS = ((40, 44), (45, 49), (50, 54), (55, 59), (60, 64), (65, 69), (70, 74))
SEXES = (SEX_MALE, SEX_FEMALE)

Document = TypeVar("Document", bound=CheckupDocument | GuidanceDocument)


def _strip(observation: Observation) -> Observation | None:
    """The observation without free text: ST items go, the doctor's name goes, groups keep the rest."""
    if observation.xml_type == "ST":
        return None
    kept = tuple(
        Relationship(relation.type_code, stripped)
        for relation in observation.relationships
        if (stripped := _strip(relation.observation)) is not None
    )
    if observation.relationships and not kept:
        return None
    return replace(observation, author_name=None, relationships=kept)


def anonymise(document: Document, pseudonym: str, *, created_on: date) -> Document:
    """The document (h or g) as the national report carries it (see the module's rules)."""
    if not pseudonym or len(pseudonym) > 20:
        raise ValueError("the pseudonym replaces the card number: 1 to 20 characters")
    header = document.header
    subject = replace(header.subject, card_symbol=None, card_number=pseudonym, card_branch=None, name_kana="",
                      postal_code="", address="")
    category = REPORT_CATEGORY_NATIONAL if isinstance(document, CheckupDocument) else header.report_category
    anonymised_header = replace(header, report_category=category, created_on=created_on, subject=subject, tickets=())
    sections = tuple(
        Section(section.code, None, tuple(kept for o in section.observations if (kept := _strip(o)) is not None))
        for section in document.sections
    )
    return replace(document, header=anonymised_header, sections=sections)


def archive_name(insurer_number: str, receiver: str, created_on: date, same_day_count: int = 0) -> ArchiveName:
    return ArchiveName(insurer_number, receiver, created_on, same_day_count, SERVICE_EVENT_NATIONAL_REPORT)


MAX_FILES = 0xFFFF - 8  # a ZIP without ZIP64 holds 65,535 members: the folders, ix08 and the XSD files take the rest


def write(
    *,
    insurer_number: str,
    receiver: str,
    created_on: date,
    documents: Iterable[CheckupDocument | GuidanceDocument],
    count: int,
    same_day_count: int = 0,
    xsd: Mapping[str, bytes] | None = None,
) -> tuple[ArchiveName, bytes]:
    """The 実施結果報告 archive of ``count`` anonymised documents, h and g files together (taken one at a time,
    in order, so memory holds the compressed archive and one document, not the 年度); each prefix has its own
    6-digit serial from 000001, and ix08's 総ファイル数 is h + g; ``xsd`` adds the XSD folder
    (``kenshin.writer.xsd_members``). ValueError when ``documents`` does not yield ``count`` of them."""
    if count > MAX_FILES:
        raise ValueError(f"{count} files do not fit one archive (at most {MAX_FILES})")
    name = archive_name(insurer_number, receiver, created_on, same_day_count)
    root = name.stem
    index = IndexRecord(
        interaction_type=INTERACTION_INSURER_TO_NATION, created_on=created_on, sender=insurer_party(insurer_number),
        receiver=None, service_event_type=SERVICE_EVENT_NATIONAL_REPORT, total_record_count=count,
    )
    sender_number = insurer_number.rjust(10, "0")
    schemas = dict(xsd or {})

    def entries() -> Iterator[tuple[str, bytes]]:
        folders = ["", f"{DATA_DIR}/", *sorted({path.rsplit("/", 1)[0] + "/" for path in schemas})]
        yield from ((f"{root}/{folder}", b"") for folder in folders)
        yield f"{root}/{INDEX_FILE}", index_xml(index)
        serials = {PREFIX_CHECKUP: 0, PREFIX_GUIDANCE: 0}
        for document in documents:
            prefix = PREFIX_CHECKUP if isinstance(document, CheckupDocument) else PREFIX_GUIDANCE
            serials[prefix] += 1
            member = MemberName(prefix, sender_number, created_on, same_day_count, SERVICE_EVENT_NATIONAL_REPORT,
                                serials[prefix])
            xml = checkup_xml(document) if isinstance(document, CheckupDocument) else guidance_xml(document)
            yield f"{root}/{member.path}", xml
        written = sum(serials.values())
        if written != count:
            raise ValueError(f"{written} documents written, {count} announced in ix08")
        yield from ((f"{root}/{path}", data) for path, data in schemas.items())

    return name, build_zip(entries(), stamp=created_on)


def age_band(age: int) -> str | None:
    """The 5-year band (40–44 … 70–74) of an age reached in the 年度; None outside 40–74."""
    for low, high in AGE_BANDS:
        if low <= age <= high:
            return f"{low}-{high}"
    return None


@dataclass(frozen=True)
class Person:
    """What the counts read of one accepted checkup."""

    sex: str
    age: int  # reached in the 年度
    level: str  # 保健指導レベル (.3001 code) as recomputed; "" when none


@dataclass
class Counts:
    """受診者数 by sex and age band, and 保健指導 対象者 by level (積極的支援 1, 動機付け支援 2)."""

    examinees: Counter[tuple[str, str]] = field(default_factory=Counter)
    targets: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def total_examinees(self) -> int:
        return sum(self.examinees.values())

    @property
    def total_targets(self) -> int:
        return sum(self.targets.values())

    def as_json(self) -> dict[str, object]:
        return {
            "examinees": {f"{sex}:{band}": n for (sex, band), n in sorted(self.examinees.items())},
            "targets": {f"{level}:{band}": n for (level, band), n in sorted(self.targets.items())},
            "total_examinees": self.total_examinees,
            "total_targets": self.total_targets,
        }


def counts(people: Iterable[Person]) -> Counts:
    """The preview's figures; people outside 40–74 are counted in no band (they are not 特定健診)."""
    found = Counts()
    for person in people:
        band = age_band(person.age)
        if band is None:
            continue
        found.examinees[(person.sex, band)] += 1
        if person.level in ("1", "2"):
            found.targets[(person.level, band)] += 1
    return found
