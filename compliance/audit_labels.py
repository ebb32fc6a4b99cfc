"""The audit log as the auditor reads it: roles, actions, outcomes and targets by their Japanese names.

Actions are stable dotted names chosen by the code that records them (``intake.record.view``); this
table names them for people. An action not in the table is named from its parts (domain, then what was
done), so a new action never shows as a bare code; the code stays visible as a tooltip and in CSV.
Targets link to the page that shows them where one exists and the auditor may open it.
"""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, reverse

from agency.models import Role
from audit.models import Outcome

ACTIONS = {
    "access.denied": "アクセス拒否",
    "annual_report.generated": "実施結果報告の作成", "annual_report.population_set": "実施結果報告の対象者数の入力",
    "intake.annual_report.download": "実施結果報告のダウンロード",
    "account.created": "利用者の登録", "account.list": "利用者一覧の閲覧", "account.password_changed": "パスワード変更",
    "account.reset_link_issued": "パスワード再設定リンクの発行", "account.updated": "利用者の変更",
    "account.disabled": "利用者の無効化", "account.enabled": "利用者の有効化", "account.view": "利用者の閲覧",
    "api.auth_refused": "API認証の拒否", "api_client.created": "APIクライアントの登録", "api_client.deactivated": "APIクライアントの無効化",
    "audit.checkpoint": "監査ログのチェックポイント記録", "audit.checkpoint.failed": "監査ログのチェックポイント記録の失敗",
    "audit.anomalies.viewed": "要確認事項の閲覧", "audit.chain.verified": "ハッシュチェーンの検証", "audit.event.viewed": "監査記録の閲覧",
    "audit.events.exported": "監査ログのCSV出力", "audit.events.searched": "監査ログの検索", "audit.review.signed": "定期確認の署名",
    "auth.backup_codes_regenerated": "予備コードの再発行", "auth.lockout": "アカウントロック", "auth.login": "ログイン",
    "auth.login_failed": "ログイン失敗", "auth.login_refused": "ログイン拒否", "auth.logout": "ログアウト",
    "auth.otp_enrolled": "二要素認証の登録", "auth.otp_enrolment_failed": "二要素認証の登録失敗", "auth.otp_failed": "確認コードの誤り",
    "auth.otp_verified": "二要素認証の確認", "auth.logout_forced": "再認証の失敗による強制ログアウト",
    "auth.reauthenticated": "再認証", "auth.reauthentication_failed": "再認証の失敗", "auth.session_timeout": "無操作によるログアウト",
    "billing.adjustment.created": "請求調整の登録", "billing.bank_account.saved": "振込元口座の保存", "billing.bank_csv.imported": "入金CSVの取込み",
    "billing.invoice.download": "請求書のダウンロード", "billing.invoice.issued": "請求書の発行", "billing.month.closed": "月次締め",
    "billing.month.view": "請求月の閲覧", "billing.payment.recorded": "入金の記録", "billing.payment.reversed": "入金の取消",
    "billing.payment_statement.download": "支払通知のダウンロード", "billing.payment_statement.view": "支払通知の閲覧",
    "billing.statement.download": "費用請求書のダウンロード", "billing.statement.view": "費用請求書の閲覧", "billing.terms.saved": "請求条件の保存",
    "billing.transfer.created": "振込データの作成", "billing.statements.export": "費用請求書一覧のCSV出力",
    "billing.invoices.export": "請求書一覧のCSV出力", "billing.payment_statements.export": "支払通知一覧のCSV出力",
    "billing.payments.export": "入金一覧のCSV出力", "billing.transfers.export": "振込データ一覧のCSV出力", "billing.transfer.download": "全銀ファイルのダウンロード",
    "client_certificate.registered": "クライアント証明書の登録", "client_certificate.revoked": "クライアント証明書の失効",
    "compliance.access_report.viewed": "アクセス報告の閲覧", "compliance.backup.created": "バックアップの作成",
    "compliance.backup.failed": "バックアップの失敗", "compliance.backup.pruned": "古いバックアップの削除",
    "compliance.disposal.approved": "廃棄の承認", "compliance.disposal.cancelled": "廃棄の取消", "compliance.disposal.executed": "廃棄の実行",
    "compliance.disposal.requested": "廃棄の申請", "compliance.emergency.account_created": "非常時アカウントの作成",
    "compliance.emergency.activated": "非常時アクセスの開始", "compliance.emergency.deactivated": "非常時アクセスの終了",
    "compliance.emergency.session_ended": "非常時セッションの終了", "compliance.evidence.downloaded": "証跡のダウンロード",
    "compliance.incident.closed": "インシデントの終了", "compliance.incident.confirmed": "インシデントの確認",
    "compliance.incident.declared": "インシデントの宣言", "compliance.item.attested": "チェック項目の確認",
    "compliance.item.status_changed": "チェック項目の状態変更", "compliance.item.updated": "チェック項目の更新",
    "compliance.maintenance.approved": "保守作業の承認", "compliance.maintenance.closed": "保守作業の終了",
    "compliance.probes.run": "自動確認の実行", "compliance.restore_drill.run": "復元訓練の実行", "compliance.retention.saved": "保存期間の設定",
    "compliance.review.completed": "作業記録の確認完了",
    "eligibility.upload_refused": "受診券データの取込み拒否", "eligibility.uploaded": "受診券データの取込み",
    "intake.checked": "事務点検の完了", "intake.duplicate": "同一ファイルの再送", "intake.email_attachment_refused": "メール添付の拒否",
    "intake.email_refused": "メールの拒否", "intake.error_list.export": "受付エラー連絡表の出力", "intake.error_list.view": "受付エラー連絡表の閲覧",
    "intake.finding.override": "警告の確認", "intake.received": "受付", "intake.record.export": "健診データのCSV出力",
    "intake.record.resubmission_linked": "再提出の紐付け", "intake.record.search": "健診データの検索", "intake.record.view": "健診データの閲覧",
    "intake.refused": "受付拒否", "intake.email_answered": "メールへの受付結果の返信",
    "intake.email_quarantined": "メールの隔離", "intake.resumed": "中断した点検の再開", "intake.warning_override.view": "警告確認画面の閲覧", "intake.rejected": "受付不可", "intake.returned_archive.download": "返戻データのダウンロード",
    "intake.returns.export": "返戻一覧のCSV出力", "intake.returns.view": "返戻一覧の閲覧", "intake.submission.view": "受付の閲覧",
    "intake.warnings.export": "未確認の警告のCSV出力", "intake.submissions.export": "受付一覧のCSV出力",
    "intake.workbench.export": "点検ワークベンチのCSV出力", "intake.warnings.view": "未確認の警告の閲覧", "intake.workbench.view": "点検ワークベンチの閲覧",
    "notification.preference.changed": "通知設定の変更",
    "party.collective_contract": "集合契約の保存", "party.collective_insurer": "集合契約の参加保険者の保存",
    "party.collective_institution": "集合契約の参加健診機関の保存", "party.collective_price_table": "集合契約の単価表の保存",
    "party.collective_price_table.other_items_set": "集合契約の追加健診項目単価の変更", "party.collective.imported": "集合契約のCSV取込み",
    "party.contract": "契約の保存", "party.contract.ended": "契約の終了", "party.contract.other_items_set": "追加健診項目単価の変更",
    "party.institution.sender_added": "送信元アドレスの登録", "party.institution.sender_removed": "送信元アドレスの削除", "party.institution": "健診機関の保存", "party.institution.archive_password_set": "アーカイブのパスワード設定",
    "party.institution.archive_password_cleared": "アーカイブのパスワード削除", "party.institution.view": "健診機関の閲覧", "party.insurer": "保険者の保存",
    "routing.delivery.acknowledged": "送付データの受領確認", "routing.delivery.created": "送付データの作成",
    "routing.delivery.downloaded": "送付データの取得", "routing.delivery.export": "送付データのダウンロード",
    "routing.delivery.exported": "送付データの書き出し", "routing.delivery.media_downloaded": "媒体用データの取得",
    "routing.delivery.media_export": "媒体用データのダウンロード", "routing.delivery.media_prepared": "媒体の作成",
    "routing.delivery.media_shipped": "媒体の発送", "routing.delivery.view": "送付データの閲覧", "routing.failed": "振分の失敗",
    "routing.plan.view": "振分予定の閲覧", "routing.record.return": "過誤返戻の登録", "routing.record.search": "健診データの検索（保険者）",
    "routing.record.view": "健診データの閲覧（保険者）", "routing.return.created": "過誤返戻の作成", "routing.return.export": "過誤返戻データのダウンロード",
    "routing.return.list": "過誤返戻一覧の閲覧", "routing.returns.export": "過誤返戻一覧のCSV出力",
    "routing.guidance_targets.view": "特定保健指導の対象者の閲覧", "routing.guidance_targets.export": "特定保健指導の対象者のCSV出力",
    "routing.other_checkup.view": "事業者健診等の送付の閲覧", "routing.other_checkup.export": "事業者健診等の送付のエラーCSV出力",
    "storage.integrity_failed": "保管アーカイブのハッシュ不一致", "storage.integrity_restored": "保管アーカイブのハッシュ一致の回復",
    "routing.deliveries.export": "送付データ一覧のCSV出力",
    "work.failed": "バックグラウンド処理の失敗", "work.resumed": "バックグラウンド処理の再開", "work.retried": "バックグラウンド処理の再試行",
    "routing.record.export": "健診データのCSV出力（保険者）", "routing.run": "振分の実行",
}
DOMAINS = {
    "access": "アクセス", "account": "利用者", "api": "API", "api_client": "APIクライアント", "audit": "監査", "auth": "認証",
    "billing": "請求", "client_certificate": "クライアント証明書", "compliance": "安全管理", "eligibility": "受診券",
    "intake": "受付", "notification": "通知", "party": "取引先", "routing": "振分", "admin": "管理",
}
VERBS = {
    "view": "閲覧", "viewed": "閲覧", "list": "一覧の閲覧", "export": "出力", "exported": "出力", "download": "ダウンロード",
    "downloaded": "ダウンロード", "created": "登録", "create": "登録", "updated": "変更", "saved": "保存", "deleted": "削除",
    "disabled": "無効化", "enabled": "有効化", "search": "検索", "searched": "検索", "failed": "失敗", "refused": "拒否",
}
TARGETS = {
    "record": "健診データ", "submission": "受付", "delivery": "送付データ", "institution": "健診機関", "insurer": "保険者",
    "user": "利用者", "audit_event": "監査記録", "billing_month": "請求月", "invoice": "請求書", "finding": "点検結果",
    "contract": "契約", "eligibility_upload": "受診券データ", "insurer_payment": "入金", "transfer_batch": "振込データ",
    "incident": "インシデント", "maintenance_window": "保守作業", "disposal_request": "廃棄申請", "audit_review": "定期確認",
    "claim_adjustment": "請求調整", "client_certificate": "クライアント証明書", "api_client": "APIクライアント", "backup": "バックアップ",
    "checklist_item": "チェック項目", "probe": "自動確認", "otp_device": "二要素認証", "role": "役割", "system": "システム",
    "retention_policy": "保存期間", "attestation": "確認記録", "access_review": "アクセス確認", "agency_bank_account": "振込元口座",
    "restore_drill": "復元訓練", "collective_contract": "集合契約", "collective_insurer": "集合契約の参加保険者",
    "collective_institution": "集合契約の参加健診機関", "collective_price_table": "集合契約の単価表", "annual_report": "実施結果報告",
    "annual_report_generation": "実施結果報告の作成分", "stored_archive": "保管アーカイブ", "review": "作業記録の確認", "results": "結果", "trigger": "トリガー",
}
# Targets with a page of their own: URL name and how the id is passed.
TARGET_PAGES = {
    "record": "intake:record_detail", "submission": "intake:submission_detail", "delivery": "insurer:delivery_detail",
    "institution": "parties:institution_detail", "insurer": "parties:insurer_detail", "audit_event": "audit:event_detail",
    "billing_month": "billing:month_detail", "invoice": "billing:invoice_detail", "contract": "parties:contract_detail",
    "user": "parties:user_detail", "api_client": "parties:api_client_detail",
}
ROLES = dict(Role.choices)


