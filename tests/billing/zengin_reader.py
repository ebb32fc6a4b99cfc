"""An independent reader of 全銀 総合振込 files for the tests: offsets and field kinds written out by
hand from the 全銀協 layout (N: digits, right-aligned and zero-filled; C: left-aligned, space-filled,
only the characters banks accept in names)."""

from __future__ import annotations

import re

HEADER = [("data_kind", 0, 1, "N"), ("kind_code", 1, 3, "N"), ("code_division", 3, 4, "N"), ("requester_code", 4, 14, "N"),
          ("requester_name", 14, 54, "C"), ("transfer_date", 54, 58, "N"), ("bank_code", 58, 62, "N"), ("bank_name", 62, 77, "C"),
          ("branch_code", 77, 80, "N"), ("branch_name", 80, 95, "C"), ("account_type", 95, 96, "N"), ("account_number", 96, 103, "N"),
          ("dummy", 103, 120, "C")]
DATA = [("data_kind", 0, 1, "N"), ("bank_code", 1, 5, "N"), ("bank_name", 5, 20, "C"), ("branch_code", 20, 23, "N"),
        ("branch_name", 23, 38, "C"), ("clearing_house", 38, 42, "N"), ("account_type", 42, 43, "N"), ("account_number", 43, 50, "N"),
        ("holder", 50, 80, "C"), ("amount", 80, 90, "N"), ("new_code", 90, 91, "N"), ("customer_code1", 91, 101, "N"),
        ("customer_code2", 101, 111, "N"), ("transfer_kind", 111, 112, "N"), ("edi", 112, 113, "C"), ("dummy", 113, 120, "C")]
TRAILER = [("data_kind", 0, 1, "N"), ("count", 1, 7, "N"), ("total", 7, 19, "N"), ("dummy", 19, 120, "C")]
END = [("data_kind", 0, 1, "N"), ("dummy", 1, 120, "C")]

# What banks accept in names: half-width katakana ｱ–ﾝ (no ｦ, no small kana), ﾞ ﾟ, A–Z, 0–9, space, ( ) - .
NAME = re.compile(r"[0-9A-Zｱ-ﾝﾞﾟ ().\-]*")


def _fields(record: bytes, layout: list[tuple[str, int, int, str]]) -> dict[str, str]:
    assert len(record) == 120, len(record)
    assert layout[-1][2] == 120
    values = {}
    for name, start, end, kind in layout:
        raw = record[start:end].decode("cp932")
        if kind == "N":
            assert re.fullmatch(r"[0-9]+", raw), (name, raw)  # every digit written, zero-filled
            values[name] = raw
        else:
            assert NAME.fullmatch(raw), (name, raw)
            assert raw == raw.rstrip(" ").ljust(end - start), (name, raw)  # left-aligned
            values[name] = raw.rstrip(" ")
    return values


def read_zengin(data: bytes) -> dict[str, object]:
    if b"\r\n" in data:
        assert data.endswith(b"\r\n")
        records = data[:-2].split(b"\r\n")
    else:
        assert len(data) % 120 == 0
        records = [data[i : i + 120] for i in range(0, len(data), 120)]
    for record in records:
        # single-byte characters only: every byte is ASCII or a half-width katakana (0xA1–0xDF)
        assert all(byte < 0x80 or 0xA1 <= byte <= 0xDF for byte in record), record
    kinds = [record[:1] for record in records]
    assert kinds[0] == b"1" and kinds[-2:] == [b"8", b"9"] and set(kinds[1:-2]) == {b"2"}
    return {
        "header": _fields(records[0], HEADER),
        "data": [_fields(record, DATA) for record in records[1:-2]],
        "trailer": _fields(records[-2], TRAILER),
        "end": _fields(records[-1], END),
    }
