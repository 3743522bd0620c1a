"""Settings, all read from the environment (CONTRACTS section 9).

With nothing set this is the embedded default: a SQLite file under ``var/``, Celery tasks run by a
worker on a broker kept in a folder under ``var/`` (no server), DEBUG on.  Production is ``DEBUG=false`` with ``SECRET_KEY``, ``FIELD_ENCRYPTION_KEY``,
``DATABASE_URL``, ``REDIS_URL`` and ``ALLOWED_HOSTS`` set: nothing secret has a default there.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

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

# Keyed hash for the CI (연계정보): never stored raw (CONTRACTS section 1).
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
    "demo",  # the Kakao simulator's command (kakao_simulate); no models
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
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "kakaoplugin.urls"

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

WSGI_APPLICATION = "kakaoplugin.wsgi.application"

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

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="ko-kr")
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

# --- Redis: cache and Celery broker -----------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# Unset: the embedded broker, a folder under VAR_DIR (kakaoplugin/brokers.py): the same worker,
# beat and task semantics as with Redis, no server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL or "filesystem://localhost/"
EMBEDDED_BROKER = CELERY_BROKER_URL.startswith("filesystem:")

# The cache may live in its own Redis database (clearing it must not drop queued tasks).
CACHE_URL = env.str("CACHE_URL", default="") or REDIS_URL

if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="kp"),
            "TIMEOUT": 3600,
        }
    }
else:
    # Files under VAR_DIR: the web process, the worker and the beat share it (an invalidation made
    # by the worker reaches the web process).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "TIMEOUT": 3600,
        }
    }

# Celery is configured for money: a task is acknowledged only when it finished, a task whose
# worker died is redelivered, a worker takes one task at a time, JSON only, bounded run time.
# Tasks are sent after the transaction that wanted them commits (kakaoplugin.tasks.enqueue).
CELERY_TASK_ALWAYS_EAGER = False  # the web process only enqueues, also in the embedded default
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=120)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=100)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redelivery of an unacknowledged task after a worker is lost; longer than any task may run.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=600)}
if EMBEDDED_BROKER:
    from kakaoplugin.brokers import embedded_transport_options

    CELERY_BROKER_TRANSPORT = "kakaoplugin.brokers:FilesystemTransport"
    CELERY_BROKER_TRANSPORT_OPTIONS = embedded_transport_options(VAR_DIR / "broker")
elif CELERY_BROKER_URL.startswith(("redis:", "rediss:")):
    # kombu's Redis transport with the fix for the worker dying on a Redis restart (issue 12)
    CELERY_BROKER_TRANSPORT = "kakaoplugin.brokers:RedisTransport"
CELERY_TIMEZONE = "UTC"
# The worker logs through LOGGING above (structured, with the context a task carries).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE: dict = {}  # apps add their periodic tasks in their AppConfig.ready()
# django-celery-beat: the schedule lives in the database (admin: Periodic tasks), one beat at a time
CELERY_BEAT_SCHEDULER = "kakaoplugin.beat:SingleBeatScheduler"
DJANGO_CELERY_BEAT_TZ_AWARE = True
# How often the minute sweeps run (expired holds, reconciler, webhooks, secure images); the tests
# shorten it.
PERIODIC_SWEEP_SECONDS = env.float("PERIODIC_SWEEP_SECONDS", default=60.0)

# --- Kakao and KakaoPay (CONTRACTS section 9) -------------------------------------------------
KAKAOPAY_LEGACY_API_BASE = env.str("KAKAOPAY_LEGACY_API_BASE", default="https://kapi.kakao.com")
KAKAOPAY_OPEN_API_BASE = env.str("KAKAOPAY_OPEN_API_BASE", default="https://open-api.kakaopay.com")
KAKAO_AUTH_BASE = env.str("KAKAO_AUTH_BASE", default="https://kauth.kakao.com")
KAKAO_API_BASE = env.str("KAKAO_API_BASE", default="https://kapi.kakao.com")
KAKAO_OTP_HOSTS = env.list("KAKAO_OTP_HOSTS", default=["talk-plugin.kakao.com"])
KAKAO_IMAGE_HOSTS = env.list("KAKAO_IMAGE_HOSTS", default=["*.kakaocdn.net"])
KAKAO_ALLOW_HTTP = env.bool("KAKAO_ALLOW_HTTP", default=False)
KAKAO_APPROVAL_RELAY_TEMPLATE = env.str(
    "KAKAO_APPROVAL_RELAY_TEMPLATE",
    default="https://talk-plugin.kakao.com/kakaopay/callback?approval_url={url}",
)
KAKAO_HTTP_TIMEOUT = env.float("KAKAO_HTTP_TIMEOUT", default=10.0)

# The plugin gate (CONTRACTS section 8).
PLUGIN_MAX_BODY_BYTES = env.int("PLUGIN_MAX_BODY_BYTES", default=64 * 1024)
# Our reverse proxies (comma-separated addresses/CIDRs): X-Forwarded-For is believed only when the
# socket peer is one of them, walked from the right past them (default none: the socket address).
# The same list is gunicorn's forwarded_allow_ips (gunicorn.conf.py).
TRUSTED_PROXY_CIDRS = env.list("TRUSTED_PROXY_CIDRS", default=[])
for _cidr in TRUSTED_PROXY_CIDRS:
    try:
        ipaddress.ip_network(_cidr.strip())
    except ValueError as _exc:
        raise ImproperlyConfigured(f"TRUSTED_PROXY_CIDRS: {_cidr!r} is not an address or network") from _exc
# How long a process keeps a looked-up Kakao app (seconds): key rotation takes effect within it.
PLUGIN_APP_CACHE_SECONDS = env.float("PLUGIN_APP_CACHE_SECONDS", default=5.0)
# Payment T4's status cache (orders.status_cache): an entry lives this long after the database read
# it holds, so a lost publication leaves T4 behind for at most this long; 0 turns the cache off.
T4_STATUS_CACHE_SECONDS = env.float("T4_STATUS_CACHE_SECONDS", default=5.0)

ORDER_SHEET_TTL_SECONDS = env.int("ORDER_SHEET_TTL_SECONDS", default=24 * 3600)

# --- Django REST framework --------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["kakaoplugin.envelope.OrjsonRenderer"],
    "DEFAULT_PARSER_CLASSES": ["kakaoplugin.envelope.OrjsonParser"],
    "EXCEPTION_HANDLER": "kakaoplugin.envelope.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Kakao TalkBiz plugin backend",
    "DESCRIPTION": (
        "Plugin endpoints Kakao calls (under /plugin/{plugin_key}/, CONTRACTS.md) and the merchant "
        "API (/api/v1/, Bearer API keys scoped to one Kakao app)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # two choice sets share the field name "kind": name each once
    "ENUM_NAME_OVERRIDES": {
        "ProductKindEnum": "catalog.models.Product.Kind",
        "PaymentEventKindEnum": "orders.models.PaymentEvent.Kind",
    },
}

# --- Security: production behind a TLS-terminating proxy --------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

# --- Logging: plugin keys are secrets and never reach a log line ------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_plugin_key": {"()": "kakaoplugin.logging.RedactPluginKeyFilter"}},
    # Every line carries the bound context (request id, Kakao app, relay id, partner order id,
    # callback event id, task): JSON in production, key=value in development (log_context.py).
    "formatters": {
        "structured": {"()": "kakaoplugin.log_context.StructuredFormatter", "json": env.bool("LOG_JSON", default=not DEBUG)}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "structured",  # redacts the whole line, tracebacks and context included
            # and the record's own message, so that any other handler (tests' capture, an error
            # tracker) gets it redacted too
            "filters": ["redact_plugin_key"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}

# The https origin Kakao reaches us at (used to print plugin URLs and build approval URLs when a
# request is not at hand).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="")

# Order webhooks: first retry after this many seconds, doubling, for a day.
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=30.0)

# --- callbacks: OTP callbacks, secure images, Kakao Sync, retention (issue 5) -----------------
# Personal data (profiles, addresses, locations, images) is purged this many days after it was
# last collected; raw callback bodies and OTP answers after CALLBACKS_RAW_RETENTION_DAYS.
CALLBACKS_PERSONAL_RETENTION_DAYS = env.int("CALLBACKS_PERSONAL_RETENTION_DAYS", default=365)
CALLBACKS_RAW_RETENTION_DAYS = env.int("CALLBACKS_RAW_RETENTION_DAYS", default=30)
# OTP fetch retries: attempt n waits CALLBACKS_RETRY_BASE_SECONDS * 2**(n-1) (capped at 120 s).
CALLBACKS_FETCH_MAX_RETRIES = env.int("CALLBACKS_FETCH_MAX_RETRIES", default=5)
CALLBACKS_RETRY_BASE_SECONDS = env.float("CALLBACKS_RETRY_BASE_SECONDS", default=5.0)
# Which secure-image sizes to keep: any of original, img_1m, img_3m (CONTRACTS section 4).
SECURE_IMAGE_SIZES = env.list("SECURE_IMAGE_SIZES", default=["original"])
SECURE_IMAGE_MAX_BYTES = env.int("SECURE_IMAGE_MAX_BYTES", default=20 * 1024 * 1024)
# Kakao Sync: the `continue` URL is followed only to these hosts (https).
KAKAO_CONTINUE_HOSTS = env.list("KAKAO_CONTINUE_HOSTS", default=["kakao.com", "*.kakao.com"])
# Kakao Sync: how long a `state` we issued (merchant API /api/v1/kakaosync/launch-link) opens the
# redirect URI (docs/security.md, "Browser-facing endpoints").
KAKAOSYNC_STATE_MAX_AGE_SECONDS = env.int("KAKAOSYNC_STATE_MAX_AGE_SECONDS", default=24 * 3600)

# --- payments (orders app) --------------------------------------------------------------------
# How long T2 holds stock for a buyer who has not finished paying (KakaoPay's tid lives 15 min).
PAYMENT_HOLD_SECONDS = env.int("PAYMENT_HOLD_SECONDS", default=15 * 60)
# An approve/refund runner owns an order this long; past it, another runner may take over (after
# asking KakaoPay what happened). Longer than any KakaoPay call can take.
PAYMENT_LEASE_SECONDS = env.int("PAYMENT_LEASE_SECONDS", default=60)
# First retry delay after an unknown outcome; doubles per retry up to a minute.
PAYMENT_RETRY_BASE_SECONDS = env.float("PAYMENT_RETRY_BASE_SECONDS", default=1.0)
# T1-served orders that never got a tid are failed after this.
PAYMENT_PENDING_TTL_SECONDS = env.int("PAYMENT_PENDING_TTL_SECONDS", default=3600)
# HELD orders with both tid and pg_token but no approval after this are re-enqueued (lost task).
PAYMENT_STALLED_SECONDS = env.int("PAYMENT_STALLED_SECONDS", default=30)

# --- Catalog (issue 3): option T1 cache --------------------------------------------------------
# How long a serialized option tree stays cached; edits, imports and stock moves invalidate it at once.
CATALOG_T1_CACHE_SECONDS = env.int("CATALOG_T1_CACHE_SECONDS", default=24 * 3600)

# --- subscriptions (정기결제, orders app, issue 6) ------------------------------------------------
# An installment falls due at this hour (Asia/Seoul) of its date; the charging task runs every
# SUBSCRIPTION_CHARGE_EVERY_SECONDS and charges what is due.
SUBSCRIPTION_CHARGE_HOUR = env.int("SUBSCRIPTION_CHARGE_HOUR", default=9)
SUBSCRIPTION_CHARGE_EVERY_SECONDS = env.float("SUBSCRIPTION_CHARGE_EVERY_SECONDS", default=300.0)
# A declined charge is tried again after each of these delays (hours, counted from the decline);
# declined once more after the last, the installment fails and the subscription is suspended.
SUBSCRIPTION_RETRY_HOURS = env.list("SUBSCRIPTION_RETRY_HOURS", cast=int, default=[24, 48, 72])

# --- merchant API (issue 8): the plugin contracts' OpenAPI is a hand-written fragment merged into
# the generated schema (kakaoplugin/openapi/plugin.yaml); the plugin views are not generated.
SPECTACULAR_SETTINGS |= {
    "PREPROCESSING_HOOKS": ["kakaoplugin.openapi.exclude_plugin_views"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "kakaoplugin.openapi.merge_plugin_contracts",
    ],
}

# Stored plugin calls (kakaoplugin.InboundCall) keep their bodies this many days, then only metadata.
INBOUND_CALL_RETENTION_DAYS = env.int("INBOUND_CALL_RETENTION_DAYS", default=30)

# --- catalog admin (polish): a product's change page posts ~11 fields per option row, so Django's
# default of 1,000 fields refused (400) the save of any tree above ~85 options. The request body
# stays capped by DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB by default: ~4,000 option rows).
DATA_UPLOAD_MAX_NUMBER_FIELDS = env.int("DATA_UPLOAD_MAX_NUMBER_FIELDS", default=50_000)

# --- callbacks (polish): secure images whose download task never ran (a lost broker message, a
# worker down) are queued again this long after their download was last queued or last ran (longer
# than the download task's own retry backoff, at most 36 s); past `expire` they are marked expired.
SECURE_IMAGE_REQUEUE_SECONDS = env.int("SECURE_IMAGE_REQUEUE_SECONDS", default=60)

# --- Metrics (kakaoplugin.metrics) -----------------------------------------------------------
# GET /metrics needs "Authorization: Bearer <METRICS_TOKEN>"; unset: metrics are off (404).
# Under gunicorn and the worker, PROMETHEUS_MULTIPROC_DIR (an empty directory shared by the
# processes of a host) makes one scrape see every process; METRICS_WORKER_PORT makes the worker
# serve its own (bind METRICS_WORKER_ADDR, default 127.0.0.1).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# Beat runs kakaoplugin.tasks.heartbeat this often; /readyz calls the worker stale after
# HEARTBEAT_STALE_SECONDS without one (beat, broker or worker down).
HEARTBEAT_SECONDS = env.int("HEARTBEAT_SECONDS", default=30)
HEARTBEAT_STALE_SECONDS = env.int("HEARTBEAT_STALE_SECONDS", default=120)

# Product pictures (chatbot commerce cards): uploads larger than this are refused.
PRODUCT_IMAGE_MAX_BYTES = env.int("PRODUCT_IMAGE_MAX_BYTES", default=2 * 1024 * 1024)

# --- the transactional outbox (kakaoplugin.outbox): work owed after a commit ---------------------
# A message not dispatched by the committing process is due this long after it was recorded.
OUTBOX_GRACE_SECONDS = env.float("OUTBOX_GRACE_SECONDS", default=10.0)
# How often the beat's dispatcher sends what is due.
OUTBOX_DISPATCH_EVERY_SECONDS = env.float("OUTBOX_DISPATCH_EVERY_SECONDS", default=5.0)
# After a failed dispatch a process leaves the next ones to the dispatcher for this long.
OUTBOX_PAUSE_SECONDS = env.float("OUTBOX_PAUSE_SECONDS", default=5.0)
# Retry-After (seconds) of the 503 envelope a plugin path answers when the database is unreachable.
PLUGIN_RETRY_AFTER_SECONDS = env.int("PLUGIN_RETRY_AFTER_SECONDS", default=2)

# --- limits (issue 11): merchant API bodies (/api/) over this are refused with a 413 envelope
# before anything parses them (DRF has no cap of its own; plugin bodies: PLUGIN_MAX_BODY_BYTES).
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)

# Orders (issue 11, docs/security.md "Input limits"): KakaoPay's amounts and quantities are 32-bit
# integers (at most 2,147,483,647). A selection (option T2, merchant API) or payment T1 above these is
# refused with a 400 envelope.
KAKAOPAY_MAX_INTEGER = 2_147_483_647
ORDER_MAX_AMOUNT = env.int("ORDER_MAX_AMOUNT", default=100_000_000)
ORDER_MAX_QUANTITY = env.int("ORDER_MAX_QUANTITY", default=9_999)
if not 0 < ORDER_MAX_AMOUNT <= KAKAOPAY_MAX_INTEGER or not 0 < ORDER_MAX_QUANTITY <= KAKAOPAY_MAX_INTEGER:
    raise ImproperlyConfigured("ORDER_MAX_AMOUNT and ORDER_MAX_QUANTITY must be within 1..2147483647 (KakaoPay's limit)")

# --- outbound calls (issue 11, docs/security.md "Outbound calls"): webhook endpoints are https on
# public hosts only. Development only: true lets http:// and local/private receivers through (tests,
# a receiver on this machine); refused with DEBUG=false.
WEBHOOK_ALLOW_LOCAL = env.bool("WEBHOOK_ALLOW_LOCAL", default=False)
if WEBHOOK_ALLOW_LOCAL and not DEBUG:
    raise ImproperlyConfigured("WEBHOOK_ALLOW_LOCAL is a development setting: not with DEBUG=false")

# Merchant API idempotency keys (merchant.idempotency): answers kept this long per API key; a
# duplicate arriving while the first runs waits this long for it, then gets 409.
IDEMPOTENCY_KEY_HOURS = env.int("IDEMPOTENCY_KEY_HOURS", default=24)
IDEMPOTENCY_WAIT_SECONDS = env.float("IDEMPOTENCY_WAIT_SECONDS", default=10.0)

# --- staff and logins (issue 11): admin login throttling (django-axes) and merchant API rate limits
INSTALLED_APPS += ["axes"]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]  # after AuthenticationMiddleware: answers a locked-out login
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out username/address before any check
    "django.contrib.auth.backends.ModelBackend",
]
# After ADMIN_LOGIN_FAILURE_LIMIT failed logins of one username from one address, that pair is locked
# out for ADMIN_LOGIN_COOLOFF_MINUTES (HTTP 429); a successful login resets the count.
AXES_ENABLED = env.bool("ADMIN_LOGIN_THROTTLE", default=True)
AXES_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("ADMIN_LOGIN_COOLOFF_MINUTES", default=15.0) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "kakaoplugin.gate.client_ip"  # the address rule the plugin gate uses (proxies)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = None
AXES_VERBOSE = False
LOGGING["loggers"]["axes"] = {"handlers": ["console"], "level": "WARNING", "propagate": False}
# Requests per merchant API key, counted in the shared cache: "<n>/<second|minute|hour|day>"; empty: unlimited.
MERCHANT_API_RATE = env.str("MERCHANT_API_RATE", default="600/minute")
