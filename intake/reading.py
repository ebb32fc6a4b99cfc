"""A record read back from the stored original: its checkup and claim, and the checkup as a person
reads it (who, when, where; 判定 first; results grouped with units and H/L marks; then the claim)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from django.utils.translation import gettext as _

from kenshin import guidance as G
from kenshin import labels
from kenshin.cda_read import read_checkup, read_guidance
from kenshin.claim_read import read_claim, read_guidance_claim
from kenshin.codes import Namespace
from kenshin.items import Judgement, item_master
from kenshin.records import CheckupDocument, Claim, GuidanceClaim, GuidanceDocument
from kenshin.rules import age_on
from kenshin.xmlsafe import parse_xml

from .models import Record, RecordKind, Submission
from .selectors import record_members, submission_members

logger = logging.getLogger(__name__)

T = TypeVar("T")


def read_members(submission: Submission, paths: Iterable[str]) -> dict[str, bytes]:
    """Members of a stored submission archive by path inside its root folder (bytes as received)."""
    return submission_members(submission, paths)


def _read_back(data: bytes, path: str, read: Callable[[Any], T], what: str) -> T | None:
    """A document that passed intake, read again from its bytes; None (logged) when it no longer reads."""
    element, problem = parse_xml(data, path)
    if element is None or problem is not None:
        return None
    try:
        return read(element)
    except Exception:  # the document passed intake; a failure here is reported by the caller as unreadable
        logger.exception("%s %s could not be read back", what, path)
        return None


def _namespace(element: Any) -> Namespace:
    return Namespace(element.tag[1:].split("}")[0])


def parse_claim(data: bytes, path: str) -> Claim | None:
    return _read_back(data, path, lambda element: read_claim(element, path, _namespace(element)), "claim")


def parse_guidance_claim(data: bytes, path: str) -> GuidanceClaim | None:
    return _read_back(data, path, lambda element: read_guidance_claim(element, path, _namespace(element)), "guidance claim")


def parse_guidance(data: bytes, path: str) -> GuidanceDocument | None:
    return _read_back(data, path, lambda element: read_guidance(element, path), "guidance")


def parse_checkup(data: bytes, path: str) -> CheckupDocument | None:
    return _read_back(data, path, lambda element: read_checkup(element, path), "checkup")


def record_documents(record: Record) -> tuple[CheckupDocument | None, Claim | None]:
    """The record's checkup and claim, parsed from the stored original (None when unreadable)."""
    try:
        members = record_members(record)
    except Exception:  # a missing or damaged stored archive must not take the page down
        logger.exception("record %s: the stored archive could not be read", record.pk)
        return None, None
    checkup = parse_checkup(members[record.data_path], record.data_path) if record.data_path in members else None
    claim = parse_claim(members[record.claim_path], record.claim_path) if record.claim_path in members else None
    return checkup, claim


# --- a record as a person reads it ----------------------------------------------------------------------------

METABOLIC = "9N501000000000011"  # メタボリックシンドローム判定 (.1008)
GUIDANCE_LEVEL = "9N506000000000011"  # 保健指導レベル (.3001)
DIAGNOSIS = "9N511000000000049"  # 医師の診断(判定)
CATEGORY_ORDER = (
    "身体計測", "血圧等", "生化学検査", "血糖検査", "尿検査", "血液像検査", "がん検診・生体検査等", "診察",
    "医師の判断", "採血条件", "質問票", "後期質問票", "生活機能基本チェックリスト",
    "その他医療保険者等が任意に行う検査",
)
UNIT_LABELS = {"mm[Hg]": "mmHg", "kg/m2": "kg/m²", "cm2": "cm²", "10*4/mm3": "万/mm³", "ml/min/1.73m2": "mL/分/1.73m²"}


def _answer(observation: Any) -> str:
    return labels.answer_text(observation.answer_oid, observation.answer_code)


