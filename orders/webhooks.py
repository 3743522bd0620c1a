"""Order webhooks: what the merchant's systems hear when an order changes state.

Called inside the transaction that makes the change (``kakaoplugin.services.webhook_emit`` delivers
after commit, signed, with retries), once per transition: the idempotency key names the
transition, so a step that runs twice emits once.  ``data.order`` is the order as the merchant
API's order endpoint shows it (:class:`orders.serializers.OrderSerializer`); the event's top-level
``livemode`` is the order's (false for a test app's order).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from kakaoplugin.outbox import outbox_add
from kakaoplugin.services import webhook_emit_many

from .models import Order
from .selectors import orders_with_details
from .serializers import OrderSerializer

ORDER_PAID = "order.paid"
ORDER_FAILED = "order.failed"
ORDER_CANCELLED = "order.cancelled"  # refunded in full after it was paid
ORDER_REFUNDED = "order.refunded"  # refunded in part; the order stays paid
ORDER_EVENT_TYPES = (ORDER_PAID, ORDER_FAILED, ORDER_CANCELLED, ORDER_REFUNDED)
EMIT_TASK = "orders.tasks.emit_order_webhook"  # by its path: the money path never imports tasks
EMIT_BATCH_TASK = "orders.tasks.emit_order_webhooks"

logger = logging.getLogger(__name__)


def order_webhook_emit(*, order_id: int, event_type: str, key: str | None = None, extra: dict[str, Any] | None = None) -> None:
    """Emit ``event_type`` for the order as it now is (read inside the caller's transaction; see
    also :func:`order_webhook_emit_after_commit` and :func:`order_webhook_emit_soon`).

    The idempotency key is ``<event type>:<partner order id>`` plus ``:<key>`` when one transition
    can happen more than once (a partial refund).
    """
    order_webhooks_emit(order_ids=[order_id], event_type=event_type, key=key, extra=extra)


def order_webhooks_emit(
    *, order_ids: list[int], event_type: str, key: str | None = None, extra: dict[str, Any] | None = None
) -> None:
    """:func:`order_webhook_emit` for many orders in a fixed number of queries (three to read them,
    then per app and mode: the events, their endpoints, their deliveries).  An order emitted
    before under the same key is skipped (its event exists)."""
    orders = list(orders_with_details(Order.objects.filter(pk__in=order_ids)).select_related("kakao_app").order_by("pk"))
    by_app: dict[tuple[int, bool], list[Order]] = defaultdict(list)
    for order in orders:
        by_app[(order.kakao_app_id, order.livemode)].append(order)
    missing = set(order_ids) - {o.pk for o in orders}
    if missing:
        logger.warning("order webhooks: %s for orders that do not exist: %s", event_type, sorted(missing))
    suffix = f":{key}" if key else ""
    for (_, livemode), group in by_app.items():
        shown = OrderSerializer(group, many=True).data  # one serializer for all: its fields built once
        webhook_emit_many(
            kakao_app=group[0].kakao_app, event_type=event_type, livemode=livemode,
            events=[(f"{event_type}:{o.partner_order_id}{suffix}", {"order": data, **(extra or {})})
                    for o, data in zip(group, shown, strict=True)],
        )  # fmt: skip


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


def order_webhook_emit_soon(*, order_id: int, event_type: str) -> None:
    """Owe ``event_type`` for the order in the caller's transaction; the outbox's dispatcher emits
    it at a later round (normally its next, every ``OUTBOX_DISPATCH_EVERY_SECONDS``; later under a
    backlog, after a failure, or while beat is down), in one batch with the other order events
    owed this way (:func:`order_webhooks_emit`).

    For payment T2's refusals: at a flash sale thousands of buyers find the stock gone, and each
    refusal only inserts an outbox row instead of reading and serializing its order.  The event
    exists iff the change committed (the row commits with it), recorded once (its key), seconds
    later than the change (so it may be recorded after a later event of the buyer's next attempt).
    """
    outbox_add(task=EMIT_BATCH_TASK, args=[order_id, event_type], deferred=True)
