"""Reads of the orders app."""

from __future__ import annotations

from .models import Order


def order_status_row(*, kakao_app_id: int, partner_order_id: str) -> tuple[str, str | None, str] | None:
    """T4's one query (unique index on partner_order_id): (W/S/F/C, owner app user id, message)."""
    rows = list(
        Order.objects.filter(partner_order_id=partner_order_id, kakao_app_id=kakao_app_id)
        .order_by()
        .values_list("status", "app_user_id", "failure_message")[:1]
    )
    if not rows:
        return None
    status, owner, message = rows[0]
    return Order.T4_STATUS[status], owner, message
