"""Payment T2 (CONTRACTS section 6): store the tid and the address, check everything, hold the
stock; when T3 came first, the approval is owed (the outbox sends it after the commit)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.stock import OutOfStock, StockItem, stock_hold
from kakaoplugin.lookups import one_or_none
from kakaoplugin.models import KakaoApp
from kakaoplugin.outbox import outbox_add
from kakaoplugin.selectors import customer_is_blocked

from ..errors import OrderError
from ..models import Order, OrderSheet, PaymentEvent
from ..rules import shipping_fee, store_is_open, store_rules
from .calls import APPROVE_TASK
from .ledger import (
    MSG_BAD_USER,
    MSG_BLOCKED,
    MSG_INVALID_ORDER,
    MSG_SHEET_CLOSED,
    MSG_SOLD_OUT,
    MSG_STORE_CLOSED,
    MSG_TID_TAKEN,
    payment_event_record,
)
from .transitions import order_fail, order_hold

SHIPPING_FIELDS = ("base_address", "detail_address", "post_no", "zone_code", "receiver_name", "receiver_mobile_number")
# the failure reason an order refused at T2 ends with, by the refusal's code
PAYMENT_T2_FAILURE_REASON = {OrderError.BLOCKED: "blocked", OrderError.STORE_CLOSED: "store_closed"}


def _stock_items(order: Order) -> list[StockItem]:
    # the four columns it needs, not the lines as models (every payment T2 reads them)
    lines = order.lines.values_list("quantity", "catalog_option_id", "catalog_product_id", "description")
    return [
        StockItem(quantity=quantity, option_pk=option_pk, product_pk=None if option_pk else product_pk, label=label)
        for quantity, option_pk, product_pk, label in lines
        if option_pk or product_pk
    ]


def _payment_t2_event(order: Order, tid: str, body: dict, outcome: str, message: str = "") -> None:
    shown = {k: v for k, v in body.items() if k != "shipping_address"}
    shown["shipping_address"] = "(stored on the order)" if body.get("shipping_address") else None
    first = payment_event_record(
        order=order, kind=PaymentEvent.Kind.T2_RECEIVED, key=f"t2:{order.pk}:{tid}", request=shown,
        outcome=outcome, message=message,
    )  # fmt: skip
    if first is None:
        payment_event_record(
            order=order, kind=PaymentEvent.Kind.T2_RECEIVED, request=shown, outcome=PaymentEvent.Outcome.REPLAY,
            message=message,
        )  # fmt: skip


def payment_t2(
    *, kakao_app: KakaoApp, partner_order_id: str, tid: str, shipping_address: dict | None,
    app_user_id: str | None, relay_id: str | None, body: dict,
) -> None:  # fmt: skip
    """Payment T2: store the tid and the address, check everything, hold the stock.

    One transaction around the order row (locked).  A failed check of the rightful buyer fails the
    order (T4 then answers F with the message); a repeat with the same tid answers the same.
    Raises :class:`OrderError` (``invalid_order``, ``bad_user``, ``blocked``, ``store_closed``,
    ``tid_taken``) once what the refusal changed (the failed order, its events) is committed.
    """
    refused = _payment_t2_locked(
        kakao_app=kakao_app, partner_order_id=partner_order_id, tid=tid, shipping_address=shipping_address,
        app_user_id=app_user_id, relay_id=relay_id, body=body,
    )  # fmt: skip
    if refused is not None:
        raise refused


def _payment_t2_locked(
    *, kakao_app: KakaoApp, partner_order_id: str, tid: str, shipping_address: dict | None,
    app_user_id: str | None, relay_id: str | None, body: dict,
) -> OrderError | None:  # fmt: skip
    with transaction.atomic():
        order = one_or_none(
            Order.objects.select_for_update()
            .select_related("sheet")
            .filter(partner_order_id=partner_order_id, kakao_app=kakao_app)
        )
        if order is None:
            return OrderError(MSG_INVALID_ORDER, code=OrderError.INVALID_ORDER)
        if order.app_user_id and order.app_user_id != app_user_id:
            _payment_t2_event(order, tid, body, PaymentEvent.Outcome.REFUSED, "app user id mismatch")
            return OrderError(MSG_BAD_USER, code=OrderError.BAD_USER)
        if order.tid:
            if order.tid != tid:
                _payment_t2_event(order, tid, body, PaymentEvent.Outcome.REFUSED, "a different tid")
                return OrderError("이미 다른 결제가 진행된 주문입니다.", code=OrderError.INVALID_ORDER)
            _payment_t2_event(order, tid, body, PaymentEvent.Outcome.REPLAY, order.status)
            if order.status in (Order.Status.HELD, Order.Status.APPROVING, Order.Status.PAID):
                return None
            return OrderError(order.failure_message or MSG_SHEET_CLOSED, code=OrderError.INVALID_ORDER)
        if order.status != Order.Status.PENDING:
            _payment_t2_event(order, tid, body, PaymentEvent.Outcome.REFUSED, order.status)
            return OrderError(order.failure_message or MSG_SHEET_CLOSED, code=OrderError.INVALID_ORDER)
        # A tid belongs to one order for ever: the constraint ``order_unique_tid_per_app`` refuses
        # it to a second order (no read first: the constraint decides, races included), so another
        # order's payment can never settle this one.
        order.tid = tid[:40]
        if relay_id and not order.relay_id:
            order.relay_id = relay_id
        if isinstance(shipping_address, dict):
            order.shipping_address = {k: str(shipping_address.get(k) or "")[:300] for k in SHIPPING_FIELDS}
        try:
            with transaction.atomic():
                order.save(update_fields=["tid", "relay_id", "shipping_address", "updated_at"])
        except IntegrityError:  # another order holds this tid
            order.tid = ""
            _payment_t2_event(order, tid, body, PaymentEvent.Outcome.REFUSED, "tid held by another order")
            return OrderError(MSG_TID_TAKEN, code=OrderError.TID_TAKEN)
        refused = _payment_t2_checks(order, kakao_app, app_user_id)
        if refused is not None:
            order_fail(
                order=order, reason=PAYMENT_T2_FAILURE_REASON.get(refused.code, "t2_refused"), message=refused.message,
                from_states=(Order.Status.PENDING,), webhook_soon=True,
            )  # fmt: skip
            _payment_t2_event(order, tid, body, PaymentEvent.Outcome.REFUSED, refused.message)
            return refused
        _payment_t2_event(order, tid, body, PaymentEvent.Outcome.OK)
        if order.pg_token:  # T3 came first: this T2 completes the pair
            outbox_add(task=APPROVE_TASK, args=[order.pk])  # sent after the commit, retried
    return None


def _payment_t2_checks(order: Order, kakao_app: KakaoApp, app_user_id: str | None) -> OrderError | None:
    """Everything T2 validates, in the order a buyer would want to hear it; holds stock last."""
    if customer_is_blocked(kakao_app=kakao_app, app_user_id=app_user_id or order.app_user_id):
        return OrderError(MSG_BLOCKED, code=OrderError.BLOCKED)
    rules = store_rules(kakao_app)
    if not store_is_open(rules):
        return OrderError(rules.closed_message if rules else MSG_STORE_CLOSED, code=OrderError.STORE_CLOSED)
    # The sheet row is locked (with the order's, by the order's SELECT … FOR UPDATE, which joins
    # it): attempts on one sheet pass T2 one at a time.
    sheet = order.sheet
    if sheet.status != OrderSheet.Status.OPEN or sheet.expires_at <= timezone.now():
        return OrderError(MSG_SHEET_CLOSED, code=OrderError.INVALID_ORDER)
    if order.use_shipping:
        address = order.shipping_address or {}
        zone = address.get("zone_code") or address.get("post_no") or ""
        if not address.get("base_address") or not zone:
            return OrderError("배송지 정보가 필요합니다.", code=OrderError.INVALID_ORDER)
        # KakaoPay was readied with T1's total: a delivery address that costs a different fee
        # cannot be charged correctly.
        fee = shipping_fee(rules, goods_amount=order.goods_amount, use_shipping=True, zip_code=zone)
        if fee != order.shipping_fee and not order.cid:  # (a plan's amounts include delivery)
            return OrderError(
                "배송지에 따라 배송비가 달라졌습니다. 배송지를 확인하고 다시 주문해 주세요.", code=OrderError.INVALID_ORDER
            )
    # One payment per sheet: an older attempt still only HELD (its buyer went back and started
    # again) is superseded; one already approving or paid wins. (Their keys first: almost always
    # none, and then no order is built.)
    others = list(
        Order.objects.filter(sheet_id=sheet.pk, status__in=(Order.Status.HELD, Order.Status.APPROVING, Order.Status.PAID))
        .exclude(pk=order.pk).order_by("pk").values_list("pk", flat=True)
    )  # fmt: skip
    for other in Order.objects.filter(pk__in=others).order_by("pk") if others else ():
        if not order_fail(
            order=other, reason="superseded", message="새 결제 시도로 대체된 주문입니다.",
            from_states=(Order.Status.HELD,),
        ):  # fmt: skip
            return OrderError("이미 결제가 진행 중인 주문서입니다.", code=OrderError.INVALID_ORDER)
    expires = timezone.now() + timedelta(seconds=settings.PAYMENT_HOLD_SECONDS)
    try:
        stock_hold(  # a pending order holds nothing yet (T2 holds and makes it held at once)
            reference=order.partner_order_id, items=_stock_items(order), expires_at=expires, livemode=order.livemode,
            fresh=True,
        )  # fmt: skip
    except OutOfStock as exc:
        name = exc.item.label.split(" / ")[-1] if exc.item.label else ""
        return OrderError(f"{MSG_SOLD_OUT} ({name})" if name else MSG_SOLD_OUT, code=OrderError.INVALID_ORDER)
    order_hold(order=order, hold_expires_at=expires)
    return None
