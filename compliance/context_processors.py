"""The emergency banner: while an incident is in force every page says so (queried only when shown)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.http import HttpRequest

from .selectors import emergency_activations_current, incident_active


class Banner:
    @cached_property
    def incident(self) -> Any:
        return incident_active()

    @cached_property
    def activations(self) -> list[Any]:
        return list(emergency_activations_current()) if self.incident is not None else []


def emergency_banner(request: HttpRequest) -> dict[str, Any]:
    return {"compliance_banner": Banner()}
