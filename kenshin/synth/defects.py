"""Named defects the generator can inject, and what is expected to catch each one.

Every defect says either which finding code the reader reports (`finding`) or, when the reader
rightly lets it through, which intake business rule must catch it (`intake_rule`, descriptive).
A defect marked ``warning`` leaves its record accepted with a warning (for the clerk to confirm);
the others return the record or reject the archive.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from random import Random
from types import MappingProxyType
from typing import TypedDict, Unpack

from kenshin import findings as F
from kenshin.assemble import summary_for
from kenshin.codes import SECTION_ADDITIONAL, SECTION_GUIDANCE_COMMON, DetailItem, Namespace
from kenshin.copay import ContractTerms, compute_claim
from kenshin.naming import CLAIMS_DIR, DATA_DIR, XSD_DIR, MemberName
from kenshin.records import (
    CheckupDocument,
    Claim,
    GuidanceDocument,
    Member,
    Observation,
    Section,
    Subject,
    Submission,
)
from kenshin.synth import parties as P
from kenshin.synth import values as V


class Stage(StrEnum):
    RECORD = "record"
    SUBMISSION = "submission"
    MEMBERS = "members"


@dataclass(frozen=True)
class Defect:
    name: str
    stage: Stage
    description: str
    finding: str | None = None
    intake_rule: str | None = None
    warning: bool = False

    @property
    def caught_by_reader(self) -> bool:
        return self.finding is not None


@dataclass(frozen=True)
class RecordCase:
    """One person's pair of files, with what a record defect may need to know."""

    rng: Random
    document: CheckupDocument
    claim: Claim
    parties: P.Parties
    institution_number: str
    earlier_tickets: dict[str, str]
    terms: ContractTerms | None = None
    earlier_people: tuple[tuple[Subject, date], ...] = ()
    """The people checked earlier in the archive, with their checkup dates."""


RecordPair = tuple[CheckupDocument, Claim]


class _SubjectChanges(TypedDict, total=False):
    """The fields of the person that record defects alter."""

    insurer_number: str
    birth_date: date


class _TicketChanges(TypedDict, total=False):
    """The fields of the ticket that record defects alter."""

    number: str
    expires_on: date


def _with_subject(case: RecordCase, **changes: Unpack[_SubjectChanges]) -> RecordPair:
    header = case.document.header
    subject = replace(header.subject, **changes)
    tickets = header.tickets
    if "insurer_number" in changes:
        tickets = tuple(replace(t, insurer_number=subject.insurer_number) for t in tickets)
    document = replace(case.document, header=replace(header, subject=subject, tickets=tickets))
    return document, replace(case.claim, subject=replace(case.claim.subject, **changes))


def _map_observations(
    document: CheckupDocument, change: Callable[[Observation], Observation | None]
) -> CheckupDocument:
    sections = []
    for section in document.sections:
        kept = [result for observation in section.observations if (result := change(observation)) is not None]
        sections.append(Section(section.code, section.title, tuple(kept)))
    return replace(document, sections=tuple(sections))


def _bad_insurer_check_digit(case: RecordCase) -> RecordPair | None:
    return _with_subject(case, insurer_number=P.break_check_digit(case.claim.subject.insurer_number))


def _bad_institution_check_digit(case: RecordCase) -> RecordPair | None:
    broken = P.break_check_digit(case.institution_number)
    header = case.document.header
    performer = replace(header.performer, number=broken) if header.performer else None
    document = replace(
        case.document, header=replace(header, author=replace(header.author, number=broken), performer=performer)
    )
    return document, replace(case.claim, institution_number=broken)


def _unknown_insurer(case: RecordCase) -> RecordPair | None:
    known = case.parties.insurer_numbers
    while True:
        number = P.insurer_number(case.rng, "06", "13")
        if number not in known:
            return _with_subject(case, insurer_number=number)


