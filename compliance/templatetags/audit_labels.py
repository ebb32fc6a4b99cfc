"""Template filters that name audit log entries in Japanese (``compliance.audit_labels``)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from .. import audit_labels

register = template.Library()


@register.filter
def action_label(action: str) -> str:
    return audit_labels.action_label(action or "")


@register.filter
def role_label(role: str) -> str:
    return audit_labels.role_label(role or "")


@register.filter
def outcome_label(outcome: str) -> str:
    return audit_labels.outcome_label(outcome or "")


@register.filter
def audit_targets(event: Any) -> SafeString:
    """The target type in Japanese and its ids, each linked to the page that shows it."""
    if isinstance(event, dict):
        class _Row:  # rows read with .values() in the anomaly report
            object_type = event.get("object_type", "")
            object_ids = event.get("object_ids") or []
        event = _Row()
    found = audit_labels.targets(event)
    links = format_html_join(
        "、", "{}", ((format_html('<a href="{}">{}</a>', link["url"], link["id"]) if link["url"] else link["id"],) for link in found["links"])
    )
    more = format_html(" ほか{}件", found["more"]) if found["more"] else ""
    return format_html("{} {}{}", found["type"], links, more)
