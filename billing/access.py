"""One access function per tenant-owned billing model (foreign or missing → 404, audited as denied)."""

from __future__ import annotations

from django.http import HttpRequest

from agency.access import deny

from . import selectors
from .models import ClaimsStatement, InsurerPayment, Invoice, PaymentStatement, TransferBatch


def access_claims_statement(request: HttpRequest, statement_id: int) -> ClaimsStatement:
    statement = selectors.claims_statement_list(user=request.user).filter(pk=statement_id).first()
    if statement is None:
        deny(request, "claims_statement", statement_id)
    return statement


def access_invoice(request: HttpRequest, invoice_id: int) -> Invoice:
    invoice = selectors.invoice_list(user=request.user).filter(pk=invoice_id).first()
    if invoice is None:
        deny(request, "invoice", invoice_id)
    return invoice


def access_payment_statement(request: HttpRequest, payment_statement_id: int) -> PaymentStatement:
    payment = selectors.payment_statement_list(user=request.user).filter(pk=payment_statement_id).first()
    if payment is None:
        deny(request, "payment_statement", payment_statement_id)
    return payment


def access_insurer_payment(request: HttpRequest, payment_id: int) -> InsurerPayment:
    payment = selectors.insurer_payment_list(user=request.user).filter(pk=payment_id).first()
    if payment is None:
        deny(request, "insurer_payment", payment_id)
    return payment


def access_transfer_batch(request: HttpRequest, batch_id: int) -> TransferBatch:
    batch = selectors.transfer_batch_list(user=request.user).filter(pk=batch_id).first()
    if batch is None:
        deny(request, "transfer_batch", batch_id)
    return batch
