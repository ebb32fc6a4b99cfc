from __future__ import annotations

from typing import Any

from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the log is append-only for everyone."""

    list_display = ("seq", "occurred_at", "actor_label", "actor_role", "tenant", "action", "outcome", "ip")
    list_filter = ("outcome", "actor_role", "action")
    search_fields = ("actor_label", "action", "path", "object_ids")

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
