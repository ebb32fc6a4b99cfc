"""Writes of the agency app: parties (``parties``), accounts (``accounts``), machine clients of the API
(``clients``), re-exported here."""

from __future__ import annotations

from .accounts import (
    backup_codes_regenerate,
    credential_reset_check,
    credential_reset_issue,
    maintenance_window_open_for,
    otp_device_pending,
    otp_enrolment_confirm,
    otp_verify,
    user_create,
    user_has_confirmed_totp,
    user_password_change,
    user_reauthenticate,
)
from .clients import (
    api_client_create,
    api_client_deactivate,
    api_client_mark_used,
    certificate_fingerprint,
    client_certificate_inspect,
    client_certificate_register,
    client_certificate_revoke,
    parse_certificate,
    token_digest,
)
from .parties import (
    contract_from_terms,
    contract_save,
    institution_archive_password_set,
    institution_save,
    insurer_save,
    synthetic_parties_load,
)

__all__ = [
    "api_client_create",
    "api_client_deactivate",
    "api_client_mark_used",
    "backup_codes_regenerate",
    "certificate_fingerprint",
    "client_certificate_inspect",
    "client_certificate_register",
    "client_certificate_revoke",
    "contract_from_terms",
    "contract_save",
    "credential_reset_check",
    "credential_reset_issue",
    "institution_archive_password_set",
    "institution_save",
    "insurer_save",
    "maintenance_window_open_for",
    "otp_device_pending",
    "otp_enrolment_confirm",
    "otp_verify",
    "parse_certificate",
    "synthetic_parties_load",
    "token_digest",
    "user_create",
    "user_has_confirmed_totp",
    "user_password_change",
    "user_reauthenticate",
]
