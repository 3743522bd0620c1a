"""Every change of an order's status, named (docs/payment-flow.md has the state machine).

::

    pending ──T2 passed──▶ held ──claimed──▶ approving ──approved──▶ paid ──refunded in full──▶ cancelled
       │                   │  ▲                 │  │                  │
       │                   │  └─pg_token refused┘  └─approved, cannot deliver──▶ refunding ──cancelled──▶ failed
       └────────┬──────────┴── declined, expired, buyer cancelled, out of stock ... ─────────────────▶ failed

A scheduled subscription charge's child order is created ``held`` and ends ``paid``, ``refunding``
or ``failed`` (:func:`order_charge_settled`).  Two kinds of functions:

- conditional updates (``from_states``, a claim): race-safe without a lock, True when this call
  made the change;
- ``*_locked`` changes of a row the caller has locked (``select_for_update``) in its transaction:
  the caller sets what KakaoPay answered (amounts, aid, ...) on the row first, the function sets
  the status and saves the row.

Stock, the order sheet, the event log and the merchant's webhooks follow the status here, so a
status change cannot forget one of them.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from catalog.stock import stock_release, stock_restock

from ..models import Order, OrderSheet, PaymentEvent
from ..webhooks import ORDER_FAILED, order_webhook_emit, order_webhook_emit_soon
from .calls import lease_over
from .ledger import payment_event_record


def order_create_held(**fields) -> Order:
    """A subscription charge's child order is born HELD, without a pg_token or a hold expiry (the
    sweeper and the reconciler leave such orders alone) and settles by :func:`order_charge_settled_locked`."""
    return Order.objects.create(status=Order.Status.HELD, **fields)


def order_fail(
    *, order: Order, reason: str, message: str, from_states: tuple[str, ...], webhook_soon: bool = False
) -> bool:
    """``from_states`` → FAILED with T4's ``message``; gives back held stock.  Must run in a
    transaction; True when this call made the change (a conditional update, so it races safely).
    ``webhook_soon``: the ``order.failed`` webhook is owed to the outbox's next round, batched
    (payment T2's refusals), instead of recorded in this transaction."""
    now = timezone.now()
    changed = Order.objects.filter(pk=order.pk, status__in=from_states).update(
        status=Order.Status.FAILED, failure_reason=reason, failure_message=message[:200],
        lease_until=None, completed_at=now, updated_at=now,
    )  # fmt: skip
    if changed:
        if set(from_states) != {Order.Status.PENDING}:  # (a pending order holds no stock: payment T2
            stock_release(reference=order.partner_order_id)  # takes it and makes the order held at once)
        order.status, order.failure_reason, order.failure_message = Order.Status.FAILED, reason, message[:200]
        payment_event_record(
            order=order, kind=PaymentEvent.Kind.STATE, outcome=PaymentEvent.Outcome.REFUSED,
            message=f"failed ({reason}): {message}",
        )  # fmt: skip
        if webhook_soon:
            order_webhook_emit_soon(order_id=order.pk, event_type=ORDER_FAILED)
        else:
            order_webhook_emit(order_id=order.pk, event_type=ORDER_FAILED)
    return bool(changed)


def order_hold(*, order: Order, hold_expires_at: datetime) -> None:
    """PENDING → HELD: payment T2 passed, the stock is held until ``hold_expires_at``."""
    Order.objects.filter(pk=order.pk).update(status=Order.Status.HELD, hold_expires_at=hold_expires_at, updated_at=timezone.now())
    order.status, order.hold_expires_at = Order.Status.HELD, hold_expires_at


def order_claim_approval(*, order_id: int, lease_until: datetime) -> Order | None:
    """HELD with a tid and a pg_token, or APPROVING whose runner's lease ran out → APPROVING owned
    until ``lease_until``: one conditional UPDATE, so one runner wins (invariant 1).  The claimed
    order as the UPDATE left it (``RETURNING`` its columns: the order is not read again; its app is
    read when first used), or None.  (W → W: nothing for T4 to publish.)"""
    now = timezone.now()
    ready = Q(status=Order.Status.HELD) & ~Q(pg_token="") & ~Q(tid="")
    stale = Q(status=Order.Status.APPROVING) & lease_over(now)
    claimed = Order.objects.filter(pk=order_id).filter(ready | stale).update_returning(
        status=Order.Status.APPROVING, lease_until=lease_until, updated_at=now
    )
    return claimed[0] if claimed else None


def order_drop_pg_token(*, order: Order) -> bool:
    """APPROVING → HELD without its pg_token: KakaoPay refused it and the payment still waits for
    approval (the next pg_token a T3 brings is tried)."""
    return bool(
        Order.objects.filter(pk=order.pk, status=Order.Status.APPROVING).update(
            status=Order.Status.HELD, pg_token="", approve_requested_at=None, lease_until=None, updated_at=timezone.now(),
        )  # fmt: skip
    )


def order_paid_locked(*, order: Order) -> None:
    """APPROVING (or a charge's HELD) → PAID: completed, its order sheet ordered."""
    order.status, order.completed_at, order.lease_until = Order.Status.PAID, timezone.now(), None
    order.save()
    OrderSheet.objects.filter(pk=order.sheet_id, status=OrderSheet.Status.OPEN).update(status=OrderSheet.Status.ORDERED)


def order_refunding_locked(*, order: Order, reason: str, message: str) -> None:
    """APPROVING → REFUNDING: KakaoPay took money this order cannot keep (amounts differ, stock
    gone, cancelled in part at KakaoPay): a compensating cancel is owed; the stock goes back."""
    order.status, order.failure_reason, order.failure_message = Order.Status.REFUNDING, reason, message
    order.lease_until = None
    order.save()
    stock_release(reference=order.partner_order_id)


def order_charge_settled_locked(*, order: Order, refused: bool, foreign: bool, reason: str = "", message: str = "") -> None:
    """A subscription charge's child order (HELD) settles: PAID; or, when KakaoPay's answer was
    refused, REFUNDING (this order's own charge, wrong: cancelled) or FAILED (another payment's:
    left alone)."""
    order.completed_at = timezone.now()
    if refused:
        order.status = Order.Status.FAILED if foreign else Order.Status.REFUNDING
        order.failure_reason, order.failure_message = reason, message
    else:
        order.status = Order.Status.PAID
    order.save()


def order_compensated_locked(*, order: Order) -> None:
    """REFUNDING → FAILED: the compensating cancel went through (``refunded_amount`` says how much)."""
    order.status, order.lease_until, order.completed_at = Order.Status.FAILED, None, timezone.now()
    order.save()
    payment_event_record(order=order, kind=PaymentEvent.Kind.STATE, outcome=PaymentEvent.Outcome.OK,
                         message=f"failed after refund of {order.refunded_amount}")  # fmt: skip
    order_webhook_emit(order_id=order.pk, event_type=ORDER_FAILED)


def order_compensation_stopped(*, order: Order) -> bool:
    """REFUNDING → FAILED without a refund: KakaoPay's answer to the cancel is not this order's, so
    nothing is taken as refunded and no further cancel is sent; flagged for staff."""
    now = timezone.now()
    changed = Order.objects.filter(pk=order.pk, status=Order.Status.REFUNDING).update(
        status=Order.Status.FAILED, lease_until=None, completed_at=now, updated_at=now
    )
    if changed:
        payment_event_record(order=order, kind=PaymentEvent.Kind.STATE, outcome=PaymentEvent.Outcome.REFUSED,
                             message="compensation stopped: KakaoPay's answer is not this order's; settle by hand")  # fmt: skip
        order_webhook_emit(order_id=order.pk, event_type=ORDER_FAILED)
    return bool(changed)


def order_refunded_in_full_locked(*, order: Order) -> None:
    """PAID → CANCELLED: staff refunded all of it; the stock sold goes back."""
    order.status, order.completed_at = Order.Status.CANCELLED, timezone.now()
    stock_restock(reference=order.partner_order_id)
    order.save()


def order_cancelled_at_kakaopay_locked(*, order: Order) -> None:
    """PAID → CANCELLED: a subscription charge KakaoPay's staff cancelled in full before we settled it."""
    order.status = Order.Status.CANCELLED
    order.save()
