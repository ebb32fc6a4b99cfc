"""全銀協 総合振込 (comprehensive transfer) files: fixed-length records of 120 bytes.

One header (1), one data record (2) per transfer, a trailer (8) and an end record (9), in the
bank's single-byte character set, written as Shift_JIS (cp932), where each character is one byte
(JIS X 0201). Records are separated by CR LF, or not at all (``crlf=False``) for banks that want one
unbroken stream.

Layout (lengths in bytes; N = digits, right-aligned and zero-filled; C = characters,
left-aligned and space-filled):

header   データ区分 N1 "1" · 種別コード N2 "21" · コード区分 N1 "0" · 依頼人コード N10 · 依頼人名 C40 ·
         取組日 N4 (MMDD) · 仕向銀行番号 N4 · 仕向銀行名 C15 · 仕向支店番号 N3 · 仕向支店名 C15 ·
         預金種目 N1 · 口座番号 N7 · ダミー C17
data     データ区分 N1 "2" · 被仕向銀行番号 N4 · 被仕向銀行名 C15 · 被仕向支店番号 N3 · 被仕向支店名 C15 ·
         手形交換所番号 N4 "0000" · 預金種目 N1 · 口座番号 N7 · 受取人名 C30 · 振込金額 N10 · 新規コード N1 ·
         顧客コード1 N10 · 顧客コード2 N10 · 振込指定区分 N1 · 識別表示 C1 (space: no EDI) · ダミー C7
trailer  データ区分 N1 "8" · 合計件数 N6 · 合計金額 N12 · ダミー C101
end      データ区分 N1 "9" · ダミー C119

Names (依頼人名, 受取人名, bank and branch names) take only what banks accept: half-width katakana
without ｦ, the voiced marks ﾞ ﾟ, A–Z, 0–9, space and ( ) - . — small kana are written large and the
long-vowel mark ｰ as "-", as the banks register names; anything else is refused (`ZenginError`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

RECORD_LENGTH = 120
ENCODING = "cp932"
KIND_GENERAL_TRANSFER = "21"  # 総合振込
CODE_JIS = "0"
NEW_CODE_OTHER = "0"
TRANSFER_TELEGRAPHIC = "7"  # 振込指定区分: テレ振込

CLEARING_HOUSE = "0000"  # 手形交換所番号: not used by 総合振込, written as zeros

_NORMALISE = str.maketrans("ｧｨｩｪｫｬｭｮｯｰ", "ｱｲｳｴｵﾔﾕﾖﾂ-")
_KANA = {chr(c) for c in range(ord("ｱ"), ord("ﾝ") + 1)} | {"ﾞ", "ﾟ"}
_ALLOWED = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ ().-") | _KANA

HEADER = (("record_type", 1, "N"), ("kind", 2, "N"), ("code", 1, "N"), ("requester_code", 10, "N"),
          ("requester_name", 40, "C"), ("transfer_date", 4, "N"), ("bank_code", 4, "N"), ("bank_name", 15, "C"),
          ("branch_code", 3, "N"), ("branch_name", 15, "C"), ("account_type", 1, "N"), ("account_number", 7, "N"),
          ("dummy", 17, "C"))
DATA = (("record_type", 1, "N"), ("bank_code", 4, "N"), ("bank_name", 15, "C"), ("branch_code", 3, "N"),
        ("branch_name", 15, "C"), ("clearing_house", 4, "N"), ("account_type", 1, "N"), ("account_number", 7, "N"),
        ("holder", 30, "C"), ("amount", 10, "N"), ("new_code", 1, "N"), ("customer_code1", 10, "N"),
        ("customer_code2", 10, "N"), ("transfer_kind", 1, "N"), ("edi", 1, "C"), ("dummy", 7, "C"))
TRAILER = (("record_type", 1, "N"), ("count", 6, "N"), ("total", 12, "N"), ("dummy", 101, "C"))
END = (("record_type", 1, "N"), ("dummy", 119, "C"))


class ZenginError(ValueError):
    """A value does not fit the 全銀 format (a character outside the bank's set, a number too long)."""


def bank_text(value: str) -> str:
    """Normalise a name to the bank's character set (upper case, small kana large, ｰ as "-") or
    raise `ZenginError` naming the first character banks do not accept."""
    text = value.upper().translate(_NORMALISE)
    for char in text:
        if char not in _ALLOWED:
            raise ZenginError(f"character not allowed in a 全銀 field: {char!r} in {value!r}")
    return text


def _field(value: str | int, length: int, kind: str, name: str) -> bytes:
    if kind == "N":
        text = str(value)
        if not (text.isascii() and text.isdigit()) or len(text) > length:
            raise ZenginError(f"{name}: {value!r} is not a number of at most {length} digits")
        encoded = text.zfill(length).encode("ascii")
    else:
        text = bank_text(str(value))
        encoded = text.encode(ENCODING)
        if len(encoded) > length:
            raise ZenginError(f"{name}: {value!r} is longer than {length} bytes")
        encoded = encoded.ljust(length, b" ")
    return encoded


def _record(layout: Sequence[tuple[str, int, str]], values: dict[str, str | int]) -> bytes:
    record = b"".join(_field(values.get(name, ""), length, kind, name) for name, length, kind in layout)
    if len(record) != RECORD_LENGTH:  # pragma: no cover - the layouts add up to 120
        raise ZenginError(f"record of {len(record)} bytes")
    return record


@dataclass(frozen=True)
class Payer:
    requester_code: str
    requester_name: str
    bank_code: str
    bank_name: str
    branch_code: str
    branch_name: str
    account_type: str
    account_number: str


@dataclass(frozen=True)
class Transfer:
    """One transfer. The customer codes are numbers of at most ten digits (zero-filled in the file)."""

    bank_code: str
    branch_code: str
    account_type: str
    account_number: str
    holder: str
    amount: int
    customer_code1: str = ""
    customer_code2: str = ""
    bank_name: str = ""
    branch_name: str = ""


def render(*, payer: Payer, transfer_date: dt.date, transfers: Sequence[Transfer], crlf: bool = True) -> bytes:
    """The whole file: header, one data record per transfer, trailer, end."""
    if not transfers:
        raise ZenginError("a transfer file has at least one transfer")
    records = [
        _record(HEADER, {
            "record_type": "1", "kind": KIND_GENERAL_TRANSFER, "code": CODE_JIS,
            "requester_code": payer.requester_code, "requester_name": payer.requester_name,
            "transfer_date": f"{transfer_date:%m%d}", "bank_code": payer.bank_code, "bank_name": payer.bank_name,
            "branch_code": payer.branch_code, "branch_name": payer.branch_name,
            "account_type": payer.account_type, "account_number": payer.account_number,
        })
    ]
    for transfer in transfers:
        if transfer.amount <= 0:
            raise ZenginError("transfer amounts are positive")
        records.append(_record(DATA, {
            "record_type": "2", "bank_code": transfer.bank_code, "bank_name": transfer.bank_name,
            "branch_code": transfer.branch_code, "branch_name": transfer.branch_name,
            "account_type": transfer.account_type, "account_number": transfer.account_number,
            "clearing_house": CLEARING_HOUSE, "holder": transfer.holder, "amount": transfer.amount, "new_code": NEW_CODE_OTHER,
            "customer_code1": transfer.customer_code1 or "0", "customer_code2": transfer.customer_code2 or "0",
            "transfer_kind": TRANSFER_TELEGRAPHIC,
        }))
    records.append(_record(TRAILER, {"record_type": "8", "count": len(transfers), "total": sum(t.amount for t in transfers)}))
    records.append(_record(END, {"record_type": "9"}))
    separator = b"\r\n" if crlf else b""
    return separator.join(records) + separator


def split_records(data: bytes) -> list[bytes]:
    """The 120-byte records of a file, with or without CR LF between them."""
    if b"\r\n" in data:
        records = [record for record in data.split(b"\r\n") if record]
    else:
        if len(data) % RECORD_LENGTH:
            raise ZenginError("the file is not a whole number of 120-byte records")
        records = [data[i : i + RECORD_LENGTH] for i in range(0, len(data), RECORD_LENGTH)]
    for record in records:
        if len(record) != RECORD_LENGTH:
            raise ZenginError(f"a record of {len(record)} bytes")
    return records


def parse_record(record: bytes) -> dict[str, str]:
    layout = {b"1": HEADER, b"2": DATA, b"8": TRAILER, b"9": END}.get(record[:1])
    if layout is None:
        raise ZenginError(f"unknown record type {record[:1]!r}")
    values: dict[str, str] = {}
    position = 0
    for name, length, _kind in layout:
        values[name] = record[position : position + length].decode(ENCODING).rstrip(" ")
        position += length
    return values


def verify(data: bytes) -> tuple[int, int]:
    """Check the structure and the trailer's totals; return (count, total)."""
    records = [parse_record(record) for record in split_records(data)]
    kinds = "".join(record["record_type"] for record in records)
    if not (kinds.startswith("1") and kinds.endswith("89") and set(kinds[1:-2]) <= {"2"} and len(kinds) >= 4):
        raise ZenginError(f"records out of order: {kinds}")
    data_records = [r for r in records if r["record_type"] == "2"]
    trailer = records[-2]
    count, total = len(data_records), sum(int(r["amount"]) for r in data_records)
    if int(trailer["count"]) != count or int(trailer["total"]) != total:
        raise ZenginError("the trailer's totals do not match the data records")
    return count, total
