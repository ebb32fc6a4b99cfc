"""The billing domain's one exception family (messages are shown to users as they are)."""

from __future__ import annotations

from core.exceptions import ApplicationError


class BillingError(ApplicationError):
    """A billing operation was refused; ``str(error)`` is a translated message for the user."""

    code = "billing_refused"
    status = 409


class ClosingTooEarly(BillingError):
    code = "closing_too_early"


class MonthOrderError(BillingError):
    code = "month_order_error"


class AgencyProfileMissing(BillingError):
    code = "agency_profile_missing"


class InvoiceNotCancellable(BillingError):
    code = "invoice_not_cancellable"


class PaymentRefused(BillingError):
    code = "payment_refused"


class BankAccountMissing(BillingError):
    code = "bank_account_missing"


class BankCsvInvalid(BillingError):
    code = "bank_csv_invalid"