def _no_contract(case: RecordCase) -> RecordPair | None:
    outsiders = case.parties.insurers_without_contract(case.institution_number)
    if not outsiders:
        return None
    return _with_subject(case, insurer_number=case.rng.choice(outsiders).number)


def _missing_required_item(case: RecordCase) -> RecordPair | None:
    document = _map_observations(case.document, lambda o: None if o.code == V.HDL else o)
    return document, case.claim


def _wrong_unit(case: RecordCase) -> RecordPair | None:
    document = _map_observations(case.document, lambda o: replace(o, unit="mg/dl") if o.code == V.HDL else o)
    return document, case.claim


def _value_out_of_input_range(case: RecordCase) -> RecordPair | None:
    def change(observation: Observation) -> Observation:
        if observation.code != V.SBP:
            return observation
        return replace(observation, value="310", input_range_flag=None, interpretation="H")

    return _map_observations(case.document, change), case.claim


def _bmi_inconsistent(case: RecordCase) -> RecordPair | None:
    def change(observation: Observation) -> Observation:
        if observation.code != V.BMI or observation.quantity is None:
            return observation
        return replace(observation, value=f"{observation.quantity + 3:.1f}")

    return _map_observations(case.document, change), case.claim


def _fasting_tg_without_fasting_code(case: RecordCase) -> RecordPair | None:
    def change(observation: Observation) -> Observation:
        if observation.code == V.DRAW_TIMING:
            return replace(observation, answer_code="3")
        if observation.code == V.TG_RANDOM:
            return replace(observation, code=V.TG_FASTING)
        return observation

    return _map_observations(case.document, change), case.claim


def _identity_mismatch(case: RecordCase) -> RecordPair | None:
    subject = case.claim.subject
    return case.document, replace(
        case.claim, subject=replace(subject, birth_date=subject.birth_date + timedelta(days=1))
    )


def _old_namespace_claim(case: RecordCase) -> RecordPair | None:
    return case.document, replace(case.claim, namespace=Namespace.CHECKUP_2007)


def _set_ticket(case: RecordCase, **changes: Unpack[_TicketChanges]) -> RecordPair:
    header = case.document.header
    tickets = tuple(replace(ticket, **changes) for ticket in header.tickets)
    document = replace(case.document, header=replace(header, tickets=tickets))
    claim = case.claim
    if "number" in changes:
        claim = replace(claim, ticket_number=changes["number"])
    if "expires_on" in changes:
        claim = replace(claim, ticket_expires_on=changes["expires_on"])
    return document, claim


def _duplicate_ticket(case: RecordCase) -> RecordPair | None:
    earlier = case.earlier_tickets.get(case.claim.subject.insurer_number)
    if earlier is None or not case.document.header.tickets:
        return None
    return _set_ticket(case, number=earlier)


def _ticket_expired(case: RecordCase) -> RecordPair | None:
    checkup = case.document.checkup_date
    if checkup is None or not case.document.header.tickets:
        return None
    return _set_ticket(case, expires_on=checkup - timedelta(days=1))


def _copay_mismatch(case: RecordCase) -> RecordPair | None:
    settlement = case.claim.settlement
    if settlement.payment_basic is None or settlement.claim_amount < 100:
        return None
    changed = replace(
        settlement,
        payment_basic=settlement.payment_basic + 100,
        payment_amount=settlement.payment_amount + 100,
        claim_amount=settlement.claim_amount - 100,
    )
    return case.document, replace(case.claim, settlement=changed)


def _age_out_of_range(case: RecordCase) -> RecordPair | None:
    checkup = case.document.checkup_date or case.document.header.created_on
    birth = date(checkup.year - 76, checkup.month, 1)
    return _with_subject(case, birth_date=birth)


def _checkup_after_file_date(case: RecordCase) -> RecordPair | None:
    header = case.document.header
    later = header.created_on + timedelta(days=3)
    return replace(case.document, header=replace(header, service_date=later)), case.claim


