"""Refunds from the admin (all or part of a paid order, cancelled at KakaoPay), and staff's
"check with KakaoPay" that resumes a stuck approval or compensation now."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from kakaoplugin.clients.kakaopay import KakaoPayDeclined, KakaoPayError

from ..errors import RefundError
from ..models import Order, PaymentEvent
from ..webhooks import ORDER_CANCELLED, ORDER_REFUNDED, order_webhook_emit
from .answers import answer_check
from .approve import payment_approve
from .calls import Outcome, apply_canceled, inquire, kakaopay_client, record_call
from .compensate import payment_compensate
from .ledger import payment_event_record
from .transitions import order_refunded_in_full_locked

MSG_REFUND_MISMATCH = (
    "KakaoPay's answer to the cancel of {order} is not about this order's payment: nothing was recorded as "
    "refunded and the order is flagged for review (see its payment events)."
)


@dataclass
class Refund:
    order: Order
    amount: int
    full: bool


def payment_refund(
    *, order_id: int, amount: int | None = None, tax_free_amount: int | None = None,
    vat_amount: int | None = None, staff: str = "",
) -> Refund:  # fmt: skip
    """Cancel all (``amount`` None) or part of a paid order at KakaoPay.

    The order row stays locked for the call: two staff members cannot refund at once, and
    ``cancel_available_amount`` makes KakaoPay refuse a cancel computed from a stale balance.
    A full refund moves the order to CANCELLED and returns its stock.  Raises
    :class:`RefundError` (recorded as an event, visible in the admin) when it did not happen.
    """
    error: str | None = None
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("kakao_app").get(pk=order_id)
        if order.status != Order.Status.PAID:
            raise RefundError(gettext("Order %(order)s: only paid orders can be refunded (status %(status)s)") % {"order": order, "status": order.status})
        remaining = order.refundable_amount
        remaining_tax_free = (order.approved_tax_free_amount or 0) - order.refunded_tax_free_amount
        remaining_vat = (order.approved_vat_amount or 0) - order.refunded_vat_amount
        want = remaining if amount is None else int(amount)
        if want <= 0 or want > remaining:
            raise RefundError(gettext("Order %(order)s: refund amount must be between 1 and %(max)s") % {"order": order, "max": remaining})
        if tax_free_amount is None:
            tax_free_amount = remaining_tax_free if want == remaining else min(
                remaining_tax_free, want if order.tax_free_amount == order.total_amount else 0
            )
        if not 0 <= tax_free_amount <= min(want, remaining_tax_free):
            raise RefundError(gettext("Order %(order)s: tax-free part must be between 0 and %(max)s") % {"order": order, "max": min(want, remaining_tax_free)})
        if vat_amount is None:
            # KakaoPay's own rule ((taxable)/11, rounded), capped by what VAT is left: rounding up
            # on many small partial refunds must not overshoot the approved VAT.
            vat_amount = remaining_vat if want == remaining else min(remaining_vat, (want - tax_free_amount + 5) // 11)
        if not 0 <= vat_amount <= remaining_vat:
            raise RefundError(gettext("Order %(order)s: VAT part must be between 0 and %(max)s") % {"order": order, "max": remaining_vat})
        n = order.events.filter(kind=PaymentEvent.Kind.CANCEL_REQUEST).count() + 1
        params = {
            "cid": order.kakaopay_cid, "tid": order.tid, "cancel_amount": want,
            "cancel_tax_free_amount": tax_free_amount, "cancel_vat_amount": vat_amount,
            "cancel_available_amount": remaining,
        }  # fmt: skip
        payment_event_record(order=order, kind=PaymentEvent.Kind.CANCEL_REQUEST, key=f"cancel:{order.pk}:{n}",
                             request=params, created_by=staff, message="refund by staff")  # fmt: skip
        client = kakaopay_client(order.kakao_app)
        data = None
        try:
            data = client.cancel(cid_secret=order.kakao_app.cid_secret, **params)
            record_call(order, PaymentEvent.Kind.CANCEL_SUCCESS, data, outcome=PaymentEvent.Outcome.OK, created_by=staff)
            data = data.data
            if answer_check(order=order, op="cancel", data=data) is not None:
                data, error = None, MSG_REFUND_MISMATCH.format(order=order)
        except KakaoPayDeclined as exc:
            record_call(order, PaymentEvent.Kind.CANCEL_FAILURE, exc, outcome=PaymentEvent.Outcome.REFUSED, created_by=staff)
            reason = f"{exc.code} {exc.msg} {exc.method_result_message}".strip()
            error = gettext("KakaoPay refused the cancel of %(order)s: %(reason)s") % {"order": order, "reason": reason}
        except KakaoPayError as exc:
            record_call(order, PaymentEvent.Kind.CANCEL_UNKNOWN, exc, outcome=PaymentEvent.Outcome.UNKNOWN, created_by=staff)
            inquiry = inquire(order, client, created_by=staff)  # did it happen?
            if inquiry is None:
                error = gettext("The cancel of %(order)s has an unknown outcome (%(error)s); use 'Check with KakaoPay' later.") % {"order": order, "error": exc.message}
            else:
                data = inquiry.data
                if answer_check(order=order, op="order", data=data) is not None:
                    data, error = None, MSG_REFUND_MISMATCH.format(order=order)
                elif int((data.get("canceled_amount") or {}).get("total") or 0) <= order.refunded_amount:
                    data, error = None, gettext("The cancel of %(order)s did not go through (%(error)s); try again.") % {"order": order, "error": exc.message}
        if data is not None:
            before = order.refunded_amount
            apply_canceled(order, data)
            if order.refunded_amount == before:  # an answer without cumulative totals
                order.refunded_amount += want
                order.refunded_tax_free_amount += tax_free_amount
                order.refunded_vat_amount += vat_amount
            full = order.refunded_amount >= (order.approved_amount or 0)
            if full:
                order_refunded_in_full_locked(order=order)
            else:
                order.save()
            payment_event_record(order=order, kind=PaymentEvent.Kind.STATE, outcome=PaymentEvent.Outcome.OK,
                                 created_by=staff, message=f"refunded {order.refunded_amount} of {order.approved_amount}")  # fmt: skip
            refund = {"refund": {"amount": want, "tax_free_amount": tax_free_amount, "vat_amount": vat_amount}}
            if full:
                order_webhook_emit(order_id=order.pk, event_type=ORDER_CANCELLED, extra=refund)
            else:  # one event per partial refund: the n-th cancel request of the order
                order_webhook_emit(order_id=order.pk, event_type=ORDER_REFUNDED, key=str(n), extra=refund)
    if error:
        raise RefundError(error)
    return Refund(order=order, amount=want, full=order.status == Order.Status.CANCELLED)


def payment_check(*, order_id: int) -> str:
    """Staff's "check with KakaoPay": resume a stuck approval or refund now; returns what it did."""
    # A live lease is never taken away: its runner's KakaoPay call may be in flight, and a second
    # approve (or cancel) must not start before that one's outcome is known (invariant 1).
    order = Order.objects.get(pk=order_id)
    if order.status in (Order.Status.APPROVING, Order.Status.HELD) and (
        order.status == Order.Status.APPROVING or order.pg_token
    ):
        outcome = payment_approve(order_id=order_id)
    elif order.status == Order.Status.REFUNDING:
        outcome = payment_compensate(order_id=order_id)
    else:
        return "nothing to do"
    if outcome is Outcome.SKIPPED and order.lease_until and order.lease_until > timezone.now():
        return f"in progress: a runner owns it until {order.lease_until:%H:%M:%S} UTC; check again after"
    return outcome.value
