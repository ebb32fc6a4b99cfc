"""An independent reader of 全銀 総合振込 files for the tests: offsets written out by hand."""

from __future__ import annotations

HEADER = [("data_kind", 0, 1), ("kind_code", 1, 3), ("code_division", 3, 4), ("requester_code", 4, 14),
          ("requester_name", 14, 54), ("transfer_date", 54, 58), ("bank_code", 58, 62), ("bank_name", 62, 77),
          ("branch_code", 77, 80), ("branch_name", 80, 95), ("account_type", 95, 96), ("account_number", 96, 103),
          ("dummy", 103, 120)]
DATA = [("data_kind", 0, 1), ("bank_code", 1, 5), ("bank_name", 5, 20), ("branch_code", 20, 23), ("branch_name", 23, 38),
        ("clearing_house", 38, 42), ("account_type", 42, 43), ("account_number", 43, 50), ("holder", 50, 80),
        ("amount", 80, 90), ("new_code", 90, 91), ("customer_code1", 91, 101), ("customer_code2", 101, 111),
        ("transfer_kind", 111, 112), ("edi", 112, 113), ("dummy", 113, 120)]
TRAILER = [("data_kind", 0, 1), ("count", 1, 7), ("total", 7, 19), ("dummy", 19, 120)]
END = [("data_kind", 0, 1), ("dummy", 1, 120)]


def _fields(record: bytes, layout: list[tuple[str, int, int]]) -> dict[str, str]:
    assert len(record) == 120, len(record)
    assert layout[-1][2] == 120
    return {name: record[start:end].decode("cp932").rstrip(" ") for name, start, end in layout}


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
