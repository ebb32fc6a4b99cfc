"""Read-only admin views of the compliance records (every change goes through the portal's pages)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from .models import (
    AccessReview,
    Attestation,
    AuditReviewSignoff,
    BackupGeneration,
    ControlItem,
    DisposalCertificate,
    DisposalRequest,
    EmergencyAccount,
    EmergencyActivation,
    Incident,
    ProbeResult,
    RestoreDrill,
    RetentionPolicy,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


for model, columns in [
    (ControlItem, ("code", "status", "status_since", "owner", "planned_date")),
    (Attestation, ("code", "attested_by", "attested_at", "valid_until")),
    (ProbeResult, ("probe", "status", "value", "measured_at")),
    (AuditReviewSignoff, ("period_start", "period_end", "reviewer", "signed_at", "chain_intact")),
    (Incident, ("id", "state", "declared_by", "declared_at", "confirmed_by", "closed_at")),
    (EmergencyAccount, ("label", "user", "created_at")),
    (EmergencyActivation, ("account", "incident", "starts_at", "expires_at", "ended_at", "end_reason")),
    (AccessReview, ("id", "kind", "opened_at", "completed_by", "completed_at")),
    (BackupGeneration, ("path", "taken_at", "size", "pruned_at")),
    (RestoreDrill, ("started_at", "succeeded", "duration_ms", "data_age_seconds")),
    (RetentionPolicy, ("data_class", "retention_years", "updated_at")),
    (DisposalRequest, ("id", "data_class", "state", "requested_by", "requested_at")),
    (DisposalCertificate, ("seq", "data_class", "issued_at", "executed_by")),
]:
    admin.site.register(model, type(f"{model.__name__}Admin", (ReadOnlyAdmin,), {"list_display": columns}))
