"""Callback gauges read at scrape time: callbacks that failed or wait."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count
from django.utils import timezone

from kakaoplugin.metrics import gauge

from .models import CallbackEvent


def callback_state():
    since = timezone.now() - timedelta(hours=24)
    rows = (
        CallbackEvent.objects.filter(received_at__gte=since)
        .values_list("kind", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    yield gauge(
        "kakaoplugin_callbacks_24h",
        "Callbacks received in the last 24 hours, by kind and state",
        {(kind, status): n for kind, status, n in rows},
        labels=("kind", "state"),
    )
