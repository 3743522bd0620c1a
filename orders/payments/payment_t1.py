"""Payment T1 (CONTRACTS section 6): the order sheet becomes an order (a new payment attempt,
priced with delivery), and T1's data for KakaoPay's ready."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.models import Product
from kakaoplugin.lookups import one_or_none
from kakaoplugin.models import KakaoApp
from kakaoplugin.selectors import customer_is_blocked

from ..errors import OrderError
from ..models import Order, OrderLine, OrderSheet, OrderSheetLine, PaymentEvent, StoreRules
from ..pay_links import pay_url
from ..rules import shipping_fee, store_is_open, store_rules, vat_of
from ..subscriptions.signup import (
    automatic_payment,
    subscription_create_pending,
    subscription_plan_for,
    subscription_signup_amount,
)
from .ledger import (
    MSG_BAD_USER,
    MSG_BLOCKED,
    MSG_INVALID_SHEET,
    MSG_NOT_ON_SALE,
    MSG_SHEET_CLOSED,
    MSG_SHEET_OTHER_MODE,
    MSG_STORE_CLOSED,
    payment_event_record,
)


def _check_member(*, kakao_app: KakaoApp, owner: str | None, app_user_id: str | None) -> None:
    if owner and owner != app_user_id:
        raise OrderError(MSG_BAD_USER, code=OrderError.BAD_USER)
    if customer_is_blocked(kakao_app=kakao_app, app_user_id=app_user_id):
        raise OrderError(MSG_BLOCKED, code=OrderError.BLOCKED)


def _check_open(rules: StoreRules | None) -> None:
    if not store_is_open(rules):
        raise OrderError(rules.closed_message if rules else MSG_STORE_CLOSED, code=OrderError.STORE_CLOSED)


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

    Raises :class:`OrderError` ``invalid_order`` (sheet unknown/expired/paid), ``bad_user`` (not the
    sheet's owner), ``blocked`` (blocked member), ``store_closed``, ``over_limit`` or
    ``not_configured`` (a plan's product without a subscription CID).  Each call is a new payment
    attempt (a new ``partner_order_id``); at most one attempt per sheet can get past T2 (see
    ``payment_t2``).
    """
    sheet = one_or_none(OrderSheet.objects.select_related("product").filter(pk=ordersheet_id, kakao_app=kakao_app))
    if sheet is None:
        raise OrderError(MSG_INVALID_SHEET, code=OrderError.INVALID_ORDER)
    if sheet.status != OrderSheet.Status.OPEN or sheet.expires_at <= timezone.now():
        raise OrderError(MSG_SHEET_CLOSED, code=OrderError.INVALID_ORDER)
    if sheet.livemode != kakao_app.livemode:  # made in the other mode: its stock check was another counter's
        raise OrderError(MSG_SHEET_OTHER_MODE, code=OrderError.INVALID_ORDER)
    _check_member(kakao_app=kakao_app, owner=sheet.app_user_id, app_user_id=app_user_id)
    rules = store_rules(kakao_app)
    _check_open(rules)
    product = sheet.product
    if product is not None and not product.on_sale:
        raise OrderError(MSG_NOT_ON_SALE, code=OrderError.INVALID_ORDER)

    lines = list(sheet.lines.all())
    option_lines = [line for line in lines if line.catalog_option_id]
    tax_free_goods = product is not None and product.tax_type == Product.TaxType.TAX_FREE
    goods = sheet.total_amount
    fee = shipping_fee(rules, goods_amount=goods, use_shipping=sheet.use_shipping, zip_code=zip_code)
    total = goods + fee
    # Tax-free goods ship tax-free too (the delivery is incidental to them); otherwise the sheet's
    # own tax-free part (mixed sheets) and a taxable delivery.
    tax_free = total if tax_free_goods else min(sheet.tax_free_amount, goods)
    plan = subscription_plan_for(kakao_app=kakao_app, product=product)
    if plan is not None:  # 정기결제: this payment is the sign-up installment of the plan's schedule
        fee, goods = 0, subscription_signup_amount(plan=plan, quantity=sheet.quantity)
        total = goods
        tax_free = total if tax_free_goods else 0
    if not 0 <= total <= settings.ORDER_MAX_AMOUNT:  # the goods were capped at T2; the delivery fee was not
        raise OrderError(f"주문 금액이 한도 {settings.ORDER_MAX_AMOUNT:,}원을 넘습니다 (order total over the limit)",
                         code=OrderError.OVER_LIMIT)  # fmt: skip
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
        data["automatic_payment"] = automatic_payment(order=order)
    return data
