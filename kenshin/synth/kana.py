"""Half-width katakana names and other fake personal data (nothing here is a real person)."""

from __future__ import annotations

import unicodedata
from random import Random


def _half_width_table() -> dict[str, str]:
    table: dict[str, str] = {}
    plain = [chr(code) for code in range(0xFF66, 0xFF9E)]
    for char in plain:
        table[unicodedata.normalize("NFKC", char)] = char
        for mark in ("\uff9e", "\uff9f"):
            composed = unicodedata.normalize("NFKC", char + mark)
            if len(composed) == 1:
                table[composed] = char + mark
    table["ー"] = "ｰ"
    table["　"] = " "
    return table


_TABLE = _half_width_table()


def to_half_width(text: str) -> str:
    """Full-width katakana (and the long vowel mark) to half-width."""
    return "".join(_TABLE.get(char, char) for char in text)


FAMILY_NAMES = tuple(
    to_half_width(name)
    for name in [
        "サトウ",
        "スズキ",
        "タカハシ",
        "タナカ",
        "イトウ",
        "ワタナベ",
        "ヤマモト",
        "ナカムラ",
        "コバヤシ",
        "カトウ",
        "ヨシダ",
        "ヤマダ",
        "ササキ",
        "ヤマグチ",
        "マツモト",
        "イノウエ",
        "キムラ",
        "ハヤシ",
        "サイトウ",
        "シミズ",
        "ヤマザキ",
        "モリ",
        "アベ",
        "イケダ",
        "ハシモト",
        "ヤマシタ",
        "イシカワ",
        "ナカジマ",
        "マエダ",
        "フジタ",
        "オガワ",
        "ゴトウ",
        "オカダ",
        "ハセガワ",
        "ムラカミ",
        "コンドウ",
        "イシイ",
        "サカモト",
        "エンドウ",
        "アオキ",
        "フジイ",
        "ニシムラ",
        "フクダ",
        "オオタ",
        "ミウラ",
        "フジワラ",
        "オカモト",
        "マツダ",
        "ナカガワ",
        "ナカノ",
        "ハラダ",
        "オノ",
        "タムラ",
        "タケウチ",
        "カネコ",
        "ワダ",
        "ナカヤマ",
        "イシダ",
        "ウエダ",
        "モリタ",
        "ハラ",
        "シバタ",
        "サカイ",
    ]
)
MALE_NAMES = tuple(
    to_half_width(name)
    for name in [
        "ヒロシ",
        "タカシ",
        "マコト",
        "ツヨシ",
        "ケンジ",
        "アキラ",
        "マサル",
        "ヒデキ",
        "ダイスケ",
        "カズヤ",
        "テツヤ",
        "ヨシオ",
        "イサム",
        "ノボル",
        "ススム",
        "オサム",
        "ミノル",
        "ユタカ",
        "サトシ",
        "コウジ",
        "シンイチ",
        "ジュンイチ",
        "ケンイチ",
        "ユウジ",
        "トオル",
        "マサヒロ",
        "タクヤ",
        "ショウタ",
        "リョウ",
        "ヒロユキ",
    ]
)
FEMALE_NAMES = tuple(
    to_half_width(name)
    for name in [
        "ヨウコ",
        "ケイコ",
        "ユミコ",
        "マユミ",
        "アケミ",
        "ヒロミ",
        "キョウコ",
        "ナオミ",
        "トモコ",
        "ユウコ",
        "マサコ",
        "カズコ",
        "サチコ",
        "ミチコ",
        "ノリコ",
        "エミコ",
        "ジュンコ",
        "クミコ",
        "アヤ",
        "ミホ",
        "エリ",
        "サヤカ",
        "マイ",
        "アキコ",
        "ユカリ",
        "メグミ",
        "チエ",
        "ハルミ",
        "ナツミ",
        "リエ",
    ]
)
PREFECTURES = (
    ("01", "北海道", "060"),
    ("04", "宮城県", "980"),
    ("11", "埼玉県", "330"),
    ("12", "千葉県", "260"),
    ("13", "東京都", "160"),
    ("14", "神奈川県", "220"),
    ("22", "静岡県", "420"),
    ("23", "愛知県", "460"),
    ("26", "京都府", "600"),
    ("27", "大阪府", "530"),
    ("28", "兵庫県", "650"),
    ("34", "広島県", "730"),
    ("40", "福岡県", "810"),
)
TOWNS = (
    "中央",
    "本町",
    "栄町",
    "緑町",
    "旭町",
    "桜台",
    "若葉",
    "東町",
    "西町",
    "南町",
    "北町",
    "新町",
    "青葉台",
    "松原",
    "城山",
    "川端",
    "港町",
    "駅前",
    "富士見",
    "日の出",
)
PLACE_WORDS = ("さくら", "あおば", "ひかり", "みどり", "中央", "駅前", "東", "西", "南", "北", "みなと", "けやき")


def person_name(rng: Random, sex: str) -> str:
    given = rng.choice(MALE_NAMES if sex == "1" else FEMALE_NAMES)
    return f"{rng.choice(FAMILY_NAMES)} {given}"


def address(rng: Random, prefecture: tuple[str, str, str] | None = None) -> tuple[str, str]:
    """(postal code NNN-NNNN, address line) in a prefecture."""
    _, name, postal = prefecture or rng.choice(PREFECTURES)
    postal_code = f"{postal[:2]}{rng.randint(0, 9)}-{rng.randint(0, 9999):04d}"
    line = f"{name}{rng.choice(PLACE_WORDS)}市{rng.choice(TOWNS)}{rng.randint(1, 9)}-{rng.randint(1, 30)}-{rng.randint(1, 20)}"
    return postal_code, line


def telephone(rng: Random) -> str:
    return f"0{rng.randint(3, 9)}-{rng.randint(1000, 9999)}-{rng.randint(0, 9999):04d}"
