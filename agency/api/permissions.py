"""The one permission class of the REST API: the view's named permission, held by the user's role.

Humans reach the API through their portal session, which must have passed the second factor.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from core.http import request_audit

from ..permissions import Perm, user_has_perm


class PortalPermission(BasePermission):
    message = "permission_denied"

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if not getattr(user, "is_verified", lambda: False)():
            self.message = "otp_required"
            return False
        perm: Perm | None = getattr(view, "permission", None)
        if request.method not in SAFE_METHODS:
            perm = getattr(view, "write_permission", None)
        if perm is None:
            return False
        allowed = user_has_perm(user, perm)
        if not allowed:
            audit = request_audit(request._request)
            audit.denied = True
            audit.detail["permission"] = str(perm)
        return allowed
