"""Payment T3 (KakaoPay's approval redirect: the pg_token) and the buyer's cancel / fail
redirects (CONTRACTS section 6)."""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from kakaoplugin.models import KakaoApp
from kakaoplugin.outbox import outbox_add

from ..errors import OrderError
from ..models import Order, PaymentEvent
from .calls import APPROVE_TASK
from .ledger import MSG_BAD_USER, MSG_INVALID_ORDER, payment_event_record
from .transitions import order_fail

MSG_SETTLED = "이미 처리된 결제입니다."


def payment_t3(
    *, kakao_app: KakaoApp, order: Order, partner_order_id: str | None, partner_user_id: str | None,
    pg_token: str, params: dict,
) -> None:  # fmt: skip
    """KakaoPay's approval redirect for ``order`` (the one its approval link names, already
    checked: orders.pay_links): store the pg_token (first wins), start the approval.

    It must name the order's buyer (``partner_user_id``), and ``partner_order_id``, when sent,
    must be the order's.  Another pg_token arriving while the order is still unsettled is kept (its
    T3 event) and answered 200: if KakaoPay refuses the first one, the approval takes it next
    (``selectors.t3_untried_pg_token``).  Raises :class:`OrderError` (``invalid_order``,
    ``bad_user``) once what it recorded is committed."""
    refused = _payment_t3_locked(
        kakao_app=kakao_app, order=order, partner_order_id=partner_order_id,
        partner_user_id=partner_user_id, pg_token=pg_token, params=params,
    )  # fmt: skip
    if refused is not None:
        raise refused


def _payment_t3_locked(
    *, kakao_app: KakaoApp, order: Order, partner_order_id: str | None, partner_user_id: str | None,
    pg_token: str, params: dict,
) -> OrderError | None:  # fmt: skip
    if order.kakao_app_id != kakao_app.pk:
        return OrderError(MSG_INVALID_ORDER, code=OrderError.INVALID_ORDER)
    if partner_order_id and partner_order_id != order.partner_order_id:
        return OrderError("주문 정보가 일치하지 않습니다.", code=OrderError.INVALID_ORDER)
    shown = {k: v for k, v in params.items() if k != "pg_token"} | {"pg_token": pg_token[:6] + "…"}
    if partner_user_id != order.partner_user_id:
        payment_event_record(order=order, kind=PaymentEvent.Kind.T3_RECEIVED, request=shown,
                             outcome=PaymentEvent.Outcome.REFUSED,
                             message="partner_user_id mismatch" if partner_user_id else "no partner_user_id")  # fmt: skip
        return OrderError(MSG_BAD_USER, code=OrderError.BAD_USER)
    with transaction.atomic():
        first = payment_event_record(
            order=order, kind=PaymentEvent.Kind.T3_RECEIVED, key=f"t3:{order.pk}:{pg_token}", request=shown,
            outcome=PaymentEvent.Outcome.OK,
        )  # fmt: skip
        if first is None:
            payment_event_record(order=order, kind=PaymentEvent.Kind.T3_RECEIVED, request=shown,
                                 outcome=PaymentEvent.Outcome.REPLAY)  # fmt: skip
        _store_first_pg_token(order, pg_token[:100])
        unsettled = (Order.Status.PENDING, Order.Status.HELD, Order.Status.APPROVING)
        if order.pg_token != pg_token and order.status in unsettled:
            return None  # kept: tried if KakaoPay refuses the stored pg_token
        if order.pg_token != pg_token:
            return OrderError(order.failure_message or MSG_SETTLED, code=OrderError.INVALID_ORDER)
        if order.status in (Order.Status.FAILED, Order.Status.REFUNDING, Order.Status.CANCELLED):
            return OrderError(order.failure_message or MSG_SETTLED, code=OrderError.INVALID_ORDER)
        if order.status == Order.Status.HELD:
            # T2 passed already: this T3 completes the pair. A replay enqueues again: harmless,
            # only one runner can claim the order.
            outbox_add(task=APPROVE_TASK, args=[order.pk])  # sent after the commit, retried
    return None


def _store_first_pg_token(order: Order, pg_token: str) -> None:
    """The pg_token stored when the order has none and still waits for it (pending, held); the
    order's pg_token, status, tid and failure message as they now are: an ``UPDATE … RETURNING``,
    or (a replay, a second pg_token, a settled order: nothing written) a read of the four."""
    table = connection.ops.quote_name(Order._meta.db_table)
    columns = "pg_token, status, tid, failure_message"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET pg_token = %s, updated_at = %s "  # noqa: S608
            f"WHERE id = %s AND pg_token = '' AND status IN (%s, %s) RETURNING {columns}",
            [pg_token, timezone.now(), order.pk, Order.Status.PENDING, Order.Status.HELD],
        )
        row = cursor.fetchone()
        if row is None:
            cursor.execute(f"SELECT {columns} FROM {table} WHERE id = %s", [order.pk])  # noqa: S608
            row = cursor.fetchone()
    order.pg_token, order.status, order.tid, order.failure_message = row


def order_buyer_abandoned(*, kakao_app: KakaoApp, partner_order_id: str | None, failed: bool, params: dict) -> None:
    """The buyer cancelled (cancel_url) or failed (fail_url) at KakaoPay: F, stock given back.
    Raises :class:`OrderError` ``invalid_order`` for an unknown order."""
    order = (
        Order.objects.filter(partner_order_id=partner_order_id, kakao_app=kakao_app).first()
        if partner_order_id
        else None
    )
    if order is None:
        raise OrderError(MSG_INVALID_ORDER, code=OrderError.INVALID_ORDER)
    kind = PaymentEvent.Kind.BUYER_FAILED if failed else PaymentEvent.Kind.BUYER_CANCELLED
    message = "결제에 실패했습니다. 다시 시도해 주세요." if failed else "결제를 취소하셨습니다."
    with transaction.atomic():
        changed = order_fail(
            order=order, reason="buyer_failed" if failed else "buyer_cancelled", message=message,
            from_states=(Order.Status.PENDING, Order.Status.HELD),
        )  # fmt: skip
        payment_event_record(order=order, kind=kind, request=params,
                             outcome=PaymentEvent.Outcome.OK if changed else PaymentEvent.Outcome.REPLAY)  # fmt: skip
