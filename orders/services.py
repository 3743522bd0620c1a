"""Writes of the orders app."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import Product
from catalog.selection import Selection, selection_validate
from catalog.stock import OutOfStock, StockItem, stock_hold, stock_release
from kakaoplugin import envelope
from kakaoplugin.envelope import PluginError
from kakaoplugin.fields import mask
from kakaoplugin.models import KakaoApp
from kakaoplugin.outbox import outbox_add
from kakaoplugin.selectors import customer_is_blocked

from .models import Order, OrderLine, OrderSheet, OrderSheetLine, PaymentEvent, StoreRules
from .pay_links import pay_url
from .rules import shipping_fee, store_is_open, store_rules, vat_of
from .webhooks import ORDER_FAILED, order_webhook_emit


@dataclass(frozen=True)
class SheetLine:
    group_id: str
    group_name: str
    group_type: str
    sub_group_id: str = ""
    option_id: str = ""
    option_value: str = ""
    option_pk: int | None = None  # catalog.Option whose stock this line takes
    add_price: int = 0
    quantity: int | None = None
    amount: int = 0
    extra: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class SheetDraft:
    """What a validated selection (option T2, merchant API) turns into: a sheet to store."""

    product_pk: int | None
    product_code: str
    product_name: str
    unit_price: int
    quantity: int
    total_amount: int
    tax_free_amount: int = 0
    use_shipping: bool = True
    product_url: str = ""
    lines: list[SheetLine] = field(default_factory=list)


@transaction.atomic
def order_sheet_create(
    *,
    kakao_app: KakaoApp,
    draft: SheetDraft,
    app_user_id: str | None,
    relay_id: str | None,
    ttl_seconds: int | None = None,
) -> OrderSheet:
    ttl = settings.ORDER_SHEET_TTL_SECONDS if ttl_seconds is None else ttl_seconds
    sheet = OrderSheet.objects.create(
        kakao_app=kakao_app,
        livemode=kakao_app.livemode,
        app_user_id=app_user_id,
        relay_id=relay_id,
        product_id=draft.product_pk,
        product_code=draft.product_code,
        product_name=draft.product_name,
        product_url=draft.product_url,
        unit_price=draft.unit_price,
        quantity=draft.quantity,
        total_amount=draft.total_amount,
        tax_free_amount=draft.tax_free_amount,
        use_shipping=draft.use_shipping,
        expires_at=timezone.now() + timedelta(seconds=ttl),
    )
    OrderSheetLine.objects.bulk_create(
        OrderSheetLine(
            sheet=sheet,
            position=i,
            group_id=line.group_id,
            group_name=line.group_name,
            group_type=line.group_type,
            sub_group_id=line.sub_group_id,
            option_id=line.option_id,
            option_value=line.option_value,
            catalog_option_id=line.option_pk,
            add_price=line.add_price,
            quantity=line.quantity,
            amount=line.amount,
            extra=line.extra,
            text=line.text,
        )
        for i, line in enumerate(draft.lines)
    )
    return sheet


def sheet_draft_from_selection(selection: Selection) -> SheetDraft:
    """A validated selection (``catalog.selection``) as a sheet to store."""
    return SheetDraft(
        product_pk=selection.product_pk,
        product_code=selection.product_code,
        product_name=selection.product_name,
        unit_price=selection.unit_price,
        quantity=selection.quantity,
        total_amount=selection.total_amount,
        tax_free_amount=selection.tax_free_amount,
        use_shipping=selection.use_shipping,
        product_url=selection.product_url,
        lines=[
            SheetLine(
                group_id=line.group_id,
                group_name=line.group_name,
                group_type=line.group_type,
                sub_group_id=line.sub_group_id,
                option_id=line.option_id,
                option_value=line.option_value,
                option_pk=line.option_pk,
                add_price=line.add_price,
                quantity=line.quantity,
                amount=line.amount,
                extra=line.extra,
                text=line.text,
            )
            for line in selection.lines
        ],
    )


def order_sheet_create_from_choices(
    *,
    kakao_app: KakaoApp,
    choices: dict[str, Any],
    app_user_id: str | None,
    relay_id: str | None,
    ttl_seconds: int | None = None,
) -> OrderSheet:
    """Validate a buyer's choices (option T2's body: ``id``, ``quantity``, ``option_groups``, ...)
    against the stored tree and store them as an order sheet.

    The one path from choices to a sheet: option T2 and the merchant API both call it.  Raises
    :class:`catalog.selection.SelectionError` saying what was wrong.
    """
    selection = selection_validate(payload=choices, livemode=kakao_app.livemode)
    return order_sheet_create(
        kakao_app=kakao_app,
        draft=sheet_draft_from_selection(selection),
        app_user_id=app_user_id,
        relay_id=relay_id,
        ttl_seconds=ttl_seconds,
    )


# --- payment events ---------------------------------------------------------------------------


def payment_event_record(
    *,
    order: Order,
    kind: str,
    key: str | None = None,
    request: Any = None,
    response: Any = None,
    outcome: str = PaymentEvent.Outcome.INFO,
    message: str = "",
    http_status: int | None = None,
    duration_ms: int | None = None,
    created_by: str = "",
) -> PaymentEvent | None:
    """Insert an event; a duplicate ``key`` is a replay: returns None and changes nothing."""
    key = key or f"{kind}:{order.pk}:{uuid.uuid4().hex}"
    request, response = _without_sid(request), _without_sid(response)
    try:
        with transaction.atomic():
            return PaymentEvent.objects.create(
                order=order, kind=kind, idempotency_key=key[:200], request=request, response=response,
                outcome=outcome, message=message[:500], http_status=http_status, duration_ms=duration_ms,
                created_by=created_by,
            )  # fmt: skip
    except IntegrityError:
        return None


def _without_sid(data: Any) -> Any:
    """A subscription's ``sid`` charges the buyer again: it is kept encrypted on the subscription,
    never in the event log (approve and inquiry answers carry it, subscription calls send it)."""
    if isinstance(data, dict) and data.get("sid"):
        return data | {"sid": mask(str(data["sid"]))}
    return data


# --- payment T1: the order sheet becomes an order ---------------------------------------------

MSG_INVALID_SHEET = "유효하지 않은 주문서입니다."
MSG_SHEET_CLOSED = "주문서가 만료되었거나 이미 결제된 주문입니다."
MSG_BAD_USER = "주문자 정보가 일치하지 않습니다."
MSG_BLOCKED = "사용이 제한된 사용자입니다."
MSG_SOLD_OUT = "주문 상품이 품절되었습니다."
MSG_NOT_ON_SALE = "판매가 종료된 상품입니다."
MSG_EXPIRED = "결제 시간이 초과되었습니다. 다시 주문해 주세요."
MSG_SHEET_OTHER_MODE = "테스트/운영 모드가 바뀌기 전에 만든 주문서입니다. 다시 주문해 주세요."
MSG_TID_TAKEN = "이미 다른 주문에 사용된 결제 번호(tid)입니다. (This payment belongs to another order.)"
TID_TAKEN = 400  # T2's answer for a tid another order holds: nothing is stored


def _stock_items(order: Order) -> list[StockItem]:
    return [
        StockItem(
            quantity=line.quantity,
            option_pk=line.catalog_option_id,
            product_pk=None if line.catalog_option_id else line.catalog_product_id,
            label=line.description,
        )
        for line in order.lines.all()
        if line.catalog_option_id or line.catalog_product_id
    ]


def _check_member(*, kakao_app: KakaoApp, owner: str | None, app_user_id: str | None) -> None:
    if owner and owner != app_user_id:
        raise PluginError(envelope.BAD_USER, MSG_BAD_USER)
    if customer_is_blocked(kakao_app=kakao_app, app_user_id=app_user_id):
        raise PluginError(envelope.BLOCKED_USER, MSG_BLOCKED)


def _check_open(rules: StoreRules | None) -> None:
    if not store_is_open(rules):
        raise PluginError(envelope.STORE_CLOSED, rules.closed_message if rules else "매장 운영시간이 아닙니다.")


def _item_name(sheet: OrderSheet, option_lines: list[OrderSheetLine]) -> str:
    name = sheet.product_name
    if len(option_lines) == 1:
        name = f"{name} {option_lines[0].option_value}".strip()
    elif len(option_lines) > 1:
        name = f"{name} {option_lines[0].option_value} 외{len(option_lines) - 1}".strip()
    return name[:100]


@transaction.atomic
def order_create_for_sheet(
    *,
    kakao_app: KakaoApp,
    ordersheet_id: str,
    app_user_id: str | None,
    relay_id: str | None,
    zip_code: str | None,
) -> Order:
    """Payment T1: check the sheet, the member and the store, price it, create the order.

    Raises :class:`PluginError` 300 (sheet unknown/expired/paid), 400 (not the sheet's owner),
    401 (blocked member), 301 (store closed).  Each call is a new payment attempt (a new
    ``partner_order_id``); at most one attempt per sheet can get past T2 (see ``order_t2``).
    """
    sheet = (
        OrderSheet.objects.select_related("product")
        .filter(pk=ordersheet_id, kakao_app=kakao_app)
        .first()
    )
    if sheet is None:
        raise PluginError(envelope.INVALID_ORDER, MSG_INVALID_SHEET)
    if sheet.status != OrderSheet.Status.OPEN or sheet.expires_at <= timezone.now():
        raise PluginError(envelope.INVALID_ORDER, MSG_SHEET_CLOSED)
    if sheet.livemode != kakao_app.livemode:  # made in the other mode: its stock check was another counter's
        raise PluginError(envelope.INVALID_ORDER, MSG_SHEET_OTHER_MODE)
    _check_member(kakao_app=kakao_app, owner=sheet.app_user_id, app_user_id=app_user_id)
    rules = store_rules(kakao_app)
    _check_open(rules)
    product = sheet.product
    if product is not None and not product.on_sale:
        raise PluginError(envelope.INVALID_ORDER, MSG_NOT_ON_SALE)

    lines = list(sheet.lines.all())
    option_lines = [line for line in lines if line.catalog_option_id]
    tax_free_goods = product is not None and product.tax_type == Product.TaxType.TAX_FREE
    goods = sheet.total_amount
    fee = shipping_fee(rules, goods_amount=goods, use_shipping=sheet.use_shipping, zip_code=zip_code)
    total = goods + fee
    # Tax-free goods ship tax-free too (the delivery is incidental to them); otherwise the sheet's
    # own tax-free part (mixed sheets) and a taxable delivery.
    tax_free = total if tax_free_goods else min(sheet.tax_free_amount, goods)
    from .subscriptions import subscription_plan_for, subscription_signup_amount

    plan = subscription_plan_for(kakao_app=kakao_app, product=product)
    if plan is not None:  # 정기결제: this payment is the sign-up installment of the plan's schedule
        fee, goods = 0, subscription_signup_amount(plan=plan, quantity=sheet.quantity)
        total = goods
        tax_free = total if tax_free_goods else 0
    if not 0 <= total <= settings.ORDER_MAX_AMOUNT:  # the goods were capped at T2; the delivery fee was not
        raise PluginError(400, f"주문 금액이 한도 {settings.ORDER_MAX_AMOUNT:,}원을 넘습니다 (order total over the limit)")
    order = Order.objects.create(
        sheet=sheet,
        kakao_app=kakao_app,
        livemode=kakao_app.livemode,
        app_user_id=app_user_id or sheet.app_user_id,
        partner_user_id=(app_user_id or sheet.app_user_id or f"guest-{sheet.pk}")[:100],
        relay_id=relay_id or sheet.relay_id,
        item_name=_item_name(sheet, option_lines),
        item_code=sheet.product_code[:100],
        quantity=sheet.quantity,
        goods_amount=goods,
        shipping_fee=fee,
        total_amount=total,
        tax_free_amount=tax_free,
        vat_amount=vat_of(total - tax_free),
        use_shipping=sheet.use_shipping,
        zip_code=(zip_code or "")[:10],
        cid=kakao_app.subscription_cid if plan is not None else "",
    )
    if plan is not None:
        from .subscriptions import subscription_create_pending

        subscription_create_pending(order=order, plan=plan)
    if option_lines:
        OrderLine.objects.bulk_create(
            OrderLine(
                order=order,
                description=f"{sheet.product_name} / {line.group_name}: {line.option_value}"[:300],
                quantity=line.quantity or sheet.quantity,
                amount=line.amount,
                tax_free=tax_free_goods,
                catalog_option_id=line.catalog_option_id,
            )
            for line in option_lines
        )
    else:
        OrderLine.objects.create(
            order=order,
            description=sheet.product_name[:300],
            quantity=sheet.quantity,
            amount=goods,
            tax_free=tax_free_goods,
            catalog_product=product,
        )
    payment_event_record(
        order=order,
        kind=PaymentEvent.Kind.T1_SERVED,
        key=f"t1:{order.pk}",
        request={"ordersheet_id": ordersheet_id, "zip_code": zip_code, "relay_id": relay_id},
        response={"total_amount": total, "shipping_fee": fee, "tax_free_amount": tax_free},
        outcome=PaymentEvent.Outcome.OK,
    )
    return order


def ordersheet_payload(*, order: Order, base_url: str) -> dict[str, Any]:
    """T1's data (CONTRACTS section 6), numbers as JSON numbers."""
    app = order.kakao_app
    # The buyer's browser follows these (KakaoPay's redirects): per-order links with the order's
    # token for each action, never the plugin key (orders.pay_links).
    approval = pay_url(order=order, action="approval", base_url=base_url)
    if app.wrap_approval_url:
        # Kakao's relay, encoded once (CONTRACTS section 6, Decision). The relay adds
        # partner_order_id, partner_user_id and pg_token when it calls it.
        approval = settings.KAKAO_APPROVAL_RELAY_TEMPLATE.format(url=quote(approval, safe=""))
    data: dict[str, Any] = {
        "rest_api_key": app.rest_api_key,
        "cid": order.kakaopay_cid,
        "partner_order_id": order.partner_order_id,
        "partner_user_id": order.partner_user_id,
        "item_name": order.item_name,
        "item_code": order.item_code,
        "quantity": order.quantity,
        "total_amount": order.total_amount,
        "tax_free_amount": order.tax_free_amount,
        "vat_amount": order.vat_amount,
        "approval_url": approval,
        "cancel_url": pay_url(order=order, action="cancel", base_url=base_url),
        "fail_url": pay_url(order=order, action="fail", base_url=base_url),
        "use_shipping": order.use_shipping,
    }
    if app.cid_secret:
        data["cid_secret"] = str(app.cid_secret)
    if app.available_cards:
        data["available_cards"] = list(app.available_cards)
    if app.payment_method_type:
        data["payment_method_type"] = app.payment_method_type
    if app.order_agreements:
        data["order_agreements"] = [
            {k: a[k] for k in ("company", "title", "url") if a.get(k)} for a in app.order_agreements
        ]
    if order.sheet.product_url:
        data["product_urls"] = [order.sheet.product_url]
    if not data["item_code"]:
        del data["item_code"]
    if order.cid:  # 정기결제
        from .subscriptions import automatic_payment

        data["automatic_payment"] = automatic_payment(order=order)
    return data


# --- state changes shared by T2, the buyer's cancel/fail, the sweeper and the approve task ------


def order_fail(*, order: Order, reason: str, message: str, from_states: tuple[str, ...]) -> bool:
    """``from_states`` → FAILED with T4's ``message``; gives back held stock.  Must run in a
    transaction; True when this call made the change (a conditional update, so it races safely)."""
    now = timezone.now()
    changed = Order.objects.filter(pk=order.pk, status__in=from_states).update(
        status=Order.Status.FAILED, failure_reason=reason, failure_message=message[:200],
        lease_until=None, completed_at=now, updated_at=now,
    )  # fmt: skip
    if changed:
        stock_release(reference=order.partner_order_id)
        order.status, order.failure_reason, order.failure_message = Order.Status.FAILED, reason, message[:200]
        payment_event_record(
            order=order, kind=PaymentEvent.Kind.STATE, outcome=PaymentEvent.Outcome.REFUSED,
            message=f"failed ({reason}): {message}",
        )  # fmt: skip
        order_webhook_emit(order_id=order.pk, event_type=ORDER_FAILED)
    return bool(changed)


# --- payment T2 -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    code: int
    message: str = ""


def _t2_event(order: Order, tid: str, body: dict, outcome: str, message: str = "") -> None:
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


SHIPPING_FIELDS = ("base_address", "detail_address", "post_no", "zone_code", "receiver_name", "receiver_mobile_number")


def order_t2(
    *, kakao_app: KakaoApp, partner_order_id: str, tid: str, shipping_address: dict | None,
    app_user_id: str | None, relay_id: str | None, body: dict,
) -> Answer:  # fmt: skip
    """Payment T2: store the tid and the address, check everything, hold the stock.

    One transaction around the order row (locked).  A failed check of the rightful buyer fails the
    order (T4 then answers F with the message); a repeat with the same tid answers the same.
    """
    with transaction.atomic():
        order = (
            Order.objects.select_for_update()
            .select_related("sheet")
            .filter(partner_order_id=partner_order_id, kakao_app=kakao_app)
            .first()
        )
        if order is None:
            return Answer(envelope.INVALID_ORDER, "유효하지 않은 주문입니다.")
        if order.app_user_id and order.app_user_id != app_user_id:
            _t2_event(order, tid, body, PaymentEvent.Outcome.REFUSED, "app user id mismatch")
            return Answer(envelope.BAD_USER, MSG_BAD_USER)
        if order.tid:
            if order.tid != tid:
                _t2_event(order, tid, body, PaymentEvent.Outcome.REFUSED, "a different tid")
                return Answer(envelope.INVALID_ORDER, "이미 다른 결제가 진행된 주문입니다.")
            _t2_event(order, tid, body, PaymentEvent.Outcome.REPLAY, order.status)
            if order.status in (Order.Status.HELD, Order.Status.APPROVING, Order.Status.PAID):
                return Answer(envelope.OK)
            return Answer(envelope.INVALID_ORDER, order.failure_message or MSG_SHEET_CLOSED)
        if order.status != Order.Status.PENDING:
            _t2_event(order, tid, body, PaymentEvent.Outcome.REFUSED, order.status)
            return Answer(envelope.INVALID_ORDER, order.failure_message or MSG_SHEET_CLOSED)
        # A tid belongs to one order for ever (the constraint ``order_unique_tid_per_app`` decides
        # a race): another order's payment can never settle this one.
        if Order.objects.filter(kakao_app=kakao_app, tid=tid[:40]).exclude(pk=order.pk).exists():
            _t2_event(order, tid, body, PaymentEvent.Outcome.REFUSED, "tid held by another order")
            return Answer(TID_TAKEN, MSG_TID_TAKEN)

        order.tid = tid[:40]
        if relay_id and not order.relay_id:
            order.relay_id = relay_id
        if isinstance(shipping_address, dict):
            order.shipping_address = {k: str(shipping_address.get(k) or "")[:300] for k in SHIPPING_FIELDS}
        try:
            with transaction.atomic():
                order.save(update_fields=["tid", "relay_id", "shipping_address", "updated_at"])
        except IntegrityError:  # another order took this tid a moment ago
            order.tid = ""
            _t2_event(order, tid, body, PaymentEvent.Outcome.REFUSED, "tid held by another order")
            return Answer(TID_TAKEN, MSG_TID_TAKEN)
        answer = _t2_checks(order, kakao_app, app_user_id)
        if answer.code != envelope.OK:
            code_reason = {envelope.BLOCKED_USER: "blocked", envelope.STORE_CLOSED: "store_closed"}
            order_fail(
                order=order, reason=code_reason.get(answer.code, "t2_refused"), message=answer.message,
                from_states=(Order.Status.PENDING,),
            )  # fmt: skip
            _t2_event(order, tid, body, PaymentEvent.Outcome.REFUSED, answer.message)
            return answer
        _t2_event(order, tid, body, PaymentEvent.Outcome.OK)
        if order.pg_token:  # T3 came first: this T2 completes the pair
            from .tasks import approve_order

            outbox_add(task=approve_order, args=[order.pk])  # sent after the commit, retried
    return Answer(envelope.OK)


def _t2_checks(order: Order, kakao_app: KakaoApp, app_user_id: str | None) -> Answer:
    """Everything T2 validates, in the order a buyer would want to hear it; holds stock last."""
    if customer_is_blocked(kakao_app=kakao_app, app_user_id=app_user_id or order.app_user_id):
        return Answer(envelope.BLOCKED_USER, MSG_BLOCKED)
    rules = store_rules(kakao_app)
    if not store_is_open(rules):
        return Answer(envelope.STORE_CLOSED, rules.closed_message if rules else "매장 운영시간이 아닙니다.")
    # The sheet row is locked: attempts on one sheet pass T2 one at a time.
    sheet = OrderSheet.objects.select_for_update().get(pk=order.sheet_id)
    if sheet.status != OrderSheet.Status.OPEN or sheet.expires_at <= timezone.now():
        return Answer(envelope.INVALID_ORDER, MSG_SHEET_CLOSED)
    if order.use_shipping:
        address = order.shipping_address or {}
        zone = address.get("zone_code") or address.get("post_no") or ""
        if not address.get("base_address") or not zone:
            return Answer(envelope.INVALID_ORDER, "배송지 정보가 필요합니다.")
        # KakaoPay was readied with T1's total: a delivery address that costs a different fee
        # cannot be charged correctly.
        fee = shipping_fee(rules, goods_amount=order.goods_amount, use_shipping=True, zip_code=zone)
        if fee != order.shipping_fee and not order.cid:  # (a plan's amounts include delivery)
            return Answer(envelope.INVALID_ORDER, "배송지에 따라 배송비가 달라졌습니다. 배송지를 확인하고 다시 주문해 주세요.")
    # One payment per sheet: an older attempt still only HELD (its buyer went back and started
    # again) is superseded; one already approving or paid wins.
    for other in Order.objects.filter(sheet_id=sheet.pk).exclude(pk=order.pk).filter(
        status__in=(Order.Status.HELD, Order.Status.APPROVING, Order.Status.PAID)
    ):
        if not order_fail(
            order=other, reason="superseded", message="새 결제 시도로 대체된 주문입니다.",
            from_states=(Order.Status.HELD,),
        ):  # fmt: skip
            return Answer(envelope.INVALID_ORDER, "이미 결제가 진행 중인 주문서입니다.")
    expires = timezone.now() + timedelta(seconds=settings.PAYMENT_HOLD_SECONDS)
    try:
        stock_hold(
            reference=order.partner_order_id, items=_stock_items(order), expires_at=expires, livemode=order.livemode
        )
    except OutOfStock as exc:
        name = exc.item.label.split(" / ")[-1] if exc.item.label else ""
        return Answer(envelope.INVALID_ORDER, f"{MSG_SOLD_OUT} ({name})" if name else MSG_SOLD_OUT)
    now = timezone.now()
    Order.objects.filter(pk=order.pk).update(status=Order.Status.HELD, hold_expires_at=expires, updated_at=now)
    order.status, order.hold_expires_at = Order.Status.HELD, expires
    return Answer(envelope.OK)


# --- payment T3 and the buyer's cancel / fail redirects -----------------------------------------


def order_t3(
    *, kakao_app: KakaoApp, partner_order_id: str | None, order_ref: str | None, partner_user_id: str | None,
    pg_token: str, params: dict,
) -> Answer:  # fmt: skip
    """KakaoPay's approval redirect: store the pg_token (first wins), start the approval.

    It must name the order's buyer (``partner_user_id``).  Another pg_token arriving while the
    order is still unsettled is kept (its T3 event) and answered 200: if KakaoPay refuses the first
    one, the approval takes it next (``selectors.t3_untried_pg_token``)."""
    if partner_order_id and order_ref and partner_order_id != order_ref:
        return Answer(envelope.INVALID_ORDER, "주문 정보가 일치하지 않습니다.")
    pid = partner_order_id or order_ref
    order = Order.objects.filter(partner_order_id=pid, kakao_app=kakao_app).first() if pid else None
    if order is None:
        return Answer(envelope.INVALID_ORDER, "유효하지 않은 주문입니다.")
    shown = {k: v for k, v in params.items() if k != "pg_token"} | {"pg_token": pg_token[:6] + "…"}
    if partner_user_id != order.partner_user_id:
        payment_event_record(order=order, kind=PaymentEvent.Kind.T3_RECEIVED, request=shown,
                             outcome=PaymentEvent.Outcome.REFUSED,
                             message="partner_user_id mismatch" if partner_user_id else "no partner_user_id")  # fmt: skip
        return Answer(envelope.BAD_USER, MSG_BAD_USER)
    with transaction.atomic():
        first = payment_event_record(
            order=order, kind=PaymentEvent.Kind.T3_RECEIVED, key=f"t3:{order.pk}:{pg_token}", request=shown,
            outcome=PaymentEvent.Outcome.OK,
        )  # fmt: skip
        if first is None:
            payment_event_record(order=order, kind=PaymentEvent.Kind.T3_RECEIVED, request=shown,
                                 outcome=PaymentEvent.Outcome.REPLAY)  # fmt: skip
        Order.objects.filter(
            pk=order.pk, pg_token="", status__in=(Order.Status.PENDING, Order.Status.HELD)
        ).update(pg_token=pg_token[:100], updated_at=timezone.now())
        order.refresh_from_db(fields=["pg_token", "status", "tid", "failure_message"])
        unsettled = (Order.Status.PENDING, Order.Status.HELD, Order.Status.APPROVING)
        if order.pg_token != pg_token and order.status in unsettled:
            return Answer(envelope.OK)  # kept: tried if KakaoPay refuses the stored pg_token
        if order.pg_token != pg_token:
            return Answer(envelope.INVALID_ORDER, order.failure_message or "이미 처리된 결제입니다.")
        if order.status in (Order.Status.FAILED, Order.Status.REFUNDING, Order.Status.CANCELLED):
            return Answer(envelope.INVALID_ORDER, order.failure_message or "이미 처리된 결제입니다.")
        if order.status == Order.Status.HELD:
            # T2 passed already: this T3 completes the pair. A replay enqueues again: harmless,
            # only one runner can claim the order.
            from .tasks import approve_order

            outbox_add(task=approve_order, args=[order.pk])  # sent after the commit, retried
    return Answer(envelope.OK)


def order_buyer_abandoned(*, kakao_app: KakaoApp, partner_order_id: str | None, failed: bool, params: dict) -> Answer:
    """The buyer cancelled (cancel_url) or failed (fail_url) at KakaoPay: F, stock given back."""
    order = (
        Order.objects.filter(partner_order_id=partner_order_id, kakao_app=kakao_app).first()
        if partner_order_id
        else None
    )
    if order is None:
        return Answer(envelope.INVALID_ORDER, "유효하지 않은 주문입니다.")
    kind = PaymentEvent.Kind.BUYER_FAILED if failed else PaymentEvent.Kind.BUYER_CANCELLED
    message = "결제에 실패했습니다. 다시 시도해 주세요." if failed else "결제를 취소하셨습니다."
    with transaction.atomic():
        changed = order_fail(
            order=order, reason="buyer_failed" if failed else "buyer_cancelled", message=message,
            from_states=(Order.Status.PENDING, Order.Status.HELD),
        )  # fmt: skip
        payment_event_record(order=order, kind=kind, request=params,
                             outcome=PaymentEvent.Outcome.OK if changed else PaymentEvent.Outcome.REPLAY)  # fmt: skip
    return Answer(envelope.OK)
