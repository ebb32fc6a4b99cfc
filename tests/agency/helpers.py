from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from agency.models import MaintenanceWindow, Role

from ..factories import UserFactory


def open_window(user: Any, *, minutes: int = 120) -> MaintenanceWindow:
    approver = UserFactory(role=Role.AGENCY_ADMIN)
    now = timezone.now()
    return MaintenanceWindow.objects.create(
        user=user, ticket="CHG-1", purpose="test", approved_by=approver,
        starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(minutes=minutes),
    )
