"""Logs (structured, redacted: plugin keys are secrets and never reach a log line) and metrics."""

from __future__ import annotations

from .base import DEBUG, env

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
        "axes": {"handlers": ["console"], "level": "WARNING", "propagate": False},  # admin logins
    },
}

# --- Metrics (kakaoplugin.metrics) -----------------------------------------------------------
# GET /metrics needs "Authorization: Bearer <METRICS_TOKEN>"; unset: metrics are off (404).
# Under gunicorn and the worker, PROMETHEUS_MULTIPROC_DIR (an empty directory shared by the
# processes of a host) makes one scrape see every process; METRICS_WORKER_PORT makes the worker
# serve its own (bind METRICS_WORKER_ADDR, default 127.0.0.1).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
