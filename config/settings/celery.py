"""Redis, the cache, the Celery broker and its task semantics, beat's schedule, the outbox."""

from __future__ import annotations

from .base import VAR_DIR, env

REDIS_URL = env.str("REDIS_URL", default="")
# Unset: the embedded broker, a folder under VAR_DIR (kakaoplugin/brokers.py): the same worker,
# beat and task semantics as with Redis, no server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL or "filesystem://localhost/"
EMBEDDED_BROKER = CELERY_BROKER_URL.startswith("filesystem:")

# The cache may live in its own Redis database (clearing it must not drop queued tasks).
CACHE_URL = env.str("CACHE_URL", default="") or REDIS_URL

# A cache that stops answering (a network partition) costs a call this long, then the database
# answers (the hot reads fall back; kakaoplugin.generations, orders.status_cache).
CACHE_SOCKET_TIMEOUT_SECONDS = env.float("CACHE_SOCKET_TIMEOUT_SECONDS", default=1.0)

if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="kp"),
            "TIMEOUT": 3600,
            "OPTIONS": {"socket_connect_timeout": CACHE_SOCKET_TIMEOUT_SECONDS, "socket_timeout": CACHE_SOCKET_TIMEOUT_SECONDS},
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
    # kombu's Redis transport with the fix for the worker dying on a Redis restart (kakaoplugin.brokers)
    CELERY_BROKER_TRANSPORT = "kakaoplugin.brokers:RedisTransport"
CELERY_TIMEZONE = "UTC"
# The worker logs through LOGGING (logging.py: structured, with the context a task carries).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE: dict = {}  # apps add their periodic tasks in their AppConfig.ready()
# django-celery-beat: the schedule lives in the database (admin: Periodic tasks), one beat at a time
CELERY_BEAT_SCHEDULER = "kakaoplugin.beat:SingleBeatScheduler"
DJANGO_CELERY_BEAT_TZ_AWARE = True
# How often the minute sweeps run (expired holds, reconciler, webhooks, secure images); the tests
# shorten it.
PERIODIC_SWEEP_SECONDS = env.float("PERIODIC_SWEEP_SECONDS", default=60.0)

# Beat runs kakaoplugin.tasks.heartbeat this often; /readyz calls the worker stale after
# HEARTBEAT_STALE_SECONDS without one (beat, broker or worker down).
HEARTBEAT_SECONDS = env.int("HEARTBEAT_SECONDS", default=30)
HEARTBEAT_STALE_SECONDS = env.int("HEARTBEAT_STALE_SECONDS", default=120)

# --- the transactional outbox (kakaoplugin.outbox): work owed after a commit ---------------------
# A message not dispatched by the committing process is due this long after it was recorded.
OUTBOX_GRACE_SECONDS = env.float("OUTBOX_GRACE_SECONDS", default=10.0)
# How often the beat's dispatcher sends what is due.
OUTBOX_DISPATCH_EVERY_SECONDS = env.float("OUTBOX_DISPATCH_EVERY_SECONDS", default=5.0)
# After a failed dispatch a process leaves the next ones to the dispatcher for this long.
OUTBOX_PAUSE_SECONDS = env.float("OUTBOX_PAUSE_SECONDS", default=5.0)

# Celery's Django fix-up would close the database connections around every task (a new
# PostgreSQL connection per task); the worker keeps them and checks them instead
# (kakaoplugin.worker_db). The fix-up then closes them only every 2 × this many tasks.
CELERY_DB_REUSE_MAX = 10**9
