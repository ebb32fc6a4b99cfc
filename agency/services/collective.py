"""Writes to 集合契約: the contract, its insurers and institutions (joining, leaving), its price tables,
and the CSV import of any of them (validated per line, all or nothing). Each change is audited in the
same transaction."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from agency.models import (
    CollectiveContract,
    CollectiveInstitution,
    CollectiveInsurer,
    CollectivePriceOtherItem,
    CollectivePriceTable,
    Institution,
    Insurer,
    User,
)
from audit.services import audit_record
from core.exceptions import ApplicationError
from kenshin.checkdigits import normalize_insurer_number
from kenshin.items import item_master

from .parties import _save_party


class CollectiveImportRefused(ApplicationError):
    """A CSV with at least one bad line: nothing was imported; ``lines`` says what is wrong where."""

    code = "collective_import_refused"

    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__(_("CSVに誤りがあるため、1件も取り込んでいません（%(count)d件）。") % {"count": len(lines)},
                         extra={"lines": list(lines)})
        self.lines = list(lines)


def collective_contract_save(*, contract: CollectiveContract, actor: User | None,
                             request: HttpRequest | None = None) -> CollectiveContract:
    return _save_party(contract, actor=actor, action="party.collective_contract", request=request)


def collective_insurer_save(*, membership: CollectiveInsurer, actor: User | None,
                            request: HttpRequest | None = None) -> CollectiveInsurer:
    """An insurer joins a collective contract (or its dates change)."""
    return _save_party(membership, actor=actor, action="party.collective_insurer", request=request)


def collective_insurer_leave(*, membership: CollectiveInsurer, left_on: dt.date, actor: User | None,
                             request: HttpRequest | None = None) -> CollectiveInsurer:
    """The insurer leaves the collective contract after ``left_on`` (its last day): checkups after it are
    priced by whatever else applies, earlier ones stay as they were."""
    if left_on < membership.joined_on:
        raise ValidationError({"left_on": _("脱退日は参加日 %(day)s 以降にしてください。") % {
            "day": f"{membership.joined_on:%Y-%m-%d}"}}, code="before_join")
    membership.left_on = left_on
    return _save_party(membership, actor=actor, action="party.collective_insurer", request=request)


def collective_institution_save(*, membership: CollectiveInstitution, actor: User | None,
                                request: HttpRequest | None = None) -> CollectiveInstitution:
    return _save_party(membership, actor=actor, action="party.collective_institution", request=request)


def collective_price_table_save(*, table: CollectivePriceTable, other_items: Sequence[tuple[str, int]] | None = None,
                                actor: User | None, request: HttpRequest | None = None) -> CollectivePriceTable:
    """Create or change a price table; ``other_items`` (item code, price), when given, replace its 追加 prices."""
    with transaction.atomic():
        _save_party(table, actor=actor, action="party.collective_price_table", request=request)
        if other_items is not None:
            wanted = dict(other_items)
            stored = dict(table.other_items.values_list("item_code", "price"))
            if stored != wanted:
                rows = [CollectivePriceOtherItem(table=table, item_code=code, price=price) for code, price in wanted.items()]
                for row in rows:
                    row.full_clean(exclude=["table"])
                table.other_items.all().delete()
                CollectivePriceOtherItem.objects.bulk_create(rows)
                audit_record(action="party.collective_price_table.other_items_set", actor=actor, request=request,
                             object_type="collective_price_table", object_ids=[table.pk],
                             detail={"old": stored, "new": wanted})
    return table


# --- CSV import ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportKind:
    label: str
    columns: tuple[str, ...]
    required: tuple[str, ...]


KINDS = {
    "contracts": ImportKind(_("集合契約"), ("契約名", "代表保険者番号", "契約取りまとめ機関", "契約開始日", "契約終了日",
                                         "受診券を発行する"), ("契約名", "代表保険者番号", "契約取りまとめ機関", "契約開始日")),
    "insurers": ImportKind(_("参加保険者"), ("契約名", "保険者番号", "参加日", "脱退日"), ("契約名", "保険者番号", "参加日")),
    "institutions": ImportKind(_("参加健診機関"), ("契約名", "機関番号", "単価表の区分", "参加日", "脱退日"),
                               ("契約名", "機関番号", "単価表の区分", "参加日")),
    "prices": ImportKind(_("単価表"), ("契約名", "単価表の区分", "委託料単価区分", "基本", "貧血", "心電図", "眼底",
                                     "血清クレアチニン", "人間ドック", "追加健診項目"),
                         ("契約名", "単価表の区分", "委託料単価区分", "基本")),
}


class _LineError(Exception):
    pass


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CollectiveImportRefused([_("文字コードがUTF-8でもShift_JISでもありません。")])


def _date(value: str, column: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.replace("/", "-"))
    except ValueError:
        raise _LineError(_("%(column)s「%(value)s」は日付（YYYY-MM-DD）ではありません") % {"column": column, "value": value}) from None


def _optional_date(value: str, column: str) -> dt.date | None:
    return _date(value, column) if value else None


def _yen(value: str, column: str) -> int:
    if not value.isascii() or not value.isdigit():
        raise _LineError(_("%(column)s「%(value)s」は0以上の整数（円）ではありません") % {"column": column, "value": value})
    return int(value)


def _contract(name: str, staged: dict[str, CollectiveContract]) -> CollectiveContract:
    contract = staged.get(name) or CollectiveContract.objects.filter(name=name).order_by("-valid_from").first()
    if contract is None:
        raise _LineError(_("契約名「%(name)s」の集合契約がありません") % {"name": name})
    return contract


def _insurer(number: str) -> Insurer:
    insurer = Insurer.objects.filter(number=normalize_insurer_number(number)).first()
    if insurer is None:
        raise _LineError(_("保険者番号 %(number)s の保険者が登録されていません") % {"number": number})
    return insurer


def _validated(instance: Any, exclude: Sequence[str] = ()) -> Any:
    try:
        instance.full_clean(exclude=list(exclude))
    except ValidationError as error:
        raise _LineError("、".join(message for messages in error.message_dict.values() for message in messages)) from None
    return instance


def _contract_row(row: dict[str, str], staged: dict[str, CollectiveContract]) -> Callable[[], Any]:
    contract = staged.get(row["契約名"]) or CollectiveContract.objects.filter(name=row["契約名"]).first() or CollectiveContract()
    contract.name = row["契約名"]
    contract.representative = _insurer(row["代表保険者番号"])
    contract.coordinator = row["契約取りまとめ機関"]
    contract.valid_from = _date(row["契約開始日"], "契約開始日")
    contract.valid_to = _optional_date(row["契約終了日"], "契約終了日")
    contract.issues_tickets = row["受診券を発行する"] not in ("0", "いいえ", "しない")
    _validated(contract)
    staged[contract.name] = contract
    return lambda: contract


def _insurer_row(row: dict[str, str], staged: dict[str, CollectiveContract]) -> Callable[[], Any]:
    contract, insurer = _contract(row["契約名"], staged), _insurer(row["保険者番号"])
    joined_on = _date(row["参加日"], "参加日")
    left_on = _optional_date(row["脱退日"], "脱退日")
    if left_on is not None and left_on < joined_on:
        raise _LineError(_("脱退日が参加日より前です"))

    def build() -> CollectiveInsurer:
        membership = (CollectiveInsurer.objects.filter(contract=contract, insurer=insurer, joined_on=joined_on).first()
                      or CollectiveInsurer(contract=contract, insurer=insurer, joined_on=joined_on))
        membership.left_on = left_on
        return membership

    if contract.pk is not None:
        _validated(build())
    return build


def _institution_row(row: dict[str, str], staged: dict[str, CollectiveContract]) -> Callable[[], Any]:
    contract = _contract(row["契約名"], staged)
    institution = Institution.objects.filter(number=row["機関番号"]).first()
    if institution is None:
        raise _LineError(_("機関番号 %(number)s の健診機関が登録されていません") % {"number": row["機関番号"]})
    joined_on = _date(row["参加日"], "参加日")
    left_on = _optional_date(row["脱退日"], "脱退日")
    if left_on is not None and left_on < joined_on:
        raise _LineError(_("脱退日が参加日より前です"))

    def build() -> CollectiveInstitution:
        membership = (CollectiveInstitution.objects.filter(contract=contract, institution=institution, joined_on=joined_on)
                      .first() or CollectiveInstitution(contract=contract, institution=institution, joined_on=joined_on))
        membership.price_group, membership.left_on = row["単価表の区分"], left_on
        return membership

    if contract.pk is not None:
        _validated(build())
    return build


def _other_items(text: str) -> list[tuple[str, int]]:
    items = []
    for part in filter(None, (p.strip() for p in text.replace("；", ";").split(";"))):
        code, _sep, price = part.partition(":")
        items.append((code.strip(), _yen(price.strip(), "追加健診項目")))
    if len({code for code, _price in items}) != len(items):
        raise _LineError(_("追加健診項目に同じ項目コードが2回あります"))
    return items


def _price_row(row: dict[str, str], staged: dict[str, CollectiveContract]) -> Callable[[], Any]:
    contract = _contract(row["契約名"], staged)
    kinds = {"1": 1, "個別": 1, "2": 2, "集団": 2}
    commission = kinds.get(row["委託料単価区分"])
    if commission is None:
        raise _LineError(_("委託料単価区分は 1（個別）または 2（集団）です"))
    prices = {
        "basic_price": _yen(row["基本"], "基本"),
        **{field: _yen(row[column] or "0", column) for field, column in (
            ("anemia_price", "貧血"), ("ecg_price", "心電図"), ("fundus_price", "眼底"), ("creatinine_price", "血清クレアチニン"))},
        "dock_price": _yen(row["人間ドック"], "人間ドック") if row["人間ドック"] else None,
    }
    items = _other_items(row["追加健診項目"])
    for code, price in items:
        _validated(CollectivePriceOtherItem(item_code=code, price=price), exclude=["table"])
        if item_master().get(code) is None:
            raise _LineError(_("項目コード %(code)s は項目マスタにありません") % {"code": code})

    def build() -> tuple[CollectivePriceTable, list[tuple[str, int]]]:
        table = (CollectivePriceTable.objects.filter(contract=contract, price_group=row["単価表の区分"],
                                                     commission_type=commission).first()
                 or CollectivePriceTable(contract=contract, price_group=row["単価表の区分"], commission_type=commission))
        for field, value in prices.items():
            setattr(table, field, value)
        return table, items

    return build


ROW_READERS: dict[str, Callable[[dict[str, str], dict[str, CollectiveContract]], Callable[[], Any]]] = {
    "contracts": _contract_row, "insurers": _insurer_row, "institutions": _institution_row, "prices": _price_row,
}


def collective_import(*, kind: str, data: bytes, file_name: str, actor: User | None,
                      request: HttpRequest | None = None) -> int:
    """Import a CSV of ``kind`` (see ``KINDS``): every line is checked first and any bad line refuses the
    whole file (``CollectiveImportRefused`` lists them by line number); otherwise every line is written,
    each through its service, in one transaction. Returns the number of lines imported."""
    spec = KINDS[kind]
    reader = csv.DictReader(io.StringIO(_decode(data)))
    missing = [column for column in spec.required if column not in (reader.fieldnames or [])]
    if missing:
        raise CollectiveImportRefused([_("見出し行に列がありません: %(columns)s") % {"columns": "、".join(missing)}])
    builders: list[Callable[[], Any]] = []
    errors: list[str] = []
    staged: dict[str, CollectiveContract] = {}
    seen: set[tuple[str, ...]] = set()
    for number, raw in enumerate(reader, start=2):
        row = {column: (raw.get(column) or "").strip() for column in spec.columns}
        absent = [column for column in spec.required if not row[column]]
        key = tuple(row[column] for column in spec.required[:3])
        try:
            if absent:
                raise _LineError(_("必須の列が空です: %(columns)s") % {"columns": "、".join(absent)})
            if key in seen:
                raise _LineError(_("同じ内容の行が前にあります"))
            seen.add(key)
            builders.append(ROW_READERS[kind](row, staged))
        except _LineError as error:
            errors.append(_("%(line)d行目: %(message)s") % {"line": number, "message": error})
    if not builders and not errors:
        errors.append(_("データの行がありません。"))
    if errors:
        raise CollectiveImportRefused(errors)
    try:
        with transaction.atomic():
            for build in builders:
                _write(kind, build(), actor=actor, request=request)
            audit_record(action="party.collective.imported", actor=actor, request=request, object_type="collective_contract",
                         detail={"kind": kind, "file_name": file_name, "lines": len(builders),
                                 "sha256": hashlib.sha256(data).hexdigest()})
    except ValidationError as error:
        raise CollectiveImportRefused(["、".join(error.messages)]) from None
    return len(builders)


def _write(kind: str, built: Any, *, actor: User | None, request: HttpRequest | None) -> None:
    if kind == "contracts":
        collective_contract_save(contract=built, actor=actor, request=request)
    elif kind == "insurers":
        collective_insurer_save(membership=built, actor=actor, request=request)
    elif kind == "institutions":
        collective_institution_save(membership=built, actor=actor, request=request)
    else:
        table, items = built
        collective_price_table_save(table=table, other_items=items, actor=actor, request=request)


__all__ = [
    "KINDS",
    "CollectiveImportRefused",
    "collective_contract_save",
    "collective_import",
    "collective_institution_save",
    "collective_insurer_leave",
    "collective_insurer_save",
    "collective_price_table_save",
]
