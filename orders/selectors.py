"""Reads of the orders app."""

from __future__ import annotations

from .models import Order, PaymentEvent
from .status_cache import t4_row


def order_status_row(*, kakao_app_id: int, partner_order_id: str) -> tuple[str, str | None, str] | None:
    """T4's read: (W/S/F/C, owner app user id, message), or None for no such order of this app.

    From the T4 status cache when it holds the order (no database query), else one indexed query
    that fills it (orders.status_cache)."""
    return t4_row(kakao_app_id=kakao_app_id, partner_order_id=partner_order_id)


def orders_with_details(queryset=None):
    """Orders with what :class:`orders.serializers.OrderSerializer` reads, in four queries."""
    queryset = Order.objects.all() if queryset is None else queryset
    return queryset.select_related("sheet").prefetch_related("sheet__lines", "events")


def t3_untried_pg_token(*, order: Order) -> str:
    """The latest pg_token a T3 brought for ``order`` that no approve has tried yet ('' if none)."""
    tried = {
        str((e or {}).get("pg_token") or "")
        for e in order.events.filter(kind=PaymentEvent.Kind.APPROVE_REQUEST).values_list("request", flat=True)
    }
    prefix = f"t3:{order.pk}:"
    keys = order.events.filter(
        kind=PaymentEvent.Kind.T3_RECEIVED, outcome=PaymentEvent.Outcome.OK, idempotency_key__startswith=prefix
    ).order_by("-id").values_list("idempotency_key", flat=True)
    for key in keys:
        token = key[len(prefix):]
        if token and token not in tried:
            return token
    return ""
