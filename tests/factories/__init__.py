"""factory_boy factories, one module per app; import them from here."""

from __future__ import annotations

from .agency import (
    TEST_PASSWORD,
    AgencyProfileFactory,
    CollectiveContractFactory,
    CollectiveInstitutionFactory,
    CollectiveInsurerFactory,
    CollectivePriceTableFactory,
    ContractFactory,
    InstitutionFactory,
    InsurerFactory,
    MaintenanceWindowFactory,
    TOTPDeviceFactory,
    UserFactory,
    institution_number,
    insurer_number,
)
from .compliance import AccessReviewFactory
from .intake import FindingFactory, RecordFactory, StoredArchiveFactory, SubmissionFactory, submission_recount
from .routing import DeliveryFactory, DeliveryItemFactory, InsurerReturnFactory, delivery_recount

__all__ = [
    "TEST_PASSWORD",
    "AccessReviewFactory",
    "AgencyProfileFactory",
    "CollectiveContractFactory",
    "CollectiveInstitutionFactory",
    "CollectiveInsurerFactory",
    "CollectivePriceTableFactory",
    "ContractFactory",
    "DeliveryFactory",
    "DeliveryItemFactory",
    "FindingFactory",
    "InstitutionFactory",
    "InsurerFactory",
    "InsurerReturnFactory",
    "MaintenanceWindowFactory",
    "RecordFactory",
    "StoredArchiveFactory",
    "SubmissionFactory",
    "TOTPDeviceFactory",
    "UserFactory",
    "delivery_recount",
    "institution_number",
    "insurer_number",
    "submission_recount",
]
