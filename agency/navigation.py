"""Role-aware navigation, grouped by domain (受付, 振分, 請求, 安全管理, 設定).

The first row names the groups the user has at least one entry in; the second row lists the
entries of the group the current page belongs to (the group whose entry's address is the longest
prefix of the page's path). An entry is shown when the user's role holds its permission and, where
an app registered a condition for it (``register_condition``), when that condition holds — so no
role sees an entry that would show an empty page.
"""

from __future__ import annotations

from collections.abc import Callable
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


@dataclass(frozen=True)
class NavGroup:
    key: str
    label: str | Promise
    entries: tuple[NavEntry, ...]


NAVIGATION: tuple[NavGroup, ...] = (
    NavGroup("intake", _("受付"), (
        NavEntry(_("受付状況"), "intake:submission_list", Perm.INTAKE_VIEW),
        NavEntry(_("アップロード"), "intake:upload", Perm.INTAKE_UPLOAD),
        NavEntry(_("返戻一覧"), "intake:return_list", Perm.INTAKE_VIEW),
        NavEntry(_("健診データ検索"), "intake:record_search", Perm.INTAKE_VIEW),
        NavEntry(_("媒体受付"), "intake:media_import", Perm.INTAKE_IMPORT),
        NavEntry(_("点検ワークベンチ"), "intake:workbench", Perm.INTAKE_WORKBENCH),
        NavEntry(_("未確認の警告"), "intake:warning_queue", Perm.INTAKE_OVERRIDE),
        NavEntry(_("点検ルール"), "intake:rule_catalogue", Perm.INTAKE_RULES),
    )),
    NavGroup("routing", _("振分"), (
        NavEntry(_("送付データ"), "insurer:delivery_list", Perm.DELIVERIES_VIEW),
        NavEntry(_("健診データ検索"), "insurer:record_search", Perm.DELIVERIES_VIEW),
        NavEntry(_("特定保健指導の対象者"), "insurer:guidance_targets", Perm.DELIVERIES_VIEW),
        NavEntry(_("実施結果報告"), "insurer:annual_report", Perm.ANNUAL_REPORT),
        NavEntry(_("過誤返戻"), "insurer:return_list", Perm.RETURNS_VIEW),
        NavEntry(_("受診券データ"), "insurer:eligibility_upload", Perm.ELIGIBILITY_UPLOAD),
        NavEntry(_("事業者健診等の送付"), "insurer:other_checkup_list", Perm.OTHER_CHECKUP_UPLOAD),
        NavEntry(_("振分実行"), "insurer:routing_run", Perm.ROUTING_RUN),
    )),
    NavGroup("billing", _("請求"), (
        NavEntry(_("請求・支払"), "billing:home", Perm.BILLING_VIEW),
        NavEntry(_("費用請求書"), "billing:statement_list", Perm.BILLING_INSURER_DOCS),
        NavEntry(_("事務手数料請求書"), "billing:invoice_list", Perm.BILLING_INSURER_DOCS),
        NavEntry(_("支払通知"), "billing:payment_statement_list", Perm.BILLING_PAYMENT_STATEMENTS),
        NavEntry(_("入金"), "billing:insurer_payment_list", Perm.BILLING_PAYMENTS),
        NavEntry(_("月次締め"), "billing:month_list", Perm.BILLING_MANAGE),
        NavEntry(_("振込"), "billing:transfer_list", Perm.BILLING_MANAGE),
        NavEntry(_("調整"), "billing:adjustment_list", Perm.BILLING_MANAGE),
    )),
    NavGroup("compliance", _("安全管理"), (
        NavEntry(_("チェックリスト"), "compliance:dashboard", Perm.COMPLIANCE_VIEW),
        NavEntry(_("監査ログ"), "audit:event_list", Perm.AUDIT_VIEW),
        NavEntry(_("監査レビュー"), "audit:review_list", Perm.AUDIT_VIEW),
        NavEntry(_("非常時アクセス"), "compliance:incident_list", Perm.INCIDENT_DECLARE),
        NavEntry(_("保守作業"), "compliance:maintenance_list", Perm.MAINTENANCE_APPROVE),
        NavEntry(_("バックアップ"), "compliance:backups", Perm.COMPLIANCE_VIEW),
        NavEntry(_("廃棄"), "compliance:disposal_list", Perm.COMPLIANCE_VIEW),
    )),
    NavGroup("settings", _("設定"), (
        NavEntry(_("利用者"), "parties:user_list", Perm.USERS_VIEW),
        NavEntry(_("保険者"), "parties:insurer_list", Perm.PARTIES_VIEW),
        NavEntry(_("健診機関"), "parties:institution_list", Perm.PARTIES_VIEW),
        NavEntry(_("契約"), "parties:contract_list", Perm.CONTRACTS_VIEW),
        NavEntry(_("集合契約"), "parties:collective_list", Perm.PARTIES_MANAGE),
        NavEntry(_("APIクライアント"), "parties:api_client_list", Perm.PARTIES_MANAGE),
        NavEntry(_("請求設定"), "billing:settings", Perm.BILLING_MANAGE),
        NavEntry(_("通知設定"), "insurer:notification_settings", Perm.PORTAL_HOME),
    )),
)

_CONDITIONS: dict[str, Callable[[Any], bool]] = {}


def register_condition(url_name: str, condition: Callable[[Any], bool]) -> None:
    """Show the entry ``url_name`` only to users for whom ``condition(user)`` holds (filled by the apps'
    ``ready()``: e.g. 通知設定 only for roles that receive a notice)."""
    _CONDITIONS[url_name] = condition


def _visible(user: Any, entry: NavEntry) -> bool:
    if not user_has_perm(user, entry.permission):
        return False
    condition = _CONDITIONS.get(entry.url_name)
    return condition is None or condition(user)


def navigation_for(user: Any, path: str = "/") -> list[dict[str, Any]]:
    """The user's groups, each with its visible entries; the group of ``path`` is marked current."""
    if user is None or not user.is_authenticated:
        return []
    groups: list[dict[str, Any]] = []
    for group in NAVIGATION:
        entries = [
            {"label": entry.label, "url": reverse(entry.url_name), "name": entry.url_name}
            for entry in group.entries
            if _visible(user, entry)
        ]
        if entries:
            groups.append({"key": group.key, "label": group.label, "url": entries[0]["url"], "entries": entries,
                           "current": False})
    best_url, best_group = "", None
    for shown in groups:
        for entry in shown["entries"]:
            url = entry["url"]
            if path.startswith(url) and len(url) > len(best_url):
                best_url, best_group = url, shown
    if best_group is not None:
        best_group["current"] = True
        for entry in best_group["entries"]:
            entry["current"] = entry["url"] == best_url
    return groups