def _observation_row(observation: Any, definition: Any, sex: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "code": observation.code or "",
        "name": (definition.name if definition else observation.display_name) or observation.code or "",
        "value": "",
        "unit": "",
        "flag": "",
        "level": "",
        "note": "",
    }
    if observation.negation:
        row["note"] = _("未実施")
        return row
    if observation.null_flavor:
        row["note"] = _("測定不能")
    if observation.xml_type == "PQ" and observation.value is not None:
        row["value"] = observation.value
        unit = observation.unit or (definition.unit if definition else "") or ""
        row["unit"] = UNIT_LABELS.get(unit, unit)
        if definition is not None and definition.direction:
            try:
                judgement = definition.judge(Decimal(observation.value), sex)
            except InvalidOperation:
                judgement = Judgement.NORMAL
            if judgement is not Judgement.NORMAL:
                row["flag"] = "L" if definition.direction == "low" else "H"
                row["level"] = judgement.value
    elif observation.xml_type in ("CD", "CO"):
        row["value"] = _answer(observation)
    elif observation.value is not None:
        row["value"] = observation.value
    if observation.input_range_flag:
        row["note"] = _("入力範囲外（%(flag)s）") % {"flag": observation.input_range_flag}
    return row


def _charge_text(charge: Any) -> str:
    if charge is None:
        return ""
    text = labels.coded(labels.COPAY, charge.code)
    if charge.amount is not None:
        text += f" {charge.amount:,}円"
    if charge.rate is not None:
        text += f" {charge.rate / 1000:g}%"
    return text


def _claim_reading(claim: Claim | None) -> dict[str, Any] | None:
    if claim is None:
        return None
    s = claim.settlement
    charges = claim.charges
    return {
        "claim_type": labels.coded(labels.CLAIM_TYPE, s.claim_type),
        "commission_type": labels.coded(labels.COMMISSION, s.commission_type),
        "lines": [
            *([{"label": _("基本的な健診"), "price": s.unit_price_basic, "copay": s.payment_basic, "charge": _charge_text(charges.basic)}]
              if s.unit_price_basic is not None else []),
            *({"label": labels.coded(labels.DETAIL_ITEM, line.code), "price": line.amount, "copay": None, "charge": ""}
              for line in s.unit_price_details),
            *({"label": line.item_code or _("人間ドック"), "price": line.amount, "copay": None, "charge": ""}
              for line in s.unit_price_others),
        ],
        "detail_charge": _charge_text(charges.detail),
        "other_charge": _charge_text(charges.other),
        "payment_detail": s.payment_detail,
        "payment_other": s.payment_other,
        "unit_amount": s.unit_amount,
        "payment_amount": s.payment_amount,
        "payment_by_other_program": s.payment_by_other_program,
        "claim_amount": s.claim_amount,
        "ticket_number": claim.ticket_number or "",
        "ticket_expires_on": claim.ticket_expires_on,
        "insurer_result": claim.insurer_result,
    }


