"""Role-aware navigation: an entry is shown when the user's role holds its permission."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .permissions import Perm, user_has_perm


@dataclass(frozen=True)
class NavEntry:
    label: str | Promise
    url_name: str
    permission: Perm


NAVIGATION = [
    NavEntry(_("ホーム"), "home", Perm.PORTAL_HOME),
    NavEntry(_("保険者"), "parties:insurer_list", Perm.PARTIES_VIEW),
    NavEntry(_("健診機関"), "parties:institution_list", Perm.PARTIES_VIEW),
    NavEntry(_("契約"), "parties:contract_list", Perm.CONTRACTS_VIEW),
    NavEntry(_("利用者"), "parties:user_list", Perm.USERS_VIEW),
    NavEntry(_("受付状況"), "intake:submission_list", Perm.INTAKE_VIEW),
    NavEntry(_("アップロード"), "intake:upload", Perm.INTAKE_UPLOAD),
    NavEntry(_("媒体受付"), "intake:media_import", Perm.INTAKE_IMPORT),
    NavEntry(_("点検ワークベンチ"), "intake:workbench", Perm.INTAKE_WORKBENCH),
    NavEntry(_("点検ルール"), "intake:rule_catalogue", Perm.INTAKE_RULES),
    NavEntry(_("安全管理"), "compliance:dashboard", Perm.COMPLIANCE_VIEW),
    NavEntry(_("監査ログ"), "audit:event_list", Perm.AUDIT_VIEW),
    NavEntry(_("非常時"), "compliance:incident_list", Perm.INCIDENT_DECLARE),
    NavEntry(_("保守作業"), "compliance:maintenance_list", Perm.MAINTENANCE_APPROVE),
    NavEntry(_("送付データ"), "insurer:delivery_list", Perm.DELIVERIES_VIEW),
    NavEntry(_("健診データ検索"), "insurer:record_search", Perm.DELIVERIES_VIEW),
    NavEntry(_("過誤返戻"), "insurer:return_list", Perm.RETURNS_VIEW),
    NavEntry(_("受診券データ"), "insurer:eligibility_upload", Perm.ELIGIBILITY_UPLOAD),
    NavEntry(_("振分"), "insurer:routing_run", Perm.ROUTING_RUN),
    NavEntry(_("通知設定"), "insurer:notification_settings", Perm.PORTAL_HOME),
]

NAVIGATION += [
    NavEntry(_("請求・支払"), "billing:home", Perm.BILLING_VIEW),
    NavEntry(_("入金"), "billing:insurer_payment_list", Perm.BILLING_PAYMENTS),
    NavEntry(_("月次締め"), "billing:month_list", Perm.BILLING_MANAGE),
]


def navigation_for(user: Any) -> list[dict[str, Any]]:
    if user is None or not user.is_authenticated:
        return []
    return [
        {"label": entry.label, "url": reverse(entry.url_name), "name": entry.url_name}
        for entry in NAVIGATION
        if user_has_perm(user, entry.permission)
    ]
