"""The approval: approve exactly once, settle an unknown outcome by the order inquiry, complete.

Invariants (docs/payment-flow.md):

1. At most one approve succeeds per order, and no second approve starts while the outcome of the
   first is unknown.  A runner *claims* the order with one conditional UPDATE (HELD → APPROVING,
   or APPROVING whose lease ran out) and owns it until ``lease_until``.  Before calling approve it
   commits ``approve_requested_at`` and an ``approve_request`` event; a later runner that finds
   them asks KakaoPay's order inquiry first and approves again only when KakaoPay says the tid is
   still before approval and the earlier call can no longer be in flight.
2. Approve is only called with the order's stock held (renewed right before the call).  An
   approved payment we cannot complete (amount differs, stock gone) is cancelled at KakaoPay
   (REFUNDING → FAILED, ``orders.payments.compensate``), never left charged.
3. Every call is recorded as a :class:`~orders.models.PaymentEvent` before (request) and after
   (outcome) it happens.

The functions return an :class:`Outcome`; the Celery tasks retry on ``RETRY`` with backoff, and the
reconciler picks up whatever a crashed or exhausted runner left behind.
"""

from __future__ import annotations

import enum
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from catalog.stock import OutOfStock, stock_renew, stock_sell
from kakaoplugin.clients.kakaopay import (
    KakaoPayClient,
    KakaoPayDeclined,
    KakaoPayNotConfigured,
    KakaoPayUnavailable,
)
from kakaoplugin.metrics import APPROVAL_SECONDS, PAYMENT_OUTCOMES
from kakaoplugin.outbox import send_after_commit

from ..models import Order, PaymentEvent
from ..selectors import t3_untried_pg_token
from ..subscriptions.signup import subscription_activate
from ..webhooks import ORDER_PAID, order_webhook_emit_after_commit
from .answers import MSG_MISMATCH, AnswerMismatch, answer_check
from .calls import (
    APPROVE_TASK,
    Outcome,
    amounts,
    apply_canceled,
    approval_id,
    call_may_be_in_flight,
    inquire,
    kakaopay_client,
    kakaopay_time,
    lease,
    lease_release,
    record_call,
)
from .compensate import payment_compensate
from .ledger import (
    MSG_AMOUNT_MISMATCH,
    MSG_CANCELLED_AT_KAKAOPAY,
    MSG_CONFIG,
    MSG_SOLD_OUT,
    payment_event_record,
)
from .transitions import (
    order_claim_approval,
    order_drop_pg_token,
    order_fail,
    order_paid_locked,
    order_refunding_locked,
)

PRE_APPROVAL = {"READY", "SEND_TMS", "OPEN_PAYMENT", "SELECT_METHOD", "ARS_WAITING", "AUTH_PASSWORD"}
APPROVED = {"SUCCESS_PAYMENT", "ISSUED_SID"}
CANCELLED_AT_KAKAOPAY = {"PART_CANCEL_PAYMENT", "CANCEL_PAYMENT"}
FAILED_AT_KAKAOPAY = {
    "FAIL_AUTH_PASSWORD": "결제 인증에 실패했습니다.",
    "QUIT_PAYMENT": "결제를 취소하셨습니다.",
    "FAIL_PAYMENT": "결제가 승인되지 않았습니다.",
}


class _Verdict(enum.Enum):
    SETTLED = "settled"
    NOT_APPROVED = "not_approved"
    UNKNOWN = "unknown"


