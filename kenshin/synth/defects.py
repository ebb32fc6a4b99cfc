"""Named defects the generator can inject, and what is expected to catch each one.

Every defect says either which finding code the reader reports (`finding`) or, when the reader
rightly lets it through, which intake business rule must catch it (`intake_rule`, descriptive).
"""

from __future__ import annotations

import io
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
from kenshin.codes import Namespace
from kenshin.naming import DATA_DIR, XSD_DIR
from kenshin.records import CheckupDocument, Claim, Observation, Section, Submission
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


UNKNOWN_ITEM_CODE = "9N999999900000001"  # 17 characters, not in the item master


def _unknown_item_code(case: RecordCase) -> RecordPair | None:
    """An item of the institution's own (院内独自項目) the item master does not know: a warning only."""
    if not case.document.sections:
        return None
    first, *rest = case.document.sections
    extra = Observation(code=UNKNOWN_ITEM_CODE, xml_type="ST", value="院内独自項目", display_name="院内独自項目")
    sections = (Section(first.code, first.title, (*first.observations, extra)), *rest)
    return replace(case.document, sections=sections), case.claim


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
    (_D("unknown_item_code", _R, "項目マスタにない項目コード（警告）", F.OBS_UNKNOWN_CODE.code), _unknown_item_code),
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
)
_SUBMISSION_DEFECTS: tuple[tuple[Defect, SubmissionApplier], ...] = (
    (_D("su08_total_mismatch", _S, "集計情報の請求金額総計の誤り", F.SUM_TOTAL_MISMATCH.code), _su08_total_mismatch),
    (
        _D("ix08_count_mismatch", _S, "交換用基本情報の総ファイル数の誤り", F.IDX_COUNT_MISMATCH.code),
        _ix08_count_mismatch,
    ),
    (_D("pairing_mismatch", _S, "決済ファイルの欠落（h/cの対応なし）", F.ARC_PAIR_MISSING.code), _pairing_mismatch),
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
