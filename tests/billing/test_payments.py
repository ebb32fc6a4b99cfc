"""Insurer payments (manual and bank CSV), settlement, transfers to institutions and the 全銀 file."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from agency.models import Institution
from billing import dbguards, selectors, zengin
from billing.models import (
    BillingMonth,
    ClaimsStatement,
    InsurerPayment,
    Invoice,
    LedgerEntry,
    LedgerImmutable,
    LedgerKind,
    PaymentSource,
    TransferBatch,
    TransferItem,
)
from billing.services import (
    PaymentRefused,
    bank_csv_import,
    insurer_payment_record,
    insurer_payment_reverse,
    month_close,
    transfer_batch_create,
    transfer_file,
)

from ..factories import DeliveryFactory
from .conftest import at, make_record
from .zengin_reader import read_zengin

FEB = dt.date(2025, 2, 1)


@pytest.fixture
def closed(parties: dict[str, Any], bank_account: Any) -> dict[str, Any]:
    (a, b), (one, two) = parties["insurers"], parties["institutions"]
    records = [
        make_record(insurer=a, institution=one, claim_amount=8_000, checked_at=at("2025-02-10 10:00")),
        make_record(insurer=a, institution=two, claim_amount=9_000, checked_at=at("2025-02-11 10:00")),
        make_record(insurer=b, institution=one, claim_amount=7_300, checked_at=at("2025-02-12 10:00")),
    ]
    DeliveryFactory(insurer=a, created_at=at("2025-02-20 10:00"), records=records[:2])
    DeliveryFactory(insurer=b, created_at=at("2025-02-20 10:00"), records=records[2:])
    month_close(period=FEB, now=at("2025-03-06 09:00"))
    return {
        "a": a, "b": b, "one": one, "two": two,
        "sa": ClaimsStatement.objects.get(insurer=a), "sb": ClaimsStatement.objects.get(insurer=b),
        "month": ClaimsStatement.objects.get(insurer=a).month,
    }


def test_nothing_is_transferred_before_the_insurer_pays(closed: dict[str, Any]) -> None:
    result = transfer_batch_create(month=closed["month"], transfer_date=dt.date(2025, 3, 25))
    assert result.batch is None and not TransferBatch.objects.exists()


def test_a_partial_payment_does_not_settle(closed: dict[str, Any]) -> None:
    insurer_payment_record(claims_statement=closed["sa"], amount=10_000, received_on=dt.date(2025, 3, 20))
    assert not selectors.statement_settled(closed["sa"])
    insurer_payment_record(claims_statement=closed["sa"], amount=7_000, received_on=dt.date(2025, 3, 21))
    assert selectors.statement_settled(closed["sa"])
    assert selectors.insurer_balance(closed["a"]).claims_outstanding == 0


def test_once_an_insurer_has_paid_its_institutions_are_transferred(closed: dict[str, Any], tmp_path: Path) -> None:
    d = closed
    insurer_payment_record(claims_statement=d["sa"], amount=17_000, received_on=dt.date(2025, 3, 20))
    result = transfer_batch_create(month=d["month"], transfer_date=dt.date(2025, 3, 25))
    batch = result.batch
    assert batch is not None and result.held == []
    assert {(line.institution_id, line.amount) for line in batch.lines.all()} == {(d["one"].pk, 8_000), (d["two"].pk, 9_000)}
    assert batch.total_amount == 17_000 and batch.line_count == 2
    # B has not paid: its part for institution one waits
    assert TransferItem.objects.filter(part__claims_statement=d["sb"]).count() == 0
    assert transfer_batch_create(month=d["month"]).batch is None  # nothing new
    insurer_payment_record(claims_statement=d["sb"], amount=7_300, received_on=dt.date(2025, 3, 28))
    second = transfer_batch_create(month=d["month"], transfer_date=dt.date(2025, 3, 31)).batch
    assert second is not None and [(line.institution_id, line.amount) for line in second.lines.all()] == [(d["one"].pk, 7_300)]
    # the ledger: billed = received = transferred; nothing is owed any more
    ledger = {kind: sum(LedgerEntry.objects.filter(kind=kind).values_list("amount", flat=True)) for kind in LedgerKind}
    assert ledger[LedgerKind.CLAIMS_BILLED] == ledger[LedgerKind.TRANSFER] == 24_300
    assert sum(InsurerPayment.objects.filter(claims_statement__isnull=False).values_list("amount", flat=True)) == 24_300
    assert selectors.institution_balance(d["one"]) == selectors.institution_balance(d["two"]) == 0


def test_the_zengin_file_reads_back_field_by_field(closed: dict[str, Any], bank_account: Any) -> None:
    d = closed
    insurer_payment_record(claims_statement=d["sa"], amount=17_000, received_on=dt.date(2025, 3, 20))
    batch = transfer_batch_create(month=d["month"], transfer_date=dt.date(2025, 3, 25)).batch
    for crlf in (True, False):
        data = transfer_file(batch, crlf=crlf)
        assert len(data) == 5 * 120 + (5 * 2 if crlf else 0)  # header, two transfers, trailer, end
        parsed = read_zengin(data)
        header = parsed["header"]
        assert header == {
            "data_kind": "1", "kind_code": "21", "code_division": "0", "requester_code": "1234567890",
            # small kana made large, the long-vowel mark written as "-" (as banks register names)
            "requester_name": "ﾎ-ﾑﾈﾂﾄ(ｶ", "transfer_date": "0325", "bank_code": "0005", "bank_name": "ﾐﾂﾋﾞｼﾕ-ｴﾌｼﾞｴｲ",
            "branch_code": "123", "branch_name": "ﾅｶﾉ", "account_type": "1", "account_number": "7654321", "dummy": "",
        }
        records = parsed["data"]
        assert len(records) == 2
        for record, line in zip(records, batch.lines.order_by("position"), strict=True):
            institution = line.institution
            assert record == {
                "data_kind": "2", "bank_code": institution.bank_code, "bank_name": "", "branch_code": institution.branch_code,
                "branch_name": "", "clearing_house": "0000", "account_type": institution.account_type,
                "account_number": institution.account_number, "holder": institution.account_holder_kana.replace("ｰ", "-"),
                "amount": f"{line.amount:010d}", "new_code": "0", "customer_code1": institution.number,
                "customer_code2": "0000202502", "transfer_kind": "7", "edi": "", "dummy": "",
            }
        assert parsed["trailer"] == {"data_kind": "8", "count": "000002", "total": f"{17_000:012d}", "dummy": ""}
        assert parsed["end"] == {"data_kind": "9", "dummy": ""}
        assert int(parsed["trailer"]["total"]) == sum(int(r["amount"]) for r in records)


def test_export_zengin_command(closed: dict[str, Any], tmp_path: Path) -> None:
    insurer_payment_record(claims_statement=closed["sa"], amount=17_000, received_on=dt.date(2025, 3, 20))
    out = tmp_path / "furikomi.txt"
    stdout = StringIO()
    with time_machine.travel(at("2025-03-21 10:00"), tick=False):
        call_command("export_zengin", "2025-02", "--out", str(out), stdout=stdout)
    parsed = read_zengin(out.read_bytes())
    assert parsed["header"]["transfer_date"] == "0324"  # the next business day after Friday 21 March
    assert int(parsed["trailer"]["total"]) == 17_000
    with pytest.raises(CommandError, match="nothing to transfer"):
        call_command("export_zengin", "2025-02", "--out", str(out))
    batch = TransferBatch.objects.get()
    again = tmp_path / "again.txt"
    call_command("export_zengin", "2025-02", "--out", str(again), "--batch", str(batch.pk), "--no-crlf", stdout=StringIO())
    assert again.read_bytes() == out.read_bytes().replace(b"\r\n", b"")
    with pytest.raises(CommandError, match="not closed"):
        call_command("export_zengin", "2025-05", "--out", str(out))


@pytest.mark.parametrize(
    ("name", "written"),
    [("ｹﾝｼﾝｾﾝﾀｰ", "ｹﾝｼﾝｾﾝﾀ-"), ("ｲｯﾊﾟﾝｼｬﾀﾞﾝ(ﾎｳ", "ｲﾂﾊﾟﾝｼﾔﾀﾞﾝ(ﾎｳ"), ("kenshin.co", "KENSHIN.CO")],
)
def test_names_are_written_as_banks_register_them(name: str, written: str) -> None:
    assert zengin.bank_text(name) == written


@pytest.mark.parametrize("name", ["ｹﾝｼﾝ,ｾﾝﾀ", "ｹﾝｼﾝ/ｾﾝﾀ", "ｦｶﾞﾜ", "ｹﾝｼﾝ･ｾﾝﾀ", "健診センター", "ｹﾝｼﾝ｢ｾﾝﾀ｣"])
def test_characters_banks_refuse_in_names_are_refused(name: str) -> None:
    with pytest.raises(zengin.ZenginError):
        zengin.bank_text(name)


def test_an_account_name_banks_would_refuse_is_held_with_the_reason(closed: dict[str, Any], bank_account: Any) -> None:
    d = closed
    Institution.objects.filter(pk=d["one"].pk).update(account_holder_kana="ｹﾝｼﾝ,ｾﾝﾀ")
    insurer_payment_record(claims_statement=d["sa"], amount=17_000, received_on=dt.date(2025, 3, 20))
    result = transfer_batch_create(month=d["month"], transfer_date=dt.date(2025, 3, 25))
    assert [(h.institution.pk, h.reason) for h in result.held] == [(d["one"].pk, "口座名義に振込データで使えない文字があります。")]
    parsed = read_zengin(transfer_file(result.batch))
    assert [r["customer_code1"] for r in parsed["data"]] == [d["two"].number]


def test_an_institution_without_an_account_is_held(closed: dict[str, Any]) -> None:
    two = closed["two"]
    two.account_number = ""
    two.save()
    insurer_payment_record(claims_statement=closed["sa"], amount=17_000, received_on=dt.date(2025, 3, 20))
    result = transfer_batch_create(month=closed["month"], transfer_date=dt.date(2025, 3, 25))
    assert [(h.institution.pk, h.amount) for h in result.held] == [(two.pk, 9_000)]
    assert [line.institution_id for line in result.batch.lines.all()] == [closed["one"].pk]


def test_payments_are_checked_and_reversed_once(closed: dict[str, Any]) -> None:
    with pytest.raises(PaymentRefused):
        insurer_payment_record(claims_statement=closed["sa"], amount=0, received_on=dt.date(2025, 3, 20))
    with pytest.raises(PaymentRefused):
        insurer_payment_record(amount=10, received_on=dt.date(2025, 3, 20))
    payment = insurer_payment_record(claims_statement=closed["sa"], amount=17_000, received_on=dt.date(2025, 3, 20))
    reversal = insurer_payment_reverse(payment=payment, reason="二重登録")
    assert reversal.amount == -17_000 and reversal.reverses_id == payment.pk
    assert not selectors.statement_settled(closed["sa"])
    with pytest.raises(PaymentRefused):
        insurer_payment_reverse(payment=payment, reason="again")
    with pytest.raises(PaymentRefused):
        insurer_payment_reverse(payment=reversal, reason="again")
    paid = insurer_payment_record(claims_statement=closed["sa"], amount=17_000, received_on=dt.date(2025, 3, 22))
    transfer_batch_create(month=closed["month"], transfer_date=dt.date(2025, 3, 25))
    with pytest.raises(PaymentRefused, match="振り込まれて"):
        insurer_payment_reverse(payment=paid, reason="late")


def test_payment_and_ledger_rows_are_append_only(closed: dict[str, Any]) -> None:
    insurer_payment_record(claims_statement=closed["sa"], amount=17_000, received_on=dt.date(2025, 3, 20))
    for table in ("billing_insurerpayment", "billing_ledgerentry", "billing_claimsstatement", "billing_claimsstatementline",
                  "billing_paymentstatement", "billing_paymentstatementline", "billing_feechargeditem"):
        for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}"):
            with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement)
    with pytest.raises(DatabaseError), transaction.atomic():
        BillingMonth.objects.filter(pk=closed["month"].pk).update(status="open", frozen_at=None)  # a closed month stays closed
    with pytest.raises(LedgerImmutable):
        LedgerEntry.objects.first().delete()
    assert dbguards.installed(connection)


BANK_CSV = """入金日,金額,振込依頼人名,摘要,取引番号
2025/03/20,"17,000",ｹﾝﾎﾟ A,C202502-{a},T-001
2025-03-21,7300,ｹﾝﾎﾟ B,,T-002
2025-03-21,999,ﾌﾒｲ,,T-003
2025-03-22,{fee},ｹﾝﾎﾟ A,{invoice},T-004
"""


def test_bank_csv_import_matches_references_and_amounts(closed: dict[str, Any]) -> None:
    invoice = Invoice.objects.get(insurer=closed["a"])
    data = BANK_CSV.format(a=closed["a"].number, fee=invoice.total, invoice=invoice.number).encode("cp932")
    result = bank_csv_import(data=data, file_name="nyukin.csv")
    targets = {(p.claims_statement_id, p.invoice_id, p.amount) for p in result.recorded}
    assert targets == {(closed["sa"].pk, None, 17_000), (closed["sb"].pk, None, 7_300), (None, invoice.pk, invoice.total)}
    assert all(p.source == PaymentSource.BANK_CSV for p in result.recorded)
    assert [(row.line, row.amount) for row, _reason in result.unmatched] == [(4, 999)]
    again = bank_csv_import(data=data)
    assert again.recorded == [] and len(again.duplicates) == 3
    assert selectors.invoice_outstanding(invoice) == 0


def test_import_bank_csv_command(closed: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "nyukin.csv"
    path.write_text("入金日,金額,摘要\n20250320,17000,C202502-" + closed["a"].number + "\n", encoding="utf-8")
    stdout = StringIO()
    call_command("import_bank_csv", str(path), stdout=stdout)
    assert "recorded 1" in stdout.getvalue()
    path.write_text("日,額\n1,2\n", encoding="utf-8")
    with pytest.raises(CommandError):
        call_command("import_bank_csv", str(path))