def payment_approve(*, order_id: int) -> Outcome:
    """Run (or resume) the approval of one order.  Safe to run any number of times, concurrently."""
    # A first attempt commits once before the call: the claim, the hold renewed, the attempt and
    # its request recorded (a concurrent claim waits for that commit, then finds the order owned).
    with transaction.atomic():
        order = order_claim_approval(order_id=order_id, lease_until=timezone.now() + lease())
        if order is None:
            return Outcome.SKIPPED
        resumed = order.approve_requested_at is not None
        params = None if resumed else _request_approval(order)
    client = kakaopay_client(order.kakao_app)

    if resumed:
        # An earlier approve may have gone through: never approve again before knowing.
        verdict = _settle_by_inquiry(order, client)
        if verdict is _Verdict.SETTLED:
            return Outcome.DONE
        if verdict is _Verdict.UNKNOWN or _may_be_in_flight(order, client):
            lease_release(order)
            return Outcome.RETRY
        with transaction.atomic():
            params = _request_approval(order)
    if params is None:
        return Outcome.DONE  # sold out: the order failed
    try:
        result = client.approve(cid_secret=order.kakao_app.cid_secret, **params)
    except KakaoPayDeclined as exc:
        record_call(order, PaymentEvent.Kind.APPROVE_FAILURE, exc, outcome=PaymentEvent.Outcome.REFUSED)
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
            lease_release(order)
            return Outcome.RETRY
        with transaction.atomic():
            order_fail(order=order, reason="declined", message=exc.buyer_message, from_states=(Order.Status.APPROVING,))
        PAYMENT_OUTCOMES.labels("declined").inc()
        return Outcome.DONE
    except KakaoPayNotConfigured as exc:
        record_call(order, PaymentEvent.Kind.APPROVE_FAILURE, exc, outcome=PaymentEvent.Outcome.ERROR)
        with transaction.atomic():
            order_fail(order=order, reason="not_configured", message=MSG_CONFIG, from_states=(Order.Status.APPROVING,))
        return Outcome.DONE
    except KakaoPayUnavailable as exc:
        record_call(order, PaymentEvent.Kind.APPROVE_UNKNOWN, exc, outcome=PaymentEvent.Outcome.UNKNOWN)
        PAYMENT_OUTCOMES.labels("unknown").inc()  # settled later by the order inquiry
        lease_release(order)
        return Outcome.RETRY
    record_call(order, PaymentEvent.Kind.APPROVE_SUCCESS, result, outcome=PaymentEvent.Outcome.OK)
    mismatch = answer_check(order=order, op="approve", data=result.data)
    if mismatch is not None:
        return _answer_rejected(order, mismatch, result.data, money_moved=True)
    return _complete(order, result.data)


def _request_approval(order: Order) -> dict[str, Any] | None:
    """In the caller's transaction, before the approve call: renew the hold (never approve what is
    not held: re-taken if it had been given back), count the attempt, record its request; the
    approve's parameters.  Sold out: the stock is left as it was, the order fails, None."""
    params = {
        "cid": order.kakaopay_cid, "tid": order.tid, "partner_order_id": order.partner_order_id,
        "partner_user_id": order.partner_user_id, "pg_token": order.pg_token, "total_amount": order.total_amount,
    }  # fmt: skip
    try:
        stock_renew(  # OutOfStock: nothing changed (its re-takes are all or none)
            reference=order.partner_order_id,
            expires_at=timezone.now() + timedelta(seconds=settings.PAYMENT_HOLD_SECONDS),
        )
    except OutOfStock:
        order_fail(order=order, reason="out_of_stock", message=MSG_SOLD_OUT, from_states=(Order.Status.APPROVING,))
        return None
    _count_attempt(order)
    payment_event_record(
        order=order, kind=PaymentEvent.Kind.APPROVE_REQUEST, key=f"approve:{order.pk}:{order.approve_attempts}",
        request=params, outcome=PaymentEvent.Outcome.INFO,
    )  # fmt: skip
    return params


def _count_attempt(order: Order) -> None:
    """``approve_attempts`` + 1 and ``approve_requested_at`` now, in one ``UPDATE … RETURNING`` (the
    count comes back with the write).  Neither field is one T4 reads: nothing to publish."""
    now = timezone.now()
    table = connection.ops.quote_name(Order._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET approve_attempts = approve_attempts + 1, approve_requested_at = %s "  # noqa: S608
            "WHERE id = %s RETURNING approve_attempts",
            [now, order.pk],
        )
        order.approve_attempts, order.approve_requested_at = cursor.fetchone()[0], now


def _pg_token_refused(order: Order, exc: KakaoPayDeclined) -> Outcome:
    """KakaoPay refused the pg_token and the tid still waits for approval: the order is not failed.
    It goes back to HELD without a pg_token (the sweeper fails it when the hold runs out) and takes
    the next pg_token a T3 brought that was never tried; else the genuine T3 still to come."""
    with transaction.atomic():
        if not order_drop_pg_token(order=order):
            return Outcome.DONE
        payment_event_record(
            order=order, kind=PaymentEvent.Kind.STATE, outcome=PaymentEvent.Outcome.REFUSED,
            message=f"KakaoPay refused the approve request ({exc.code} {exc.msg}) and the payment still waits "
            "for approval: pg_token dropped, waiting for the genuine approval redirect",
        )  # fmt: skip
        nxt = t3_untried_pg_token(order=order)
        if nxt and Order.objects.filter(pk=order.pk, status=Order.Status.HELD, pg_token="").update(pg_token=nxt):
            send_after_commit(task=APPROVE_TASK, args=[order.pk])
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
    total, tax_free, vat = amounts(data)
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status != Order.Status.APPROVING:
            return Outcome.DONE  # settled by someone else already
        locked.aid = approval_id(data)[:40]
        locked.approved_amount, locked.approved_tax_free_amount, locked.approved_vat_amount = total, tax_free, vat
        order_refunding_locked(order=locked, reason=reason, message=message)
        payment_event_record(order=locked, kind=PaymentEvent.Kind.STATE, outcome=PaymentEvent.Outcome.REFUSED,
                             message=f"{locked.status}: {mismatch.describe()}; cancelling at KakaoPay")  # fmt: skip
    return payment_compensate(order_id=order.pk)


