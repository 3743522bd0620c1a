"""Reads of the orders app."""

from __future__ import annotations

from django.db import connection

from .models import Order, PaymentEvent

_T4_SQL = (
    f"SELECT status, app_user_id, failure_message FROM {Order._meta.db_table} "
    "WHERE partner_order_id = %s AND kakao_app_id = %s"
)


def _t4_fetch(partner_order_id: str, kakao_app_id: int):
    with connection.cursor() as cursor:
        cursor.execute(_T4_SQL, [partner_order_id, kakao_app_id])
        return cursor.fetchone()


def order_status_row(*, kakao_app_id: int, partner_order_id: str) -> tuple[str, str | None, str] | None:
    """T4's one query (unique index on partner_order_id): (W/S/F/C, owner app user id, message)."""
    # Plain SQL: the hottest path in the system, and the ORM's query building costs about as
    # much CPU as the indexed lookup itself. No per-request health check (CONN_HEALTH_CHECKS is
    # off): the plugin gate replaces a persistent connection the database dropped (kakaoplugin.dbfaults).
    row = _t4_fetch(partner_order_id, kakao_app_id)
    if row is None:
        return None
    status, owner, message = row
    return Order.T4_STATUS[status], owner, message


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
