"""Compensation: an approved payment we could not complete (REFUNDING) is cancelled at KakaoPay,
all of what is left, and the order ends FAILED: never left charged (invariant 2)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from kakaoplugin.clients.kakaopay import KakaoPayError, KakaoPayUnavailable
from kakaoplugin.metrics import PAYMENT_OUTCOMES

from ..models import Order, PaymentEvent
from .answers import answer_check
from .calls import (
    Outcome,
    apply_canceled,
    inquire,
    kakaopay_client,
    lease,
    lease_over,
    lease_release,
    record_call,
)
from .ledger import payment_event_record
from .transitions import order_compensated_locked, order_compensation_stopped


def payment_compensate(*, order_id: int) -> Outcome:
    """REFUNDING → FAILED by cancelling the approved payment at KakaoPay (all of what is left)."""
    now = timezone.now()
    claimed = (
        Order.objects.filter(pk=order_id, status=Order.Status.REFUNDING)
        .filter(lease_over(now))
        .update(lease_until=now + lease())
    )
    if not claimed:
        return Outcome.SKIPPED
    order = Order.objects.select_related("kakao_app").get(pk=order_id)
    client = kakaopay_client(order.kakao_app)
    remaining = order.refundable_amount
    result = None
    if remaining > 0:
        n = order.events.filter(kind=PaymentEvent.Kind.CANCEL_REQUEST).count() + 1
        params = {
            "cid": order.kakaopay_cid, "tid": order.tid, "cancel_amount": remaining,
            "cancel_tax_free_amount": (order.approved_tax_free_amount or 0) - order.refunded_tax_free_amount,
            "cancel_vat_amount": (order.approved_vat_amount or 0) - order.refunded_vat_amount,
            # KakaoPay refuses the cancel unless this is still what can be cancelled: a cancel that
            # already went through (its answer lost) cannot be applied twice.
            "cancel_available_amount": remaining,
        }  # fmt: skip
        payment_event_record(order=order, kind=PaymentEvent.Kind.CANCEL_REQUEST, key=f"cancel:{order.pk}:{n}",
                             request=params, message="compensation")  # fmt: skip
        try:
            result = client.cancel(cid_secret=order.kakao_app.cid_secret, **params)
        except KakaoPayError as exc:
            kind = PaymentEvent.Kind.CANCEL_UNKNOWN if isinstance(exc, KakaoPayUnavailable) else PaymentEvent.Kind.CANCEL_FAILURE
            record_call(order, kind, exc, outcome=PaymentEvent.Outcome.ERROR)
            # Learn the truth: maybe it was cancelled already.
            result = inquire(order, client)
            if result is None:
                lease_release(order)
                return Outcome.RETRY
            if answer_check(order=order, op="order", data=result.data) is not None:
                return _compensation_stopped(order)
            if result.data.get("status") != "CANCEL_PAYMENT":
                if result.data.get("status") == "PART_CANCEL_PAYMENT":
                    # part was cancelled elsewhere: the next try cancels what is really left
                    with transaction.atomic():
                        locked = Order.objects.select_for_update().get(pk=order_id)
                        apply_canceled(locked, result.data)
                        locked.save(update_fields=["refunded_amount", "refunded_tax_free_amount", "refunded_vat_amount"])
                lease_release(order)
                return Outcome.RETRY
        else:
            record_call(order, PaymentEvent.Kind.CANCEL_SUCCESS, result, outcome=PaymentEvent.Outcome.OK,
                        message="compensation")  # fmt: skip
            if answer_check(order=order, op="cancel", data=result.data) is not None:
                return _compensation_stopped(order)
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order_id)
        if result is not None:
            apply_canceled(locked, result.data)
        order_compensated_locked(order=locked)
    PAYMENT_OUTCOMES.labels("compensated").inc()
    return Outcome.DONE


def _compensation_stopped(order: Order) -> Outcome:
    """A cancel (or inquiry) answer that is not this order's: nothing is taken as refunded and no
    further cancel is sent; the order ends FAILED, flagged for staff to settle by hand."""
    with transaction.atomic():
        order_compensation_stopped(order=order)
    return Outcome.DONE