def _second_checkup_in_fiscal_year(case: RecordCase) -> RecordPair | None:
    """The same person as an earlier record (same insurer and card), checked on another day."""
    day = case.document.checkup_date
    insurer = case.claim.subject.insurer_number
    for subject, earlier_day in case.earlier_people:
        if subject.insurer_number == insurer and earlier_day != day:
            document = replace(case.document, header=replace(case.document.header, subject=subject))
            return document, replace(case.claim, subject=subject)
    return None


def _not_specific_checkup(case: RecordCase) -> RecordPair | None:
    """A 事業者健診 result (報告区分 40, プログラム種別 030) billed as a 特定健診."""
    header = replace(case.document.header, report_category="40", program_code="030")
    return replace(case.document, header=header), case.claim


def _header_code_invalid(case: RecordCase) -> RecordPair | None:
    """A sex code outside 別表4 (1 男, 2 女), in both files, and an unknown section code."""
    document, claim = _with_subject_sex(case, "3")
    sections = tuple(replace(section, code="01999") if section.code == SECTION_ADDITIONAL else section for section in document.sections)
    return replace(document, sections=sections), claim


def _with_subject_sex(case: RecordCase, sex: str) -> RecordPair:
    header = case.document.header
    subject = replace(header.subject, sex=sex)
    return replace(case.document, header=replace(header, subject=subject)), replace(case.claim, subject=subject)


def _ticket_insurer_mismatch(case: RecordCase) -> RecordPair | None:
    others = [insurer.number for insurer in case.parties.insurers if insurer.number != case.claim.subject.insurer_number]
    if not others or not case.document.header.tickets:
        return None
    header = case.document.header
    tickets = tuple(replace(ticket, insurer_number=others[0]) for ticket in header.tickets)
    return replace(case.document, header=replace(header, tickets=tickets)), case.claim


def _recomputed(case: RecordCase, details: frozenset[DetailItem]) -> Claim | None:
    """The claim billed for other 詳細な健診, priced and copaid as the generator did."""
    if case.terms is None:
        return None
    settlement = case.claim.settlement
    others = [line.item_code for line in settlement.unit_price_others if line.item_code]
    computation = compute_claim(
        case.terms, detail_items=details, other_items=others, paid_by_other_program=settlement.payment_by_other_program or 0
    )
    return replace(case.claim, charges=computation.charges, settlement=computation.settlement)


def _detail_billed_not_performed(case: RecordCase) -> RecordPair | None:
    """心電図 billed without its result in the checkup file."""
    billed = {DetailItem(line.code) for line in case.claim.settlement.unit_price_details}
    if DetailItem.ECG in billed:
        return None
    claim = _recomputed(case, frozenset({*billed, DetailItem.ECG}))
    return (case.document, claim) if claim is not None else None


def _detail_reason_missing(case: RecordCase) -> RecordPair | None:
    """A 詳細な健診 performed and billed without its 実施理由."""
    removed = False

    def change(observation: Observation) -> Observation:
        nonlocal removed
        if not observation.relationships:
            return observation
        kept = tuple(
            relationship for relationship in observation.relationships
            if not (relationship.type_code == "RSON" and relationship.observation.xml_type == "ST")
        )
        removed = removed or len(kept) != len(observation.relationships)
        return replace(observation, relationships=kept)

    document = _map_observations(case.document, change)
    return (document, case.claim) if removed else None


def _ticket_missing(case: RecordCase) -> RecordPair | None:
    if not case.document.header.tickets:
        return None
    header = replace(case.document.header, tickets=())
    return replace(case.document, header=header), replace(case.claim, ticket_number=None, ticket_expires_on=None)


def _value_on_input_bound(case: RecordCase) -> RecordPair | None:
    """収縮期血圧 300 (the input maximum, 以上 → H) written without its H."""

    def change(observation: Observation) -> Observation:
        if observation.code != V.SBP:
            return observation
        return replace(observation, value="300", input_range_flag=None, interpretation="H")

    return _map_observations(case.document, change), case.claim


