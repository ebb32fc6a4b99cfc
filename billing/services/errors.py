"""The billing domain's one exception family (messages are shown to users as they are)."""

from __future__ import annotations


class BillingError(Exception):
    """A billing operation was refused; ``str(error)`` is a translated message for the user."""


class ClosingTooEarly(BillingError):
    pass


class MonthOrderError(BillingError):
    pass


class AgencyProfileMissing(BillingError):
    pass


class InvoiceNotCancellable(BillingError):
    pass


class PaymentRefused(BillingError):
    pass


class BankAccountMissing(BillingError):
    pass


class BankCsvInvalid(BillingError):
    pass
