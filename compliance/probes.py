"""Automated probes: each measures one thing the portal can evidence and says pass, warn, fail or unknown.

Probes only read. ``services.probes_run`` stores their results. A probe that cannot measure says
"unknown" and why; it never reports a pass it has not measured.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.db import connection
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp.plugins.otp_totp.models import TOTPDevice

from agency import dbguards as agency_dbguards
from agency.models import MaintenanceWindow
from audit import dbguards as audit_dbguards
from audit.selectors import audit_integrity_verify
from intake import selectors as intake_selectors

from . import dbguards
from .models import (
    AccessReview,
    AuditReviewSignoff,
    BackupGeneration,
    DataClass,
    EmergencyAccount,
    EmergencyActivation,
    Incident,
    ProbeStatus,
    RestoreDrill,
    RetentionPolicy,
    TransportKind,
    TransportSighting,
)

logger = logging.getLogger(__name__)

# Thresholds
CLOCK_WARN_SECONDS = 0.5
CLOCK_FAIL_SECONDS = 1.0
AUDIT_REVIEW_MAX_DAYS = 31
BACKUP_WARN_HOURS = 26
BACKUP_FAIL_HOURS = 48
RESTORE_DRILL_MAX_DAYS = 92
ACCESS_REVIEW_DUE_DAYS = 7
IDLE_TIMEOUT_MAX_MINUTES = 15
LOCKOUT_MAX_FAILURES = 5
MIN_PASSWORD_LENGTH = 13
ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"
TLS_PROTOCOLS_REQUIRED = ["TLSv1.3"]
ARCHIVE_VERIFY_MAX_AGE = timedelta(days=7)


@dataclass(frozen=True)
class Measurement:
    status: str
    value: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Probe:
    key: str
    label: str | Promise
    measure: Callable[[], Measurement]
    frequent: bool = False


PROBES: dict[str, Probe] = {}


def probe(key: str, label: str | Promise, *, frequent: bool = False) -> Callable[[Callable[[], Measurement]], Callable[[], Measurement]]:
    def register(func: Callable[[], Measurement]) -> Callable[[], Measurement]:
        PROBES[key] = Probe(key, label, func, frequent)
        return func

    return register


def measure(key: str) -> Measurement:
    """Run one probe; an unexpected error is reported as "unknown" with the error, never as a pass."""
    try:
        return PROBES[key].measure()
    except Exception as exc:
        logger.exception("probe %s failed", key)
        return Measurement(ProbeStatus.UNKNOWN, _("測定できませんでした: %(error)s") % {"error": type(exc).__name__},
                           {"error": str(exc)[:300]})


# --- Accounts ----------------------------------------------------------------------------------------


@probe("totp_coverage", gettext_lazy("有効な全利用者が確認済みの二要素認証（TOTP）を保有"))
def totp_coverage() -> Measurement:
    users = get_user_model().objects.filter(is_active=True)
    confirmed = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    missing = list(users.filter(~Exists(confirmed)).order_by("username").values_list("username", flat=True)[:50])
    total = users.count()
    missing_count = users.filter(~Exists(confirmed)).count()
    value = _("有効な利用者 %(total)d 名中 %(ok)d 名が登録済み") % {"total": total, "ok": total - missing_count}
    status = ProbeStatus.PASS if missing_count == 0 else ProbeStatus.FAIL
    return Measurement(status, value, {"active_users": total, "without_totp": missing_count, "usernames": missing})


@probe("argon2_first", gettext_lazy("パスワードは Argon2 で不可逆に保存"))
def argon2_first() -> Measurement:
    hashers = list(settings.PASSWORD_HASHERS)
    first = hashers[0] if hashers else ""
    if first != ARGON2:
        return Measurement(ProbeStatus.FAIL, _("最初のハッシュ方式: %(hasher)s") % {"hasher": first.rsplit(".", 1)[-1]},
                           {"hashers": hashers})
    # Stored hashes start with the algorithm's name; "!" marks an unusable password (nothing to upgrade).
    prefixes = {"password__startswith": "argon2"}, {"password__startswith": "!"}
    legacy = get_user_model().objects.filter(is_active=True).exclude(**prefixes[0]).exclude(**prefixes[1]).count()
    detail = {"hashers": hashers, "active_users_with_older_hash": legacy}
    if legacy:
        return Measurement(
            ProbeStatus.WARN,
            _("Argon2（旧方式で保存された有効な利用者 %(count)d 名: 次回ログイン時に更新）") % {"count": legacy},
            detail,
        )
    return Measurement(ProbeStatus.PASS, "Argon2id", detail)


@probe("password_validators", gettext_lazy("パスワード規則（13文字以上・英数記号混在・類推困難・再利用禁止）"))
def password_validators() -> Measurement:
    validators = password_validation.get_default_password_validators()
    names = [type(v).__name__ for v in validators]
    min_length = max((getattr(v, "min_length", 0) for v in validators if type(v).__name__ == "MinimumLengthValidator"),
                     default=0)
    required = {"CharacterClassValidator", "UserAttributeSimilarityValidator", "PersonalDataValidator",
                "CommonPasswordValidator", "PasswordHistoryValidator"}
    missing = sorted(required - set(names))
    value = _("最小 %(length)d 文字 / %(names)s") % {"length": min_length, "names": ", ".join(names)}
    detail = {"validators": names, "min_length": min_length, "missing": missing}
    if min_length < MIN_PASSWORD_LENGTH or "CharacterClassValidator" not in names:
        return Measurement(ProbeStatus.FAIL, value, detail)
    if missing:
        return Measurement(ProbeStatus.WARN, value, detail)
    return Measurement(ProbeStatus.PASS, value, detail)


@probe("idle_timeout", gettext_lazy("無操作時の自動ログアウト（15分以内）"))
def idle_timeout() -> Measurement:
    idle = settings.SESSION_IDLE_TIMEOUT
    absolute = settings.SESSION_ABSOLUTE_TIMEOUT
    installed = "agency.middleware.SessionTimeoutMiddleware" in settings.MIDDLEWARE
    minutes = int(idle.total_seconds() // 60)
    value = _("無操作 %(idle)d 分 / 最長 %(hours)d 時間") % {"idle": minutes, "hours": int(absolute.total_seconds() // 3600)}
    ok = installed and idle <= timedelta(minutes=IDLE_TIMEOUT_MAX_MINUTES)
    return Measurement(ProbeStatus.PASS if ok else ProbeStatus.FAIL, value,
                       {"idle_seconds": idle.total_seconds(), "middleware": installed})


@probe("lockout", gettext_lazy("連続失敗時のアカウントロック"))
def lockout() -> Measurement:
    limit = getattr(settings, "AXES_FAILURE_LIMIT", None)
    enabled = getattr(settings, "AXES_ENABLED", True)
    backend = "axes.backends.AxesStandaloneBackend" in settings.AUTHENTICATION_BACKENDS
    middleware = "axes.middleware.AxesMiddleware" in settings.MIDDLEWARE
    cooloff = getattr(settings, "AXES_COOLOFF_BASE", None) or getattr(settings, "AXES_COOLOFF_TIME", None)
    detail = {"failure_limit": limit, "enabled": enabled, "backend": backend, "middleware": middleware,
              "cooloff_minutes": int(cooloff.total_seconds() // 60) if isinstance(cooloff, timedelta) else None,
              "parameters": getattr(settings, "AXES_LOCKOUT_PARAMETERS", None)}
    ok = bool(enabled and backend and middleware and isinstance(limit, int) and 1 <= limit <= LOCKOUT_MAX_FAILURES)
    value = _("%(limit)s 回失敗でロック") % {"limit": limit} if ok else _("ロックアウトが有効になっていません")
    return Measurement(ProbeStatus.PASS if ok else ProbeStatus.FAIL, value, detail)


# --- Audit log --------------------------------------------------------------------------------------


@probe("audit_chain", gettext_lazy("監査ログのハッシュチェーン・封印・チェックポイントの検証"))
def audit_chain() -> Measurement:
    report = audit_integrity_verify()
    detail: dict[str, Any] = report.as_dict()
    detail["problems"] = detail["problems"][:20]
    first = report.first
    if first is not None:
        kinds = sorted({p.kind for p in report.problems})
        return Measurement(ProbeStatus.FAIL, _("改ざんを検出（%(kinds)s）: %(message)s") % {
            "kinds": "・".join(str(PROBLEM_LABELS.get(k, k)) for k in kinds), "message": first.message}, detail)
    checkpoint = report.checkpoint
    if report.warnings or checkpoint is None:
        return Measurement(ProbeStatus.WARN, _("%(count)d 件、改ざんなし。ただし %(warning)s") % {
            "count": report.events, "warning": "、".join(report.warnings)}, detail)
    written = dt.datetime.fromisoformat(checkpoint.at)
    age = timezone.now() - written
    value = _("%(count)d 件、改ざんなし（最新チェックポイント: 連番 %(seq)d、%(date)s）") % {
        "count": report.events, "seq": checkpoint.seq, "date": f"{timezone.localtime(written):%Y-%m-%d %H:%M}"}
    detail["checkpoint_age_seconds"] = int(age.total_seconds())
    if age > settings.AUDIT_CHECKPOINT_MAX_AGE:
        return Measurement(ProbeStatus.WARN, value + _("。チェックポイントが古くなっています（%(age)s）") % {"age": _age_text(age)},
                           detail)
    return Measurement(ProbeStatus.PASS, value, detail)


PROBLEM_LABELS = {
    "deleted": gettext_lazy("削除"),
    "rewritten": gettext_lazy("書き換え"),
    "forged": gettext_lazy("偽造"),
    "truncated": gettext_lazy("末尾の削除"),
    "checkpoint": gettext_lazy("チェックポイントの改変"),
}


@probe("audit_review", gettext_lazy("監査ログの定期確認（31日以内）"))
def audit_review() -> Measurement:
    last = AuditReviewSignoff.objects.select_related("reviewer").order_by("-signed_at").first()
    if last is None:
        return Measurement(ProbeStatus.FAIL, _("確認記録がありません"))
    age = timezone.now() - last.signed_at
    local = timezone.localtime(last.signed_at)
    value = _("最終確認 %(date)s（%(who)s、%(days)d 日前）") % {
        "date": f"{local:%Y-%m-%d}", "who": last.reviewer.get_username(), "days": age.days}
    status = ProbeStatus.PASS if age <= timedelta(days=AUDIT_REVIEW_MAX_DAYS) else ProbeStatus.FAIL
    return Measurement(status, value, {"signoff": last.pk, "age_days": age.days, "last_seq": last.last_seq})


def _postgres_privileges(table: str) -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT current_user,
                   (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
                   (SELECT tableowner FROM pg_tables WHERE tablename = %s AND schemaname = current_schema()),
                   has_table_privilege(current_user, %s, 'UPDATE'),
                   has_table_privilege(current_user, %s, 'DELETE'),
                   has_table_privilege(current_user, %s, 'TRUNCATE')
            """,
            [table, table, table, table],
        )
        role, superuser, owner, update, delete, truncate = cursor.fetchone()
    return {"role": role, "superuser": bool(superuser), "owner": owner, "owns_table": owner == role,
            "update": bool(update), "delete": bool(delete), "truncate": bool(truncate)}


