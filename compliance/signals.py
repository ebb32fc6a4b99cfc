"""At login, an emergency account's session learns when its activation ends (see ``middleware``)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import timezone

from .middleware import SESSION_EMERGENCY_UNTIL
from .models import EmergencyActivation


@receiver(user_logged_in)
def mark_emergency_session(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is None or not hasattr(request, "session"):
        return
    activation = (
        EmergencyActivation.objects.filter(account__user=user, ended_at__isnull=True)
        .order_by("expires_at")
        .values_list("expires_at", flat=True)
        .first()
    )
    if activation is not None:
        request.session[SESSION_EMERGENCY_UNTIL] = activation.timestamp()
    elif hasattr(user, "emergency_account"):
        # An emergency account without a current activation: end the session at once.
        request.session[SESSION_EMERGENCY_UNTIL] = timezone.now().timestamp()
