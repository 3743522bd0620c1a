"""Shared by the callbacks' services: the temporary-failure error, the CI's keyed hash, the
member a callback names, and readers of Kakao's loosely typed values."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from kakaoplugin.models import Customer
from kakaoplugin.services import customer_get_or_create

from ..models import CallbackEvent


class TryAgain(Exception):
    """A temporary failure: the task retries later."""


def ci_hash(ci: str) -> str:
    """HMAC-SHA256 of the CI with ``CI_HASH_KEY``: matches members, cannot be turned back into a CI."""
    return hmac.new(settings.CI_HASH_KEY.encode(), ci.encode(), hashlib.sha256).hexdigest()


def text_value(value: Any, limit: int) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return str(value).strip()[:limit]


def when_value(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.UTC)
    return parsed


def number_value(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def reported_customer(event: CallbackEvent) -> Customer | None:
    """The member the callback's X-Kakao-AppUserId names (location and images carry no id)."""
    if not event.app_user_id:
        return None
    return customer_get_or_create(kakao_app=event.kakao_app, app_user_id=event.app_user_id)
