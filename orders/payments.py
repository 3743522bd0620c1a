"""The money moves: approve exactly once, settle unknown outcomes, compensate, refund, sweep.

Invariants (docs/payment-flow.md):

1. At most one approve succeeds per order, and no second approve starts while the outcome of the
   first is unknown.  A runner *claims* the order with one conditional UPDATE (HELD → APPROVING,
   or APPROVING whose lease ran out) and owns it until ``lease_until``.  Before calling approve it
   commits ``approve_requested_at`` and an ``approve_request`` event; a later runner that finds
   them asks KakaoPay's order inquiry first and approves again only when KakaoPay says the tid is
   still before approval and the earlier call can no longer be in flight.
2. Approve is only called with the order's stock held (renewed right before the call).  An
   approved payment we cannot complete (amount differs, stock gone) is cancelled at KakaoPay
   (REFUNDING → FAILED), never left charged.
3. Every call is recorded as a :class:`~orders.models.PaymentEvent` before (request) and after
   (outcome) it happens.

The functions return an :class:`Outcome`; the Celery tasks retry on ``RETRY`` with backoff, and the
reconciler picks up whatever a crashed or exhausted runner left behind.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from catalog.stock import OutOfStock, stock_renew, stock_restock, stock_sell
from kakaoplugin.clients.kakaopay import (
    KakaoPayClient,
    KakaoPayDeclined,
    KakaoPayError,
    KakaoPayNotConfigured,
    KakaoPayResult,
    KakaoPayUnavailable,
)
from kakaoplugin.metrics import APPROVAL_SECONDS, KAKAOPAY_CALLS, KAKAOPAY_LATENCY, PAYMENT_OUTCOMES

from .answers import MSG_MISMATCH, AnswerMismatch, answer_check
from .models import Order, OrderSheet, PaymentEvent
from .selectors import t3_untried_pg_token
from .services import MSG_EXPIRED, MSG_SOLD_OUT, order_fail, payment_event_record
from .webhooks import ORDER_CANCELLED, ORDER_FAILED, ORDER_PAID, ORDER_REFUNDED, order_webhook_emit

logger = logging.getLogger(__name__)

PRE_APPROVAL = {"READY", "SEND_TMS", "OPEN_PAYMENT", "SELECT_METHOD", "ARS_WAITING", "AUTH_PASSWORD"}
APPROVED = {"SUCCESS_PAYMENT", "ISSUED_SID"}
CANCELLED_AT_KAKAOPAY = {"PART_CANCEL_PAYMENT", "CANCEL_PAYMENT"}
FAILED_AT_KAKAOPAY = {
    "FAIL_AUTH_PASSWORD": "결제 인증에 실패했습니다.",
    "QUIT_PAYMENT": "결제를 취소하셨습니다.",
    "FAIL_PAYMENT": "결제가 승인되지 않았습니다.",
}
MSG_AMOUNT_MISMATCH = "결제 금액이 주문 금액과 달라 결제를 취소합니다."
MSG_CONFIG = "결제 설정 오류로 결제할 수 없습니다. 판매자에게 문의해 주세요."


class Outcome(enum.Enum):
    DONE = "done"  # settled (or nothing to do)
    RETRY = "retry"  # outcome unknown: try again later (inquiry first)
    SKIPPED = "skipped"  # not claimable: someone else owns it, or not ready


class _Verdict(enum.Enum):
    SETTLED = "settled"
    NOT_APPROVED = "not_approved"
    UNKNOWN = "unknown"


def _lease() -> timedelta:
    return timedelta(seconds=settings.PAYMENT_LEASE_SECONDS)


def _client(order: Order) -> KakaoPayClient:
    return KakaoPayClient.for_app(order.kakao_app)


def _release_lease(order: Order) -> None:
    """Give up ownership now (outcome unknown): the next runner may claim at once."""
    Order.objects.filter(pk=order.pk).update(lease_until=timezone.now())


def _record_call(order: Order, kind: str, err_or_result: KakaoPayResult | KakaoPayError, *, key: str | None = None,
                 outcome: str, message: str = "", created_by: str = "") -> None:  # fmt: skip
    if isinstance(err_or_result, KakaoPayResult):
        request, response, status, ms = err_or_result.request, err_or_result.data, err_or_result.http_status, err_or_result.duration_ms
    else:
        request, response, status, ms = err_or_result.request, err_or_result.response, err_or_result.http_status, err_or_result.duration_ms
        message = message or err_or_result.message
    payment_event_record(
        order=order, kind=kind, key=key, request=request, response=response, outcome=outcome, message=message,
        http_status=status, duration_ms=ms, created_by=created_by,
    )  # fmt: skip
    operation = err_or_result.op or kind  # every KakaoPay call is recorded here: metrics too
    KAKAOPAY_CALLS.labels(operation, outcome).inc()
    if ms is not None:
        KAKAOPAY_LATENCY.labels(operation).observe(ms / 1000)


# --- approve -----------------------------------------------------------------------------------


def payment_approve(*, order_id: int) -> Outcome:
    """Run (or resume) the approval of one order.  Safe to run any number of times, concurrently."""
    now = timezone.now()
    ready = Q(status=Order.Status.HELD) & ~Q(pg_token="") & ~Q(tid="")
    stale = Q(status=Order.Status.APPROVING) & (Q(lease_until__isnull=True) | Q(lease_until__lte=now))
    claimed = Order.objects.filter(pk=order_id).filter(ready | stale).update(
        status=Order.Status.APPROVING, lease_until=now + _lease(), updated_at=now
    )
    if not claimed:
        return Outcome.SKIPPED
    order = Order.objects.select_related("kakao_app").get(pk=order_id)
    client = _client(order)

    if order.approve_requested_at is not None:
        # An earlier approve may have gone through: never approve again before knowing.
        verdict = _settle_by_inquiry(order, client)
        if verdict is _Verdict.SETTLED:
            return Outcome.DONE
        if verdict is _Verdict.UNKNOWN or _may_be_in_flight(order, client):
            _release_lease(order)
            return Outcome.RETRY

    # Never approve what is not held: renew the hold (re-taken if it had been given back).
    try:
        stock_renew(
            reference=order.partner_order_id,
            expires_at=timezone.now() + timedelta(seconds=settings.PAYMENT_HOLD_SECONDS),
        )
    except OutOfStock:
        with transaction.atomic():
            order_fail(order=order, reason="out_of_stock", message=MSG_SOLD_OUT, from_states=(Order.Status.APPROVING,))
        return Outcome.DONE

    with transaction.atomic():
        Order.objects.filter(pk=order.pk).update(
            approve_attempts=F("approve_attempts") + 1, approve_requested_at=timezone.now()
        )
        order.refresh_from_db(fields=["approve_attempts", "approve_requested_at"])
        params = {
            "cid": order.kakaopay_cid, "tid": order.tid, "partner_order_id": order.partner_order_id,
            "partner_user_id": order.partner_user_id, "pg_token": order.pg_token, "total_amount": order.total_amount,
        }  # fmt: skip
        payment_event_record(
            order=order, kind=PaymentEvent.Kind.APPROVE_REQUEST, key=f"approve:{order.pk}:{order.approve_attempts}",
            request=params, outcome=PaymentEvent.Outcome.INFO,
        )  # fmt: skip
    try:
        result = client.approve(cid_secret=order.kakao_app.cid_secret, **params)
    except KakaoPayDeclined as exc:
        _record_call(order, PaymentEvent.Kind.APPROVE_FAILURE, exc, outcome=PaymentEvent.Outcome.REFUSED)
        # What did the refusal do to the payment?  A declined payment has ended at KakaoPay (its
        # message is the buyer's); a refusal of a repeated approve may mean an earlier one went
        # through; a refused request (a pg_token KakaoPay did not issue for this tid, ...) leaves
        # the payment waiting for approval: the genuine pg_token may still come.
        verdict = _settle_by_inquiry(order, client, decline=exc)
        if verdict is _Verdict.SETTLED:
            return Outcome.DONE
        if verdict is _Verdict.NOT_APPROVED:
            return _pg_token_refused(order, exc)
        if order.approve_attempts > 1:
            _release_lease(order)
            return Outcome.RETRY
        with transaction.atomic():
            order_fail(order=order, reason="declined", message=exc.buyer_message, from_states=(Order.Status.APPROVING,))
        PAYMENT_OUTCOMES.labels("declined").inc()
        return Outcome.DONE
    except KakaoPayNotConfigured as exc:
        _record_call(order, PaymentEvent.Kind.APPROVE_FAILURE, exc, outcome=PaymentEvent.Outcome.ERROR)
        with transaction.atomic():
            order_fail(order=order, reason="not_configured", message=MSG_CONFIG, from_states=(Order.Status.APPROVING,))
        return Outcome.DONE
    except KakaoPayUnavailable as exc:
        _record_call(order, PaymentEvent.Kind.APPROVE_UNKNOWN, exc, outcome=PaymentEvent.Outcome.UNKNOWN)
        PAYMENT_OUTCOMES.labels("unknown").inc()  # settled later by the order inquiry
        _release_lease(order)
        return Outcome.RETRY
    _record_call(order, PaymentEvent.Kind.APPROVE_SUCCESS, result, outcome=PaymentEvent.Outcome.OK)
    mismatch = answer_check(order=order, op="approve", data=result.data)
    if mismatch is not None:
        return _answer_rejected(order, mismatch, result.data, money_moved=True)
    return _complete(order, result.data)


def _pg_token_refused(order: Order, exc: KakaoPayDeclined) -> Outcome:
    """KakaoPay refused the pg_token and the tid still waits for approval: the order is not failed.
    It goes back to HELD without a pg_token (the sweeper fails it when the hold runs out) and takes
    the next pg_token a T3 brought that was never tried; else the genuine T3 still to come."""
    with transaction.atomic():
        changed = Order.objects.filter(pk=order.pk, status=Order.Status.APPROVING).update(
            status=Order.Status.HELD, pg_token="", approve_requested_at=None, lease_until=None,
            updated_at=timezone.now(),
        )  # fmt: skip
        if not changed:
            return Outcome.DONE
        payment_event_record(
            order=order, kind=PaymentEvent.Kind.STATE, outcome=PaymentEvent.Outcome.REFUSED,
            message=f"KakaoPay refused the approve request ({exc.code} {exc.msg}) and the payment still waits "
            "for approval: pg_token dropped, waiting for the genuine approval redirect",
        )  # fmt: skip
        nxt = t3_untried_pg_token(order=order)
        if nxt and Order.objects.filter(pk=order.pk, status=Order.Status.HELD, pg_token="").update(pg_token=nxt):
            from .tasks import approve_order

            approve_order.delay_on_commit(order.pk)
    return Outcome.DONE


def _answer_rejected(order: Order, mismatch: AnswerMismatch, data: dict[str, Any], *, money_moved: bool) -> Outcome:
    """An answer that is not this order's (recorded and flagged by ``answer_check``) never marks it
    paid: the order fails.  If it says this order's own payment was approved (only the amounts or
    the buyer differ), that payment is cancelled at KakaoPay (REFUNDING, then compensation); money
    of another payment (another tid or partner_order_id) is never touched."""
    reason = "amount_mismatch" if mismatch.amount_only else "answer_mismatch"
    message = MSG_AMOUNT_MISMATCH if mismatch.amount_only else MSG_MISMATCH
    PAYMENT_OUTCOMES.labels("mismatch").inc()
    if not money_moved or mismatch.foreign:
        with transaction.atomic():
            order_fail(order=order, reason=reason, message=message, from_states=(Order.Status.APPROVING,))
        return Outcome.DONE
    total, tax_free, vat = _amounts(data)
    from catalog.stock import stock_release

    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status != Order.Status.APPROVING:
            return Outcome.DONE  # settled by someone else already
        locked.aid = _aid(data)[:40]
        locked.approved_amount, locked.approved_tax_free_amount, locked.approved_vat_amount = total, tax_free, vat
        locked.status, locked.failure_reason, locked.failure_message = Order.Status.REFUNDING, reason, message
        locked.lease_until = None
        locked.save()
        stock_release(reference=locked.partner_order_id)
        payment_event_record(order=locked, kind=PaymentEvent.Kind.STATE, outcome=PaymentEvent.Outcome.REFUSED,
                             message=f"{locked.status}: {mismatch.describe()}; cancelling at KakaoPay")  # fmt: skip
    return payment_compensate(order_id=order.pk)


def _aid(data: dict[str, Any]) -> str:
    aid = str(data.get("aid") or "")
    if not aid:
        for detail in data.get("payment_action_details") or []:
            if detail.get("payment_action_type") == "PAYMENT":
                aid = str(detail.get("aid") or "")
    return aid


def call_may_be_in_flight(*, order: Order, client: KakaoPayClient, unknown_kind: str, sent_at) -> bool:
    """Could the money call sent at ``sent_at`` (an approve, or a subscription charge) still reach
    KakaoPay?  Not when KakaoPay answered it (a 5xx recorded as ``unknown_kind`` with an HTTP
    status), nor once :meth:`KakaoPayClient.in_flight_until` has passed: the client gives every call
    a hard total deadline, so nothing of ours is running after it (a timeout, a lost connection, a
    trickled answer).  The one rule for both the single approve and the subscription charge."""
    # only the latest attempt counts: an earlier attempt's answered 5xx says nothing of this one
    last = order.events.filter(kind=unknown_kind, created_at__gte=sent_at).order_by("-id").first()
    if last is not None and last.http_status is not None:
        return False
    return timezone.now() < client.in_flight_until(sent_at)


def _may_be_in_flight(order: Order, client: KakaoPayClient) -> bool:
    """Could the last approve still reach KakaoPay?"""
    return call_may_be_in_flight(
        order=order, client=client, unknown_kind=PaymentEvent.Kind.APPROVE_UNKNOWN, sent_at=order.approve_requested_at
    )


def _settle_by_inquiry(order: Order, client: KakaoPayClient, *, decline: KakaoPayDeclined | None = None) -> _Verdict:
    """Ask KakaoPay what happened to the tid and settle the order from it when it says (after
    checking that the answer is this order's payment).  ``decline``: the approve refusal that made
    us ask; when the payment failed, the order fails as declined, with KakaoPay's words to the buyer."""
    try:
        result = client.order(cid=order.kakaopay_cid, tid=order.tid, cid_secret=order.kakao_app.cid_secret)
    except KakaoPayError as exc:
        _record_call(order, PaymentEvent.Kind.INQUIRY, exc, outcome=PaymentEvent.Outcome.UNKNOWN)
        return _Verdict.UNKNOWN
    status = str(result.data.get("status", ""))
    _record_call(order, PaymentEvent.Kind.INQUIRY, result, outcome=PaymentEvent.Outcome.OK, message=status)
    mismatch = answer_check(order=order, op="order", data=result.data)
    if mismatch is not None:
        _answer_rejected(order, mismatch, result.data, money_moved=status in APPROVED | CANCELLED_AT_KAKAOPAY)
        return _Verdict.SETTLED
    if status in APPROVED:
        _complete(order, result.data)
        return _Verdict.SETTLED
    if status in PRE_APPROVAL:
        return _Verdict.NOT_APPROVED
    if status in FAILED_AT_KAKAOPAY:
        with transaction.atomic():
            order_fail(order=order, reason="declined" if decline else f"kakaopay_{status.lower()}",
                       message=decline.buyer_message if decline else FAILED_AT_KAKAOPAY[status],
                       from_states=(Order.Status.APPROVING,))  # fmt: skip
        return _Verdict.SETTLED
    if status == "PART_CANCEL_PAYMENT":
        return _settle_partly_cancelled(order, result.data)
    if status in CANCELLED_AT_KAKAOPAY:
        # Approved and already cancelled at KakaoPay (by staff there): nothing charged stays.
        canceled = (result.data.get("canceled_amount") or {}).get("total") or 0
        with transaction.atomic():
            Order.objects.filter(pk=order.pk).update(refunded_amount=canceled)
            order_fail(order=order, reason="cancelled_at_kakaopay", message="결제가 취소되었습니다.",
                       from_states=(Order.Status.APPROVING,))  # fmt: skip
        return _Verdict.SETTLED
    return _Verdict.UNKNOWN


def _settle_partly_cancelled(order: Order, data: dict[str, Any]) -> _Verdict:
    """Approved, then partly cancelled at KakaoPay (by staff there) while our approval was still
    unsettled: we never completed the order, so the rest of the charge is cancelled too (REFUNDING,
    then compensation), never left charged."""
    total, tax_free, vat = _amounts(data)
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status != Order.Status.APPROVING:
            return _Verdict.SETTLED
        locked.approved_amount, locked.approved_tax_free_amount, locked.approved_vat_amount = total, tax_free, vat
        _apply_canceled(locked, data)
        locked.status, locked.failure_reason = Order.Status.REFUNDING, "cancelled_at_kakaopay"
        locked.failure_message, locked.lease_until = "결제가 취소되었습니다.", None
        locked.save()
        from catalog.stock import stock_release

        stock_release(reference=locked.partner_order_id)
        payment_event_record(order=locked, kind=PaymentEvent.Kind.STATE, outcome=PaymentEvent.Outcome.REFUSED,
                             message=f"partly cancelled at KakaoPay ({locked.refunded_amount} of {total}): cancelling the rest")  # fmt: skip
    payment_compensate(order_id=order.pk)
    return _Verdict.SETTLED


def _amounts(data: dict[str, Any]) -> tuple[int, int, int]:
    amount = data.get("amount") or {}
    return int(amount.get("total") or 0), int(amount.get("tax_free") or 0), int(amount.get("vat") or 0)


def _count_approved(order: Order) -> None:
    """Metrics of a paid order: one approval, and the time from its approval redirect (T3) to S."""
    PAYMENT_OUTCOMES.labels("approved").inc()
    t3 = (
        order.events.filter(kind=PaymentEvent.Kind.T3_RECEIVED, outcome=PaymentEvent.Outcome.OK)
        .order_by("created_at").values_list("created_at", flat=True).first()
    )  # fmt: skip
    if t3 is not None and order.completed_at is not None:
        APPROVAL_SECONDS.observe(max((order.completed_at - t3).total_seconds(), 0.0))


def _complete(order: Order, data: dict[str, Any]) -> Outcome:
    """KakaoPay approved (an approve answer or an inquiry): PAID, or REFUNDING when we cannot deliver."""
    total, tax_free, vat = _amounts(data)
    approved_at = parse_datetime(str(data.get("approved_at") or "")) or timezone.now()
    if timezone.is_naive(approved_at):
        approved_at = timezone.make_aware(approved_at, timezone.get_fixed_timezone(0))
    aid = _aid(data)
    refund = False
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status != Order.Status.APPROVING:
            return Outcome.DONE  # settled by someone else already
        locked.aid = aid[:40]
        locked.approved_amount, locked.approved_tax_free_amount, locked.approved_vat_amount = total, tax_free, vat
        locked.approved_at = approved_at
        locked.payment_method = str(data.get("payment_method_type") or "")[:10]
        locked.lease_until = None
        # (the answer was checked against the order, amounts included, by orders.answers)
        try:
            stock_sell(reference=locked.partner_order_id)
        except OutOfStock:
            locked.status, locked.failure_reason, locked.failure_message = (
                Order.Status.REFUNDING, "out_of_stock", MSG_SOLD_OUT
            )
            refund = True
        else:
            locked.status = Order.Status.PAID
            locked.completed_at = timezone.now()
            OrderSheet.objects.filter(pk=locked.sheet_id, status=OrderSheet.Status.OPEN).update(
                status=OrderSheet.Status.ORDERED
            )
            if locked.cid:  # 정기결제 sign-up: keep the sid, start the subscription
                from .subscriptions import subscription_activate

                subscription_activate(order=locked, data=data)
        if refund:
            from catalog.stock import stock_release

            stock_release(reference=locked.partner_order_id)
        locked.save()
        payment_event_record(
            order=locked, kind=PaymentEvent.Kind.STATE,
            outcome=PaymentEvent.Outcome.REFUSED if refund else PaymentEvent.Outcome.OK,
            message=f"{locked.status}: approved {total} for {locked.total_amount}",
        )  # fmt: skip
        if locked.status == Order.Status.PAID:
            order_webhook_emit(order_id=locked.pk, event_type=ORDER_PAID)
    if not refund:
        _count_approved(locked)
    if refund:
        return payment_compensate(order_id=order.pk)
    return Outcome.DONE


# --- compensation: cancel what we cannot deliver ------------------------------------------------


def payment_compensate(*, order_id: int) -> Outcome:
    """REFUNDING → FAILED by cancelling the approved payment at KakaoPay (all of what is left)."""
    now = timezone.now()
    claimed = (
        Order.objects.filter(pk=order_id, status=Order.Status.REFUNDING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
        .update(lease_until=now + _lease())
    )
    if not claimed:
        return Outcome.SKIPPED
    order = Order.objects.select_related("kakao_app").get(pk=order_id)
    client = _client(order)
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
            _record_call(order, kind, exc, outcome=PaymentEvent.Outcome.ERROR)
            # Learn the truth: maybe it was cancelled already.
            try:
                result = client.order(cid=order.kakaopay_cid, tid=order.tid, cid_secret=order.kakao_app.cid_secret)
            except KakaoPayError as exc2:
                _record_call(order, PaymentEvent.Kind.INQUIRY, exc2, outcome=PaymentEvent.Outcome.UNKNOWN)
                _release_lease(order)
                return Outcome.RETRY
            _record_call(order, PaymentEvent.Kind.INQUIRY, result, outcome=PaymentEvent.Outcome.OK,
                         message=str(result.data.get("status")))  # fmt: skip
            if answer_check(order=order, op="order", data=result.data) is not None:
                return _compensation_stopped(order)
            if result.data.get("status") != "CANCEL_PAYMENT":
                if result.data.get("status") == "PART_CANCEL_PAYMENT":
                    # part was cancelled elsewhere: the next try cancels what is really left
                    with transaction.atomic():
                        locked = Order.objects.select_for_update().get(pk=order_id)
                        _apply_canceled(locked, result.data)
                        locked.save(update_fields=["refunded_amount", "refunded_tax_free_amount", "refunded_vat_amount"])
                _release_lease(order)
                return Outcome.RETRY
        else:
            _record_call(order, PaymentEvent.Kind.CANCEL_SUCCESS, result, outcome=PaymentEvent.Outcome.OK,
                         message="compensation")  # fmt: skip
            if answer_check(order=order, op="cancel", data=result.data) is not None:
                return _compensation_stopped(order)
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order_id)
        if result is not None:
            _apply_canceled(locked, result.data)
        locked.status = Order.Status.FAILED
        locked.lease_until = None
        locked.completed_at = timezone.now()
        locked.save()
        payment_event_record(order=locked, kind=PaymentEvent.Kind.STATE, outcome=PaymentEvent.Outcome.OK,
                             message=f"failed after refund of {locked.refunded_amount}")  # fmt: skip
        order_webhook_emit(order_id=locked.pk, event_type=ORDER_FAILED)
    PAYMENT_OUTCOMES.labels("compensated").inc()
    return Outcome.DONE


def _compensation_stopped(order: Order) -> Outcome:
    """A cancel (or inquiry) answer that is not this order's: nothing is taken as refunded and no
    further cancel is sent; the order ends FAILED, flagged for staff to settle by hand."""
    with transaction.atomic():
        changed = Order.objects.filter(pk=order.pk, status=Order.Status.REFUNDING).update(
            status=Order.Status.FAILED, lease_until=None, completed_at=timezone.now(), updated_at=timezone.now()
        )
        if changed:
            payment_event_record(order=order, kind=PaymentEvent.Kind.STATE, outcome=PaymentEvent.Outcome.REFUSED,
                                 message="compensation stopped: KakaoPay's answer is not this order's; settle by hand")  # fmt: skip
            order_webhook_emit(order_id=order.pk, event_type=ORDER_FAILED)
    return Outcome.DONE


def _apply_canceled(order: Order, data: dict[str, Any]) -> None:
    """Take KakaoPay's cumulative ``canceled_amount`` as the truth of what was refunded."""
    canceled = data.get("canceled_amount") or {}
    if "total" in canceled:
        order.refunded_amount = max(order.refunded_amount, int(canceled.get("total") or 0))
        order.refunded_tax_free_amount = max(order.refunded_tax_free_amount, int(canceled.get("tax_free") or 0))
        order.refunded_vat_amount = max(order.refunded_vat_amount, int(canceled.get("vat") or 0))


# --- refunds from the admin --------------------------------------------------------------------


MSG_REFUND_MISMATCH = (
    "KakaoPay's answer to the cancel of {order} is not about this order's payment: nothing was recorded as "
    "refunded and the order is flagged for review (see its payment events)."
)


class RefundError(Exception):
    """A refund that did not happen (or whose outcome is unknown), with a message for staff."""


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
            raise RefundError(f"Order {order}: only paid orders can be refunded (status {order.status})")
        remaining = order.refundable_amount
        remaining_tax_free = (order.approved_tax_free_amount or 0) - order.refunded_tax_free_amount
        remaining_vat = (order.approved_vat_amount or 0) - order.refunded_vat_amount
        want = remaining if amount is None else int(amount)
        if want <= 0 or want > remaining:
            raise RefundError(f"Order {order}: refund amount must be between 1 and {remaining}")
        if tax_free_amount is None:
            tax_free_amount = remaining_tax_free if want == remaining else min(
                remaining_tax_free, want if order.tax_free_amount == order.total_amount else 0
            )
        if not 0 <= tax_free_amount <= min(want, remaining_tax_free):
            raise RefundError(f"Order {order}: tax-free part must be between 0 and {min(want, remaining_tax_free)}")
        if vat_amount is None:
            # KakaoPay's own rule ((taxable)/11, rounded), capped by what VAT is left: rounding up
            # on many small partial refunds must not overshoot the approved VAT.
            vat_amount = remaining_vat if want == remaining else min(remaining_vat, (want - tax_free_amount + 5) // 11)
        if not 0 <= vat_amount <= remaining_vat:
            raise RefundError(f"Order {order}: VAT part must be between 0 and {remaining_vat}")
        n = order.events.filter(kind=PaymentEvent.Kind.CANCEL_REQUEST).count() + 1
        params = {
            "cid": order.kakaopay_cid, "tid": order.tid, "cancel_amount": want,
            "cancel_tax_free_amount": tax_free_amount, "cancel_vat_amount": vat_amount,
            "cancel_available_amount": remaining,
        }  # fmt: skip
        payment_event_record(order=order, kind=PaymentEvent.Kind.CANCEL_REQUEST, key=f"cancel:{order.pk}:{n}",
                             request=params, created_by=staff, message="refund by staff")  # fmt: skip
        client = _client(order)
        data = None
        try:
            data = client.cancel(cid_secret=order.kakao_app.cid_secret, **params)
            _record_call(order, PaymentEvent.Kind.CANCEL_SUCCESS, data, outcome=PaymentEvent.Outcome.OK, created_by=staff)
            data = data.data
            if answer_check(order=order, op="cancel", data=data) is not None:
                data, error = None, MSG_REFUND_MISMATCH.format(order=order)
        except KakaoPayDeclined as exc:
            _record_call(order, PaymentEvent.Kind.CANCEL_FAILURE, exc, outcome=PaymentEvent.Outcome.REFUSED, created_by=staff)
            error = f"KakaoPay refused the cancel of {order}: {exc.code} {exc.msg} {exc.method_result_message}".strip()
        except KakaoPayError as exc:
            _record_call(order, PaymentEvent.Kind.CANCEL_UNKNOWN, exc, outcome=PaymentEvent.Outcome.UNKNOWN, created_by=staff)
            try:  # did it happen?
                inquiry = client.order(cid=order.kakaopay_cid, tid=order.tid, cid_secret=order.kakao_app.cid_secret)
                _record_call(order, PaymentEvent.Kind.INQUIRY, inquiry, outcome=PaymentEvent.Outcome.OK,
                             message=str(inquiry.data.get("status")), created_by=staff)  # fmt: skip
                data = inquiry.data
                if answer_check(order=order, op="order", data=data) is not None:
                    data, error = None, MSG_REFUND_MISMATCH.format(order=order)
                elif int((data.get("canceled_amount") or {}).get("total") or 0) <= order.refunded_amount:
                    data, error = None, f"The cancel of {order} did not go through ({exc.message}); try again."
            except KakaoPayError as exc2:
                _record_call(order, PaymentEvent.Kind.INQUIRY, exc2, outcome=PaymentEvent.Outcome.UNKNOWN, created_by=staff)
                error = f"The cancel of {order} has an unknown outcome ({exc.message}); use 'Check with KakaoPay' later."
        if data is not None:
            before = order.refunded_amount
            _apply_canceled(order, data)
            if order.refunded_amount == before:  # an answer without cumulative totals
                order.refunded_amount += want
                order.refunded_tax_free_amount += tax_free_amount
                order.refunded_vat_amount += vat_amount
            full = order.refunded_amount >= (order.approved_amount or 0)
            if full:
                order.status = Order.Status.CANCELLED
                order.completed_at = timezone.now()
                stock_restock(reference=order.partner_order_id)
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


# --- the periodic jobs -------------------------------------------------------------------------


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
    lease_over = Q(lease_until__isnull=True) | Q(lease_until__lte=now)
    approve = list(
        Order.objects.filter(
            Q(status=Order.Status.HELD, updated_at__lt=stalled) & ~Q(pg_token="") & ~Q(tid="")
            | Q(status=Order.Status.APPROVING) & lease_over
        ).values_list("pk", flat=True)[:500]
    )
    compensate = list(Order.objects.filter(Q(status=Order.Status.REFUNDING) & lease_over).values_list("pk", flat=True)[:500])
    return {"approve": approve, "compensate": compensate}
