"""Insurer payments: entered by hand or imported from a bank's CSV of receipts, reversed by new rows."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from agency.models import User
from audit.services import audit_record

from ..models import (
    ClaimsStatement,
    InsurerPayment,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    LedgerKind,
    PaymentSource,
    TransferItem,
)
from ..selectors import open_items
from .errors import BankCsvInvalid, PaymentRefused
from .invoicing import actor_label
from .ledger import ledger_append


def insurer_payment_record(
    *,
    amount: int,
    received_on: dt.date,
    claims_statement: ClaimsStatement | None = None,
    invoice: Invoice | None = None,
    payer_name: str = "",
    reference: str = "",
    source: str = PaymentSource.MANUAL,
    external_id: str | None = None,
    actor: Any = None,
    request: HttpRequest | None = None,
) -> InsurerPayment:
    """Record money received from an insurer against one claims statement or one fee invoice."""
    if (claims_statement is None) == (invoice is None):
        raise PaymentRefused(_("入金は費用請求書か請求書のどちらか一方に対して登録してください。"))
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise PaymentRefused(_("入金額は1円以上の整数で入力してください。"))
    if invoice is not None and (invoice.status != InvoiceStatus.ISSUED or invoice.kind != InvoiceKind.INVOICE):
        raise PaymentRefused(_("発行済みの請求書に対してだけ入金を登録できます。"))
    target = claims_statement if claims_statement is not None else invoice
    assert target is not None  # noqa: S101 - narrowed above
    now = timezone.now()
    with transaction.atomic():
        payment = InsurerPayment(
            insurer_id=target.insurer_id,
            claims_statement=claims_statement,
            invoice=invoice,
            amount=amount,
            received_on=received_on,
            payer_name=payer_name[:100],
            reference=reference[:200],
            source=source,
            external_id=external_id,
            recorded_at=now,
            recorded_by=actor if isinstance(actor, User) else None,
            recorded_label=actor_label(actor),
        )
        payment.full_clean()
        payment.save(force_insert=True)
        ledger_append(
            kind=LedgerKind.PAYMENT_RECEIVED,
            amount=amount,
            occurred_at=now,
            month=target.month,
            insurer_id=target.insurer_id,
            claims_statement=claims_statement,
            invoice=invoice,
            insurer_payment=payment,
            memo=reference or payer_name,
        )
        audit_record(
            action="billing.payment.recorded",
            actor=actor if isinstance(actor, User) else None,
            actor_label="" if isinstance(actor, User) else "system",
            request=request,
            object_type="insurer_payment",
            object_ids=[payment.pk],
            detail={
                "amount": amount,
                "received_on": received_on.isoformat(),
                "target": claims_statement.number if claims_statement is not None else invoice.number,  # type: ignore[union-attr]
                "source": source,
            },
        )
    return payment


def insurer_payment_reverse(*, payment: InsurerPayment, reason: str, actor: Any = None, request: HttpRequest | None = None) -> InsurerPayment:
    """Cancel a payment entered by mistake with a negative row that names it (once; not after transfers)."""
    reason = " ".join(reason.split())
    if not reason:
        raise PaymentRefused(_("取消の理由を入力してください。"))
    now = timezone.now()
    with transaction.atomic():
        original = InsurerPayment.objects.select_for_update().get(pk=payment.pk)
        if original.reverses_id is not None:
            raise PaymentRefused(_("取消の登録は取り消せません。"))
        if InsurerPayment.objects.filter(reverses=original).exists():
            raise PaymentRefused(_("この入金は既に取り消されています。"))
        if original.claims_statement_id and TransferItem.objects.filter(part__claims_statement_id=original.claims_statement_id).exists():
            raise PaymentRefused(_("この費用請求書の分は既に健診機関へ振り込まれているため、入金を取り消せません。"))
        reversal = InsurerPayment(
            insurer_id=original.insurer_id,
            claims_statement_id=original.claims_statement_id,
            invoice_id=original.invoice_id,
            amount=-original.amount,
            received_on=timezone.localdate(now),
            payer_name=original.payer_name,
            reference=reason[:200],
            source=PaymentSource.REVERSAL,
            reverses=original,
            recorded_at=now,
            recorded_by=actor if isinstance(actor, User) else None,
            recorded_label=actor_label(actor),
        )
        reversal.save(force_insert=True)
        target_month = (original.claims_statement or original.invoice).month  # type: ignore[union-attr]
        ledger_append(
            kind=LedgerKind.PAYMENT_RECEIVED,
            amount=-original.amount,
            occurred_at=now,
            month=target_month,
            insurer_id=original.insurer_id,
            claims_statement_id=original.claims_statement_id,
            invoice_id=original.invoice_id,
            insurer_payment=reversal,
            memo=reason,
        )
        audit_record(
            action="billing.payment.reversed",
            actor=actor if isinstance(actor, User) else None,
            request=request,
            object_type="insurer_payment",
            object_ids=[original.pk, reversal.pk],
            detail={"amount": original.amount, "reason": reason},
        )
    return reversal


# --- bank CSV -------------------------------------------------------------------------------------------------

_COLUMNS = {
    "date": ("入金日", "取引日", "日付", "date"),
    "amount": ("金額", "入金額", "amount"),
    "payer": ("振込依頼人名", "振込依頼人", "依頼人名", "payer"),
    "reference": ("摘要", "備考", "reference"),
    "id": ("取引番号", "照会番号", "id"),
}
_STATEMENT_RE = re.compile(r"C\d{6}-\d{8}")


@dataclass(frozen=True)
class BankRow:
    line: int
    received_on: dt.date
    amount: int
    payer: str
    reference: str
    external_id: str


@dataclass
class BankImportResult:
    recorded: list[InsurerPayment] = field(default_factory=list)
    duplicates: list[BankRow] = field(default_factory=list)
    unmatched: list[tuple[BankRow, str]] = field(default_factory=list)


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BankCsvInvalid(_("CSVの文字コードを判別できません（UTF-8 または Shift_JIS）。"))


def _parse_date(text: str) -> dt.date:
    digits = re.sub(r"[^0-9]", "", text)
    if len(digits) == 8:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    raise ValueError(text)


def bank_csv_parse(data: bytes) -> list[BankRow]:
    """Rows of a receipts CSV with a header naming 入金日, 金額, 振込依頼人名, 摘要 (and optionally 取引番号)."""
    reader = csv.reader(io.StringIO(_decode(data)))
    header = next(reader, None)
    if header is None:
        raise BankCsvInvalid(_("CSVが空です。"))
    names = [cell.strip() for cell in header]
    index: dict[str, int] = {}
    for key, aliases in _COLUMNS.items():
        for alias in aliases:
            if alias in names:
                index[key] = names.index(alias)
                break
    missing = [_COLUMNS[key][0] for key in ("date", "amount") if key not in index]
    if missing:
        raise BankCsvInvalid(_("CSVの見出しに %(columns)s がありません。") % {"columns": "、".join(missing)})
    rows: list[BankRow] = []
    seen: dict[str, int] = {}
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue

        def cell(key: str, cells: list[str] = cells) -> str:
            position = index.get(key)
            return cells[position].strip() if position is not None and position < len(cells) else ""

        try:
            received_on = _parse_date(cell("date"))
            amount = int(cell("amount").replace(",", "").replace("円", "").replace("¥", ""))
        except (ValueError, TypeError):
            raise BankCsvInvalid(_("%(line)d 行目の入金日または金額を読めません。") % {"line": line}) from None
        basis = cell("id") or "|".join((received_on.isoformat(), str(amount), cell("payer"), cell("reference")))
        occurrence = seen.get(basis, 0)
        seen[basis] = occurrence + 1
        digest = hashlib.sha256(f"{basis}#{occurrence}".encode()).hexdigest()[:64]
        rows.append(BankRow(line, received_on, amount, cell("payer"), cell("reference"), f"csv:{digest}"[:80]))
    return rows


def _match(row: BankRow) -> tuple[ClaimsStatement | None, Invoice | None, str]:
    text = f"{row.reference} {row.payer}"
    found = _STATEMENT_RE.search(text)
    if found:
        statement = ClaimsStatement.objects.filter(number=found.group(0)).first()
        if statement is not None:
            return statement, None, ""
    prefix = re.escape(settings.BILLING_INVOICE_PREFIX)
    found_invoice = re.search(rf"{prefix}\d{{7}}", text)
    if found_invoice:
        invoice = Invoice.objects.filter(number=found_invoice.group(0), kind=InvoiceKind.INVOICE, status=InvoiceStatus.ISSUED).first()
        if invoice is not None:
            return None, invoice, ""
    # No reference: an amount equal to exactly one open item's outstanding amount identifies it.

    candidates = [item for item in open_items() if item.outstanding == row.amount]
    if len(candidates) == 1:
        kind, _sep, pk = candidates[0].key.partition(":")
        if kind == "statement":
            return ClaimsStatement.objects.get(pk=int(pk)), None, ""
        return None, Invoice.objects.get(pk=int(pk)), ""
    if candidates:
        return None, None, _("同じ金額の未入金の請求が複数あります。摘要に請求書番号がありません。")
    return None, None, _("該当する請求書が見つかりません。")


def bank_csv_import(*, data: bytes, actor: Any = None, request: HttpRequest | None = None, file_name: str = "") -> BankImportResult:
    """Record the rows that name (or match exactly) a claims statement or invoice; skip rows seen before.

    Each row is identified by the bank's transaction number when the CSV has one, otherwise by its
    content, so importing the same file again records nothing twice.
    """
    rows = bank_csv_parse(data)
    result = BankImportResult()
    with transaction.atomic():
        for row in rows:
            if row.amount <= 0:
                result.unmatched.append((row, _("入金額が0円以下です。")))
                continue
            if InsurerPayment.objects.filter(external_id=row.external_id).exists():
                result.duplicates.append(row)
                continue
            statement, invoice, reason = _match(row)
            if statement is None and invoice is None:
                result.unmatched.append((row, reason))
                continue
            try:
                with transaction.atomic():
                    payment = insurer_payment_record(
                        amount=row.amount,
                        received_on=row.received_on,
                        claims_statement=statement,
                        invoice=invoice,
                        payer_name=row.payer,
                        reference=row.reference,
                        source=PaymentSource.BANK_CSV,
                        external_id=row.external_id,
                        actor=actor,
                        request=request,
                    )
            except (IntegrityError, ValidationError):  # the same row imported concurrently
                result.duplicates.append(row)
                continue
            result.recorded.append(payment)
        audit_record(
            action="billing.bank_csv.imported",
            actor=actor if isinstance(actor, User) else None,
            actor_label="" if isinstance(actor, User) else "system",
            request=request,
            object_type="insurer_payment",
            object_ids=[payment.pk for payment in result.recorded],
            detail={
                "file_name": file_name[:200],
                "rows": len(rows),
                "recorded": len(result.recorded),
                "duplicates": len(result.duplicates),
                "unmatched": [row.line for row, _reason in result.unmatched],
            },
        )
    return result