@probe("audit_guards", gettext_lazy("監査ログ・証明書・本人確認記録の改ざん防止（トリガーと権限）"))
def audit_guards() -> Measurement:
    audit_ok = audit_dbguards.installed(connection)
    certificates_ok = dbguards.installed(connection)
    resets_ok = agency_dbguards.installed(connection)
    detail: dict[str, Any] = {"vendor": connection.vendor, "audit_triggers": audit_ok,
                              "certificate_triggers": certificates_ok, "credential_reset_triggers": resets_ok}
    if not (audit_ok and certificates_ok and resets_ok):
        return Measurement(ProbeStatus.FAIL, _("追記専用のトリガーがありません"), detail)
    if connection.vendor != "postgresql":
        return Measurement(
            ProbeStatus.WARN,
            _("トリガーあり。%(vendor)s にはロールによる権限分離がないため、トリガーを削除できる接続です") % {"vendor": connection.vendor},
            detail,
        )
    privileges = _postgres_privileges(audit_dbguards.TABLE)
    detail["privileges"] = privileges
    problems = []
    if privileges["superuser"]:
        problems.append(_("スーパーユーザー"))
    if privileges["owns_table"]:
        problems.append(_("テーブル所有者"))
    held = [name.upper() for name in ("update", "delete", "truncate") if privileges[name]]
    if held:
        problems.append(_("%(privileges)s 権限あり") % {"privileges": "/".join(held)})
    if problems:
        value = _("トリガーあり。ただし接続ロール %(role)s は %(problems)s（トリガーを外して書き換えられます）") % {
            "role": privileges["role"], "problems": "・".join(problems)}
        return Measurement(ProbeStatus.WARN, value, detail)
    return Measurement(ProbeStatus.PASS, _("トリガーあり。接続ロール %(role)s は INSERT/SELECT のみ") % {"role": privileges["role"]},
                       detail)


