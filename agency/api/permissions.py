"""The one permission class of the REST API: the view's named permission, held by the user's role.

Humans reach the API through their portal session, which must have passed the second factor.
Machine clients (client certificate + token) reach only the views that say ``machine_clients =
True`` (intake and deliveries); anywhere else they are refused, and the refusal is audited.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from core.http import request_audit

from ..permissions import Perm, user_has_perm


class PortalPermission(BasePermission):
    message: Any = _("この操作の権限がありません。")
    code = "permission_denied"

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if not getattr(user, "is_verified", lambda: False)():
            self.message, self.code = _("二要素認証が済んでいません。"), "otp_required"
            return False
        audit = request_audit(request._request)
        if getattr(user, "is_machine_client", False) and not getattr(view, "machine_clients", False):
            self.message = _("この API は機関・保険者のシステム（クライアント証明書）からは利用できません。")
            self.code = "machine_client_refused"
            audit.action = audit.action or "api.machine_client_refused"
            audit.denied = True
            audit.detail.update(reason="machine_client", view=type(view).__name__)
            return False
        perm: Perm | None = getattr(view, "permission", None)
        if request.method not in SAFE_METHODS:
            perm = getattr(view, "write_permission", None)
        if perm is None:
            return False
        allowed = user_has_perm(user, perm)
        if not allowed:
            audit.denied = True
            audit.detail["permission"] = str(perm)
        return allowed
