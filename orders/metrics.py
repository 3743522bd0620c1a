"""Order gauges read at scrape time: orders by state and the money that may be stuck."""

from __future__ import annotations

from django.db.models import Count
from django.utils import timezone

from kakaoplugin.metrics import gauge

from .models import Order


def order_state():
    now = timezone.now()
    counts = dict(Order.objects.values_list("status").annotate(n=Count("pk")).order_by())
    yield gauge(
        "kakaoplugin_orders",
        "Orders by internal state",
        {(status,): counts.get(status, 0) for status in Order.Status.values},
        labels=("state",),
    )
    stuck = {
        "approving_past_lease": Order.objects.filter(status=Order.Status.APPROVING, lease_until__lt=now).count(),
        "held_past_expiry": Order.objects.filter(status=Order.Status.HELD, hold_expires_at__lt=now).count(),
        "refund_owed": counts.get(Order.Status.REFUNDING, 0),
    }
    yield gauge(
        "kakaoplugin_stuck_orders",
        "Orders whose money may be stuck: approving past the lease, held past expiry, refunds owed",
        {(kind,): n for kind, n in stuck.items()},
        labels=("kind",),
    )
