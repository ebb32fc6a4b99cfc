"""One access function per tenant-owned billing model (foreign or missing → 404, audited as denied)."""

from __future__ import annotations

from django.http import HttpRequest

from core.access import get_or_deny

from . import selectors
from .models import ClaimsStatement, InsurerPayment, Invoice, PaymentStatement, TransferBatch


def access_claims_statement(request: HttpRequest, statement_id: int) -> ClaimsStatement:
    return get_or_deny(selectors.claims_statement_list(user=request.user), request, "claims_statement", statement_id, pk=statement_id)


def access_invoice(request: HttpRequest, invoice_id: int) -> Invoice:
    return get_or_deny(selectors.invoice_list(user=request.user), request, "invoice", invoice_id, pk=invoice_id)


def access_payment_statement(request: HttpRequest, payment_statement_id: int) -> PaymentStatement:
    return get_or_deny(selectors.payment_statement_list(user=request.user), request, "payment_statement", payment_statement_id, pk=payment_statement_id)


def access_insurer_payment(request: HttpRequest, payment_id: int) -> InsurerPayment:
    return get_or_deny(selectors.insurer_payment_list(user=request.user), request, "insurer_payment", payment_id, pk=payment_id)


def access_transfer_batch(request: HttpRequest, batch_id: int) -> TransferBatch:
    return get_or_deny(selectors.transfer_batch_list(user=request.user), request, "transfer_batch", batch_id, pk=batch_id)
