"""Bench-only settings: the project's, with the bench URLconf (a minimal baseline view beside the real URLs)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING", "handlers": []}}
