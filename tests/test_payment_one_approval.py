"""One KakaoPay approval pays one order: a tid belongs to one order, every KakaoPay answer that can
settle an order is checked against the order before it settles anything, a refused pg_token does
not fail the order, T3 needs the order's buyer.

Worker tests run our endpoints over HTTP with a real Celery worker (PostgreSQL + Redis) and the fake
KakaoPay over HTTP; the others call the payment engine in-process against the same fake."""

from __future__ import annotations

import time

import pytest
import requests

from catalog.models import Option
from kakaoplugin.models import WebhookEvent
from orders.models import Order, PaymentEvent
from tests.conftest import wait_until
from tests.test_payment_kit import Buyer, make_product, make_sheet

worker = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def settle(buyer: Buyer, timeout: float = 20.0) -> dict:
    def done():
        data = buyer.t4()["data"]
        return data if data["order_status"] != "W" else None

    return wait_until(done, timeout=timeout, message=f"T4 of {buyer.partner_order_id} to leave W")


def pay(kakao_app, plugin_base, fake_kakao, product, option, **buyer_kw) -> Buyer:
    """A buyer who completes a payment (T1, ready, authorize, T2, T3) and waits for S."""
    buyer = Buyer(plugin_base, fake_kakao.url, **buyer_kw)
    buyer.t1(make_sheet(kakao_app, product, option, app_user_id=buyer.app_user_id).pk)
    buyer.ready()
    buyer.authorize()
    assert buyer.t2() == {"status": 200}
    assert buyer.t3() == {"status": 200}
    assert settle(buyer) == {"order_status": "S"}
    return buyer


def approve_at_fake(fake_kakao, buyer: Buyer, **params) -> dict:
    """Approve a tid at the fake directly (what another integration holding the key would do)."""
    body = {"cid": "TC0ONETIME", "tid": buyer.tid, "partner_order_id": buyer.partner_order_id,
            "partner_user_id": buyer.t1_data["partner_user_id"], "pg_token": buyer.pg_token} | params  # fmt: skip
    r = requests.post(fake_kakao.url + "/v1/payment/approve", data=body,
                      headers={"Authorization": "KakaoAK test-admin-key-0123456789"}, timeout=5)  # fmt: skip
    r.raise_for_status()
    return r.json()


def paid_webhooks(order: Order) -> int:
    return WebhookEvent.objects.filter(idempotency_key=f"order.paid:{order.partner_order_id}").count()


# --- the reproduction of issue 11 ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_a_paid_tid_and_its_pg_token_cannot_pay_a_second_order(celery_worker, fake_kakao, kakao_app, plugin_base):
    """Order A paid with tid A; order B (same amount) sends T2 with tid A, then T3 with A's pg_token,
    while KakaoPay's approve answers 5xx once (so an inquiry of tid A would say SUCCESS_PAYMENT)."""
    product, option = make_product(option_stock=5)
    a = pay(kakao_app, plugin_base, fake_kakao, product, option)
    order_a = Order.objects.get(partner_order_id=a.partner_order_id)

    b = Buyer(plugin_base, fake_kakao.url)
    b.t1(make_sheet(kakao_app, product, option).pk)
    assert b.t1_data["total_amount"] == a.t1_data["total_amount"]
    fake_kakao.fault("approve", "error500", match={"tid": a.tid})
    answer = b.t2(tid=a.tid)
    assert answer["status"] == 400 and "다른 주문" in answer["message"]
    b.t3(pg_token=a.pg_token)
    time.sleep(1.5)  # give the worker every chance to (wrongly) settle B

    order_b = Order.objects.get(partner_order_id=b.partner_order_id)
    assert order_b.status == Order.Status.PENDING and order_b.tid == ""
    assert b.t4()["data"]["order_status"] == "W"
    assert order_b.events.get(kind=PaymentEvent.Kind.T2_RECEIVED).outcome == PaymentEvent.Outcome.REFUSED
    assert Option.objects.get(pk=option.pk).stock == 4  # sold once
    assert paid_webhooks(order_a) == 1 and paid_webhooks(order_b) == 0
    assert fake_kakao.state()["kakaopay"]["tids"][a.tid]["approvals"] == 1
    assert all(c["params"]["partner_order_id"] == a.partner_order_id for c in fake_kakao.calls("approve"))
    order_a.refresh_from_db()
    assert order_a.status == Order.Status.PAID and order_a.tid == a.tid
