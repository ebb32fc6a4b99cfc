"""Complete settings for every environment, driven by environment variables.

``dev``, ``test`` and ``production`` only override what differs. Every variable read here is listed
in ``.env.example``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = env_str("DJANGO_SECRET_KEY")
# Demo data (seed_demo, demo_totp) may be loaded only where this is on: never in production.
PORTAL_DEMO = env_bool("PORTAL_DEMO", False)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# Addresses (IPs or CIDR ranges) of the TLS-terminating proxy. Only requests arriving from these
# addresses may set X-Forwarded-For and the X-SSL-Client-* headers.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")

# Fernet key for secrets stored encrypted (archive passwords); derived from SECRET_KEY when unset, which
# only development may do: `check --deploy` refuses it (agency/checks.py).
FIELD_ENCRYPTION_KEY = env_str("FIELD_ENCRYPTION_KEY")

VAR_DIR = Path(env_str("PORTAL_VAR_DIR", str(BASE_DIR / "var")))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "agency",
    "audit",
    "intake",
    "routing",
    "billing",
    "compliance",
    "portal",
]

MIDDLEWARE = [
    "compliance.middleware.TransportEvidenceMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "agency.middleware.TenantScopeMiddleware",
    "audit.middleware.AuditMiddleware",
    "agency.middleware.SessionTimeoutMiddleware",
    "agency.middleware.PortalLoginRequiredMiddleware",
    "agency.middleware.RequireOTPMiddleware",
    "agency.middleware.PasswordChangeRequiredMiddleware",
    "agency.middleware.MaintenanceWindowMiddleware",
    "compliance.middleware.EmergencyAccessMiddleware",
    "agency.middleware.NoStoreMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "core.middleware.ApplicationErrorMiddleware",
]

ROOT_URLCONF = "agency.urls"
WSGI_APPLICATION = "agency.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "agency.context_processors.portal",
                "compliance.context_processors.emergency_banner",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# Without DATABASE_URL the portal runs on an embedded SQLite file under var/.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, which also sets the tenant scope of row-level security in every transaction.
    DATABASES["default"]["ENGINE"] = "core.db.postgresql"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # One writer at a time, decided when the transaction starts: keeps the audit chain linear.
    DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"
    DATABASES["default"]["OPTIONS"]["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication -------------------------------------------------------------------------
AUTH_USER_MODEL = "agency.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
PASSWORD_HISTORY_COUNT = 12
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 13},
    },
    {"NAME": "agency.passwords.CharacterClassValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("username", "email", "first_name", "last_name", "full_name_kana")},
    },
    {"NAME": "agency.passwords.PersonalDataValidator"},
    {"NAME": "agency.passwords.CommonWordValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "agency.passwords.PasswordHistoryValidator", "OPTIONS": {"count": PASSWORD_HISTORY_COUNT}},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
OTP_VERIFY_URL = "accounts:otp_verify"
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "代行機関ポータル")
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
OTP_BACKUP_CODE_COUNT = 10

# Lockout after five failures of one user name from one address (that pair only: nobody can lock
# another person out from everywhere), for AXES_COOLOFF_MINUTES, doubled for every further lockout
# of the pair within a day, at most AXES_COOLOFF_MAX_HOURS (agency.lockout); generic error; the
# administrators are alerted.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_BASE = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 30))
AXES_COOLOFF_MAX = timedelta(hours=env_int("AXES_COOLOFF_MAX_HOURS", 24))
AXES_COOLOFF_TIME = "agency.lockout.cool_off"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "core.http.axes_client_ip"
AXES_VERBOSE = False

# --- Sessions ---------------------------------------------------------------------------------
SESSION_IDLE_TIMEOUT = timedelta(minutes=env_int("SESSION_IDLE_MINUTES", 15))
SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=env_int("SESSION_ABSOLUTE_HOURS", 10))
# A session's last activity is written (one UPDATE and a committed transaction) at most this often: a request
# within it of the recorded activity leaves the session row alone. The idle timeout then counts from an activity
# at most this much older than the real last one, so an idle session ends up to this much early, never late.
SESSION_ACTIVITY_RESOLUTION = timedelta(seconds=env_int("SESSION_ACTIVITY_RESOLUTION_SECONDS", 30))
SESSION_COOKIE_AGE = int(SESSION_ABSOLUTE_TIMEOUT.total_seconds())
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("日本語"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

# --- Static files and storage -----------------------------------------------------------------
STATIC_URL = "static/"
# The bundled Japanese font (core/fonts: IPAexGothic with its licence) is served as /static/fonts/ too, so that
# every browser renders the portal with the same font as the PDFs, whatever the machine has installed.
STATICFILES_DIRS = [BASE_DIR / "static", ("fonts", BASE_DIR / "core" / "fonts")]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# Received archives, stored content-addressed outside the web root and never served directly.
STORAGE_DIR = Path(env_str("STORAGE_DIR", str(VAR_DIR / "storage")))

INTAKE_MAX_ARCHIVE_BYTES = env_int("INTAKE_MAX_ARCHIVE_BYTES", 100 * 1024 * 1024)
# The e-mail channel: larger messages are refused from their header alone (base64 makes an attachment
# a third larger); refused messages are moved to this folder with their reasons (STORAGE_DIR/mail-quarantine).
INTAKE_EMAIL_MAX_MESSAGE_BYTES = env_int("INTAKE_EMAIL_MAX_MESSAGE_BYTES", INTAKE_MAX_ARCHIVE_BYTES * 4 // 3 + 4 * 1024 * 1024)
INTAKE_EMAIL_QUARANTINE_DIR = env_str("INTAKE_EMAIL_QUARANTINE_DIR")
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024  # larger uploads are streamed to a temporary file
DATA_UPLOAD_MAX_NUMBER_FILES = 20

# How requests reach the portal (compliance.transport: the evidence of the probe tls_served) is written
# at most this often per kind and process.
COMPLIANCE_TRANSPORT_RECORD = True
COMPLIANCE_TRANSPORT_RECORD_SECONDS = env_int("COMPLIANCE_TRANSPORT_RECORD_SECONDS", 60)

# Official MHLW XSD package installed by the operator (never the copies inside uploads).
KENSHIN_XSD_DIR = env_str("KENSHIN_XSD_DIR")
# 提出先機関番号 in the name of the 実施結果報告 archive (保険者 → 支払基金). The number 支払基金 expects
# there was not found in public sources (README "実施結果報告"): set it once confirmed.
ANNUAL_REPORT_RECEIVER = env_str("ANNUAL_REPORT_RECEIVER", "00000000")

# --- Security headers -----------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "core.api.csrf_failure"  # JSON under /api/
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["agency.api.permissions.PortalPermission"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # limit 1..1000 (default PAGE_SIZE), offset 0..2^31-1; other values answer 400 invalid_paging
    "DEFAULT_PAGINATION_CLASS": "core.api.PortalPagination",
    "PAGE_SIZE": 100,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "代行機関ポータル API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request bodies get components of their own, so that an upload's file is declared as binary.
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "CopayCodeEnum": "agency.models.CopayCode",
        "SubmissionStatusEnum": "intake.models.SubmissionStatus",
        "ChannelEnum": "intake.models.Channel",
        "FindingSeverityEnum": "intake.models.Finding.Severity",
        "DeliveryStatusEnum": "routing.models.DeliveryStatus",
    },
}

# --- Celery -----------------------------------------------------------------------------------
# Without a broker the portal runs tasks inline (eager), which is what the embedded demo uses.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_TIMEZONE = TIME_ZONE
# The queue this portal's tasks go to and its workers read (several portals may share one broker).
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
# Leases on background work (agency.leases): a worker renews its lease every third of
# WORK_LEASE_SECONDS while it works; an unfinished unit whose lease has expired (its worker died) is
# queued again by the sweeper, which runs every WORK_SWEEP_SECONDS. A unit queued but not started
# within WORK_QUEUE_SECONDS is queued again (its message was lost). After WORK_MAX_ATTEMPTS starts
# without finishing, a unit is given up and the administrators are alerted.
WORK_LEASE_SECONDS = env_int("WORK_LEASE_SECONDS", 120)
WORK_SWEEP_SECONDS = env_int("WORK_SWEEP_SECONDS", 60)
WORK_QUEUE_SECONDS = env_int("WORK_QUEUE_SECONDS", 30 * 60)
WORK_MAX_ATTEMPTS = env_int("WORK_MAX_ATTEMPTS", 5)
# First-generation threshold of the cyclic garbage collector in worker processes (0: the default).
WORKER_GC_THRESHOLD = env_int("WORKER_GC_THRESHOLD", 50_000)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # interrupted work (expired leases: level 0, level-1 chunks, routing runs, month closes) queued again
    "agency-leases-sweep": {"task": "agency.leases_sweep", "schedule": timedelta(seconds=WORK_SWEEP_SECONDS)},
    # compliance: clock, what is served (tls_served), emergency accounts, maintenance windows, pending reviews — every 10 minutes
    "compliance-probes-frequent": {"task": "compliance.probes_run_frequent", "schedule": timedelta(minutes=10)},
    # compliance: every probe (audit chain verification included), then old results pruned — daily
    "compliance-probes-all": {"task": "compliance.probes_run", "schedule": timedelta(hours=24)},
    # break-glass activations past their four hours are ended and the accounts disabled — every minute
    "compliance-emergency-expire": {"task": "compliance.emergency_expire_due", "schedule": timedelta(minutes=1)},
    # maintenance windows past their end are closed and their review opened — every 5 minutes
    "compliance-maintenance-close": {"task": "compliance.maintenance_close_expired", "schedule": timedelta(minutes=5)},
    # encrypted pg_dump generation — daily; restore drill into a scratch database — weekly
    "compliance-backup": {"task": "compliance.backup_create", "schedule": timedelta(hours=24)},
    "compliance-restore-drill": {"task": "compliance.restore_drill_run", "schedule": timedelta(days=7)},
    # 振分: accepted records routed to their insurers (idempotent; clerks can also route on demand) — daily
    "routing-route-deliveries": {"task": "routing.route_deliveries", "schedule": timedelta(hours=24)},
    # receipt notices of checked submissions that were not sent yet (a retry sends nothing twice) — daily
    "intake-receipts-sweep": {"task": "intake.receipts_sweep", "schedule": timedelta(hours=24)},
    # stored archives rehashed against their SHA-256, the longest unchecked first (a byte budget per run;
    # record views read single members and no longer hash the whole archive) — hourly
    "intake-archives-verify": {"task": "intake.archives_verify", "schedule": timedelta(hours=1)},
}
# billing: close every month whose cut-off has passed (idempotent, so hourly is safe) — every hour
CELERY_BEAT_SCHEDULE["billing-close-due-months"] = {"task": "billing.close_due_months", "schedule": timedelta(hours=1)}
# Keyed checkpoints of the audit chain's head, written outside the database (append-only file in this
# directory) hourly and with every backup; the HMAC key also seals every audit row. Keep the key out of
# the database and its backups (at least 32 random characters; required in production).
AUDIT_HMAC_KEY = env_str("AUDIT_HMAC_KEY")
AUDIT_CHECKPOINT_DIR = Path(env_str("AUDIT_CHECKPOINT_DIR", str(VAR_DIR / "audit-checkpoints")))
# The newest checkpoint may be this old before the compliance probe warns.
AUDIT_CHECKPOINT_MAX_AGE = timedelta(hours=env_int("AUDIT_CHECKPOINT_MAX_AGE_HOURS", 26))
# audit: keyed checkpoint of the chain's head, outside the database — hourly
CELERY_BEAT_SCHEDULE["audit-checkpoint"] = {"task": "audit.checkpoint_write", "schedule": timedelta(hours=1)}
# Key of the backup files (32 bytes, URL-safe base64 as printed by Fernet.generate_key()); no backup without it.
BACKUP_ENCRYPTION_KEY = env_str("BACKUP_ENCRYPTION_KEY")

# --- Billing ----------------------------------------------------------------------------------
# Cut-off of month M: this day of month M+1 at this time (Japan time), moved to the next business day.
BILLING_CUTOFF_DAY = env_int("BILLING_CUTOFF_DAY", 5)
BILLING_CUTOFF_TIME = env_str("BILLING_CUTOFF_TIME", "23:59")
# Printed before the gap-free sequence of the agency's invoice numbers.
BILLING_INVOICE_PREFIX = env_str("BILLING_INVOICE_PREFIX", "INV-")

# --- E-mail -----------------------------------------------------------------------------------
# Unless configured, messages are printed to standard error (standard output is for what commands print).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "core.mail.StderrEmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "portal@localhost")
# The portal's address in links sent by e-mail (https://PORTAL_SERVER_NAME unless given).
PORTAL_BASE_URL = env_str("PORTAL_BASE_URL") or (
    f"https://{env_str('PORTAL_SERVER_NAME')}" if env_str("PORTAL_SERVER_NAME") else ""
)
# One-time password reset links (issued by an administrator after verifying identity) expire after this.
PASSWORD_RESET_TIMEOUT = env_int("RESET_LINK_SECONDS", 30 * 60)

# --- Logging ----------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "agency.logging.RedactSecretsFilter"}},
    # Standard error: standard output belongs to what management commands print (JSON with --json).
    "handlers": {"console": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
