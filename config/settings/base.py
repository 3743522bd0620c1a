"""The environment, secrets, installed apps, middleware, the database, templates and files."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=True)

if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-secret-key-change-me-in-production-0123456789")
else:
    try:
        SECRET_KEY = env.str("SECRET_KEY")
    except ImproperlyConfigured as exc:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG=false") from exc


def _dev_fernet_key() -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(("fernet:" + SECRET_KEY).encode()).digest()).decode()


# One or more Fernet keys, comma separated; the first encrypts, all decrypt (rotation).
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="" if not DEBUG else _dev_fernet_key())
if not FIELD_ENCRYPTION_KEY:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be set when DEBUG=false")

# Keyed hash for the CI (연계정보): never stored raw (docs/contracts.md).
CI_HASH_KEY = env.str("CI_HASH_KEY", default="") or SECRET_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "nested_admin",
    "django_celery_beat",  # the beat schedule, in the database (kakaoplugin/beat.py)
    "kakaoplugin",
    "catalog",
    "orders",
    "callbacks",
    "merchant",
    "backoffice",  # admin pages reading several apps: the dashboard, the member page (nothing imports it)
    "demo",  # the Kakao simulator's command (kakao_simulate); no models
    "axes",  # admin login throttling (security.py)
]

MIDDLEWARE = [
    # A request id and the plugin context bound for every log line of the request (log_context.py).
    "kakaoplugin.log_context.LogContextMiddleware",
    # Counts and times plugin requests, the gate's own answers included (kakaoplugin.metrics).
    "kakaoplugin.metrics.RequestMetricsMiddleware",
    # /healthz, /readyz, /metrics answered before the Host and https checks (kakaoplugin.health).
    "kakaoplugin.health.OperatorEndpointsMiddleware",
    # First: plugin paths are answered as JSON envelopes whatever happens further in.
    "kakaoplugin.gate.PluginGateMiddleware",
    "kakaoplugin.limits.ApiBodyLimitMiddleware",  # /api/ bodies: DRF has no size cap of its own
    "kakaoplugin.proxy_headers.UntrustedForwardedHeadersMiddleware",  # X-Forwarded-* only from our proxies
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # admin and API-docs assets under gunicorn
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Below the gate: never on plugin or buyer paths (the hot reads never reach it; kakaoplugin.locale).
    "kakaoplugin.locale.PersonLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # after AuthenticationMiddleware: answers a locked-out login
]

ROOT_URLCONF = "config.urls"

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
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
# Off by default: a health check is one more round trip (SELECT 1) on every request, on T4 too,
# which Kakao polls every 0.5 s per buyer. A connection broken by a database restart is replaced
# by the plugin gate, which answers that request once more (kakaoplugin.dbfaults).
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", env.bool("CONN_HEALTH_CHECKS", default=False))
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # The web process, the worker and the beat write to one file: WAL lets readers go on beside a
    # writer; a writer takes the write lock when its transaction starts (IMMEDIATE: no read lock to
    # upgrade, so no "database is locked" halfway through) and waits up to 20 s for it.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # The tests' database is a file too (not in memory): the worker they start opens it.
    DATABASES["default"].setdefault("TEST", {}).setdefault("NAME", str(VAR_DIR / "test-db.sqlite3"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Korean first: what a person reads (the admin, models, messages) is in locale/ko; English is picked
# by the browser's Accept-Language or the admin header's language switch (kakaoplugin.locale).
# The plugin contract messages Kakao shows buyers are Korean whatever the request's language.
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="ko")
LANGUAGES = [("ko", "한국어"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"  # stored in UTC; business rules use STORE_TIME_ZONE
STORE_TIME_ZONE = "Asia/Seoul"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG  # in development assets come straight from the apps
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))

# The https origin Kakao reaches us at (used to print plugin URLs and build approval URLs when a
# request is not at hand).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="")
