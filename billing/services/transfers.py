"""Transfers to institutions once their insurers have paid, as 全銀 総合振込 batches.

A batch for month M takes every statement part of M or an earlier month that is not transferred
yet and whose insurer statement is settled (received ≥ total), nets them per institution and
makes one transfer per institution with a positive sum and a complete bank account. A part is
transferred once (one-to-one in the database); what is held back is reported with the reason.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from agency.models import Institution, User
from audit.services import audit_record

from .. import calendar, zengin
from ..models import (
    AgencyBankAccount,
    BillingMonth,
    ClaimsStatement,
    LedgerKind,
    PaymentStatementLine,
    TransferBatch,
    TransferItem,
    TransferLine,
)
from ..selectors import settled_statement_ids
from .errors import BankAccountMissing, BillingError
from .invoicing import actor_label
from .ledger import ledger_append


@dataclass(frozen=True)
class Held:
    institution: Institution
    amount: int
    reason: str


@dataclass
class TransferResult:
    batch: TransferBatch | None
    held: list[Held] = field(default_factory=list)


def default_transfer_date(today: dt.date | None = None) -> dt.date:
    """The next business day after today (Japan time)."""
    today = today or timezone.localdate()
    return calendar.next_business_day(today + dt.timedelta(days=1))


def _account_problem(institution: Institution) -> str:
    """Why the institution cannot be paid by a 全銀 transfer, or "" when it can."""
    if not all([institution.bank_code, institution.branch_code, institution.account_type, institution.account_number,
                institution.account_holder_kana]):
        return _("振込先口座が登録されていません。")
    try:
        zengin.bank_text(institution.account_holder_kana)
    except zengin.ZenginError:
        return _("口座名義に振込データで使えない文字があります。")
    return ""


def payable_parts(month: BillingMonth) -> list[PaymentStatementLine]:
    """Parts of this month or earlier, not transferred, whose insurer statement is settled."""
    candidates = (
        PaymentStatementLine.objects.filter(payment_statement__month__period__lte=month.period)
        .exclude(Exists(TransferItem.objects.filter(part=OuterRef("pk"))))
        .select_related("institution", "claims_statement")
        .order_by("institution__number", "claims_statement__number")
    )
    statements = ClaimsStatement.objects.filter(pk__in=candidates.values("claims_statement_id"))
    settled = settled_statement_ids(statements)
    return [part for part in candidates if part.claims_statement_id in settled]


def transfer_batch_create(
    *, month: BillingMonth, transfer_date: dt.date | None = None, actor: Any = None, request: HttpRequest | None = None
) -> TransferResult:
    if not month.is_closed:
        raise BillingError(_("%(month)s はまだ締められていません。") % {"month": month.label})
    transfer_date = transfer_date or default_transfer_date()
    now = timezone.now()
    with transaction.atomic():
        # One batch maker at a time: the account row is the lock.
        account = AgencyBankAccount.objects.select_for_update().filter(is_active=True).first()
        if account is None:
            raise BankAccountMissing(_("振込元口座（代行機関の口座）が登録されていません。"))
        grouped: dict[int, list[PaymentStatementLine]] = defaultdict(list)
        for part in payable_parts(month):
            grouped[part.institution_id].append(part)
        held: list[Held] = []
        lines: list[tuple[Institution, int, list[PaymentStatementLine]]] = []
        for parts in grouped.values():
            institution = parts[0].institution
            amount = sum(part.total for part in parts)
            if amount <= 0:
                held.append(Held(institution, amount, _("相殺後の金額が0円以下です。")))
            elif problem := _account_problem(institution):
                held.append(Held(institution, amount, problem))
            else:
                lines.append((institution, amount, parts))
        if not lines:
            return TransferResult(None, held)
        batch = TransferBatch(
            month=month,
            transfer_date=transfer_date,
            created_at=now,
            created_by=actor if isinstance(actor, User) else None,
            created_label=actor_label(actor),
            requester_code=account.requester_code,
            requester_name_kana=account.requester_name_kana,
            bank_code=account.bank_code,
            bank_name_kana=account.bank_name_kana,
            branch_code=account.branch_code,
            branch_name_kana=account.branch_name_kana,
            account_type=account.account_type,
            account_number=account.account_number,
            line_count=len(lines),
            total_amount=sum(amount for _institution, amount, _parts in lines),
        )
        batch.save(force_insert=True)
        for position, (institution, amount, parts) in enumerate(lines, start=1):
            line = TransferLine(
                batch=batch,
                position=position,
                institution=institution,
                amount=amount,
                bank_code=institution.bank_code,
                branch_code=institution.branch_code,
                account_type=institution.account_type,
                account_number=institution.account_number,
                holder_kana=institution.account_holder_kana,
                customer_code=institution.number,
            )
            line.save(force_insert=True)
            TransferItem.objects.bulk_create(TransferItem(line=line, part=part) for part in parts)
            ledger_append(
                kind=LedgerKind.TRANSFER,
                amount=amount,
                occurred_at=now,
                month=month,
                institution=institution,
                transfer_line=line,
                memo=f"{batch.transfer_date:%Y-%m-%d}",
            )
        zengin.verify(transfer_file(batch))  # never keep a batch whose file would not read back
        audit_record(
            action="billing.transfer.created",
            actor=actor if isinstance(actor, User) else None,
            actor_label="" if isinstance(actor, User) else "system",
            request=request,
            object_type="transfer_batch",
            object_ids=[batch.pk],
            detail={
                "month": month.label,
                "transfer_date": transfer_date.isoformat(),
                "count": batch.line_count,
                "total": batch.total_amount,
                "held": [{"institution": h.institution.number, "amount": h.amount} for h in held],
            },
        )
    return TransferResult(batch, held)


def transfer_file(batch: TransferBatch, *, crlf: bool = True) -> bytes:
    """The 全銀 file of a batch, rebuilt from its snapshot (the same bytes every time)."""
    payer = zengin.Payer(
        requester_code=batch.requester_code,
        requester_name=batch.requester_name_kana,
        bank_code=batch.bank_code,
        bank_name=batch.bank_name_kana,
        branch_code=batch.branch_code,
        branch_name=batch.branch_name_kana,
        account_type=batch.account_type,
        account_number=batch.account_number,
    )
    transfers = [
        zengin.Transfer(
            bank_code=line.bank_code,
            branch_code=line.branch_code,
            account_type=line.account_type,
            account_number=line.account_number,
            holder=line.holder_kana,
            amount=line.amount,
            customer_code1=line.customer_code,
            customer_code2=f"{batch.month.period:%Y%m}",
        )
        for line in batch.lines.order_by("position")
    ]
    return zengin.render(payer=payer, transfer_date=batch.transfer_date, transfers=transfers, crlf=crlf)