def _insurer_number_short(case: RecordCase) -> RecordPair | None:
    """A 保険者番号 of seven digits (a digit lost), in both files."""
    return _with_subject(case, insurer_number=case.claim.subject.insurer_number[1:])


def _questionnaire_inconsistent(case: RecordCase) -> RecordPair | None:
    """飲酒 8 (飲まない) with 飲酒量 answered: a warning, the record stays accepted."""
    answered = {observation.code for observation in case.document.observations()}
    drinking = Observation(code=V.DRINKING, xml_type="CD", answer_code="8", answer_oid="1.2.392.200119.6.24040")
    amount = Observation(code=V.DRINKING_AMOUNT, xml_type="CO", answer_code="2", answer_oid="1.2.392.200119.6.24050")

    def change(observation: Observation) -> Observation:
        if observation.code == V.DRINKING:
            return drinking
        if observation.code == V.DRINKING_AMOUNT:
            return amount
        return observation

    document = _map_observations(case.document, change)
    missing = [o for o in (drinking, amount) if o.code not in answered]
    if missing:
        first = document.sections[0]
        document = replace(document, sections=(replace(first, observations=(*first.observations, *missing)), *document.sections[1:]))
    return document, case.claim


def _author_institution_differs(case: RecordCase) -> RecordPair | None:
    """The file written by another institution (the performer stays the sender): a warning."""
    others = [i.number for i in case.parties.institutions if i.number != case.institution_number]
    number = others[0] if others else P.institution_number(case.rng, "13")
    header = case.document.header
    if header.performer is None:
        return None
    author = replace(header.author, number=number)
    return replace(case.document, header=replace(header, author=author)), case.claim


def _unknown_item_code(case: RecordCase) -> RecordPair | None:
    """An item the master does not know (a local code) among the additional items: a warning."""
    extra = Observation(code="9Z999000000000001", xml_type="PQ", value="1.0", unit="mg/dL")
    sections = (*case.document.sections, Section(SECTION_ADDITIONAL, None, (extra,)))
    if any(section.code == SECTION_ADDITIONAL for section in case.document.sections):
        sections = tuple(
            replace(section, observations=(*section.observations, extra)) if section.code == SECTION_ADDITIONAL else section
            for section in case.document.sections
        )
    return replace(case.document, sections=sections), case.claim


def _su08_total_mismatch(submission: Submission, rng: Random) -> Submission | None:
    if submission.summary is None:
        return None
    summary = replace(submission.summary, total_claim_amount=submission.summary.total_claim_amount + 1000)
    return replace(submission, summary=summary)


def _ix08_count_mismatch(submission: Submission, rng: Random) -> Submission | None:
    index = replace(submission.index, total_record_count=submission.index.total_record_count + 2)
    return replace(submission, index=index)


def _pairing_mismatch(submission: Submission, rng: Random) -> Submission | None:
    if not submission.claims or submission.summary is None:
        return None
    claims = submission.claims[:-1]
    summary = summary_for(
        [member.record for member in claims], service_event_type=submission.summary.service_event_type
    )
    index = replace(submission.index, total_record_count=submission.index.total_record_count - 1)
    return replace(submission, claims=claims, summary=summary, index=index)


def _guidance_in_checkup_archive(submission: Submission, rng: Random) -> Submission | None:
    """A 特定保健指導 document (報告区分 22) in the DATA file of a 特定健診 archive."""
    if not submission.checkups:
        return None
    first = submission.checkups[0]
    header = replace(first.record.header, report_category="22")
    guidance = Member(first.path, GuidanceDocument(header=header, sections=(Section(SECTION_GUIDANCE_COMMON, None, ()),)))
    return replace(submission, checkups=submission.checkups[1:], guidance=(guidance,))


