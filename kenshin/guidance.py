"""特定保健指導: the items of a guidance document (hg08) as the typed facts of a course, and the 第4期
rules of its evaluation.

Item codes are those of the XML用特定保健指導項目情報 (第3期 official layout, code system …6.1006).
Two items the 第4期 outcome evaluation needs are not in that table: the person's 腹囲 and 体重 at the
初回面接. They are carried as ``1022001031`` / ``1022001032`` (the 初回面接 group ``1022`` with the
腹囲/体重 suffixes ``001031``/``001032`` the table uses for 中間評価 and 3か月後の評価) — a code
derived from the table's numbering, **not confirmed** against the 第4期 table (README, "特定保健指導").

第4期 rules (from 2024年度), as stated by public sources:

* 実績評価 no earlier than 3 months after the 初回面接 (初回から3か月以上経過後の実績評価) —
  insurer page (岡山県貨物運送健康保険組合 ``okb-kenpo.or.jp``) restating the MHLW 手引き;
* 積極的支援 is complete with 180 points of アウトカム評価 and プロセス評価 together; 腹囲2cm・体重2kg
  減 is worth 180 points by itself (MHLW working group material 2022, reported by 社会保険出版社 and
  the CB news of 2022-08-08);
* プロセス評価: 個別支援 70 points, グループ支援 70, 電話 30, 電子メール等 30 per support (MHLW working
  group 5, 2022-07-26, material 1 "特定保健指導の評価体系について");
* 腹囲1cm・体重1kg 減 and each 行動変容 (食習慣・運動習慣・喫煙・…): 20 points each, 禁煙 30 —
  **not confirmed** (the working-group draft said 30 for 1cm・1kg); the minimum minutes per
  support (個別 10, グループ 40, 電話 5) are **not confirmed** either.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Final

from kenshin.records import GuidanceDocument, Observation

# --- item codes (XML用特定保健指導項目情報) ------------------------------------------------------------
LEVEL: Final = "1020000001"  # 保健指導区分 (OID .3001): 1 積極的支援, 2 動機付け支援, 3 動機付け支援相当, 4 モデル実施
FIRST_DATE: Final = "1022000011"  # 初回面接の実施日付
FIRST_FORM: Final = "1022000012"  # 初回面接による支援の支援形態 (OID .18140)
FIRST_MINUTES: Final = "1022000013"  # 初回面接の実施時間 (min)
START_WAIST: Final = "1022001031"  # 初回面接時の腹囲 (cm) — code derived, not confirmed
START_WEIGHT: Final = "1022001032"  # 初回面接時の体重 (kg) — code derived, not confirmed
PLANNED_WEEKS: Final = "1021000020"  # 継続的支援予定期間 (wk)
TARGET_WAIST: Final = "1021001031"  # 目標腹囲
TARGET_WEIGHT: Final = "1021001032"  # 目標体重
PLANNED_POINTS: Final = "1041800114"  # 計画上のポイント（合計）
SUPPORT_DATE: Final = "1032100011"  # 支援の実施日付
SUPPORT_FORM: Final = "1032100012"  # 支援形態 (OID .1113)
SUPPORT_MINUTES: Final = "1032100013"  # 実施時間 (min)
SUPPORT_POINTS: Final = "1032100014"  # 実施ポイント
EVALUATION_DATE: Final = "1042000011"  # 3か月後の評価（実績評価）の実施日付
EVALUATION_FORM: Final = "1042000012"  # 実績評価の支援形態又は確認方法 (OID .3005)
EVALUATION_WAIST: Final = "1042001031"  # 実績評価時の腹囲
EVALUATION_WEIGHT: Final = "1042001032"  # 実績評価時の体重
IMPROVED_DIET: Final = "1042001042"  # 生活習慣の改善（栄養・食生活） (OID .3010: 0 変化なし, 1 改善, 2 悪化)
IMPROVED_ACTIVITY: Final = "1042001041"  # 生活習慣の改善（身体活動）
SMOKING: Final = "1042001043"  # 喫煙 (OID .3011: 1 禁煙継続, 2 非継続, 3 非喫煙, 4 禁煙の意志なし)
PERFORMED_POINTS: Final = "1042800114"  # 継続的な支援によるポイント（合計）
PERFORMED_COUNT: Final = "1042800117"  # 実施上の継続的な支援の実施回数

OID_LEVEL: Final = "1.2.392.200119.6.3001"
OID_FIRST_FORM: Final = "1.2.392.200119.6.18140"
OID_SUPPORT_FORM: Final = "1.2.392.200119.6.1113"
OID_EVALUATION_FORM: Final = "1.2.392.200119.6.3005"
OID_IMPROVEMENT: Final = "1.2.392.200119.6.3010"
OID_SMOKING: Final = "1.2.392.200119.6.3011"

# CDA section codes (.1010) of a guidance document.
SECTION_COMMON: Final = "90010"
SECTION_FIRST: Final = "90030"
SECTION_SUPPORT: Final = "90040"
SECTION_FINAL: Final = "90060"
GUIDANCE_SECTION_CODES: Final = {
    "90010": "共通",
    "90020": "初回①",
    "90030": "初回",
    "90040": "継続支援",
    "90050": "中間評価",
    "90060": "最終評価",
    "90070": "集計",
    "90080": "指導機関",
}

# 別表12 保健指導区分 and 別表11 保健指導実施時点
LEVEL_ACTIVE: Final = "1"
LEVEL_MOTIVATIONAL: Final = "2"
LEVEL_MOTIVATIONAL_EQUIVALENT: Final = "3"
LEVELS: Final = {"1": "積極的支援", "2": "動機付け支援", "3": "動機付け支援相当", "4": "モデル実施"}
TIMING_START: Final = "1"
TIMING_EVALUATION: Final = "2"
TIMING_DROPPED: Final = "3"
TIMINGS: Final = {"1": "開始時", "2": "実績評価時", "3": "途中終了時", "4": "その他", "5": "初回未完了"}
# 報告区分 (.1001) 21–25 ↔ 実施時点 1–5
REPORT_CATEGORY_OF_TIMING: Final = {"1": "21", "2": "22", "3": "23", "4": "24", "5": "25"}
TIMING_OF_REPORT_CATEGORY: Final = {value: key for key, value in REPORT_CATEGORY_OF_TIMING.items()}
# 別表14 窓口負担徴収
PAYMENT_ALL_AT_FIRST: Final = "1"
PAYMENT_OTHERWISE: Final = "2"

# --- 第4期 evaluation ----------------------------------------------------------------------------------
EVALUATION_MONTHS: Final = 3
REQUIRED_POINTS_ACTIVE: Final = 180
OUTCOME_MAIN_POINTS: Final = 180  # 腹囲2cm・体重2kg減
OUTCOME_MINOR_POINTS: Final = 20  # 腹囲1cm・体重1kg減 (not confirmed)
BEHAVIOUR_POINTS: Final = 20  # each 行動変容 (not confirmed)
SMOKING_POINTS: Final = 30  # 禁煙 (not confirmed)
# 支援形態 (.1113) → (points, minimum minutes): 1 個別A, 2 個別B, 3 グループ, 4 電話A, 5 電話B, 6 メールA, 7 メールB
PROCESS_POINTS: Final[Mapping[str, tuple[int, int]]] = {
    "1": (70, 10),
    "2": (70, 10),
    "3": (70, 40),
    "4": (30, 5),
    "5": (30, 5),
    "6": (30, 0),
    "7": (30, 0),
}
FORMS: Final = {"1": "個別支援", "2": "個別支援", "3": "グループ支援", "4": "電話", "5": "電話", "6": "電子メール等", "7": "電子メール等"}


@dataclass(frozen=True)
class Support:
    """One continuing support (継続的支援) as performed."""

    on: date | None
    form: str | None
    minutes: int | None
    points: int | None


@dataclass(frozen=True)
class GuidanceCourse:
    """What a guidance document says of the course, typed."""

    report_category: str
    timing: str | None
    level: str | None
    first_date: date | None
    first_form: str | None
    first_minutes: int | None
    start_waist: Decimal | None
    start_weight: Decimal | None
    target_waist: Decimal | None
    target_weight: Decimal | None
    planned_weeks: int | None
    planned_points: int | None
    supports: tuple[Support, ...]
    performed_points: int | None
    evaluation_date: date | None
    evaluation_form: str | None
    evaluation_waist: Decimal | None
    evaluation_weight: Decimal | None
    improved_diet: str | None
    improved_activity: str | None
    smoking: str | None


def _decimal(observation: Observation | None) -> Decimal | None:
    if observation is None or observation.value is None:
        return None
    try:
        return Decimal(observation.value)
    except InvalidOperation:
        return None


def _int(observation: Observation | None) -> int | None:
    number = _decimal(observation)
    return int(number) if number is not None and number == number.to_integral_value() else None


def _date(observation: Observation | None) -> date | None:
    text = observation.value if observation is not None else None
    if not text or len(text) < 8 or not text[:8].isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def _code(observation: Observation | None) -> str | None:
    return observation.answer_code if observation is not None else None


def _supports(observations: tuple[Observation, ...]) -> list[Support]:
    """The supports of section 90040: flat items, each support starting with its date."""
    groups: list[dict[str, Observation]] = []
    for observation in observations:
        if observation.code == SUPPORT_DATE or not groups:
            groups.append({})
        if observation.code is not None:
            groups[-1].setdefault(observation.code, observation)
    return [
        Support(
            on=_date(members.get(SUPPORT_DATE)),
            form=_code(members.get(SUPPORT_FORM)),
            minutes=_int(members.get(SUPPORT_MINUTES)),
            points=_int(members.get(SUPPORT_POINTS)),
        )
        for members in groups
    ]


def course_of(document: GuidanceDocument) -> GuidanceCourse:
    """The typed facts of a guidance document (an item that is missing or unreadable is None)."""
    results = document.results()
    supports = tuple(
        support for section in document.sections if section.code == SECTION_SUPPORT for support in _supports(section.observations)
    )
    category = document.header.report_category
    return GuidanceCourse(
        report_category=category,
        timing=TIMING_OF_REPORT_CATEGORY.get(category),
        level=_code(results.get(LEVEL)),
        first_date=_date(results.get(FIRST_DATE)),
        first_form=_code(results.get(FIRST_FORM)),
        first_minutes=_int(results.get(FIRST_MINUTES)),
        start_waist=_decimal(results.get(START_WAIST)),
        start_weight=_decimal(results.get(START_WEIGHT)),
        target_waist=_decimal(results.get(TARGET_WAIST)),
        target_weight=_decimal(results.get(TARGET_WEIGHT)),
        planned_weeks=_int(results.get(PLANNED_WEEKS)),
        planned_points=_int(results.get(PLANNED_POINTS)),
        supports=supports,
        performed_points=_int(results.get(PERFORMED_POINTS)),
        evaluation_date=_date(results.get(EVALUATION_DATE)),
        evaluation_form=_code(results.get(EVALUATION_FORM)),
        evaluation_waist=_decimal(results.get(EVALUATION_WAIST)),
        evaluation_weight=_decimal(results.get(EVALUATION_WEIGHT)),
        improved_diet=_code(results.get(IMPROVED_DIET)),
        improved_activity=_code(results.get(IMPROVED_ACTIVITY)),
        smoking=_code(results.get(SMOKING)),
    )


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it has fewer days)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def earliest_evaluation(first_date: date) -> date:
    """The first day a 実績評価 may take place: 3 months after the 初回面接 (第4期)."""
    return add_months(first_date, EVALUATION_MONTHS)


def support_points(support: Support) -> int:
    """Process points of one support: its form's points when it lasted the form's minimum."""
    rule = PROCESS_POINTS.get(support.form or "")
    if rule is None:
        return 0
    points, minimum = rule
    if minimum and (support.minutes is None or support.minutes < minimum):
        return 0
    return points


def process_points(course: GuidanceCourse) -> int:
    return sum(support_points(support) for support in course.supports)


def waist_weight_loss(course: GuidanceCourse) -> tuple[Decimal, Decimal] | None:
    """腹囲 (cm) and 体重 (kg) lost between the 初回面接 and the 実績評価, when both are recorded."""
    start_waist, start_weight = course.start_waist, course.start_weight
    end_waist, end_weight = course.evaluation_waist, course.evaluation_weight
    if start_waist is None or start_weight is None or end_waist is None or end_weight is None:
        return None
    return start_waist - end_waist, start_weight - end_weight


def outcome_points(course: GuidanceCourse) -> int:
    """アウトカム評価: 180 for 腹囲2cm・体重2kg減; otherwise 腹囲1cm・体重1kg減 and each 行動変容."""
    loss = waist_weight_loss(course)
    if loss is not None and loss[0] >= 2 and loss[1] >= 2:
        return OUTCOME_MAIN_POINTS
    points = OUTCOME_MINOR_POINTS if loss is not None and loss[0] >= 1 and loss[1] >= 1 else 0
    points += BEHAVIOUR_POINTS * sum(1 for code in (course.improved_diet, course.improved_activity) if code == "1")
    if course.smoking == "1":
        points += SMOKING_POINTS
    return points


def completed_points(course: GuidanceCourse) -> int:
    """The points of the course as performed: アウトカム評価 + プロセス評価 (what pointCountCompleted states)."""
    return outcome_points(course) + process_points(course)


def course_problems(course: GuidanceCourse) -> list[tuple[str, str]]:
    """What in a guidance document contradicts the 第4期 rules, as (problem, detail) pairs:

    * ``evaluation_too_early``: 実績評価 earlier than 3 months after the 初回面接;
    * ``evaluation_before_start``: 実績評価 before the 初回面接;
    * ``evaluation_missing``: a 実績評価時 document without its date or the 初回面接 date;
    * ``points_stated``: the stated points of the supports differ from the 第4期 points of their forms;
    * ``points_short``: 積極的支援 evaluated with fewer than 180 points.
    """
    problems: list[tuple[str, str]] = []
    if course.timing == TIMING_EVALUATION:
        if course.first_date is None or course.evaluation_date is None:
            problems.append(("evaluation_missing", "初回面接日・実績評価日"))
        elif course.evaluation_date < course.first_date:
            problems.append(("evaluation_before_start", f"初回面接 {course.first_date:%Y-%m-%d}・実績評価 {course.evaluation_date:%Y-%m-%d}"))
        elif course.evaluation_date < earliest_evaluation(course.first_date):
            problems.append((
                "evaluation_too_early",
                f"初回面接 {course.first_date:%Y-%m-%d}・実績評価 {course.evaluation_date:%Y-%m-%d}"
                f"（{earliest_evaluation(course.first_date):%Y-%m-%d} 以降）",
            ))
    stated = [support for support in course.supports if support.points is not None]
    wrong = [support for support in stated if support.points != support_points(support)]
    if wrong:
        first = wrong[0]
        problems.append((
            "points_stated",
            f"{first.on:%Y-%m-%d} {FORMS.get(first.form or '', first.form or '')} {first.minutes or 0}分: "
            f"記載 {first.points}・第4期 {support_points(first)}" if first.on else f"記載 {first.points}・第4期 {support_points(first)}",
        ))
    elif course.performed_points is not None and course.performed_points != process_points(course):
        problems.append(("points_stated", f"継続的支援ポイント合計 記載 {course.performed_points}・計算 {process_points(course)}"))
    if course.timing == TIMING_EVALUATION and course.level == LEVEL_ACTIVE:
        total = completed_points(course)
        if total < REQUIRED_POINTS_ACTIVE:
            problems.append((
                "points_short",
                f"アウトカム {outcome_points(course)}＋プロセス {process_points(course)} = {total}（{REQUIRED_POINTS_ACTIVE}以上）",
            ))
    return problems
