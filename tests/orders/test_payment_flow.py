"""The one-click payment flow end to end: our endpoints over HTTP, a real Celery worker on Redis and
PostgreSQL, the fake KakaoPay over HTTP.  Skipped on the embedded default (no broker)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections
from django.test import Client

from catalog.models import Option, StockHold
from orders.models import Order, OrderSheet, PaymentEvent
from tests.conftest import wait_until
from tests.support.payments import Buyer, make_product, make_sheet

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def settle(buyer: Buyer, timeout: float = 20.0) -> dict:
    """Poll T4 like Kakao does (every 0.05 s here) until it leaves W."""

    def done():
        data = buyer.t4()["data"]
        return data if data["order_status"] != "W" else None

    return wait_until(done, timeout=timeout, message=f"T4 of {buyer.partner_order_id} to leave W")


def approves(fake, tid: str | None = None) -> list[dict]:
    return [c for c in fake.calls("approve") if tid is None or c["params"].get("tid") == tid]


def test_full_flow_reaches_s_with_exactly_one_approve(celery_worker, fake_kakao, kakao_app, plugin_base):
    product, option = make_product(option_stock=5)
    sheet = make_sheet(kakao_app, product, option, quantity=2)
    buyer = Buyer(plugin_base, fake_kakao.url)
    assert buyer.t1(sheet.pk)["status"] == 200
    buyer.ready()
    buyer.authorize()
    assert buyer.t2() == {"status": 200}
    assert buyer.t4()["data"]["order_status"] == "W"
    assert buyer.t3() == {"status": 200}
    assert settle(buyer) == {"order_status": "S"}

    calls = approves(fake_kakao)
    assert len(calls) == 1
    sent, headers = calls[0]["params"], calls[0]["headers"]
    assert sent["cid"] == "TC0ONETIME" and sent["tid"] == buyer.tid and sent["pg_token"] == buyer.pg_token
    assert sent["partner_order_id"] == buyer.partner_order_id and sent["partner_user_id"] == "user-1"
    assert sent["cid_secret"] == "cidsecret0123456789abcd"
    assert headers["Authorization"] == "KakaoAK test-admin-key-0123456789"
    assert "x-www-form-urlencoded" in headers["Content-Type"]

    order = Order.objects.get(partner_order_id=buyer.partner_order_id)
    assert order.status == Order.Status.PAID and order.approved_amount == order.total_amount == 20000
    assert order.aid and order.approve_attempts == 1
    assert Option.objects.get(pk=option.pk).stock == 3
    assert StockHold.objects.get(reference=order.partner_order_id).state == StockHold.State.SOLD
    assert OrderSheet.objects.get(pk=sheet.pk).status == OrderSheet.Status.ORDERED
    kinds = list(order.events.values_list("kind", flat=True))
    for kind in ("t1_served", "t2_received", "t3_received", "approve_request", "approve_success"):
        assert kind in kinds
    # secrets are never stored
    request = order.events.get(kind=PaymentEvent.Kind.APPROVE_REQUEST).request
    assert "cid_secret" not in request and "test-admin-key" not in str(list(order.events.values()))
    # a second T1 on the paid sheet is refused
    assert Buyer(plugin_base, fake_kakao.url).t1(sheet.pk)["status"] == 300


def test_open_api_generation(celery_worker, fake_kakao, kakao_app, plugin_base):
    kakao_app.kakaopay_api = "open"
    kakao_app.save()
    product, option = make_product()
    buyer = Buyer(plugin_base, fake_kakao.url, generation="open", key="test-secret-key-0123456789")
    buyer.t1(make_sheet(kakao_app, product, option).pk)
    buyer.ready()
    buyer.authorize()
    buyer.t2()
    buyer.t3()
    assert settle(buyer) == {"order_status": "S"}
    (call,) = approves(fake_kakao)
    assert call["path"] == "/online/v1/payment/approve"
    assert call["headers"]["Authorization"] == "SECRET_KEY test-secret-key-0123456789"
    assert call["headers"]["Content-Type"].startswith("application/json")


def test_payment_t3_before_t2(celery_worker, fake_kakao, kakao_app, plugin_base):
    product, option = make_product()
    buyer = Buyer(plugin_base, fake_kakao.url)
    buyer.t1(make_sheet(kakao_app, product, option).pk)
    buyer.ready()
    buyer.authorize()
    assert buyer.t3() == {"status": 200}
    assert buyer.t4()["data"]["order_status"] == "W"
    assert not approves(fake_kakao)  # no tid, no hold yet: nothing to approve
    assert buyer.t2() == {"status": 200}
    assert settle(buyer) == {"order_status": "S"}
    assert len(approves(fake_kakao)) == 1


def test_payment_t3_sent_five_times_and_t2_twice_approve_once(celery_worker, fake_kakao, kakao_app, plugin_base):
    product, option = make_product()
    buyer = Buyer(plugin_base, fake_kakao.url)
    buyer.t1(make_sheet(kakao_app, product, option).pk)
    buyer.ready()
    buyer.authorize()
    assert buyer.t2() == {"status": 200}
    results = []
    threads = [threading.Thread(target=lambda: (results.append(buyer.t3()), connections.close_all())) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert buyer.t2() == {"status": 200}
    assert settle(buyer) == {"order_status": "S"}
    assert buyer.t3() == {"status": 200}
    from orders.tasks import approve_order

    order = Order.objects.get(partner_order_id=buyer.partner_order_id)
    approve_order.delay(order.pk)  # the task run twice more, after the fact
    approve_order.delay(order.pk)
    time.sleep(1.0)  # let the worker run them: each must find nothing to claim
    assert len(approves(fake_kakao)) == 1
    assert order.events.filter(kind="t3_received", outcome="replay").count() == 5
    assert Option.objects.get(pk=option.pk).stock == 4


def test_decline_is_f_with_kakaopays_message_and_stock_back(celery_worker, fake_kakao, kakao_app, plugin_base):
    product, option = make_product()
    buyer = Buyer(plugin_base, fake_kakao.url)
    buyer.t1(make_sheet(kakao_app, product, option).pk)
    buyer.ready()
    buyer.authorize()
    fake_kakao.fault("approve", "decline", match={"tid": buyer.tid}, message="카드 잔액이 부족합니다.")
    buyer.t2()
    buyer.t3()
    assert settle(buyer) == {"order_status": "F", "message": "카드 잔액이 부족합니다."}
    assert len(approves(fake_kakao)) == 1
    assert Option.objects.get(pk=option.pk).stock == 5
    order = Order.objects.get(partner_order_id=buyer.partner_order_id)
    failure = order.events.get(kind=PaymentEvent.Kind.APPROVE_FAILURE)
    assert failure.response["code"] == -780 and failure.http_status == 400
    assert OrderSheet.objects.get(pk=order.sheet_id).status == OrderSheet.Status.OPEN  # the buyer may retry


def test_approve_response_lost_but_succeeded_is_s_without_a_second_approve(celery_worker, fake_kakao, kakao_app, plugin_base):
    product, option = make_product()
    buyer = Buyer(plugin_base, fake_kakao.url)
    buyer.t1(make_sheet(kakao_app, product, option).pk)
    buyer.ready()
    buyer.authorize()
    fake_kakao.fault("approve", "lost", match={"tid": buyer.tid})
    buyer.t2()
    buyer.t3()
    assert settle(buyer) == {"order_status": "S"}
    assert len(approves(fake_kakao)) == 1
    assert len(fake_kakao.calls("order")) >= 1  # settled by the inquiry
    order = Order.objects.get(partner_order_id=buyer.partner_order_id)
    assert order.events.filter(kind=PaymentEvent.Kind.APPROVE_UNKNOWN).count() == 1
    assert order.aid and order.approved_amount == order.total_amount
    assert Option.objects.get(pk=option.pk).stock == 4


def test_kakaopay_500_is_retried_after_an_inquiry(celery_worker, fake_kakao, kakao_app, plugin_base):
    product, option = make_product()
    buyer = Buyer(plugin_base, fake_kakao.url)
    buyer.t1(make_sheet(kakao_app, product, option).pk)
    buyer.ready()
    buyer.authorize()
    fake_kakao.fault("approve", "error500", match={"tid": buyer.tid})
    buyer.t2()
    buyer.t3()
    assert settle(buyer) == {"order_status": "S"}
    inquiries = fake_kakao.calls("order")
    calls = approves(fake_kakao)
    assert len(calls) == 2 and len(inquiries) >= 1
    assert inquiries[0]["at"] < calls[1]["at"]  # asked before approving again
    assert fake_kakao.state()["kakaopay"]["tids"][buyer.tid]["approvals"] == 1


def test_amount_mismatch_is_cancelled_at_kakaopay_and_f(celery_worker, fake_kakao, kakao_app, plugin_base):
    product, option = make_product()
    buyer = Buyer(plugin_base, fake_kakao.url)
    buyer.t1(make_sheet(kakao_app, product, option).pk)
    buyer.ready(total_amount=buyer.t1_data["total_amount"] + 1000)  # KakaoPay was readied for another amount
    buyer.authorize()
    buyer.t2()
    buyer.t3()
    data = settle(buyer)
    assert data["order_status"] == "F" and "금액" in data["message"]
    wait_until(lambda: Order.objects.get(partner_order_id=buyer.partner_order_id).status == Order.Status.FAILED)
    (cancel,) = fake_kakao.calls("cancel")
    assert cancel["params"]["tid"] == buyer.tid and int(cancel["params"]["cancel_amount"]) == 11000
    tid_state = fake_kakao.state()["kakaopay"]["tids"][buyer.tid]
    assert tid_state["status"] == "CANCEL_PAYMENT"
    order = Order.objects.get(partner_order_id=buyer.partner_order_id)
    assert order.refunded_amount == 11000 and order.failure_reason == "amount_mismatch"
    assert Option.objects.get(pk=option.pk).stock == 5


def test_twenty_buyers_race_for_five_units(celery_worker, fake_kakao, kakao_app, plugin_base):
    product, option = make_product(option_stock=5)
    buyers = []
    for i in range(20):
        b = Buyer(plugin_base, fake_kakao.url, app_user_id=f"user-{i}", client=Client())
        b.t1(make_sheet(kakao_app, product, option, app_user_id=f"user-{i}").pk)
        b.ready()
        b.authorize()
        buyers.append(b)
    barrier = threading.Barrier(20)
    answers: dict[str, dict] = {}

    def run(b: Buyer):
        try:
            barrier.wait()
            answers[b.partner_order_id] = b.t2()
            b.t3()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(b,)) for b in buyers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes = [settle(b, timeout=40)["order_status"] for b in buyers]
    assert outcomes.count("S") == 5 and outcomes.count("F") == 15
    assert sum(1 for a in answers.values() if a == {"status": 200}) == 5
    paid_tids = {b.tid for b, o in zip(buyers, outcomes, strict=True) if o == "S"}
    approved_tids = {c["params"]["tid"] for c in approves(fake_kakao)}
    assert approved_tids == paid_tids  # no approve for any of the 15
    assert Option.objects.get(pk=option.pk).stock == 0
    assert StockHold.objects.filter(state="sold").count() == 5
    for b, o in zip(buyers, outcomes, strict=True):
        if o == "F":
            assert "품절" in b.t4()["data"]["message"]


@pytest.mark.django_db(transaction=True)
def test_payment_t4_survives_a_database_connection_dropped_under_it(client, kakao_app, plugin_base):
    """No per-request health check: T4 replaces a connection the database closed and answers."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("terminating a backend needs PostgreSQL")
    r = client.get(plugin_base + "order/status", {"order_id": "po_unknown"})
    assert r.json()["status"] == 300
    pid = connection.connection.info.backend_pid
    import psycopg2

    s = connection.settings_dict
    admin = psycopg2.connect(dbname=s["NAME"], user=s["USER"] or "postgres", host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    admin.close()
    r = client.get(plugin_base + "order/status", {"order_id": "po_unknown"})
    assert r.status_code == 200 and r.json()["status"] == 300
