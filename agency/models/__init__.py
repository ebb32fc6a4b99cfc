"""The agency app's models: parties, accounts and machine clients, re-exported here."""

from __future__ import annotations

from .accounts import CredentialReset, MaintenanceWindow, PasswordHistory, Role, User
from .base import TimeStampedModel
from .clients import ApiClient, ClientCertificate
from .collective import (
    CollectiveContract,
    CollectiveInstitution,
    CollectiveInsurer,
    CollectivePriceOtherItem,
    CollectivePriceTable,
)
from .parties import AgencyProfile, Contract, ContractOtherItem, CopayCode, Institution, InstitutionEmailSender, Insurer
from .work import LeaseState, WorkLease

__all__ = [
    "AgencyProfile",
    "ApiClient",
    "ClientCertificate",
    "CollectiveContract",
    "CollectiveInstitution",
    "CollectiveInsurer",
    "CollectivePriceOtherItem",
    "CollectivePriceTable",
    "Contract",
    "ContractOtherItem",
    "CopayCode",
    "CredentialReset",
    "Institution",
    "InstitutionEmailSender",
    "Insurer",
    "LeaseState",
    "MaintenanceWindow",
    "PasswordHistory",
    "Role",
    "TimeStampedModel",
    "User",
    "WorkLease",
]