def action_label(action: str) -> str:
    if action in ACTIONS:
        return ACTIONS[action]
    parts = action.split(".")
    domain = DOMAINS.get(parts[0], "")
    verb = VERBS.get(parts[-1], "")
    subject = TARGETS.get(parts[1], "") if len(parts) > 2 else ""
    label = "".join(p for p in (domain and f"{domain}：", subject, verb and (f"の{verb}" if subject else verb)) if p)
    return label or "その他の操作"


def role_label(role: str) -> str:
    return str(ROLES.get(role, "")) or ("システム" if not role else "その他")


def outcome_label(outcome: str) -> str:
    try:
        return str(Outcome(outcome).label)
    except ValueError:
        return outcome


def targets(event: Any, *, limit: int = 5) -> dict[str, Any]:
    """The event's target type in Japanese and up to ``limit`` ids, each with the page that shows it."""
    page = TARGET_PAGES.get(event.object_type)
    links = []
    for object_id in (event.object_ids or [])[:limit]:
        url = ""
        if page:
            try:
                url = reverse(page, args=[object_id])
            except NoReverseMatch:
                url = ""
        links.append({"id": object_id, "url": url})
    return {
        "type": TARGETS.get(event.object_type, event.object_type) if event.object_type else "",
        "links": links,
        "more": max(len(event.object_ids or []) - limit, 0),
    }


def describe(event: Any) -> Any:
    """Attach the Japanese names a page shows: ``action_label``, ``role_label``, ``outcome_label``, ``target``."""
    event.action_label = action_label(event.action)
    event.role_label = role_label(event.actor_role)
    event.outcome_label = outcome_label(event.outcome)
    event.target = targets(event)
    return event