def _guidance_reading(record: Record) -> dict[str, Any]:
    """A guidance record as a person reads it: who; the course (level, 初回面接, 支援, 実績評価 with 腹囲・体重
    and the 第4期 points); then the claim of this part. Read from the stored original."""
    try:
        members = read_members(record.submission, [p for p in (record.data_path, record.claim_path) if p])
    except Exception:  # a missing or damaged stored archive must not take the page down
        logger.exception("record %s: the stored archive could not be read", record.pk)
        members = {}
    document = parse_guidance(members[record.data_path], record.data_path) if record.data_path in members else None
    claim = parse_guidance_claim(members[record.claim_path], record.claim_path) if record.claim_path in members else None
    reading: dict[str, Any] = {"readable": document is not None, "groups": [], "claim": None, "kind": record.kind}
    if document is not None:
        subject, course = document.subject, G.course_of(document)
        performer = document.header.performer or document.header.author
        ticket = document.ticket
        loss = G.waist_weight_loss(course)
        reading["person"] = {
            "name_kana": subject.name_kana,
            "sex": labels.coded(labels.SEX, subject.sex),
            "birth_date": subject.birth_date,
            "age": age_on(subject.birth_date, course.first_date) if course.first_date else None,
            "insurer_number": subject.insurer_number,
            "card": " ・ ".join(part or "—" for part in (subject.card_symbol, subject.card_number, subject.card_branch)),
            "ticket_number": ticket.number if ticket else "",
            "ticket_expires_on": ticket.expires_on if ticket else None,
            "checkup_date": document.header.service_date,
            "institution": f"{performer.number} {performer.name}",
        }
        reading["guidance"] = {
            "timing": G.TIMINGS.get(course.timing or "", course.timing or ""),
            "level": G.LEVELS.get(course.level or "", course.level or ""),
            "first_date": course.first_date,
            "start_waist": course.start_waist,
            "start_weight": course.start_weight,
            "evaluation_date": course.evaluation_date,
            "evaluation_waist": course.evaluation_waist,
            "evaluation_weight": course.evaluation_weight,
            "loss": loss,
            "supports": [
                {"on": s.on, "form": G.FORMS.get(s.form or "", s.form or ""), "minutes": s.minutes, "points": G.support_points(s)}
                for s in course.supports
            ],
            "outcome_points": G.outcome_points(course),
            "process_points": G.process_points(course),
        }
    if claim is not None:
        reading["guidance_claim"] = {
            "level": G.LEVELS.get(claim.guidance_level, claim.guidance_level),
            "timing": G.TIMINGS.get(claim.guidance_timing, claim.guidance_timing),
            "unit_price": claim.unit_price,
            "payment_rate": claim.payment_rate,
            "calculated_amount": claim.calculated_amount,
            "payment_amount": claim.payment_amount,
            "claim_amount": claim.claim_amount,
            "points_completed": claim.points_completed,
        }
    return reading


def record_reading(record: Record) -> dict[str, Any]:
    """The checkup as a person reads it: who, when, where; 判定 first; results grouped with units and
    H/L against 保健指導判定値 / 受診勧奨判定値; then the claim. Read from the stored original. A guidance
    record reads as its course (``_guidance_reading``)."""
    if record.kind == RecordKind.GUIDANCE:
        return _guidance_reading(record)
    checkup, claim = record_documents(record)
    reading: dict[str, Any] = {"readable": checkup is not None, "groups": [], "claim": _claim_reading(claim)}
    if checkup is None:
        return reading
    master = item_master()
    subject = checkup.subject
    ticket = checkup.ticket
    performer = checkup.header.performer or checkup.header.author
    reading["person"] = {
        "name_kana": subject.name_kana,
        "sex": labels.coded(labels.SEX, subject.sex),
        "birth_date": subject.birth_date,
        "age": age_on(subject.birth_date, checkup.checkup_date) if checkup.checkup_date else None,
        "insurer_number": subject.insurer_number,
        "card": " ・ ".join(part or "—" for part in (subject.card_symbol, subject.card_number, subject.card_branch)),
        "ticket_number": ticket.number if ticket else "",
        "ticket_expires_on": ticket.expires_on if ticket else None,
        "checkup_date": checkup.checkup_date,
        "institution": f"{performer.number} {performer.name}",
    }
    groups: dict[str, list[dict[str, Any]]] = {}
    results = checkup.results()
    for observation in checkup.observations():
        if observation.code is None:
            continue  # a group container (一連検査グループ): its members follow
        definition = master.get(observation.code)
        category = definition.category if definition else _("その他の項目")
        groups.setdefault(category, []).append(_observation_row(observation, definition, subject.sex))
    order = {name: index for index, name in enumerate(CATEGORY_ORDER)}
    reading["groups"] = [
        {"name": name, "rows": rows} for name, rows in sorted(groups.items(), key=lambda pair: order.get(pair[0], len(order)))
    ]
    metabolic, level, diagnosis = results.get(METABOLIC), results.get(GUIDANCE_LEVEL), results.get(DIAGNOSIS)
    reading["metabolic"] = _answer(metabolic) if metabolic is not None else ""
    reading["guidance_level"] = _answer(level) if level is not None else ""
    reading["diagnosis"] = (diagnosis.value or "") if diagnosis is not None else ""
    reading["doctor"] = (diagnosis.author_name or "") if diagnosis is not None else ""
    return reading
