"""The periodic jobs of the money path: fail what the buyer abandoned (the sweeper), and find
the approvals and compensations no runner owns any more (the reconciler's candidates)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import Order
from .calls import lease_over
from .ledger import MSG_EXPIRED
from .transitions import order_fail


def payment_sweep(*, now=None) -> int:
    """Fail what the buyer abandoned: HELD without a pg_token past the hold (stock given back),
    PENDING (no tid) past ``PAYMENT_PENDING_TTL_SECONDS``.  Returns how many orders it failed."""
    now = now or timezone.now()
    failed = 0
    held = Order.objects.filter(status=Order.Status.HELD, pg_token="", hold_expires_at__lt=now)
    for order in held.order_by("hold_expires_at")[:500]:
        with transaction.atomic():
            failed += order_fail(order=order, reason="expired", message=MSG_EXPIRED, from_states=(Order.Status.HELD,))
    pending_cutoff = now - timedelta(seconds=settings.PAYMENT_PENDING_TTL_SECONDS)
    for order in Order.objects.filter(status=Order.Status.PENDING, created_at__lt=pending_cutoff)[:500]:
        with transaction.atomic():
            failed += order_fail(order=order, reason="expired", message=MSG_EXPIRED, from_states=(Order.Status.PENDING,))
    return failed


def payment_reconcile_candidates(*, now=None) -> dict[str, list[int]]:
    """Orders a runner should look at: approvals never started (a lost task), approvals whose
    runner is gone (lease ran out), refunds owed."""
    now = now or timezone.now()
    stalled = now - timedelta(seconds=settings.PAYMENT_STALLED_SECONDS)
    free = lease_over(now)
    approve = list(
        Order.objects.filter(
            Q(status=Order.Status.HELD, updated_at__lt=stalled) & ~Q(pg_token="") & ~Q(tid="")
            | Q(status=Order.Status.APPROVING) & free
        ).values_list("pk", flat=True)[:500]
    )
    compensate = list(Order.objects.filter(Q(status=Order.Status.REFUNDING) & free).values_list("pk", flat=True)[:500])
    return {"approve": approve, "compensate": compensate}
