"""Which rows of the tenant tables a user's requests may see in the database (``core.tenancy``)."""

from __future__ import annotations

from typing import Any

from core import tenancy

from .models import Role

AGENCY_ROLES = frozenset({Role.AGENCY_ADMIN, Role.AGENCY_CLERK, Role.AUDITOR, Role.MAINTENANCE})


def tenant_scope(user: Any) -> str:
    """``agency`` for agency staff, the own insurer or institution for their staff and machine
    clients, and nothing for anyone else (anonymous requests read no tenant row)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return tenancy.NONE
    role = getattr(user, "role", "")
    if role in AGENCY_ROLES:
        return tenancy.AGENCY
    if role == Role.INSURER_STAFF and getattr(user, "insurer_id", None):
        return tenancy.insurer(user.insurer_id)
    if role == Role.INSTITUTION_STAFF and getattr(user, "institution_id", None):
        return tenancy.institution(user.institution_id)
    return tenancy.NONE
