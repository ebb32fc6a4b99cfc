"""Billing models, one module per sub-domain, re-exported here."""

from __future__ import annotations

from .invoices import (
    FeeChargedItem,
    Invoice,
    InvoiceImmutable,
    InvoiceKind,
    InvoiceLine,
    InvoiceLineKind,
    InvoiceNumberCounter,
    InvoiceStatus,
    InvoiceTaxTotal,
)
from .ledger import LedgerEntry, LedgerImmutable, LedgerKind
from .payments import InsurerPayment, PaymentSource, TransferBatch, TransferItem, TransferLine
from .periods import AgencyBankAccount, BillingMonth, BillingMonthStatus, FixedFeePeriod, InsurerBillingTerms
from .statements import (
    ClaimAdjustment,
    ClaimsStatement,
    ClaimsStatementLine,
    LineKind,
    PaymentStatement,
    PaymentStatementLine,
)

__all__ = [
    "AgencyBankAccount",
    "BillingMonth",
    "BillingMonthStatus",
    "ClaimAdjustment",
    "ClaimsStatement",
    "ClaimsStatementLine",
    "FeeChargedItem",
    "FixedFeePeriod",
    "InsurerBillingTerms",
    "InsurerPayment",
    "Invoice",
    "InvoiceImmutable",
    "InvoiceKind",
    "InvoiceLine",
    "InvoiceLineKind",
    "InvoiceNumberCounter",
    "InvoiceStatus",
    "InvoiceTaxTotal",
    "LedgerEntry",
    "LedgerImmutable",
    "LedgerKind",
    "LineKind",
    "PaymentSource",
    "PaymentStatement",
    "PaymentStatementLine",
    "TransferBatch",
    "TransferItem",
    "TransferLine",
]