Members = dict[str, bytes]


def _first_data(members: Members) -> str | None:
    return next((path for path in members if path.startswith(DATA_DIR + "/")), None)


def _malformed_xml(members: Members, rng: Random) -> Members | None:
    path = _first_data(members)
    if path is None:
        return None
    data = members[path]
    return {**members, path: data[: len(data) // 2]}


def _with_doctype(members: Members, doctype: bytes, reference: bytes) -> Members | None:
    path = _first_data(members)
    if path is None:
        return None
    declaration, _, body = members[path].partition(b"\r\n")
    body = body.replace(b"<name>", b"<name>" + reference, 1)
    return {**members, path: declaration + b"\r\n" + doctype + b"\r\n" + body}


def _xxe_entity(members: Members, rng: Random) -> Members | None:
    return _with_doctype(members, b'<!DOCTYPE ClinicalDocument [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', b"&xxe;")


def _billion_laughs(members: Members, rng: Random) -> Members | None:
    entities = [b'<!ENTITY lol "lol">']
    entities += [
        f'<!ENTITY lol{level} "{("&lol" + (str(level - 1) if level > 1 else "") + ";") * 10}">'.encode()
        for level in range(1, 10)
    ]
    return _with_doctype(members, b"<!DOCTYPE ClinicalDocument [" + b"".join(entities) + b"]>", b"&lol9;")


def _executable_member(members: Members, rng: Random) -> Members | None:
    return {**members, f"{XSD_DIR}/setup.xsd": b"MZ\x90\x00\x03\x00\x00\x00" + bytes(120)}


def _nested_zip(members: Members, rng: Random) -> Members | None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as inner:
        inner.writestr("inner.xml", b"<inner/>")
    return {**members, f"{XSD_DIR}/coreschemas/bundle.xsd": buffer.getvalue()}


def _zip_bomb(members: Members, rng: Random) -> Members | None:
    return {**members, f"{XSD_DIR}/coreschemas/padding.xsd": bytes(4 * 1024 * 1024)}


def _path_traversal_member(members: Members, rng: Random) -> Members | None:
    return {**members, "../../evil.xml": b"<evil/>"}


def _first_claim(members: Members) -> str | None:
    return next((path for path in members if path.startswith(CLAIMS_DIR + "/")), None)


def _two_fields_missing(members: Members, rng: Random) -> Members | None:
    """A claim without its birth date and without its unit amount: both are reported."""
    path = _first_claim(members)
    if path is None:
        return None
    data = members[path]
    changed = re.sub(rb"<birthTime [^>]*/>", b"", data, count=1)
    changed = re.sub(rb"<unitAmount [^>]*/>", b"", changed, count=1)
    if changed == data:
        return None
    return {**members, path: changed}


def _prefix_mismatch(members: Members, rng: Random) -> Members | None:
    """A 特定健診 file named as a 保健指導 file (DATA/g…)."""
    path = _first_data(members)
    if path is None:
        return None
    folder, _, name = path.rpartition("/")
    renamed = f"{folder}/g{name[1:]}"
    return {(renamed if key == path else key): value for key, value in members.items()}


def _member_institution_differs(members: Members, rng: Random) -> Members | None:
    """One person's files named with another institution's number (the sender sends for it): a warning."""
    path = _first_data(members)
    name = MemberName.parse(path.rsplit("/", 1)[-1]) if path else None
    if path is None or name is None:
        return None
    other = P.institution_number(rng, "13")
    renamed = replace(name, institution=other)
    claim_path = f"{CLAIMS_DIR}/c{path.rsplit('/', 1)[-1][1:]}"
    mapping = {path: renamed.path, claim_path: renamed.with_prefix("c").path}
    return {mapping.get(key, key): value for key, value in members.items()}


RecordApplier = Callable[[RecordCase], RecordPair | None]
SubmissionApplier = Callable[[Submission, Random], Submission | None]
MembersApplier = Callable[[Members, Random], Members | None]

_D = Defect
_R, _S, _M = Stage.RECORD, Stage.SUBMISSION, Stage.MEMBERS
_RECORD_DEFECTS: tuple[tuple[Defect, RecordApplier], ...] = (
    (
        _D("bad_insurer_check_digit", _R, "保険者番号の検証番号誤り", F.ID_INSURER_CHECK_DIGIT.code),
        _bad_insurer_check_digit,
    ),
    (
        _D("bad_institution_check_digit", _R, "健診機関番号の検証番号誤り", F.ID_INSTITUTION_CHECK_DIGIT.code),
        _bad_institution_check_digit,
    ),
    (
        _D(
            "unknown_insurer",
            _R,
            "登録のない保険者",
            intake_rule="insurer_registered: 保険者番号が代行機関に登録された保険者であること",
        ),
        _unknown_insurer,
    ),
    (
        _D(
            "no_contract",
            _R,
            "契約のない保険者と健診機関の組合せ",
            intake_rule="contract_exists: 健診実施日に有効な契約があること（返戻理由04）",
        ),
        _no_contract,
    ),
    (
        _D(
            "missing_required_item",
            _R,
            "必須項目（HDL）の欠落",
            intake_rule="required_items: 必須項目・いずれか必須の項目があること（rules.missing_required_items）",
        ),
        _missing_required_item,
    ),
    (_D("wrong_unit", _R, "単位の誤り（mg/dl）", F.OBS_UNIT_MISMATCH.code), _wrong_unit),
    (
        _D(
            "value_out_of_input_range",
            _R,
            "入力範囲外の値にH/Lがない",
            intake_rule="input_range: 入力範囲外の値はH/Lで示すこと（rules.input_range_violations）",
        ),
        _value_out_of_input_range,
    ),
    (
        _D(
            "bmi_inconsistent",
            _R,
            "BMIが身長・体重と合わない",
            intake_rule="bmi_consistency: BMI = 体重/身長²（rules.bmi_inconsistent）",
        ),
        _bmi_inconsistent,
    ),
    (
        _D(
            "fasting_tg_without_fasting_code",
            _R,
            "空腹時中性脂肪なのに採血時間が食後10時間未満",
            intake_rule="fasting_state: 空腹時項目は採血時間コード2（rules.fasting_conflicts）",
        ),
        _fasting_tg_without_fasting_code,
    ),
    (_D("identity_mismatch", _R, "データと決済で生年月日が異なる", F.PAIR_IDENTITY_MISMATCH.code), _identity_mismatch),
    (_D("old_namespace_claim", _R, "第4期の決済ファイルに旧名前空間", F.XML_NAMESPACE_OLD.code), _old_namespace_claim),
    (
        _D(
            "duplicate_ticket",
            _R,
            "受診券整理番号の重複",
            intake_rule="ticket_unique: 保険者ごとに受診券整理番号が重複しないこと（rules.duplicate_tickets）",
        ),
        _duplicate_ticket,
    ),
    (
        _D(
            "ticket_expired",
            _R,
            "健診実施日に受診券の有効期限切れ",
            intake_rule="ticket_validity: 健診実施日が受診券の有効期限内であること（返戻理由06, rules.ticket_valid_on）",
        ),
        _ticket_expired,
    ),
    (
        _D(
            "copay_mismatch",
            _R,
            "契約と異なる窓口負担額",
            intake_rule="copay_recomputation: 契約で再計算した窓口負担・請求額と一致すること（返戻理由07, rules.copay_differences）",
        ),
        _copay_mismatch,
    ),
    (
        _D(
            "age_out_of_range",
            _R,
            "40〜74歳以外の受診者",
            intake_rule="age_eligibility: 年度末40歳以上・受診日74歳以下（rules.age_eligible）",
        ),
        _age_out_of_range,
    ),
    (
        _D("checkup_after_file_date", _R, "実施日がファイル作成日より後", F.DOC_DATE_ORDER.code),
        _checkup_after_file_date,
    ),
    (
        _D(
            "second_checkup_in_fiscal_year",
            _R,
            "同じ受診者の同じ年度の2回目の特定健診（別の日）",
            intake_rule="once_per_fiscal_year: 特定健診は受診者ごと年度に1回（REC_ONCE_PER_FISCAL_YEAR）",
        ),
        _second_checkup_in_fiscal_year,
    ),
    (
        _D("not_specific_checkup", _R, "報告区分40・プログラム種別030の健診を特定健診として請求", F.DOC_NOT_SPECIFIC_CHECKUP.code),
        _not_specific_checkup,
    ),
    (_D("header_code_invalid", _R, "コード表にない性別・セクションコード", F.DOC_CODE_INVALID.code), _header_code_invalid),
    (
        _D("ticket_insurer_mismatch", _R, "受診券の保険者番号が受診者と異なる", F.DOC_TICKET_INSURER_MISMATCH.code),
        _ticket_insurer_mismatch,
    ),
    (
        _D(
            "detail_billed_not_performed",
            _R,
            "実施していない詳細な健診（心電図）の請求",
            intake_rule="detail_performed: 請求した詳細な健診の結果があること（REC_DETAIL_NOT_PERFORMED）",
        ),
        _detail_billed_not_performed,
    ),
    (
        _D(
            "detail_reason_missing",
            _R,
            "詳細な健診の実施理由がない",
            intake_rule="detail_reason: 詳細な健診には実施理由を記録すること（ITM_DETAIL_REASON_MISSING）",
        ),
        _detail_reason_missing,
    ),
    (
        _D(
            "ticket_missing",
            _R,
            "受診券の記載がない（受診券を発行する契約）",
            intake_rule="ticket_present: 受診券を発行する契約では受診券整理番号が必要（REC_TICKET_INVALID）",
        ),
        _ticket_missing,
    ),
    (
        _D(
            "value_on_input_bound",
            _R,
            "入力範囲の上限と同じ値（300）にHがない",
            intake_rule="input_range: 入力最大値以上はH・入力最小値以下はL（ITM_INPUT_RANGE）",
        ),
        _value_on_input_bound,
    ),
    (_D("insurer_number_short", _R, "7桁の保険者番号", F.ID_INSURER_LENGTH.code), _insurer_number_short),
    (
        _D(
            "questionnaire_inconsistent",
            _R,
            "飲酒「飲まない」なのに飲酒量の回答あり（警告）",
            intake_rule="questionnaire: 質問票の回答の矛盾は警告（QST_DRINKING_AMOUNT）",
            warning=True,
        ),
        _questionnaire_inconsistent,
    ),
    (
        _D("author_institution_differs", _R, "作成機関が送付元と異なる（警告）", F.DOC_INSTITUTION_DIFFERS.code, warning=True),
        _author_institution_differs,
    ),
    (_D("unknown_item_code", _R, "項目マスタにない項目コード（警告）", F.OBS_UNKNOWN_CODE.code, warning=True), _unknown_item_code),
)
_SUBMISSION_DEFECTS: tuple[tuple[Defect, SubmissionApplier], ...] = (
    (_D("su08_total_mismatch", _S, "集計情報の請求金額総計の誤り", F.SUM_TOTAL_MISMATCH.code), _su08_total_mismatch),
    (
        _D("ix08_count_mismatch", _S, "交換用基本情報の総ファイル数の誤り", F.IDX_COUNT_MISMATCH.code),
        _ix08_count_mismatch,
    ),
    (_D("pairing_mismatch", _S, "決済ファイルの欠落（h/cの対応なし）", F.ARC_PAIR_MISSING.code), _pairing_mismatch),
    (
        _D("guidance_in_checkup_archive", _S, "特定健診のアーカイブに保健指導の文書", F.ARC_MIXED_SERVICE.code),
        _guidance_in_checkup_archive,
    ),
)
_MEMBERS_DEFECTS: tuple[tuple[Defect, MembersApplier], ...] = (
    (_D("malformed_xml", _M, "途中で切れたXML", F.XML_MALFORMED.code), _malformed_xml),
    (_D("xxe_entity", _M, "外部実体参照（XXE）", F.XML_EXTERNAL_ENTITY.code), _xxe_entity),
    (_D("billion_laughs", _M, "実体の指数展開（billion laughs）", F.XML_ENTITY_DECLARED.code), _billion_laughs),
    (_D("zip_bomb", _M, "圧縮率の異常なメンバー（ZIP爆弾）", F.ARC_COMPRESSION_RATIO.code), _zip_bomb),
    (
        _D("path_traversal_member", _M, "親フォルダを指すメンバー名", F.ARC_MEMBER_TRAVERSAL.code),
        _path_traversal_member,
    ),
    (_D("nested_zip", _M, "拡張子を偽装した入れ子のZIP", F.ARC_NESTED_ARCHIVE.code), _nested_zip),
    (_D("executable_member", _M, "拡張子を偽装した実行形式", F.ARC_EXECUTABLE_MEMBER.code), _executable_member),
    (_D("two_fields_missing", _M, "決済ファイルの生年月日と単価合計の欠落（両方を報告）", F.XML_FIELD_MISSING.code), _two_fields_missing),
    (_D("prefix_mismatch", _M, "特定健診のファイルに保健指導の接頭辞（g）", F.XML_KIND_PREFIX_MISMATCH.code), _prefix_mismatch),
    (
        _D("member_institution_differs", _M, "ファイル名の機関番号が送付元と異なる（警告）", F.ARC_MEMBER_INSTITUTION_DIFFERS.code,
           warning=True),
        _member_institution_differs,
    ),
)

_RECORD_APPLIERS = {defect.name: applier for defect, applier in _RECORD_DEFECTS}
_SUBMISSION_APPLIERS = {defect.name: applier for defect, applier in _SUBMISSION_DEFECTS}
_MEMBERS_APPLIERS = {defect.name: applier for defect, applier in _MEMBERS_DEFECTS}

DEFECTS = MappingProxyType({
    defect.name: defect for defect, _ in (*_RECORD_DEFECTS, *_SUBMISSION_DEFECTS, *_MEMBERS_DEFECTS)
})
"""Every named defect, by name."""
APPLIERS: MappingProxyType[str, RecordApplier | SubmissionApplier | MembersApplier] = MappingProxyType(
    {**_RECORD_APPLIERS, **_SUBMISSION_APPLIERS, **_MEMBERS_APPLIERS}
)


def defect(name: str) -> Defect:
    try:
        return DEFECTS[name]
    except KeyError:
        raise ValueError(f"unknown defect {name!r}; known: {', '.join(DEFECTS)}") from None


def apply_record_defect(name: str, case: RecordCase) -> RecordPair | None:
    """Apply a record defect; None when it cannot apply to this record."""
    if defect(name).stage is not Stage.RECORD:
        raise ValueError(f"{name} is not a record defect")
    return _RECORD_APPLIERS[name](case)


def apply_submission_defect(name: str, submission: Submission, rng: Random) -> Submission | None:
    if defect(name).stage is not Stage.SUBMISSION:
        raise ValueError(f"{name} is not a submission defect")
    return _SUBMISSION_APPLIERS[name](submission, rng)


def apply_members_defect(name: str, members: Members, rng: Random) -> Members | None:
    if defect(name).stage is not Stage.MEMBERS:
        raise ValueError(f"{name} is not a member defect")
    return _MEMBERS_APPLIERS[name](members, rng)
