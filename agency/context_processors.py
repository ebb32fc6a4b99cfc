from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .navigation import navigation_for


def portal(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    verified = bool(user is not None and user.is_authenticated and user.is_verified())
    path = request.path if isinstance(getattr(request, "path", None), str) else "/"
    return {"portal_nav": navigation_for(user, path) if verified else [], "portal_verified": verified}
