"""The item master: the packaged file loads and is coherent; a bad file fails loudly."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from kenshin.items import (
    DEFAULT_PATH,
    ItemMasterError,
    Judgement,
    Requirement,
    item_master,
    load_item_master,
)


def test_packaged_master_covers_the_basic_items_and_questionnaire() -> None:
    master = item_master()
    required = {item.code for item in master.with_requirement(Requirement.REQUIRED)}
    for code in (
        "9N001000000000001",  # 身長
        "9N006000000000001",  # 体重
        "9N011000000000001",  # BMI
        "9N056000000000011",  # 既往歴
        "9N501000000000011",  # メタボリックシンドローム判定
        "9N701000000000011",  # 服薬1
        "9N736000000000011",  # 喫煙
    ):
        assert code in required
    groups = master.one_of_groups()
    assert set(groups["waist"]) == {
        "9N016160100000001",
        "9N016160200000001",
        "9N016160300000001",
        "9N021000000000001",
    }
    assert "3D046000001906202" in groups["glycaemia"]
    assert "3D010129901926101" in groups["glycaemia"]
    assert master.detail_groups() == {
        "1": "2A020161001930149",
        "2": "9A110161000000049",
        "3": "9E100161000000049",
        "4": "3C015161002399949",
    }


def test_item_facts_from_the_spec() -> None:
    master = item_master()
    bmi = master["9N011000000000001"]
    assert (bmi.xml_type, bmi.format, bmi.unit, bmi.digits) == ("PQ", "NN.N", "kg/m2", (2, 1))
    assert (bmi.input_low, bmi.input_high) == (Decimal(10), Decimal(100))
    smoking = master["9N736000000000011"]
    assert (smoking.answer_oid, smoking.answer_codes) == ("1.2.392.200119.6.24060", ("1", "2", "3"))
    assert master["9A755000000000001"].unit == "mm[Hg]"
    assert master["9N516000000000049"].element == "author"
    assert master["9N511000000000049"].author_item == "9N516000000000049"


def test_thresholds_by_sex_and_direction() -> None:
    master = item_master()
    waist = master["9N016160100000001"]
    assert waist.judge(Decimal("86"), "1") is Judgement.GUIDANCE
    assert waist.judge(Decimal("86"), "2") is Judgement.NORMAL
    sbp = master["9A755000000000001"]
    assert [sbp.judge(Decimal(v), "1") for v in ("129", "130", "140")] == [
        Judgement.NORMAL,
        Judgement.GUIDANCE,
        Judgement.RECOMMEND,
    ]
    hdl = master["3F070000002327101"]
    assert [hdl.judge(Decimal(v), "2") for v in ("40", "39", "34")] == [
        Judgement.NORMAL,
        Judgement.GUIDANCE,
        Judgement.RECOMMEND,
    ]


def test_format_and_ranges() -> None:
    master = item_master()
    height = master["9N001000000000001"]
    assert height.fits_format("170.2") and height.fits_format("170")
    assert not height.fits_format("1700.2") and not height.fits_format("170.25") and not height.fits_format("abc")
    assert height.input_range_flag(Decimal("99.9")) == "L"
    # On the bound itself: 入力最小値以下 → L, 入力最大値以上 → H (MHLW program, ORCA Observation.java).
    assert height.input_range_flag(Decimal("100")) == "L"
    assert height.input_range_flag(Decimal("100.1")) is None
    assert height.input_range_flag(Decimal("249.9")) is None
    assert height.input_range_flag(Decimal("250")) == "H"
    assert height.input_range_flag(Decimal("250.1")) == "H"
    assert master["3F070000002327101"].reference_flag(Decimal("38"), "1") == "L"


def test_accessor_is_cached() -> None:
    assert item_master() is item_master()


def _write(
    tmp_path: Path, mutate: dict[str, dict[str, str]] | None = None, extra: list[dict[str, str]] | None = None
) -> Path:
    with DEFAULT_PATH.open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    for row in rows:
        row.update((mutate or {}).get(row["code"], {}))
    path = tmp_path / "items.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows + (extra or []))
    return path


def test_a_copy_of_the_packaged_file_loads(tmp_path: Path) -> None:
    assert len(load_item_master(_write(tmp_path))) == len(item_master())


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        ({"9N001000000000001": {"xml_type": "XX"}}, "unknown XML type"),
        ({"9N001000000000001": {"input_low": "300"}}, "input_low 300 is above input_high"),
        ({"9N001000000000001": {"format": "abc"}}, "PQ format"),
        ({"9N736000000000011": {"answer_codes": ""}}, "needs answer_oid and answer_codes"),
        (
            {"9N056160400000049": {"depends_on": "9N999000000000011"}},
            "depends_on 9N999000000000011 is not in the master",
        ),
        ({"9N021000000000001": {"requirement": "optional"}}, "one_of groups are for required items"),
        ({"9N001000000000001": {"requirement": "sometimes"}}, "unknown requirement"),
        ({"9A755000000000001": {"guidance_male": "150"}}, "thresholds for male are out of order"),
        ({"9N016160100000001": {"xml_type": "ST"}}, "one_of group waist mixes XML types"),
    ],
)
def test_a_bad_file_raises_a_clear_error(tmp_path: Path, mutation: dict[str, dict[str, str]], message: str) -> None:
    with pytest.raises(ItemMasterError, match=message):
        load_item_master(_write(tmp_path, mutation))


def test_short_codes_and_duplicates_are_reported_with_their_line(tmp_path: Path) -> None:
    row = dict.fromkeys(
        [
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
        ],
        "",
    )
    short = {**row, "code": "9N0010", "xml_type": "ST", "requirement": "none", "element": "observation"}
    duplicate = {**row, "code": "9N001000000000001", "xml_type": "ST", "requirement": "none", "element": "observation"}
    with pytest.raises(ItemMasterError) as raised:
        load_item_master(_write(tmp_path, extra=[short, duplicate]))
    assert "17 characters" in str(raised.value)
    assert "duplicate item code 9N001000000000001" in str(raised.value)


def test_missing_columns_and_missing_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_text("code,name\n9N001000000000001,身長\n", encoding="utf-8")
    with pytest.raises(ItemMasterError, match="missing columns"):
        load_item_master(broken)
    with pytest.raises(ItemMasterError, match="cannot read"):
        load_item_master(tmp_path / "absent.csv")
