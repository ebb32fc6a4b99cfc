"""Whether an insurer has already paid the claim of a record, as the billing layer knows it.

Routing sits below billing and cannot ask it directly: billing registers its answer here from its
``AppConfig.ready`` (``register_claim_paid``). Without a registered answer a claim counts as unpaid.
The 過誤 archive states it in ``insurerAdjudicationResult/interactionType``: 5 (保険者→代行機関,
決済済データ) for a claim already paid, 4 (未決済データ) otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

from intake.models import Record

INTERACTION_UNPAID = "4"  # 保険者 → 代行機関 (未決済データ)
INTERACTION_PAID = "5"  # 保険者 → 代行機関 (決済済データ)

ClaimPaid = Callable[[Record], bool]

_claim_paid: list[ClaimPaid] = []


def register_claim_paid(answer: ClaimPaid) -> None:
    """Set how to tell that a record's claim was paid (registering again replaces the answer)."""
    _claim_paid[:] = [answer]


def claim_paid(record: Record) -> bool:
    return bool(_claim_paid) and _claim_paid[0](record)


def return_interaction_type(record: Record) -> str:
    """種別 of a 過誤: 5 when the insurer has paid the record's claim, 4 otherwise."""
    return INTERACTION_PAID if claim_paid(record) else INTERACTION_UNPAID