def _client(order: Order) -> KakaoPayClient:
    return kakaopay_client(order.kakao_app)


def _may_be_in_flight(order: Order, client: KakaoPayClient) -> bool:
    """Could the last approve still reach KakaoPay?"""
    return call_may_be_in_flight(
        order=order, client=client, unknown_kind=PaymentEvent.Kind.APPROVE_UNKNOWN, sent_at=order.approve_requested_at
    )


def _settle_by_inquiry(order: Order, client: KakaoPayClient, *, decline: KakaoPayDeclined | None = None) -> _Verdict:
    """Ask KakaoPay what happened to the tid and settle the order from it when it says (after
    checking that the answer is this order's payment).  ``decline``: the approve refusal that made
    us ask; when the payment failed, the order fails as declined, with KakaoPay's words to the buyer."""
    result = inquire(order, client)
    if result is None:
        return _Verdict.UNKNOWN
    status = str(result.data.get("status") or "")
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
            order_fail(order=order, reason="cancelled_at_kakaopay", message=MSG_CANCELLED_AT_KAKAOPAY,
                       from_states=(Order.Status.APPROVING,))  # fmt: skip
        return _Verdict.SETTLED
    return _Verdict.UNKNOWN


def _settle_partly_cancelled(order: Order, data: dict[str, Any]) -> _Verdict:
    """Approved, then partly cancelled at KakaoPay (by staff there) while our approval was still
    unsettled: we never completed the order, so the rest of the charge is cancelled too (REFUNDING,
    then compensation), never left charged."""
    total, tax_free, vat = amounts(data)
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status != Order.Status.APPROVING:
            return _Verdict.SETTLED
        locked.approved_amount, locked.approved_tax_free_amount, locked.approved_vat_amount = total, tax_free, vat
        apply_canceled(locked, data)
        order_refunding_locked(order=locked, reason="cancelled_at_kakaopay", message=MSG_CANCELLED_AT_KAKAOPAY)
        payment_event_record(order=locked, kind=PaymentEvent.Kind.STATE, outcome=PaymentEvent.Outcome.REFUSED,
                             message=f"partly cancelled at KakaoPay ({locked.refunded_amount} of {total}): cancelling the rest")  # fmt: skip
    payment_compensate(order_id=order.pk)
    return _Verdict.SETTLED


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
    total, tax_free, vat = amounts(data)
    approved_at = kakaopay_time(data.get("approved_at")) or timezone.now()
    aid = approval_id(data)
    refund = False
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status != Order.Status.APPROVING:
            return Outcome.DONE  # settled by someone else already
        locked.aid = aid[:40]
        locked.approved_amount, locked.approved_tax_free_amount, locked.approved_vat_amount = total, tax_free, vat
        locked.approved_at = approved_at
        locked.payment_method = str(data.get("payment_method_type") or "")[:10]
        # (the answer was checked against the order, amounts included, by orders.payments.answers)
        try:
            stock_sell(reference=locked.partner_order_id)
        except OutOfStock:
            refund = True
            order_refunding_locked(order=locked, reason="out_of_stock", message=MSG_SOLD_OUT)
        else:
            order_paid_locked(order=locked)
            if locked.cid:  # 정기결제 sign-up: keep the sid, start the subscription
                subscription_activate(order=locked, data=data)
        payment_event_record(
            order=locked, kind=PaymentEvent.Kind.STATE,
            outcome=PaymentEvent.Outcome.REFUSED if refund else PaymentEvent.Outcome.OK,
            message=f"{locked.status}: approved {total} for {locked.total_amount}",
        )  # fmt: skip
        if locked.status == Order.Status.PAID:
            order_webhook_emit_after_commit(order_id=locked.pk, event_type=ORDER_PAID)
    if not refund:
        _count_approved(locked)
    if refund:
        return payment_compensate(order_id=order.pk)
    return Outcome.DONE
