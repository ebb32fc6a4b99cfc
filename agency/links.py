"""Links that leave the portal (e-mail): absolute, on the portal's own address."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def absolute_url(path: str, request: HttpRequest | None = None) -> str:
    """``PORTAL_BASE_URL`` + ``path``; without the setting, the host of ``request``; else the path."""
    base = (settings.PORTAL_BASE_URL or "").rstrip("/")
    if base:
        return f"{base}{path}"
    if request is not None:
        return request.build_absolute_uri(path)
    return path
