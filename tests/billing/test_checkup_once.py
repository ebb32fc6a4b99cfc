"""A checkup through intake, routing and billing: a 過誤 says whether the claim was paid (種別 5) or
not (4), and the per-checkup fee is charged once per person and 年度 even when a corrected record
replaces a returned one."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Any

from django.utils import timezone

from agency.models import Role
from billing import calendar
from billing.models import ClaimsStatement, FeeChargedItem, Invoice, InvoiceKind, InvoiceLineKind
from billing.services import insurer_payment_record, month_close
from intake.models import Record, RecordStatus
from kenshin.reader import read_archive
from routing.models import DeliveryItem, InsurerReturnReason
from routing.services import deliveries as delivery_services
from routing.services.returns import insurer_return_archive, insurer_return_create

from ..factories import UserFactory
from ..intake.helpers import generated, intake_json, rewritten


def _after_cutoff(period: dt.date) -> dt.datetime:
    return calendar.cutoff_for(period) + dt.timedelta(hours=1)


def _interaction_type(returned: Any) -> str:
    data = insurer_return_archive(insurer_return=returned)
    [claim] = read_archive(data, filename=returned.archive_file_name, xsd_dir=None).claims
    assert claim.record.insurer_result is not None
    return claim.record.insurer_result.interaction_type


def test_a_return_says_whether_the_insurer_had_paid_the_claim(db: Any, tmp_path: Path, capture: Any) -> None:
    [archive] = generated(records=3, seed=61, insurers=1)
    assert intake_json(archive, tmp_path)["status"] == "accepted"
    with capture(execute=True):
        delivery_services.deliveries_route()
    first, second, _third = Record.objects.filter(status=RecordStatus.ACCEPTED).order_by("position")
    staff = UserFactory(role=Role.INSURER_STAFF, insurer=first.insurer)
    with capture(execute=True):
        unpaid = insurer_return_create(record=first, reason=InsurerReturnReason.NAME, note="", actor=staff)
    assert _interaction_type(unpaid) == "4"  # 未決済データ: nothing billed, nothing paid yet

    period = calendar.month_start(timezone.localdate())
    month_close(period=period, now=_after_cutoff(period))
    statement = ClaimsStatement.objects.get(insurer=first.insurer)
    insurer_payment_record(claims_statement=statement, amount=statement.total, received_on=timezone.localdate())
    with capture(execute=True):
        paid = insurer_return_create(record=second, reason=InsurerReturnReason.NAME, note="", actor=staff)
    assert _interaction_type(paid) == "5"  # 決済済データ: the claim was paid


def test_the_per_checkup_fee_is_charged_once_per_person_and_fiscal_year(db: Any, tmp_path: Path, capture: Any) -> None:
    [archive] = generated(records=2, seed=62, insurers=1)
    intake_json(archive, tmp_path)
    with capture(execute=True):
        delivery_services.deliveries_route()
    period = calendar.month_start(timezone.localdate())
    month_close(period=period, now=_after_cutoff(period))
    invoice = Invoice.objects.get(month__period=period, kind=InvoiceKind.INVOICE)
    assert invoice.lines.get(kind=InvoiceLineKind.PER_CHECKUP).quantity == 2

    # The insurer returns one checkup (過誤); the institution sends it corrected; it is delivered again.
    original = Record.objects.get(data_path=archive.submission.checkups[0].path)
    staff = UserFactory(role=Role.INSURER_STAFF, insurer=original.insurer)
    with capture(execute=True):
        insurer_return_create(record=original, reason=InsurerReturnReason.NAME, note="氏名の誤り", actor=staff)
    name = archive.submission.name
    corrected = rewritten(archive, lambda document, claim: (document, claim), name=replace(name, same_day_count=1))
    intake_json(corrected, tmp_path)
    again = Record.objects.get(status=RecordStatus.ACCEPTED, replaces=original)
    with capture(execute=True):
        delivery_services.deliveries_route()
    assert DeliveryItem.objects.filter(record__person_key=original.person_key).count() == 2

    following = calendar.next_month(period)
    month_close(period=following, now=_after_cutoff(following))
    # Billed again (the 過誤 deducted, the corrected record claimed), but the fee is not charged twice.
    statement = ClaimsStatement.objects.get(month__period=following)
    assert {(line.kind, line.record_id) for line in statement.lines.all()} == {("return", original.pk), ("claim", again.pk)}
    assert not Invoice.objects.filter(month__period=following, lines__kind=InvoiceLineKind.PER_CHECKUP).exists()
    assert FeeChargedItem.objects.count() == 2
    assert not FeeChargedItem.objects.filter(delivery_item__record=again).exists()
