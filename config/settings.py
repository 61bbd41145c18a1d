"""Settings, read only from the environment (django-environ).

Local defaults are safe for one machine (DEBUG on, SQLite file, local Redis).
With DEBUG off, a missing or unsafe production value stops the process at start
instead of running insecurely.
"""

from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=True)

_DEV_SECRET_KEY = "dev-only-insecure-key-never-use-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else "")
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

try:
    DATABASES = {
        "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
    }
except (environ.ImproperlyConfigured, KeyError, ValueError) as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from exc
if DATABASES["default"]["ENGINE"] not in {
    "django.db.backends.sqlite3",
    "django.db.backends.postgresql",
}:
    raise ImproperlyConfigured("DATABASE_URL must be a sqlite:// or postgres:// URL")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the RQ worker write the same file: WAL lets readers go on
    # while one writer works, IMMEDIATE takes the write lock at BEGIN so a
    # transaction never fails half-way with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured("REDIS_URL must start with redis://, rediss:// or unix://")
# One cache for every web process (the campaign analysis); keys under "cs:".
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "cs"}
}

INSTALLED_APPS = [
    "config.admin.CampaignStudioAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
    "django_htmx",
    "django_filters",
    "django_rq",
    "accounts",
    "audiences",
    "rewards",
    "campaigns",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            "builtins": ["accounts.templatetags.scope", "accounts.templatetags.ui"],
        },
    },
]

FORM_RENDERER = "config.forms.BootstrapFormRenderer"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Chinese bank staff first; English for head office's foreign colleagues.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=200 * 1024 * 1024)  # customer and tag imports
# Campaign materials (campaigns/services/materials.py): upload sizes, and the
# largest width and height (each, in pixels) of a poster or animated image.
MATERIAL_IMAGE_MAX_BYTES = env.int("MATERIAL_IMAGE_MAX_BYTES", default=5 * 1024 * 1024)
MATERIAL_VIDEO_MAX_BYTES = env.int("MATERIAL_VIDEO_MAX_BYTES", default=50 * 1024 * 1024)
MATERIAL_MAX_PIXELS = env.int("MATERIAL_MAX_PIXELS", default=4096)
# The forecast's share of the reach expected to take part, unless the kind says otherwise.
CAMPAIGNS_PARTICIPATION_RATE = Decimal(env.str("CAMPAIGNS_PARTICIPATION_RATE", default="0.08"))
# Channel API and runtime (DESIGN.md §5): signatures older or newer than this are refused;
# idempotent answers are kept this long; a rotated secret keeps working this long.
CAMPAIGNS_API_MAX_SKEW = env.int("CAMPAIGNS_API_MAX_SKEW", default=300)
CAMPAIGNS_IDEMPOTENCY_TTL = env.int("CAMPAIGNS_IDEMPOTENCY_TTL", default=86_400)
CAMPAIGNS_SECRET_GRACE_HOURS = env.int("CAMPAIGNS_SECRET_GRACE_HOURS", default=24)
CAMPAIGNS_REDIS_TIMEOUT = env.float("CAMPAIGNS_REDIS_TIMEOUT", default=2.0)
# runtime_rebuild waits this long after fencing a campaign, so that requests
# that passed the old counters have committed before the database is read.
CAMPAIGNS_REBUILD_SETTLE_SECONDS = env.float("CAMPAIGNS_REBUILD_SETTLE_SECONDS", default=2.0)
# A take still pending after this long belongs to a process that died: the
# minute sweep reloads that campaign's counters from the database.
CAMPAIGNS_TAKE_STALE_SECONDS = env.int("CAMPAIGNS_TAKE_STALE_SECONDS", default=60)
# Awards are granted in the background, this many per drain job (campaigns/runtime/awards.py).
CAMPAIGNS_AWARDS_BATCH_SIZE = env.int("CAMPAIGNS_AWARDS_BATCH_SIZE", default=200)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

RQ_QUEUES = {
    "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600},
}
RQ = {"COMMIT_MODE": "on_db_commit"}
# Rewards dispatch (rewards/services/delivery.py). The backend is a dotted path,
# like EMAIL_BACKEND: logging (default; records each delivery in the database),
# http (signed JSON to the bank's core system) or test (in memory).
REWARDS_DISPATCH_BACKEND = env.str("REWARDS_DISPATCH_BACKEND", default="rewards.backends.logging.LoggingBackend")
REWARDS_HTTP_URL = env.str("REWARDS_HTTP_URL", default="")
REWARDS_HTTP_KEY_ID = env.str("REWARDS_HTTP_KEY_ID", default="")
REWARDS_HTTP_SECRET = env.str("REWARDS_HTTP_SECRET", default="")
REWARDS_HTTP_TIMEOUT = env.float("REWARDS_HTTP_TIMEOUT", default=5.0)
REWARDS_DISPATCH_BATCH_SIZE = env.int("REWARDS_DISPATCH_BATCH_SIZE", default=200)
REWARDS_MAX_ATTEMPTS = env.int("REWARDS_MAX_ATTEMPTS", default=5)
REWARDS_RETRY_BASE_SECONDS = env.int("REWARDS_RETRY_BASE_SECONDS", default=30)
REWARDS_STUCK_AFTER_SECONDS = env.int("REWARDS_STUCK_AFTER_SECONDS", default=300)
# Manual dispatch batches costing more than this (CNY) need a second person's approval.
REWARDS_BATCH_APPROVAL_ABOVE = Decimal(env.str("REWARDS_BATCH_APPROVAL_ABOVE", default="10000"))

# Health checks and other quick Redis look-ups must not hang a request.
REDIS_HEALTH_TIMEOUT = env.float("REDIS_HEALTH_TIMEOUT", default=1.0)

# Security: strict whenever DEBUG is off; each can be relaxed explicitly by env.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)  # one working day
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Everything is served from this origin (no CDN on a bank intranet). Inline
# styles stay allowed for Bootstrap's and htmx's indicator styles; scripts do not.
CONTENT_SECURITY_POLICY = env.str(
    "CONTENT_SECURITY_POLICY",
    default=(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; media-src 'self' blob:; font-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"quiet_api_refusals": {"()": "config.logging_filters.QuietApiRefusals"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # The channel API's everyday refusals (sold out, limit reached…) are answers, not incidents.
        "django.request": {"filters": ["quiet_api_refusals"]},
    },
}

DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="Demo-2026!")


def _check_production() -> None:
    """Refuse to start with DEBUG off and an unsafe value."""
    problems = []
    if not SECRET_KEY or SECRET_KEY == _DEV_SECRET_KEY or SECRET_KEY.startswith("django-insecure"):
        problems.append("SECRET_KEY must be set to a secret value")
    elif len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        problems.append("SECRET_KEY must be at least 50 characters with at least 5 distinct ones")
    if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
        problems.append("ALLOWED_HOSTS must list this site's host names (no '*')")
    # Without these the HTTP backend would fail every grant at its first delivery.
    if REWARDS_DISPATCH_BACKEND.rpartition(".")[0] == "rewards.backends.http":
        if not REWARDS_HTTP_URL.startswith(("https://", "http://")):
            problems.append("REWARDS_HTTP_URL must be the core system's http(s):// URL for the HTTP dispatch backend")
        if not REWARDS_HTTP_KEY_ID or not REWARDS_HTTP_SECRET:
            problems.append("REWARDS_HTTP_KEY_ID and REWARDS_HTTP_SECRET must be set for the HTTP dispatch backend")
    if problems:
        raise ImproperlyConfigured("Unsafe production settings (DEBUG is off): " + "; ".join(problems))


if not DEBUG:
    _check_production()
