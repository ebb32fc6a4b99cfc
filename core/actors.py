"""How a service names who acted, in the label columns kept beside the user foreign keys."""

from __future__ import annotations

from typing import Any

SYSTEM = "system"


def actor_label(actor: Any) -> str:
    """The acting user's name (at most 150 characters), or ``system`` for scheduled work."""
    if actor is not None and getattr(actor, "is_authenticated", False):
        return str(actor.get_username())[:150]
    return SYSTEM