# --- Time -----------------------------------------------------------------------------------------


def run_command(argv: list[str]) -> str | None:
    """Output of a system command, or None when it is missing or fails (tests replace this)."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=5, check=False)  # noqa: S603
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


def parse_timedatectl(output: str) -> bool | None:
    """``timedatectl show -p NTPSynchronized`` → True/False, or None when the answer is not there."""
    match = re.search(r"^NTPSynchronized=(yes|no)\s*$", output, re.M)
    return None if match is None else match.group(1) == "yes"


def parse_chrony_tracking(output: str) -> tuple[bool | None, float | None]:
    """``chronyc tracking`` → (synchronised, offset of the system clock from NTP time in seconds)."""
    leap = re.search(r"^Leap status\s*:\s*(.+?)\s*$", output, re.M)
    synced = None if leap is None else leap.group(1) == "Normal"
    offset = None
    system = re.search(r"^System time\s*:\s*([0-9.]+) seconds (fast|slow) of NTP time", output, re.M)
    if system:
        offset = float(system.group(1)) * (1 if system.group(2) == "fast" else -1)
    return synced, offset


def ntp_status() -> dict[str, Any]:
    """Synchronisation as the host reports it: chrony first (it also gives the offset), then timedatectl."""
    chrony = run_command(["chronyc", "-n", "tracking"])
    if chrony is not None:
        synced, offset = parse_chrony_tracking(chrony)
        if synced is not None:
            return {"source": "chronyc", "synchronized": synced, "offset_seconds": offset}
    timedatectl = run_command(["timedatectl", "show", "-p", "NTPSynchronized"])
    if timedatectl is not None:
        synced = parse_timedatectl(timedatectl)
        if synced is not None:
            return {"source": "timedatectl", "synchronized": synced, "offset_seconds": None}
    return {"source": None, "synchronized": None, "offset_seconds": None}


def database_clock_offset() -> float:
    """Database clock minus application clock, in seconds (mid-point of the round trip)."""
    with connection.cursor() as cursor:
        before = time.time()
        if connection.vendor == "postgresql":
            cursor.execute("SELECT extract(epoch FROM clock_timestamp())")
        else:
            cursor.execute("SELECT (julianday('now') - 2440587.5) * 86400.0")
        value = float(cursor.fetchone()[0])
        after = time.time()
    return value - (before + after) / 2


@probe("clock", gettext_lazy("時刻の信頼性（DBとの時刻差・NTP同期）"), frequent=True)
def clock() -> Measurement:
    offset = database_clock_offset()
    ntp = ntp_status()
    detail = {"db_offset_seconds": round(offset, 4), "ntp": ntp}
    if ntp["synchronized"] is None:
        ntp_text = _("NTP同期: 不明（timedatectl・chronyc で確認できません）")
    elif ntp["synchronized"]:
        ntp_text = _("NTP同期: 同期済（%(source)s）") % {"source": ntp["source"]}
    else:
        ntp_text = _("NTP同期: 未同期（%(source)s）") % {"source": ntp["source"]}
    value = _("DBとの差 %(offset)+.3f 秒 / %(ntp)s") % {"offset": offset, "ntp": ntp_text}
    ntp_offset = ntp.get("offset_seconds")
    worst = max(abs(offset), abs(ntp_offset) if ntp_offset is not None else 0.0)
    if worst >= CLOCK_FAIL_SECONDS or ntp["synchronized"] is False:
        return Measurement(ProbeStatus.FAIL, value, detail)
    if ntp["synchronized"] is None:
        return Measurement(ProbeStatus.UNKNOWN, value, detail)
    if worst >= CLOCK_WARN_SECONDS:
        return Measurement(ProbeStatus.WARN, value, detail)
    return Measurement(ProbeStatus.PASS, value, detail)


# --- TLS edge ---------------------------------------------------------------------------------------


def nginx_config_path() -> Path:
    return Path(getattr(settings, "COMPLIANCE_NGINX_CONF", settings.BASE_DIR / "deploy" / "nginx" / "portal.conf.template"))


def parse_nginx_directives(text: str) -> dict[str, list[list[str]]]:
    """Every simple directive of an nginx configuration (comments removed) → its argument lists."""
    directives: dict[str, list[list[str]]] = {}
    without_comments = "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in text.splitlines())
    for statement in re.split(r"[;{}]", without_comments):
        words = statement.split()
        if words:
            directives.setdefault(words[0], []).append(words[1:])
    return directives


def nginx_server_blocks(text: str) -> list[str]:
    """The bodies of the top-level ``server { … }`` blocks (comments removed)."""
    text = "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in text.splitlines())
    blocks: list[str] = []
    for match in re.finditer(r"\bserver\s*\{", text):
        depth, position = 1, match.end()
        while depth and position < len(text):
            depth += {"{": 1, "}": -1}.get(text[position], 0)
            position += 1
        blocks.append(text[match.end() : position - 1])
    return blocks


def _public_only(directives: dict[str, list[list[str]]]) -> bool:
    """A server without client certificates may pass requests only to the public disclosure pages."""
    targets = [args[0] for args in directives.get("proxy_pass", []) if args]
    return all(target.rstrip("/").endswith("/disclosure") for target in targets)


@probe("tls_config", gettext_lazy("通信: TLS 1.3 のみ・クライアント証明書必須（nginx 設定）"))
def tls_config() -> Measurement:
    path = nginx_config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return Measurement(ProbeStatus.UNKNOWN, _("nginx の設定ファイルを読めません: %(path)s") % {"path": path.name},
                           {"path": str(path)})
    directives = parse_nginx_directives(text)
    protocols = directives.get("ssl_protocols", [])
    verify = directives.get("ssl_verify_client", [])
    detail = {"path": str(path), "ssl_protocols": protocols, "ssl_verify_client": verify,
              "ssl_crl": bool(directives.get("ssl_crl")), "ssl_early_data": directives.get("ssl_early_data", [])}
    tls13_only = bool(protocols) and all(args == TLS_PROTOCOLS_REQUIRED for args in protocols)
    servers = [parse_nginx_directives(block) for block in nginx_server_blocks(text)] or [directives]
    with_certificates = [s for s in servers if s.get("ssl_verify_client") and all(a == ["on"] for a in s["ssl_verify_client"])]
    others_public_only = all(_public_only(s) for s in servers if s not in with_certificates)
    client_cert = bool(with_certificates) and others_public_only
    detail["servers"] = len(servers)
    detail["servers_without_client_certificates_public_only"] = others_public_only
    value = _("ssl_protocols %(protocols)s / ssl_verify_client %(verify)s") % {
        "protocols": " | ".join(" ".join(a) for a in protocols) or "-",
        "verify": " | ".join(" ".join(a) for a in verify) or "-",
    }
    if not (tls13_only and client_cert):
        return Measurement(ProbeStatus.FAIL, value, detail)
    if not detail["ssl_crl"]:
        return Measurement(ProbeStatus.WARN, value + " " + _("（CRL の指定なし）"), detail)
    return Measurement(ProbeStatus.PASS, value, detail)


TRANSPORT_WINDOW = timedelta(hours=24)


@probe("tls_served", gettext_lazy("通信: 実際の接続が nginx 経由の TLS 1.3・クライアント証明書付き"), frequent=True)
def tls_served() -> Measurement:
    """What is actually served, from how requests reached the portal in the last 24 hours
    (``compliance.transport``): any over plain HTTP, around the TLS proxy, through a proxy without the
    portal's nginx configuration, with an older TLS or without a client certificate fails; no request
    through the proxy at all cannot be judged."""
    since = timezone.now() - TRANSPORT_WINDOW
    counts: dict[str, int] = {}
    last: dict[str, Any] = {}
    for row in TransportSighting.objects.filter(last_seen_at__gte=since).order_by("last_seen_at"):
        counts[row.kind] = counts.get(row.kind, 0) + row.count
        last[row.kind] = {"at": timezone.localtime(row.last_seen_at).isoformat(timespec="minutes"), "example": row.last_detail}
    base_url = str(getattr(settings, "PORTAL_BASE_URL", "") or "")
    detail: dict[str, Any] = {"window_hours": int(TRANSPORT_WINDOW.total_seconds() // 3600), "counts": counts, "last": last,
                              "base_url": base_url}
    unsafe = {kind: n for kind, n in counts.items() if kind not in (TransportKind.SECURE, TransportKind.PUBLIC)}
    if base_url.startswith("http://"):
        return Measurement(ProbeStatus.FAIL, _("利用者に案内するアドレスが平文 HTTP です: %(url)s") % {"url": base_url}, detail)
    if unsafe:
        value = "、".join(
            _("%(kind)s %(count)d 件（最終 %(at)s）") % {"kind": TransportKind(kind).label, "count": n, "at": last[kind]["at"]}
            for kind, n in sorted(unsafe.items())
        )
        return Measurement(ProbeStatus.FAIL, _("直近24時間: ") + value, detail)
    secure = counts.get(TransportKind.SECURE, 0)
    if not secure:
        return Measurement(ProbeStatus.UNKNOWN, _("直近24時間に nginx 経由の接続が記録されていません"), detail)
    return Measurement(ProbeStatus.PASS, _("直近24時間の接続 %(count)d 件すべてが nginx 経由の TLS 1.3・クライアント証明書付き") % {
        "count": secure + counts.get(TransportKind.PUBLIC, 0)}, detail)


# --- Backups ------------------------------------------------------------------------------------------


def _age_text(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours < 48:
        return _("%(hours)d 時間前") % {"hours": hours}
    return _("%(days)d 日前") % {"days": delta.days}


@probe("backup_age", gettext_lazy("最新バックアップの経過時間"))
def backup_age() -> Measurement:
    last = BackupGeneration.objects.filter(pruned_at__isnull=True).order_by("-taken_at").first()
    if last is None:
        return Measurement(ProbeStatus.FAIL, _("バックアップがありません"))
    age = timezone.now() - last.taken_at
    value = _("%(date)s 取得（%(age)s）") % {"date": f"{timezone.localtime(last.taken_at):%Y-%m-%d %H:%M}", "age": _age_text(age)}
    detail = {"backup": last.pk, "age_seconds": int(age.total_seconds()), "file": last.path}
    if age <= timedelta(hours=BACKUP_WARN_HOURS):
        return Measurement(ProbeStatus.PASS, value, detail)
    if age <= timedelta(hours=BACKUP_FAIL_HOURS):
        return Measurement(ProbeStatus.WARN, value, detail)
    return Measurement(ProbeStatus.FAIL, value, detail)


@probe("restore_drill", gettext_lazy("リストア訓練（92日以内に成功）"))
def restore_drill() -> Measurement:
    last = RestoreDrill.objects.order_by("-started_at").first()
    if last is None:
        return Measurement(ProbeStatus.FAIL, _("リストア訓練の記録がありません"))
    age = timezone.now() - last.started_at
    data_age = _age_text(timedelta(seconds=last.data_age_seconds)) if last.data_age_seconds is not None else "-"
    value = _("%(date)s %(result)s（所要 %(seconds).1f 秒、復元データの時点 %(age)s）") % {
        "date": f"{timezone.localtime(last.started_at):%Y-%m-%d}",
        "result": _("成功") if last.succeeded else _("失敗"),
        "seconds": last.duration_ms / 1000,
        "age": data_age,
    }
    detail = {"drill": last.pk, "age_days": age.days, "succeeded": last.succeeded}
    ok = last.succeeded and age <= timedelta(days=RESTORE_DRILL_MAX_DAYS)
    return Measurement(ProbeStatus.PASS if ok else ProbeStatus.FAIL, value, detail)


# --- Emergency and maintenance access ---------------------------------------------------------------------


@probe("emergency_accounts", gettext_lazy("非常用アカウントは非常時以外は無効"), frequent=True)
def emergency_accounts() -> Measurement:
    now = timezone.now()
    accounts = list(EmergencyAccount.objects.select_related("user"))
    current = set(
        EmergencyActivation.objects.filter(
            ended_at__isnull=True, expires_at__gt=now, incident__state=Incident.State.ACTIVE
        ).values_list("account_id", flat=True)
    )
    wrongly_active = [a.user.get_username() for a in accounts if a.user.is_active and a.pk not in current]
    overdue = EmergencyActivation.objects.filter(ended_at__isnull=True, expires_at__lte=now).count()
    detail = {"accounts": len(accounts), "activated": len(current), "active_without_grant": wrongly_active,
              "expired_not_ended": overdue}
    if wrongly_active or overdue:
        value = _("有効化されていないのに使用可能なアカウント: %(names)s") % {"names": ", ".join(wrongly_active) or "-"}
        return Measurement(ProbeStatus.FAIL, value, detail)
    if current:
        return Measurement(ProbeStatus.PASS, _("非常時対応中: %(count)d 件を期限付きで有効化中") % {"count": len(current)}, detail)
    return Measurement(ProbeStatus.PASS, _("非常用アカウント %(count)d 件、すべて無効") % {"count": len(accounts)}, detail)


@probe("maintenance_windows", gettext_lazy("保守作業時間帯の閉じ忘れなし"), frequent=True)
def maintenance_windows() -> Measurement:
    now = timezone.now()
    left_open = list(MaintenanceWindow.objects.filter(closed_at__isnull=True, ends_at__lte=now).values_list("ticket", flat=True))
    open_now = MaintenanceWindow.objects.filter(closed_at__isnull=True, starts_at__lte=now, ends_at__gt=now).count()
    detail = {"left_open": left_open, "open_now": open_now}
    if left_open:
        return Measurement(ProbeStatus.FAIL, _("終了後も閉じられていない作業時間帯: %(tickets)s") % {"tickets": ", ".join(left_open)},
                           detail)
    return Measurement(ProbeStatus.PASS, _("閉じ忘れなし（作業中 %(count)d 件）") % {"count": open_now}, detail)


@probe("access_reviews", gettext_lazy("保守・非常用アカウント使用後の確認（7日以内）"), frequent=True)
def access_reviews() -> Measurement:
    now = timezone.now()
    pending = AccessReview.objects.filter(completed_at__isnull=True)
    overdue = list(pending.filter(opened_at__lt=now - timedelta(days=ACCESS_REVIEW_DUE_DAYS)).values_list("pk", flat=True))
    count = pending.count()
    detail = {"pending": count, "overdue": overdue}
    if overdue:
        return Measurement(ProbeStatus.FAIL, _("期限を過ぎた未確認 %(count)d 件") % {"count": len(overdue)}, detail)
    return Measurement(ProbeStatus.PASS, _("期限超過なし（未確認 %(count)d 件）") % {"count": count}, detail)


# --- Intake hardening and retention ---------------------------------------------------------------------


@probe("upload_hardening", gettext_lazy("受領ファイルの安全対策（サイズ上限・公式XSDによる検証）"))
def upload_hardening() -> Measurement:
    max_bytes = getattr(settings, "INTAKE_MAX_ARCHIVE_BYTES", None)
    xsd_setting = getattr(settings, "KENSHIN_XSD_DIR", "") or ""
    xsd_dir = Path(xsd_setting) if xsd_setting else None
    xsd_files = len(list(xsd_dir.rglob("*.xsd"))) if xsd_dir is not None and xsd_dir.is_dir() else 0
    detail = {"max_archive_bytes": max_bytes, "xsd_dir": xsd_setting, "xsd_files": xsd_files,
              "max_upload_files": getattr(settings, "DATA_UPLOAD_MAX_NUMBER_FILES", None)}
    problems = []
    if not isinstance(max_bytes, int) or max_bytes <= 0:
        problems.append(_("アーカイブのサイズ上限が未設定"))
    if not xsd_setting:
        problems.append(_("公式XSDの場所（KENSHIN_XSD_DIR）が未設定"))
    elif xsd_files == 0:
        problems.append(_("公式XSDが見つかりません"))
    if problems:
        return Measurement(ProbeStatus.FAIL, "、".join(problems), detail)
    value = _("上限 %(mb)d MB / 公式XSD %(count)d 件") % {"mb": max_bytes // (1024 * 1024), "count": xsd_files}
    return Measurement(ProbeStatus.PASS, value, detail)


@probe("archive_integrity", gettext_lazy("受領・送付アーカイブの改ざん検知（SHA-256 の定期検証）"))
def archive_integrity() -> Measurement:
    totals = intake_selectors.archive_integrity_totals()
    detail = {key: value for key, value in totals.items() if key != "oldest"}
    if totals["failed"]:
        return Measurement(ProbeStatus.FAIL, _("保存アーカイブ %(count)d 件がハッシュと一致しません（改ざん・破損）") % {
            "count": totals["failed"]}, {**detail, "failed_sha256": totals["failed_sha256"]})
    if totals["unchecked"]:
        return Measurement(ProbeStatus.WARN, _("%(total)d 件中 %(count)d 件が未検証") % {
            "total": totals["total"], "count": totals["unchecked"]}, detail)
    oldest = totals["oldest"]
    value = _("%(total)d 件すべてハッシュと一致") % {"total": totals["total"]}
    if oldest is not None:
        age = timezone.now() - oldest
        detail["oldest_check_age_seconds"] = int(age.total_seconds())
        value += _("（最も古い検証 %(date)s）") % {"date": f"{timezone.localtime(oldest):%Y-%m-%d %H:%M}"}
        if age > ARCHIVE_VERIFY_MAX_AGE:
            return Measurement(ProbeStatus.WARN, value + _("。検証が一巡していません（%(age)s）") % {"age": _age_text(age)}, detail)
    return Measurement(ProbeStatus.PASS, value, detail)


@probe("retention_policies", gettext_lazy("情報種別ごとの保存期間と破棄手順"))
def retention_policies() -> Measurement:
    defined = set(RetentionPolicy.objects.values_list("data_class", flat=True))
    missing = [str(label) for value, label in DataClass.choices if value not in defined]
    detail = {"defined": sorted(defined), "missing": missing}
    if missing:
        return Measurement(ProbeStatus.FAIL, _("保存期間が未設定: %(classes)s") % {"classes": "、".join(missing)}, detail)
    return Measurement(ProbeStatus.PASS, _("%(count)d 種別すべて設定済") % {"count": len(defined)}, detail)


def frequent_keys() -> list[str]:
    return [key for key, p in PROBES.items() if p.frequent]


def label(key: str) -> str:
    found = PROBES.get(key)
    return str(found.label) if found else key


def measured_at_text(moment: datetime | None) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}" if moment else "-"
