"""Order webhooks: what the merchant's systems hear when an order changes state.

Called inside the transaction that makes the change (``kakaoplugin.services.webhook_emit`` delivers
after commit, signed, with retries), once per transition: the idempotency key names the
transition, so a step that runs twice emits once.  ``data.order`` is the order as the merchant
API's order endpoint shows it (:class:`orders.serializers.OrderSerializer`); the event's top-level
``livemode`` is the order's (false for a test app's order).
"""

from __future__ import annotations

from typing import Any

from kakaoplugin.outbox import outbox_add
from kakaoplugin.services import webhook_emit

from .models import Order
from .selectors import orders_with_details
from .serializers import OrderSerializer

ORDER_PAID = "order.paid"
ORDER_FAILED = "order.failed"
ORDER_CANCELLED = "order.cancelled"  # refunded in full after it was paid
ORDER_REFUNDED = "order.refunded"  # refunded in part; the order stays paid
ORDER_EVENT_TYPES = (ORDER_PAID, ORDER_FAILED, ORDER_CANCELLED, ORDER_REFUNDED)
EMIT_TASK = "orders.tasks.emit_order_webhook"  # by its path: the money path never imports tasks


def order_webhook_emit(*, order_id: int, event_type: str, key: str | None = None, extra: dict[str, Any] | None = None) -> None:
    """Emit ``event_type`` for the order as it now is (read inside the caller's transaction; see
    also :func:`order_webhook_emit_after_commit`).

    The idempotency key is ``<event type>:<partner order id>`` plus ``:<key>`` when one transition
    can happen more than once (a partial refund).
    """
    order = orders_with_details(Order.objects.filter(pk=order_id)).select_related("kakao_app").get()
    idempotency_key = f"{event_type}:{order.partner_order_id}" + (f":{key}" if key else "")
    webhook_emit(
        kakao_app=order.kakao_app,
        event_type=event_type,
        data={"order": OrderSerializer(order).data, **(extra or {})},
        idempotency_key=idempotency_key,
        livemode=order.livemode,
    )


def order_webhook_emit_after_commit(*, order_id: int, event_type: str) -> None:
    """Owe ``event_type`` for the order in the caller's transaction, emit it right after the commit.

    For the approval's ``order.paid`` (the hot path: T3 → T4 S): the transaction that marks the
    order paid only inserts an outbox row (one statement, so it commits sooner); after the commit,
    *after* T4's status publication (registered first, by the order's save), this process reads the
    committed order and records the event (:func:`order_webhook_emit`, same idempotency key), then
    deletes the row.  A process that dies in between leaves the row to the outbox dispatcher: the
    event exists iff the change committed, at least once, recorded once (its key).
    """
    outbox_add(task=EMIT_TASK, args=[order_id, event_type], inline=True)
