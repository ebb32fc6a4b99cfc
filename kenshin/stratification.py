"""保健指導対象者の選定と階層化 (第4期): the 保健指導レベル a checkup's results lead to.

The rules of 標準的な健診・保健指導プログラム（令和6年度版） (README "階層化" lists the sources):

* step 1 — 内臓脂肪蓄積: 腹囲 男性85cm以上・女性90cm以上 → (1); otherwise BMI 25以上 → (2); otherwise
  情報提供 (no further step).
* step 2 — 追加リスク: ① 血糖 (空腹時血糖 100mg/dL以上, without it HbA1c 5.6%以上, without both
  随時血糖 100mg/dL以上), ② 脂質 (空腹時中性脂肪 150mg/dL以上 — without it 随時中性脂肪 175mg/dL以上 —
  or HDLコレステロール 40mg/dL未満), ③ 血圧 (収縮期 130mmHg以上 or 拡張期 85mmHg以上), ④ 喫煙 (counted
  only when one of ①–③ is).
* step 3 — (1): 2 or more → 積極的支援, 1 → 動機付け支援, 0 → 情報提供; (2): 3 or more → 積極的支援,
  1–2 → 動機付け支援, 0 → 情報提供.
* step 4 — people on medication for blood pressure, glucose or lipids (服薬1〜3) are not 特定保健指導
  targets (情報提供); people aged 65–74 (age reached in the 年度) are given 動機付け支援 at most.

A missing item makes the level 判定不能 only when it could change the level: the level is computed
with every unknown risk absent and with every unknown risk present, and only equal results count.
Plain Python (no Django): values in, a ``Stratification`` out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from kenshin.records import CheckupDocument, Observation

RULE_VERSION = "4期-R6.1"
"""The rule set: 第4期 (2024年度〜), 標準的な健診・保健指導プログラム（令和6年度版）. Kept with each result."""

MALE, FEMALE = "1", "2"
WAIST_CUTOFF = {MALE: Decimal(85), FEMALE: Decimal(90)}
BMI_CUTOFF = Decimal(25)
FASTING_GLUCOSE_CUTOFF = Decimal(100)
HBA1C_CUTOFF = Decimal("5.6")
RANDOM_GLUCOSE_CUTOFF = Decimal(100)
FASTING_TG_CUTOFF = Decimal(150)
RANDOM_TG_CUTOFF = Decimal(175)
HDL_BELOW = Decimal(40)
SYSTOLIC_CUTOFF = Decimal(130)
DIASTOLIC_CUTOFF = Decimal(85)
ELDERLY_FROM, ELDERLY_TO = 65, 74

# Item codes (XML用特定健診項目情報 第4期), by prefix where the measuring method varies.
WAIST_PREFIX = "9N0161"  # 腹囲 実測 / 自己判定 / 自己申告
BMI_CODE = "9N011000000000001"
FASTING_GLUCOSE_PREFIX = "3D0100000"
RANDOM_GLUCOSE_PREFIX = "3D0101299"
HBA1C_PREFIX = "3D046000001"
FASTING_TG_PREFIX = "3F0150000"
RANDOM_TG_PREFIX = "3F0151299"
HDL_PREFIX = "3F0700000"
SYSTOLIC = ("9A755000000000001", "9A752000000000001", "9A751000000000001")  # その他 (平均), 2回目, 1回目
DIASTOLIC = ("9A765000000000001", "9A762000000000001", "9A761000000000001")
SMOKING = "9N736000000000011"  # 喫煙 (.24060: 1 はい, 2 以前は吸っていたが最近1ヶ月間は吸っていない, 3 いいえ)
MEDICATION = {
    "9N701000000000011": "血圧",
    "9N706000000000011": "血糖",
    "9N711000000000011": "脂質",
}  # 服薬1〜3 (.2003: 1 はい, 2 いいえ)
YES = "1"


class Level(StrEnum):
    """保健指導レベル, by its code in OID 1.2.392.200119.6.3001 (the 9N506 item)."""

    ACTIVE = "1"
    MOTIVATIONAL = "2"
    NONE = "3"
    UNDETERMINED = "4"

    @property
    def label(self) -> str:
        return LEVEL_LABELS[self]

    @property
    def is_target(self) -> bool:
        return self in (Level.ACTIVE, Level.MOTIVATIONAL)


LEVEL_LABELS = {
    Level.ACTIVE: "積極的支援",
    Level.MOTIVATIONAL: "動機付け支援",
    Level.NONE: "情報提供",
    Level.UNDETERMINED: "判定不能",
}


@dataclass(frozen=True)
class Measurements:
    """What 階層化 reads of one checkup; None is "not measured / not answered"."""

    sex: str
    age: int | None  # age reached in the 年度 (年度末年齢)
    waist: Decimal | None = None
    bmi: Decimal | None = None
    fasting_glucose: Decimal | None = None
    hba1c: Decimal | None = None
    random_glucose: Decimal | None = None
    fasting_tg: Decimal | None = None
    random_tg: Decimal | None = None
    hdl: Decimal | None = None
    systolic: Decimal | None = None
    diastolic: Decimal | None = None
    smoking: bool | None = None
    medication: tuple[bool | None, bool | None, bool | None] = (None, None, None)  # 血圧, 血糖, 脂質


@dataclass(frozen=True)
class Stratification:
    """The level, the rule version it was computed with, and why (in the words of the program)."""

    level: Level
    rule_version: str
    obesity: str | None  # "腹囲" (step 1 (1)), "BMI" (step 1 (2)) or None
    risks: tuple[str, ...]  # the risks counted: 血糖, 脂質, 血圧, 喫煙
    reasons: tuple[str, ...]  # one line per fact that decided the level
    missing: tuple[str, ...] = ()  # what made it 判定不能


def _either(*parts: bool | None) -> bool | None:
    """True when one part is, False when every part is False, None otherwise."""
    if any(part is True for part in parts):
        return True
    if all(part is False for part in parts):
        return False
    return None


def _at_least(value: Decimal | None, cutoff: Decimal) -> bool | None:
    return None if value is None else value >= cutoff


def _glucose(m: Measurements) -> bool | None:
    if m.fasting_glucose is not None:
        return m.fasting_glucose >= FASTING_GLUCOSE_CUTOFF
    if m.hba1c is not None:
        return m.hba1c >= HBA1C_CUTOFF
    return _at_least(m.random_glucose, RANDOM_GLUCOSE_CUTOFF)


def _lipids(m: Measurements) -> bool | None:
    if m.fasting_tg is not None:
        triglycerides = _at_least(m.fasting_tg, FASTING_TG_CUTOFF)
    else:
        triglycerides = _at_least(m.random_tg, RANDOM_TG_CUTOFF)
    hdl = None if m.hdl is None else m.hdl < HDL_BELOW
    return _either(triglycerides, hdl)


def _pressure(m: Measurements) -> bool | None:
    return _either(_at_least(m.systolic, SYSTOLIC_CUTOFF), _at_least(m.diastolic, DIASTOLIC_CUTOFF))


def _level_for(obesity: str, metabolic: int, smoking: bool) -> Level:
    count = metabolic + (1 if smoking and metabolic else 0)
    active_from = 2 if obesity == "腹囲" else 3
    if count >= active_from:
        return Level.ACTIVE
    return Level.MOTIVATIONAL if count else Level.NONE


def stratify(m: Measurements) -> Stratification:
    """The 保健指導レベル of one checkup under the 第4期 rules (``RULE_VERSION``)."""

    def result(level: Level, obesity: str | None, risks: tuple[str, ...], reasons: list[str],
               missing: tuple[str, ...] = ()) -> Stratification:
        return Stratification(level, RULE_VERSION, obesity, risks, tuple(reasons), missing)

    cutoff = WAIST_CUTOFF.get(m.sex)
    if cutoff is None:
        return result(Level.UNDETERMINED, None, (), ["性別が不明"], ("性別",))
    # Step 1.
    if m.waist is None:
        return result(Level.UNDETERMINED, None, (), ["腹囲がない"], ("腹囲",))
    if m.waist >= cutoff:
        obesity, reasons = "腹囲", [f"腹囲 {m.waist}cm（基準 {cutoff}cm以上）"]
    elif m.bmi is None:
        return result(Level.UNDETERMINED, None, (), ["腹囲が基準未満でBMIがない"], ("BMI",))
    elif m.bmi >= BMI_CUTOFF:
        obesity, reasons = "BMI", [f"腹囲 {m.waist}cm は基準未満、BMI {m.bmi}（基準 {BMI_CUTOFF}以上）"]
    else:
        return result(Level.NONE, None, (), [f"腹囲 {m.waist}cm・BMI {m.bmi} とも基準未満"])
    # Step 2.
    risks = {"血糖": _glucose(m), "脂質": _lipids(m), "血圧": _pressure(m)}
    counted = tuple(name for name, present in risks.items() if present)
    unknown = tuple(name for name, present in risks.items() if present is None)
    smoking_counts = bool(m.smoking) and bool(counted)
    # Step 3, with unknown risks absent and present: only equal results decide.
    low = _level_for(obesity, len(counted), bool(m.smoking))
    high = _level_for(obesity, len(counted) + len(unknown), m.smoking is not False)
    risk_names = counted + (("喫煙",) if smoking_counts else ())
    reasons.append("追加リスク: " + ("・".join(risk_names) or "なし"))
    missing = list(unknown) + (["喫煙"] if m.smoking is None and (counted or unknown) and low != high else [])
    # Step 4: medication excludes; 65–74 capped at 動機付け支援.
    on_medication = [label for label, taking in zip(MEDICATION.values(), m.medication, strict=True) if taking]
    if on_medication:
        reasons.append("服薬中（" + "・".join(on_medication) + "）のため特定保健指導の対象外")
        return result(Level.NONE, obesity, risk_names, reasons)
    elderly = m.age is not None and ELDERLY_FROM <= m.age <= ELDERLY_TO
    if m.age is None and Level.ACTIVE in (low, high):
        missing.append("年齢")
    if elderly:
        low, high = (Level.MOTIVATIONAL if level is Level.ACTIVE else level for level in (low, high))
    if low.is_target or high.is_target:
        missing += [f"服薬（{label}）" for label, taking in zip(MEDICATION.values(), m.medication, strict=True)
                    if taking is None]
    if low != high or (m.age is None and Level.ACTIVE in (low, high)) or (low.is_target and None in m.medication):
        missing_names = tuple(dict.fromkeys(missing))
        return result(Level.UNDETERMINED, obesity, risk_names, [*reasons, "不足: " + "・".join(missing_names)],
                      missing_names)
    if elderly and _level_for(obesity, len(counted), bool(m.smoking)) is Level.ACTIVE:
        reasons.append(f"{m.age}歳（65〜74歳）のため動機付け支援")
    return result(low, obesity, risk_names, reasons)


def _quantity(results: Mapping[str, Observation], codes: tuple[str, ...]) -> Decimal | None:
    for code in codes:
        observation = results.get(code)
        if observation is not None and not observation.negation and observation.quantity is not None:
            return observation.quantity
    return None


def _pressure_value(results: Mapping[str, Observation], codes: tuple[str, ...]) -> Decimal | None:
    """その他 (the average the standard asks for with two readings); else the mean of the two readings."""
    average = _quantity(results, codes[:1])
    if average is not None:
        return average
    readings = [value for code in codes[1:] if (value := _quantity(results, (code,))) is not None]
    return sum(readings, Decimal(0)) / len(readings) if readings else None


def _answer(results: Mapping[str, Observation], code: str) -> bool | None:
    observation = results.get(code)
    if observation is None or observation.negation or observation.answer_code is None:
        return None
    return observation.answer_code == YES


def measurements(document: CheckupDocument, age: int | None) -> Measurements:
    """What 階層化 reads of a 特定健診情報 document (``age``: the age reached in the 年度)."""
    return measurements_from_results(document.results(), document.subject.sex, age)


PREFIXES = {
    "waist": WAIST_PREFIX, "fasting_glucose": FASTING_GLUCOSE_PREFIX, "hba1c": HBA1C_PREFIX,
    "random_glucose": RANDOM_GLUCOSE_PREFIX, "fasting_tg": FASTING_TG_PREFIX, "random_tg": RANDOM_TG_PREFIX,
    "hdl": HDL_PREFIX,
}
_STEMS = frozenset(prefix[:5] for prefix in PREFIXES.values())


def _by_prefixes(results: Mapping[str, Observation]) -> dict[str, Decimal | None]:
    """The value of each measurement named by a code prefix: of the codes present, the first in code order
    that carries a value (one pass over the results)."""
    candidates: dict[str, list[str]] = {name: [] for name in PREFIXES}
    for code in results:
        if code[:5] not in _STEMS:
            continue
        for name, prefix in PREFIXES.items():
            if code.startswith(prefix):
                candidates[name].append(code)
    return {name: _quantity(results, tuple(sorted(codes))) for name, codes in candidates.items()}


def measurements_from_results(results: Mapping[str, Observation], sex: str, age: int | None) -> Measurements:
    """What 階層化 reads of results by item code (the first observation of each code)."""
    first, second, third = (_answer(results, code) for code in MEDICATION)
    values = _by_prefixes(results)
    return Measurements(
        sex=sex,
        age=age,
        bmi=_quantity(results, (BMI_CODE,)),
        systolic=_pressure_value(results, SYSTOLIC),
        diastolic=_pressure_value(results, DIASTOLIC),
        smoking=_answer(results, SMOKING),
        medication=(first, second, third),
        **values,
    )


def reported_level(document: CheckupDocument) -> Level | None:
    """The 保健指導レベル the institution reported (9N506), when it is a code of OID .3001."""
    observation = document.results().get("9N506000000000011")
    try:
        return Level(observation.answer_code) if observation is not None and observation.answer_code else None
    except ValueError:
        return None
