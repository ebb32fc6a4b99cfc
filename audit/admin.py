"""The audit log in the Django admin (read-only), and the audit of every read of personal data there."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from core.http import request_audit

from .models import AuditEvent


class PersonalDataAdmin(admin.ModelAdmin):
    """A model holding personal data: each page of it in the admin (list, record, history) is a read,
    audited like the portal's own pages (``admin.<app>.<model>.list|view|history`` with the rows shown)."""

    def _audit(self, request: HttpRequest, kind: str, ids: list[Any]) -> None:
        trail = request_audit(request)
        trail.action = f"admin.{self.opts.app_label}.{self.opts.model_name}.{kind}"
        trail.touch(self.opts.label_lower, ids)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        self._audit(request, "list", [])
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if changelist is not None:
            request_audit(request).touch(self.opts.label_lower, [obj.pk for obj in changelist.result_list])
        return response

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self._audit(request, "view", [object_id])
        return super().change_view(request, object_id, form_url, extra_context)

    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        self._audit(request, "history", [object_id])
        return super().history_view(request, object_id, extra_context)


@admin.register(AuditEvent)
class AuditEventAdmin(PersonalDataAdmin):
    """Read-only: the log is append-only for everyone. It names people and their addresses: reads are audited."""

    list_display = ("seq", "occurred_at", "actor_label", "actor_role", "tenant", "action", "outcome", "ip")
    list_filter = ("outcome", "actor_role", "action")
    search_fields = ("actor_label", "action", "path", "object_ids")

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
