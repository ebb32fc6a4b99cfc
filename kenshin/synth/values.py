"""Plausible checkup results for a synthetic person.

Values depend on sex, age and body size the way screening data usually do (blood pressure and
glucose rise with age and BMI, HDL is higher in women, liver enzymes follow a log-normal shape),
so a realistic share of results crosses the 保健指導判定値 and 受診勧奨判定値, and a few fall
outside the input range (flagged H/L as the format requires).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from itertools import accumulate
from random import Random

from kenshin import stratification
from kenshin.codes import SECTION_ADDITIONAL, SECTION_CHECKUP, DetailItem
from kenshin.items import ItemDefinition, ItemMaster, item_master
from kenshin.records import Observation, Relationship, Section

HEIGHT, WEIGHT, BMI = "9N001000000000001", "9N006000000000001", "9N011000000000001"
WAIST = "9N016160100000001"
SBP_1, SBP_2, SBP = "9A751000000000001", "9A752000000000001", "9A755000000000001"
DBP_1, DBP_2, DBP = "9A761000000000001", "9A762000000000001", "9A765000000000001"
DRAW_TIMING = "9N141000000000011"
TG_FASTING, TG_RANDOM = "3F015000002327101", "3F015129902327101"
HDL, LDL, NON_HDL = "3F070000002327101", "3F077000002327101", "3F069000002391901"
AST, ALT, GGT = "3B035000002327201", "3B045000002327201", "3B090000002327101"
FPG, RANDOM_GLUCOSE, HBA1C = "3D010000002227101", "3D010129902227101", "3D046000001906202"
URINE_GLUCOSE, URINE_PROTEIN = "1A020000000191111", "1A010000000191111"
HISTORY, SYMPTOMS, FINDINGS = "9N056000000000011", "9N061000000000011", "9N066000000000011"
HISTORY_TEXT, SYMPTOMS_TEXT, FINDINGS_TEXT = "9N056160400000049", "9N061160800000049", "9N066160800000049"
METS, GUIDANCE_LEVEL, DIAGNOSIS = "9N501000000000011", "9N506000000000011", "9N511000000000049"
DRINKING, DRINKING_AMOUNT = "9N786000000000011", "9N791000000000011"
NOT_TESTED_REASON = "9N512000000000011"  # 1 生理中, 2 腎疾患等で排尿障害, 3 その他
MED_BP, MED_GLUCOSE, MED_LIPID, SMOKING = (
    "9N701000000000011",
    "9N706000000000011",
    "9N711000000000011",
    "9N736000000000011",
)
OPTIONAL_QUESTIONS = (
    ("9N716000000000011", (0.05, 0.95)),
    ("9N721000000000011", (0.06, 0.94)),
    ("9N726000000000011", (0.01, 0.99)),
    ("9N731000000000011", (0.1, 0.9)),
    ("9N741000000000011", (0.4, 0.6)),
    ("9N746000000000011", (0.35, 0.65)),
    ("9N751000000000011", (0.5, 0.5)),
    ("9N756000000000011", (0.5, 0.5)),
    ("9N872000000000011", (0.8, 0.18, 0.02)),
    ("9N766000000000011", (0.3, 0.6, 0.1)),
    ("9N771000000000011", (0.3, 0.7)),
    ("9N782000000000011", (0.25, 0.55, 0.2)),
    ("9N781000000000011", (0.2, 0.8)),
    ("9N786000000000011", (0.2, 0.08, 0.08, 0.1, 0.1, 0.1, 0.04, 0.3)),
    ("9N791000000000011", (0.55, 0.3, 0.1, 0.04, 0.01)),
    ("9N796000000000011", (0.7, 0.3)),
    ("9N801000000000011", (0.25, 0.3, 0.2, 0.1, 0.15)),
    ("9N808000000000011", (0.15, 0.85)),
)
OTHER_ITEM_VALUES = {
    "3C020000002327101": (5.5, 1.4),
    "3F050000002327101": (205.0, 35.0),
    "3B070000002327101": (75.0, 20.0),
    "3A010000002327101": (7.1, 0.4),
}
DETAIL_REASONS = {
    DetailItem.ANEMIA: "貧血の既往歴があり医師が必要と認めたため",
    DetailItem.ECG: "血圧が受診勧奨判定値以上のため",
    DetailItem.FUNDUS: "血圧又は血糖が基準に該当したため",
    DetailItem.CREATININE: "血圧又は血糖が保健指導判定値以上のため",
}
DOCTORS = ("ﾔﾏﾓﾄ ｹﾝｼﾞ", "ｻｻｷ ﾏﾕﾐ", "ﾀﾅｶ ﾋﾛｼ", "ｺﾝﾄﾞｳ ｴﾘ", "ﾊﾔｼ ﾀｶｼ")


@dataclass(frozen=True)
class _Spec:
    """What the generator needs of one item, with text and float forms computed once."""

    item: ItemDefinition
    number_format: str
    maximum: float
    input_low: float | None
    input_high: float | None
    reference: dict[str, tuple[str, str, float, float] | None]


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _spec(item: ItemDefinition) -> _Spec:
    digits = item.digits or (5, 0)
    references: dict[str, tuple[str, str, float, float] | None] = {}
    for sex, bounds in (("1", item.reference_male), ("2", item.reference_female)):
        if bounds.low is None or bounds.high is None:
            references[sex] = None
        else:
            references[sex] = (_text(bounds.low) or "", _text(bounds.high) or "", float(bounds.low), float(bounds.high))
    return _Spec(
        item=item,
        number_format=f".{digits[1]}f",
        maximum=float("9" * digits[0] + ("." + "9" * digits[1] if digits[1] else "")),
        input_low=_float(item.input_low),
        input_high=_float(item.input_high),
        reference=references,
    )


_MEASURED_LIMIT = 200_000


class ResultBuilder:
    """Builds the observations of one checkup from the item master."""

    def __init__(self, master: ItemMaster | None = None) -> None:
        self.specs = {item.code: _spec(item) for item in (master or item_master())}
        self._coded: dict[tuple[str, str], Observation] = {}
        self._measured: dict[tuple[str, str, str], Observation] = {}

    def pq(self, code: str, value: float, sex: str) -> Observation:
        """A measured value in the item's format, flagged H/L outside the input range and
        interpreted L/N/H against the reference range of the sex (bounds from the master).

        Results repeat a lot (blood pressure 128, HDL 55 …) and observations are immutable, so
        each distinct one is built once and shared (which also lets the writer reuse its text).
        """
        spec = self.specs[code]
        text = format(min(max(value, 0.0), spec.maximum), spec.number_format)
        key = (code, text, sex)
        found = self._measured.get(key)
        if found is not None:
            return found
        number = float(text)
        flag = None
        if spec.input_low is not None and number <= spec.input_low:
            flag = "L"
        elif spec.input_high is not None and number >= spec.input_high:
            flag = "H"
        reference = spec.reference[sex] if flag is None else None
        interpretation = low = high = None
        if reference is not None:
            low, high, low_value, high_value = reference
            interpretation = "L" if number < low_value else "N" if number <= high_value else "H"
        found = Observation(
            code=code,
            xml_type="PQ",
            value=text,
            unit=spec.item.unit,
            method_code=spec.item.method_code,
            input_range_flag=flag,
            interpretation=interpretation,
            reference_low=low,
            reference_high=high,
        )
        if len(self._measured) < _MEASURED_LIMIT:
            self._measured[key] = found
        return found

    def coded(self, code: str, answer: str) -> Observation:
        """A coded answer; these are few and immutable, so each is built once and shared."""
        key = (code, answer)
        found = self._coded.get(key)
        if found is None:
            item = self.specs[code].item
            found = Observation(
                code=code,
                xml_type=item.xml_type,
                answer_code=answer,
                answer_oid=item.answer_oid,
                method_code=item.method_code,
            )
            self._coded[key] = found
        return found

    def text(self, code: str, value: str, author: str | None = None) -> Observation:
        return Observation(code=code, xml_type="ST", value=value, author_name=author)


_ANSWERS = tuple(str(code) for code in range(1, 21))


def _cumulative(weights: Sequence[float]) -> tuple[float, ...]:
    return tuple(accumulate(weights))


def _pick(rng: Random, cumulative: tuple[float, ...]) -> str:
    """An answer code 1..n drawn with the weights whose running sums are given."""
    return _ANSWERS[bisect_right(cumulative, rng.random() * cumulative[-1])]


_NOT_TESTED = {code: Observation(code=code, negation=True) for code in (URINE_GLUCOSE, URINE_PROTEIN)}
_URINE_GLUCOSE_HIGH = _cumulative((0, 0.2, 0.4, 0.3, 0.1))
_URINE_PROTEIN = _cumulative((0.85, 0.08, 0.05, 0.015, 0.005))
_SMOKING = {"1": _cumulative((0.22, 0.1, 0.68)), "2": _cumulative((0.07, 0.05, 0.88))}
_FUNDUS = _cumulative((0.7, 0.2, 0.08, 0.02))
_QUESTIONS = tuple((code, _cumulative(weights)) for code, weights in OPTIONAL_QUESTIONS)


def _round1(value: float) -> float:
    return float(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class CheckupResults:
    sections: tuple[Section, ...]
    detail_items: frozenset[DetailItem]
    other_items: tuple[str, ...]


def checkup_results(
    rng: Random,
    builder: ResultBuilder,
    *,
    sex: str,
    age: int,
    other_item_choices: Iterable[str] = (),
    year_end_age: int | None = None,
) -> CheckupResults:
    """All results of one 特定健診, in the usual order of the form (``age`` on the day; ``year_end_age``,
    the age reached in the 年度 that 階層化 uses, defaults to it)."""
    male = sex == "1"
    b = builder
    g = rng.gauss
    obs: list[Observation] = []

    height = g(170.5 - 0.15 * (age - 40), 6.0) if male else g(157.5 - 0.12 * (age - 40), 5.5)
    bmi_target = rng.lognormvariate(3.17, 0.14) if male else rng.lognormvariate(3.10, 0.16)
    weight = _round1(bmi_target * (height / 100) ** 2)
    height = _round1(height)
    bmi = _round1(weight / (height / 100) ** 2)
    waist = (84.0 + (bmi - 24.0) * 2.6 + g(0, 4.0)) if male else (80.0 + (bmi - 22.5) * 2.6 + g(0, 5.0))
    obs += [b.pq(HEIGHT, height, sex), b.pq(WEIGHT, weight, sex), b.pq(BMI, bmi, sex), b.pq(WAIST, waist, sex)]

    for code, detail_code, text in (
        (HISTORY, HISTORY_TEXT, "高血圧症"),
        (SYMPTOMS, SYMPTOMS_TEXT, "肩こり"),
        (FINDINGS, FINDINGS_TEXT, "特記すべき所見あり"),
    ):
        answer = "1" if rng.random() < (0.25 if code == HISTORY else 0.1) else "2"
        obs.append(b.coded(code, answer))
        if answer == "1":
            obs.append(b.text(detail_code, text))

    sbp = g(112 + 0.55 * (age - 40) + 1.3 * (bmi - 22) + (5 if male else 0), 13)
    dbp = 0.55 * sbp + g(4 if male else 1, 7)
    if rng.random() < 0.6:
        first, second = sbp + g(3, 4), sbp + g(0, 4)
        obs += [b.pq(SBP_1, first, sex), b.pq(SBP_2, second, sex)]
        obs += [b.pq(DBP_1, dbp + g(2, 3), sex), b.pq(DBP_2, dbp + g(0, 3), sex)]
        sbp = (round(first) + round(second)) / 2
    obs += [b.pq(SBP, sbp, sex), b.pq(DBP, dbp, sex)]

    fasting = rng.random() < 0.8
    obs.append(b.coded(DRAW_TIMING, "2" if fasting else rng.choice("34")))
    tg = rng.lognormvariate(4.72 if male else 4.45, 0.5) * (1 + (bmi - 23) * 0.04) * (1.0 if fasting else 1.2)
    if rng.random() < 0.001:
        tg = rng.uniform(2001, 3500)
    hdl = g((55 if male else 67) - 1.3 * (bmi - 23), 13)
    ldl = g(118 + (0.5 * (age - 40) if not male else 0), 30)
    obs.append(b.pq(TG_FASTING if fasting else TG_RANDOM, tg, sex))
    obs.append(b.pq(HDL, hdl, sex))
    obs.append(b.pq(NON_HDL, ldl + tg / 5, sex) if tg >= 400 else b.pq(LDL, ldl, sex))

    obs.append(b.pq(AST, rng.lognormvariate(3.05, 0.3), sex))
    obs.append(b.pq(ALT, rng.lognormvariate(3.05 if male else 2.75, 0.45) * (1 + (bmi - 23) * 0.05), sex))
    obs.append(b.pq(GGT, rng.lognormvariate(3.55 if male else 2.95, 0.6), sex))

    glucose = 88 + 0.25 * (age - 40) + 1.1 * (bmi - 22) + rng.lognormvariate(1.5, 0.9)
    hba1c = 5.1 + (glucose - 90) / 32 + g(0, 0.2)
    if fasting:
        obs.append(b.pq(FPG, glucose, sex))
    elif rng.random() < 0.5:
        obs.append(b.pq(RANDOM_GLUCOSE, glucose + g(25, 15), sex))
    if rng.random() < 0.8 or not fasting:
        obs.append(b.pq(HBA1C, hba1c, sex))
    if not male and age < 56 and rng.random() < 0.03:
        # Not tested during menstruation: recorded as 未実施 with its reason, still a 特定健診.
        obs += [_NOT_TESTED[URINE_GLUCOSE], _NOT_TESTED[URINE_PROTEIN], b.coded(NOT_TESTED_REASON, "1")]
    else:
        obs.append(b.coded(URINE_GLUCOSE, "1" if hba1c < 6.5 or rng.random() < 0.6 else _pick(rng, _URINE_GLUCOSE_HIGH)))
        obs.append(b.coded(URINE_PROTEIN, _pick(rng, _URINE_PROTEIN)))

    high_bp = sbp >= 130 or dbp >= 85
    very_high_bp = sbp >= 140 or dbp >= 90
    high_glucose = glucose >= 100 or hba1c >= 5.6
    details = set()
    if rng.random() < 0.08:
        details.add(DetailItem.ANEMIA)
    if (very_high_bp and rng.random() < 0.6) or rng.random() < 0.03:
        details.add(DetailItem.ECG)
    if (very_high_bp or hba1c >= 6.5) and rng.random() < 0.3:
        details.add(DetailItem.FUNDUS)
    if (high_bp or high_glucose) and rng.random() < 0.4:
        details.add(DetailItem.CREATININE)
    obs += [_detail_group(rng, b, item, sex=sex, age=age) for item in sorted(details, key=lambda d: d.value)]

    smoker = _pick(rng, _SMOKING[sex])
    meds = {
        MED_BP: "1" if (sbp >= 140 and rng.random() < 0.5) or rng.random() < 0.1 + 0.004 * (age - 40) else "2",
        MED_GLUCOSE: "1" if hba1c >= 6.5 and rng.random() < 0.6 else "2",
        MED_LIPID: "1" if (ldl >= 160 and rng.random() < 0.5) or rng.random() < 0.08 else "2",
    }
    waist_over = waist >= (85 if male else 90)
    risks = sum((high_bp, tg >= 150 or hdl < 40, glucose >= 110 or hba1c >= 6.0))
    mets = "1" if waist_over and risks >= 2 else "2" if waist_over and risks == 1 else "3"
    answered = [b.coded(code, answer) for code, answer in meds.items()] + [b.coded(SMOKING, smoker)]
    level = _guidance_level(obs + answered, sex, age if year_end_age is None else year_end_age)
    obs += [b.coded(METS, mets), b.coded(GUIDANCE_LEVEL, level)]
    diagnosis = "異常なし" if mets == "3" and not very_high_bp else "生活習慣の改善を要する"
    obs.append(b.text(DIAGNOSIS, diagnosis, author=rng.choice(DOCTORS)))
    obs += answered
    answers = {code: _pick(rng, weights) for code, weights in _QUESTIONS if rng.random() < 0.9}
    if answers.get(DRINKING) in ("7", "8"):
        answers.pop(DRINKING_AMOUNT, None)  # 飲酒量 is asked of those who drink
    obs += [b.coded(code, answer) for code, answer in answers.items()]

    sections = [Section(SECTION_CHECKUP, None, tuple(obs))]
    others = tuple(code for code in other_item_choices if code in OTHER_ITEM_VALUES and rng.random() < 0.5)
    if others:
        extra = []
        for code in others:
            mean, spread = OTHER_ITEM_VALUES[code]
            extra.append(b.pq(code, g(mean, spread), sex))
        sections.append(Section(SECTION_ADDITIONAL, None, tuple(extra)))
    return CheckupResults(tuple(sections), frozenset(details), others)


def _guidance_level(observations: Sequence[Observation], sex: str, age: int) -> str:
    """保健指導レベル (1 積極的支援, 2 動機付け支援, 3 なし, 4 判定不能) by the 第4期 階層化 of the values written."""
    results: dict[str, Observation] = {}
    for observation in observations:
        if observation.code is not None:
            results.setdefault(observation.code, observation)
    return stratification.stratify(stratification.measurements_from_results(results, sex, age)).level.value


def _detail_group(rng: Random, b: ResultBuilder, item: DetailItem, *, sex: str, age: int) -> Observation:
    male = sex == "1"
    g = rng.gauss
    members: list[Relationship] = []
    target: Observation | None = None
    if item is DetailItem.ANEMIA:
        hb = g(14.8 if male else 13.0, 1.2)
        members += [
            Relationship("COMP", b.pq("2A030000001930101", hb, sex)),
            Relationship("COMP", b.pq("2A040000001930102", hb * 3.0 + g(0, 1), sex)),
            Relationship("COMP", b.pq("2A020000001930101", hb * 33 + g(0, 20), sex)),
        ]
        reason_code = "2A020161001930149"
    elif item is DetailItem.ECG:
        finding = "1" if rng.random() < 0.15 else "2"
        members.append(Relationship("COMP", b.coded("9A110160700000011", finding)))
        if finding == "1":
            members.append(Relationship("COMP", b.text("9A110160800000049", "ST-T変化")))
        target = b.coded("9A110161600000011", "1")
        reason_code = "9A110161000000049"
    elif item is DetailItem.FUNDUS:
        members.append(Relationship("COMP", b.coded("9E100166000000011", _pick(rng, _FUNDUS))))
        target = b.coded("9E100161600000011", "1")
        reason_code = "9E100161000000049"
    else:
        creatinine = rng.lognormvariate(-0.1 if male else -0.4, 0.2)
        egfr = 194 * creatinine**-1.094 * age**-0.287 * (1 if male else 0.739)
        members += [
            Relationship("COMP", b.pq("3C015000002327101", creatinine, sex)),
            Relationship("COMP", b.pq("8A065000002391901", egfr, sex)),
        ]
        target = b.coded("3C015161602399911", "1")
        reason_code = "3C015161002399949"
    if target is not None:
        members.append(Relationship("RSON", target))
    members.append(Relationship("RSON", b.text(reason_code, DETAIL_REASONS[item])))
    return Observation(code=None, code_null_flavor="NA", relationships=tuple(members))
