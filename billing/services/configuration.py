"""Billing settings (fee terms per insurer, the agency's bank account) and manual claim adjustments."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from agency.models import Institution, Insurer, User
from audit.services import audit_record

from ..models import AgencyBankAccount, ClaimAdjustment, InsurerBillingTerms
from .errors import BillingError
from .invoicing import actor_label


def insurer_terms_save(
    *, insurer: Insurer, fixed_fee_period: str, fee_initial: int | None, fee_fixed: int | None, fee_per_checkup: int | None,
    fee_per_guidance: int | None = None, fee_other_checkups: bool = False,
    actor: Any = None, request: HttpRequest | None = None,
) -> InsurerBillingTerms:
    """Set how an insurer is billed from now on (issued invoices keep what they say)."""
    with transaction.atomic():
        terms = InsurerBillingTerms.objects.select_for_update().filter(insurer=insurer).first() or InsurerBillingTerms(insurer=insurer)
        old = {
            "fixed_fee_period": terms.fixed_fee_period if terms.pk else None,
            "fee_initial": terms.fee_initial, "fee_fixed": terms.fee_fixed, "fee_per_checkup": terms.fee_per_checkup,
            "fee_per_guidance": terms.fee_per_guidance, "fee_other_checkups": terms.fee_other_checkups if terms.pk else None,
        }
        terms.fixed_fee_period = fixed_fee_period
        terms.fee_initial = fee_initial
        terms.fee_fixed = fee_fixed
        terms.fee_per_checkup = fee_per_checkup
        terms.fee_per_guidance = fee_per_guidance
        terms.fee_other_checkups = fee_other_checkups
        terms.full_clean()
        terms.save()
        new = {
            "fixed_fee_period": fixed_fee_period, "fee_initial": fee_initial, "fee_fixed": fee_fixed, "fee_per_checkup": fee_per_checkup,
            "fee_per_guidance": fee_per_guidance, "fee_other_checkups": fee_other_checkups,
        }
        audit_record(
            action="billing.terms.saved", actor=actor, request=request, object_type="insurer", object_ids=[insurer.number],
            detail={"old": old, "new": new},
        )
    return terms


def agency_bank_account_save(*, values: dict[str, Any], actor: Any = None, request: HttpRequest | None = None) -> AgencyBankAccount:
    """Replace the active payer account: the previous one is kept, inactive (batches keep their snapshot)."""
    with transaction.atomic():
        AgencyBankAccount.objects.filter(is_active=True).update(is_active=False)
        account = AgencyBankAccount(**values, is_active=True)
        account.full_clean()
        account.save()
        audit_record(
            action="billing.bank_account.saved", actor=actor, request=request, object_type="agency_bank_account",
            object_ids=[account.pk], detail={"bank_code": account.bank_code, "branch_code": account.branch_code},
        )
    return account


def claim_adjustment_create(
    *, insurer: Insurer, institution: Institution, amount: int, reason: str, actor: Any = None, request: HttpRequest | None = None,
) -> ClaimAdjustment:
    """A correction (±) of what ``insurer`` is billed for ``institution``, applied at the next closing."""
    reason = " ".join(reason.split())
    if not reason:
        raise BillingError(_("調整の理由を入力してください。"))
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise BillingError(_("調整額は0以外の整数で入力してください。"))
    with transaction.atomic():
        adjustment = ClaimAdjustment(
            insurer=insurer, institution=institution, amount=amount, reason=reason[:200], created_at=timezone.now(),
            created_by=actor if isinstance(actor, User) else None, created_label=actor_label(actor),
        )
        adjustment.full_clean()
        adjustment.save(force_insert=True)
        audit_record(
            action="billing.adjustment.created", actor=actor, request=request, object_type="claim_adjustment",
            object_ids=[adjustment.pk], detail={"insurer": insurer.number, "institution": institution.number, "amount": amount},
        )
    return adjustment
