"""Writes of the clerk workbench: confirming (overriding) a warning, audited in the same transaction.

Only warnings can be overridden: an error returns the record (返戻) and stays an error; the
institution corrects and resubmits. Overriding changes no verdict, it records that a clerk looked at
the warning, why it is acceptable, and who decided.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from agency.permissions import Perm, user_has_perm
from audit.services import audit_record
from intake.models import Finding

OVERRIDE_REASON_MAX = 300


def finding_override_warning(*, finding: Finding, reason: str, actor: Any, request: HttpRequest | None = None) -> Finding:
    """Mark a warning as confirmed by ``actor`` with ``reason``; refuse errors and repeats."""
    if not user_has_perm(actor, Perm.INTAKE_OVERRIDE):
        raise PermissionDenied
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError(_("確認理由を入力してください。"), code="reason_required")
    if len(reason) > OVERRIDE_REASON_MAX:
        raise ValidationError(_("確認理由は300文字以内で入力してください。"), code="reason_too_long")
    with transaction.atomic():
        locked = Finding.objects.select_for_update().get(pk=finding.pk)
        if locked.severity != Finding.Severity.WARNING:
            raise ValidationError(_("確認済みにできるのは警告だけです。エラーは返戻となり、訂正して再提出していただきます。"), code="not_a_warning")
        if locked.overridden_at is not None:
            raise ValidationError(_("この警告は既に確認済みです。"), code="already_overridden")
        locked.overridden_at = timezone.now()
        locked.overridden_by = actor
        locked.override_reason = reason
        locked.full_clean()
        locked.save(update_fields=["overridden_at", "overridden_by", "override_reason"])
        audit_record(
            action="intake.finding.override",
            actor=actor,
            request=request,
            object_type="finding",
            object_ids=[locked.pk],
            detail={
                "code": locked.code,
                "submission": locked.submission_id,
                "record": locked.record_id,
                "reason": reason,
            },
        )
    return locked
