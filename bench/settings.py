"""Bench-only settings: the project's settings with the bench URLconf (adds the baseline view)."""

from kakaoplugin.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
