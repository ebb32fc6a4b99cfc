"""Own-tenant billing objects for the permission-matrix walk (``tests/agency/test_permission_matrix.py``).

``billing_objects(objects)`` takes the dict that ``_objects(contract)`` builds there (insurer,
institution, record) and adds a closed month with a claims statement of the insurer (one line for
the record, billed to the institution), the institution's payment statement, a fee invoice of the
insurer, an insurer payment and a transfer batch. ORM rows only, no stored bytes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from agency.demo import AGENCY
from agency.models import AgencyProfile
from billing.models import (
    BillingMonth,
    ClaimsStatement,
    ClaimsStatementLine,
    LineKind,
    PaymentStatement,
    PaymentStatementLine,
    TransferBatch,
    TransferItem,
    TransferLine,
)
from billing.services import LineSpec, insurer_payment_record, invoice_issue

from ..factories import AgencyProfileFactory


def billing_objects(objects: dict[str, Any]) -> dict[str, Any]:
    insurer, institution, record = objects["insurer"], objects["institution"], objects["record"]
    if not AgencyProfile.objects.exists():
        AgencyProfileFactory(**AGENCY)
    now = timezone.now()
    month = BillingMonth.objects.create(period=dt.date(2099, 1, 1), cutoff_at=now, status="closed", frozen_at=now)
    statement = ClaimsStatement.objects.create(
        month=month, insurer=insurer, number=f"C209901-{insurer.number}", insurer_number=insurer.number,
        insurer_name=insurer.name, issuer_name="ホームネット株式会社", record_count=1, late_count=0, return_count=0, claims_total=8_000, returns_total=0,
        adjustments_total=0, total=8_000, frozen_at=now,
    )
    ClaimsStatementLine.objects.create(
        statement=statement, kind=LineKind.CLAIM, institution=institution, record=record, amount=8_000, accepted_at=now,
    )
    payment_statement = PaymentStatement.objects.create(
        month=month, institution=institution, number=f"P209901-{institution.number}", institution_number=institution.number,
        institution_name=institution.name, issuer_name="ホームネット株式会社", record_count=1, return_count=0, claims_total=8_000, returns_total=0,
        adjustments_total=0, total=8_000, frozen_at=now,
    )
    part = PaymentStatementLine.objects.create(
        payment_statement=payment_statement, claims_statement=statement, insurer=insurer, institution=institution,
        record_count=1, return_count=0, claims_total=8_000, returns_total=0, adjustments_total=0, total=8_000,
    )
    invoice = invoice_issue(
        insurer=insurer, lines=[LineSpec("per_checkup", "従量料金", 1, 3_500)], period_start=month.period,
        period_end=dt.date(2099, 1, 31), month=month,
    )
    payment = insurer_payment_record(claims_statement=statement, amount=8_000, received_on=dt.date(2099, 2, 20))
    batch = TransferBatch.objects.create(
        month=month, transfer_date=dt.date(2099, 2, 25), created_at=now, requester_code="1234567890",
        requester_name_kana="ﾀﾞｲｺｳｷｶﾝ", bank_code="0001", bank_name_kana="ﾐｽﾞﾎ", branch_code="001", branch_name_kana="ﾎﾝﾃﾝ",
        account_type="1", account_number="1234567", line_count=1, total_amount=8_000,
    )
    line = TransferLine.objects.create(
        batch=batch, position=1, institution=institution, amount=8_000, bank_code="0005", branch_code="002",
        account_type="1", account_number="7654321", holder_kana="ｹﾝｼﾝｾﾝﾀｰ", customer_code=institution.number,
    )
    TransferItem.objects.create(line=line, part=part)
    return {
        "claims_statement": statement, "payment_statement": payment_statement, "invoice": invoice,
        "insurer_payment": payment, "transfer_batch": batch,
    }


SAMPLES = {
    "billing:month_detail": lambda o: ["2099-01"],
    "billing:statement_detail": lambda o: [o["claims_statement"].pk],
    "billing:statement_csv": lambda o: [o["claims_statement"].pk],
    "billing:statement_pdf": lambda o: [o["claims_statement"].pk],
    "billing:invoice_detail": lambda o: [o["invoice"].pk],
    "billing:invoice_pdf": lambda o: [o["invoice"].pk],
    "billing:invoice_csv": lambda o: [o["invoice"].pk],
    "billing:invoice_cancel": lambda o: [o["invoice"].pk],
    "billing:payment_statement_detail": lambda o: [o["payment_statement"].pk],
    "billing:payment_statement_pdf": lambda o: [o["payment_statement"].pk],
    "billing:payment_statement_csv": lambda o: [o["payment_statement"].pk],
    "billing:insurer_payment_reverse": lambda o: [o["insurer_payment"].pk],
    "billing:transfer_file": lambda o: [o["transfer_batch"].pk],
    "billing:insurer_terms": lambda o: [o["insurer"].number],
}
