"""Billing writes: closing, invoicing, payments, transfers and settings (one module each)."""

from __future__ import annotations

from .closing import (
    ClosingResult,
    billing_month_get,
    closing_summary,
    month_close,
    month_close_check,
    months_close_due,
    months_due,
)
from .configuration import agency_bank_account_save, claim_adjustment_create, insurer_terms_save
from .errors import (
    AgencyProfileMissing,
    BankAccountMissing,
    BankCsvInvalid,
    BillingError,
    ClosingTooEarly,
    InvoiceNotCancellable,
    MonthOrderError,
    PaymentRefused,
)
from .invoicing import LineSpec, invoice_cancel, invoice_issue
from .payments import BankImportResult, bank_csv_import, bank_csv_parse, insurer_payment_record, insurer_payment_reverse
from .transfers import TransferResult, default_transfer_date, payable_parts, transfer_batch_create, transfer_file

__all__ = [
    "AgencyProfileMissing",
    "BankAccountMissing",
    "BankCsvInvalid",
    "BankImportResult",
    "BillingError",
    "ClosingResult",
    "ClosingTooEarly",
    "InvoiceNotCancellable",
    "LineSpec",
    "MonthOrderError",
    "PaymentRefused",
    "TransferResult",
    "agency_bank_account_save",
    "bank_csv_import",
    "bank_csv_parse",
    "billing_month_get",
    "claim_adjustment_create",
    "closing_summary",
    "default_transfer_date",
    "insurer_payment_record",
    "insurer_payment_reverse",
    "insurer_terms_save",
    "invoice_cancel",
    "invoice_issue",
    "month_close",
    "month_close_check",
    "months_close_due",
    "months_due",
    "payable_parts",
    "transfer_batch_create",
    "transfer_file",
]
