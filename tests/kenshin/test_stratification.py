"""階層化 (第4期): a table of hand-worked cases, at least one per branch of the rules, and the same
cases written into generated 特定健診情報 documents."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from kenshin import stratification as s
from kenshin.records import Observation, Section
from kenshin.rules import age_on, fiscal_year_end
from kenshin.stratification import Level, Measurements

D = Decimal
NO_MEDS = (False, False, False)

# A man of 50 with nothing wrong: every other case changes what it needs.
BASE = Measurements(
    sex="1", age=50, waist=D("80.0"), bmi=D("22.0"), fasting_glucose=D(90), hba1c=D("5.2"), fasting_tg=D(100),
    hdl=D(60), systolic=D(120), diastolic=D(70), smoking=False, medication=NO_MEDS,
)
WAIST = {"waist": D("85.0")}  # step 1 (1) for a man
BMI = {"waist": D("84.9"), "bmi": D("25.0")}  # step 1 (2)
GLUCOSE = {"fasting_glucose": D(100)}
LIPIDS = {"fasting_tg": D(150)}
PRESSURE = {"systolic": D(130)}

# (case, changes to BASE, expected level, expected risks counted)
CASES: list[tuple[str, dict[str, object], Level, tuple[str, ...]]] = [
    # Step 1.
    ("腹囲・BMIとも基準未満 → 情報提供", {"fasting_glucose": D(130)}, Level.NONE, ()),
    ("女性 腹囲89.9・BMI24.9 → 情報提供", {"sex": "2", "waist": D("89.9"), "bmi": D("24.9")}, Level.NONE, ()),
    ("女性 腹囲90 (1)・リスク1 → 動機付け", {"sex": "2", "waist": D("90.0"), **PRESSURE}, Level.MOTIVATIONAL, ("血圧",)),
    # Step 3 for (1).
    ("(1) リスク0 → 情報提供", WAIST, Level.NONE, ()),
    ("(1) リスク1（血糖: 空腹時100） → 動機付け", {**WAIST, **GLUCOSE}, Level.MOTIVATIONAL, ("血糖",)),
    ("(1) リスク2（脂質・血圧） → 積極的", {**WAIST, **LIPIDS, **PRESSURE}, Level.ACTIVE, ("脂質", "血圧")),
    ("(1) リスク1＋喫煙 → 積極的", {**WAIST, **PRESSURE, "smoking": True}, Level.ACTIVE, ("血圧", "喫煙")),
    ("(1) 喫煙だけ（①〜③なし）は数えない → 情報提供", {**WAIST, "smoking": True}, Level.NONE, ()),
    # Step 3 for (2).
    ("(2) リスク1 → 動機付け", {**BMI, **GLUCOSE}, Level.MOTIVATIONAL, ("血糖",)),
    ("(2) リスク2 → 動機付け", {**BMI, **GLUCOSE, **LIPIDS}, Level.MOTIVATIONAL, ("血糖", "脂質")),
    ("(2) リスク3 → 積極的", {**BMI, **GLUCOSE, **LIPIDS, **PRESSURE}, Level.ACTIVE, ("血糖", "脂質", "血圧")),
    ("(2) リスク2＋喫煙 → 積極的", {**BMI, **GLUCOSE, **PRESSURE, "smoking": True}, Level.ACTIVE,
     ("血糖", "血圧", "喫煙")),
    ("(2) リスク0 → 情報提供", BMI, Level.NONE, ()),
    # Step 2 thresholds.
    ("空腹時血糖99・HbA1c5.6（空腹時血糖が優先）", {**WAIST, "fasting_glucose": D(99), "hba1c": D("5.6")}, Level.NONE, ()),
    ("空腹時血糖なし・HbA1c5.6 → 血糖", {**WAIST, "fasting_glucose": None, "hba1c": D("5.6")}, Level.MOTIVATIONAL,
     ("血糖",)),
    ("空腹時血糖・HbA1cなし・随時血糖100 → 血糖", {**WAIST, "fasting_glucose": None, "hba1c": None,
                                            "random_glucose": D(100)}, Level.MOTIVATIONAL, ("血糖",)),
    ("随時中性脂肪174は基準未満", {**WAIST, "fasting_tg": None, "random_tg": D(174)}, Level.NONE, ()),
    ("随時中性脂肪175 → 脂質", {**WAIST, "fasting_tg": None, "random_tg": D(175)}, Level.MOTIVATIONAL, ("脂質",)),
    ("HDL39 → 脂質", {**WAIST, "hdl": D(39)}, Level.MOTIVATIONAL, ("脂質",)),
    ("HDL40は基準内", {**WAIST, "hdl": D(40)}, Level.NONE, ()),
    ("拡張期85 → 血圧", {**WAIST, "diastolic": D(85)}, Level.MOTIVATIONAL, ("血圧",)),
    ("収縮期129・拡張期84は基準内", {**WAIST, "systolic": D(129), "diastolic": D(84)}, Level.NONE, ()),
    # Step 4.
    ("65歳 積極的 → 動機付け", {**WAIST, **LIPIDS, **PRESSURE, "age": 65}, Level.MOTIVATIONAL, ("脂質", "血圧")),
    ("74歳 積極的 → 動機付け", {**BMI, **GLUCOSE, **LIPIDS, **PRESSURE, "age": 74}, Level.MOTIVATIONAL,
     ("血糖", "脂質", "血圧")),
    ("64歳 積極的のまま", {**WAIST, **LIPIDS, **PRESSURE, "age": 64}, Level.ACTIVE, ("脂質", "血圧")),
    ("服薬中（血圧） → 対象外（情報提供）", {**WAIST, **LIPIDS, **PRESSURE, "medication": (True, False, False)},
     Level.NONE, ("脂質", "血圧")),
    ("服薬中（脂質） → 対象外", {**BMI, **GLUCOSE, "medication": (False, False, True)}, Level.NONE, ("血糖",)),
    # 判定不能.
    ("腹囲なし → 判定不能", {"waist": None}, Level.UNDETERMINED, ()),
    ("腹囲基準未満でBMIなし → 判定不能", {"bmi": None}, Level.UNDETERMINED, ()),
    ("性別不明 → 判定不能", {"sex": "9"}, Level.UNDETERMINED, ()),
    ("血糖なし・リスク1（結果が変わりうる） → 判定不能", {**WAIST, **PRESSURE, "fasting_glucose": None, "hba1c": None},
     Level.UNDETERMINED, ("血圧",)),
    ("血糖なしでもリスク2で積極的が決まる", {**WAIST, **LIPIDS, **PRESSURE, "fasting_glucose": None, "hba1c": None},
     Level.ACTIVE, ("脂質", "血圧")),
    ("65歳・血糖なし・リスク1 → どちらでも動機付け", {**WAIST, **PRESSURE, "age": 65, "fasting_glucose": None,
                                             "hba1c": None}, Level.MOTIVATIONAL, ("血圧",)),
    ("喫煙の回答なし・リスク1 → 判定不能", {**WAIST, **PRESSURE, "smoking": None}, Level.UNDETERMINED, ("血圧",)),
    ("服薬の回答なし・対象 → 判定不能", {**WAIST, **PRESSURE, "medication": (None, False, False)}, Level.UNDETERMINED,
     ("血圧",)),
    ("服薬の回答なしでも情報提供は決まる", {"medication": (None, None, None)}, Level.NONE, ()),
]


@pytest.mark.parametrize(("changes", "expected", "risks"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hand_worked_cases(changes: dict[str, object], expected: Level, risks: tuple[str, ...]) -> None:
    result = s.stratify(replace(BASE, **changes))  # type: ignore[arg-type]
    assert result.level is expected
    assert result.risks == risks
    assert result.rule_version == s.RULE_VERSION
    if expected is Level.UNDETERMINED:
        assert result.missing and any(line.startswith(("不足", "腹囲", "性別")) for line in result.reasons)


def test_reasons_say_why() -> None:
    active = s.stratify(replace(BASE, **{**WAIST, **LIPIDS, **PRESSURE, "smoking": True}))  # type: ignore[arg-type]
    assert active.reasons == ("腹囲 85.0cm（基準 85cm以上）", "追加リスク: 脂質・血圧・喫煙")
    capped = s.stratify(replace(BASE, **{**WAIST, **LIPIDS, **PRESSURE, "age": 70}))  # type: ignore[arg-type]
    assert capped.reasons[-1] == "70歳（65〜74歳）のため動機付け支援"
    medicated = s.stratify(replace(BASE, **{**BMI, **GLUCOSE, "medication": (False, True, False)}))  # type: ignore[arg-type]
    assert medicated.reasons[-1] == "服薬中（血糖）のため特定保健指導の対象外"


# Item codes written into a document for each measurement (the first of each method).
CODES = {
    "waist": "9N016160100000001", "bmi": s.BMI_CODE, "fasting_glucose": "3D010000001926101",
    "hba1c": "3D046000001906202", "random_glucose": "3D010129901926101", "fasting_tg": "3F015000002327101",
    "random_tg": "3F015129902327101", "hdl": "3F070000002327101", "systolic": s.SYSTOLIC[0], "diastolic": s.DIASTOLIC[0],
}
LEVEL_AND_MEASURED = {*CODES.values(), s.SMOKING, *s.MEDICATION, "9N506000000000011"}


def _document_with(document, m: Measurements):  # type: ignore[no-untyped-def]
    """A generated document whose 階層化 items carry the values of ``m`` (others as generated)."""
    observations = [
        o for o in document.sections[0].observations
        if o.code not in LEVEL_AND_MEASURED and not (o.code or "").startswith(("9N0161", "9A75", "9A76", "3D010", "3D046",
                                                                                "3F015", "3F070"))
    ]
    for field, code in CODES.items():
        value = getattr(m, field)
        if value is not None:
            observations.append(Observation(code, xml_type="PQ", value=str(value)))
    if m.smoking is not None:
        observations.append(Observation(s.SMOKING, xml_type="CD", answer_code="1" if m.smoking else "3"))
    for code, taking in zip(s.MEDICATION, m.medication, strict=True):
        if taking is not None:
            observations.append(Observation(code, xml_type="CD", answer_code="1" if taking else "2"))
    subject = replace(document.header.subject, sex=m.sex)
    header = replace(document.header, subject=subject)
    return replace(document, header=header, sections=(Section(document.sections[0].code, None, tuple(observations)),
                                                      *document.sections[1:]))


def test_generated_people_equal_the_table(small_archive) -> None:  # type: ignore[no-untyped-def]
    """Each hand-worked case written into a generated person's document reads back to the same level."""
    documents = [member.record for member in small_archive.submission.checkups]
    for index, (name, changes, expected, _risks) in enumerate(CASES):
        m = replace(BASE, **changes)  # type: ignore[arg-type]
        document = _document_with(documents[index % len(documents)], m)
        assert s.stratify(s.measurements(document, m.age)).level is expected, name


def test_generator_reports_the_recomputed_level(small_archive) -> None:  # type: ignore[no-untyped-def]
    for member in small_archive.submission.checkups:
        document = member.record
        age = age_on(document.subject.birth_date, fiscal_year_end(document.checkup_date))
        assert s.reported_level(document) is s.stratify(s.measurements(document, age)).level
