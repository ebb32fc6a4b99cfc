"""The 事務点検 rule engine: the agency's own rules on top of what the format reader reports.

Level 0 (``archive``): every blocking finding of the reader that concerns the archive as a whole
(codes ARC_/IDX_/SUM_, or a file that belongs to no record) rejects the whole archive, as do this
agency's checks of the sender, the receiver and the 種別.

Level 1 (``records``, ``tickets``): findings on a record's own files return that record (返戻); the
rest of the archive is accepted. Rules that need the agency's data — clients, contracts, tickets,
prices and copays, age, dates, duplicates and once per 年度 — are there.

Every rule has a stable code, a severity, the 返戻理由 (別表9) it maps to, a Japanese message, a hint
and the source it rests on (``catalogue``).
"""

from __future__ import annotations

from .archive import NOTHING_TO_CHECK, archive_findings, blocks_archive
from .catalogue import RULE_SET_VERSION, Rule, catalogue, is_archive_code
from .pending import PendingRecord, as_json, pending_record
from .records import (
    DUPLICATE_ACCEPTED,
    DUPLICATE_FIELDS,
    References,
    blocking,
    contract_terms,
    duplicate_findings,
    record_findings,
)

__all__ = [
    "DUPLICATE_ACCEPTED",
    "DUPLICATE_FIELDS",
    "NOTHING_TO_CHECK",
    "RULE_SET_VERSION",
    "PendingRecord",
    "References",
    "Rule",
    "archive_findings",
    "as_json",
    "blocking",
    "blocks_archive",
    "catalogue",
    "contract_terms",
    "duplicate_findings",
    "is_archive_code",
    "pending_record",
    "record_findings",
]
