"""Test and live mode (issue 11, "Test apps never touch real stock").

A Kakao app in the ``test`` environment (KakaoPay test CID) sells the same products as the
production app, but its orders are test orders: ``livemode`` false on the sheet, the order and its
subscription (stamped at creation from the app), shown in the admin, the merchant API and webhooks,
and they take, hold, sell and give back the separate ``test_stock`` counter, never ``stock``.
"""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from catalog.models import Option, StockHold
from kakaoplugin.models import KakaoApp, WebhookEvent
from orders import payments
from orders.models import Order, OrderSheet
from tests.conftest import wait_until
from tests.support.payments import ADDRESS, Buyer, make_product, make_sheet
from tests.support.simulator import shop, tasks  # noqa: F401  (fixtures of the flash sale test)


def _app(name: str, environment: str) -> KakaoApp:
    return KakaoApp.objects.create(
        name=name,
        environment=environment,
        rest_api_key=f"{name}-rest-api-key",
        kakaopay_admin_key="test-admin-key-0123456789",
        cid="TC0ONETIME" if environment == "test" else "CID0000001",
        cid_secret="cidsecret0123456789abcd",
    )


@pytest.fixture
def test_app(db) -> KakaoApp:
    return _app("shop-test", KakaoApp.Environment.TEST)


@pytest.fixture
def live_app(db) -> KakaoApp:
    return _app("shop", KakaoApp.Environment.PRODUCTION)


def base(app: KakaoApp) -> str:
    return f"/plugin/{app.plugin_key}/"


def option_t2(client, app: KakaoApp, *, code: str = "P-1", option_id: str = "L"):
    body = {"id": code, "quantity": 1, "option_groups": [{"option_group_id": "size", "option_id": option_id}]}
    r = client.post(
        base(app) + "option", data=json.dumps(body), content_type="application/json",
        HTTP_X_KAKAO_APPUSERID="user-1", HTTP_X_KAKAO_PLUGIN_RELAY_ID="relay-1",
    )  # fmt: skip
    assert r.status_code == 200, r.content
    return r.json()


def option_t1_stock(client, app: KakaoApp, code: str = "P-1"):
    r = client.get(base(app) + "options", {"id": code})
    assert r.status_code == 200, r.content
    (option,) = r.json()["data"]["option_groups"][0]["option_sub_groups"][0]["options"]
    return option.get("stock")


def stocks(option: Option) -> tuple[int | None, int | None]:
    row = Option.objects.values("stock", "test_stock").get(pk=option.pk)
    return row["stock"], row["test_stock"]


def pay_until_held(client, app: KakaoApp, fake_kakao) -> Buyer:
    """Option T2 → payment T1 → KakaoPay ready → payment T2, over HTTP, through ``app``."""
    body = option_t2(client, app)
    assert body["status"] == 200, body
    buyer = Buyer(base(app), fake_kakao.url, client=client)
    assert buyer.t1(body["data"])["status"] == 200
    buyer.ready()
    buyer.authorize()
    return buyer


# --- HTTP: option T2, payment T1–T2 on the fake (no worker) ----------------------------------------


@pytest.mark.django_db
def test_a_test_app_payment_never_takes_real_stock(client, test_app, live_app, fake_kakao):
    """The reproduction: a payment through the test app took stock from the rows production sells."""
    product, option = make_product(option_stock=3)
    buyer = pay_until_held(client, test_app, fake_kakao)
    assert buyer.t2(ADDRESS) == {"status": 200}
    assert Option.objects.get(pk=option.pk).stock == 3  # real stock untouched
    order = Order.objects.get(partner_order_id=buyer.partner_order_id)
    assert order.livemode is False and order.sheet.livemode is False
    assert order.status == Order.Status.HELD
    # test stock unset (the default) is unlimited: nothing to hold, nothing real taken
    assert not StockHold.objects.filter(reference=order.partner_order_id).exists()
    # the production app still sells every real unit, and its order is live
    live = pay_until_held(client, live_app, fake_kakao)
    assert live.t2(ADDRESS) == {"status": 200}
    assert stocks(option) == (2, None)
    live_order = Order.objects.get(partner_order_id=live.partner_order_id)
    assert live_order.livemode is True and StockHold.objects.get(reference=live.partner_order_id).livemode is True
    # test orders look like live ones: the same lines and item name, whichever counter is limited
    assert order.item_name == live_order.item_name == "상품 P-1 L"
    assert list(order.lines.values_list("catalog_option", flat=True)) == [option.pk]


@pytest.mark.django_db
def test_sold_out_in_test_mode_with_test_stock_zero(client, test_app, live_app, fake_kakao):
    """How a merchant tests a sold-out product: test stock 0; the real stock is not involved."""
    product, option = make_product(option_stock=3)
    assert option_t1_stock(client, live_app) == 3  # cached for live mode first
    assert option_t1_stock(client, test_app) is None  # test stock unset: unlimited (omitted)
    Option.objects.filter(pk=option.pk).update(test_stock=0)
    from catalog.cache import invalidate_products

    invalidate_products(product_pks=[product.pk])  # the admin does this on save
    assert option_t1_stock(client, test_app) == 0
    assert option_t1_stock(client, live_app) == 3  # one cache entry per mode
    refused = option_t2(client, test_app)
    assert refused["status"] == 400 and "품절" in refused["message"], refused
    assert option_t2(client, live_app)["status"] == 200
    assert stocks(option) == (3, 0)


@pytest.mark.django_db
def test_payment_t2_sold_out_against_test_stock_and_the_sweeper_gives_test_stock_back(client, test_app, fake_kakao):
    product, option = make_product(option_stock=3)
    Option.objects.filter(pk=option.pk).update(test_stock=1)
    first = pay_until_held(client, test_app, fake_kakao)
    second = pay_until_held(client, test_app, fake_kakao)
    assert first.t2(ADDRESS) == {"status": 200}
    assert stocks(option) == (3, 0)
    assert second.t2(ADDRESS)["status"] == 300  # the test counter is empty: sold out
    assert second.t4()["data"]["order_status"] == "F"
    assert "품절" in second.t4()["data"]["message"]
    assert stocks(option) == (3, 0)
    # the first buyer never comes back: the sweep restores the counter that was taken
    assert payments.payment_sweep(now=timezone.now() + timezone.timedelta(minutes=16)) == 1
    assert stocks(option) == (3, 1)


@pytest.mark.django_db
def test_a_sheet_made_in_test_mode_is_not_paid_after_the_app_went_live(client, test_app, fake_kakao):
    product, option = make_product(option_stock=3)
    sheet = make_sheet(test_app, product, option)
    assert sheet.livemode is False
    test_app.environment = KakaoApp.Environment.PRODUCTION
    test_app.save()
    body = Buyer(base(test_app), fake_kakao.url, client=client).t1(sheet.pk)
    assert body["status"] == 300 and not Order.objects.exists()


@pytest.mark.django_db
def test_admin_shows_the_mode_and_filters_on_it(admin_client, test_app, live_app):
    product, option = make_product(option_stock=3)
    from orders.payments.payment_t1 import order_create_for_sheet

    test_order = order_create_for_sheet(
        kakao_app=test_app, ordersheet_id=make_sheet(test_app, product, option).pk, app_user_id="user-1",
        relay_id=None, zip_code=None,
    )  # fmt: skip
    live_order = order_create_for_sheet(
        kakao_app=live_app, ordersheet_id=make_sheet(live_app, product, option).pk, app_user_id="user-1",
        relay_id=None, zip_code=None,
    )  # fmt: skip
    page = admin_client.get("/admin/orders/order/?livemode__exact=0").content.decode()
    assert test_order.partner_order_id in page and live_order.partner_order_id not in page
    assert "실제 모드" in page  # the filter, in Korean (the default language)
    page = admin_client.get("/admin/orders/order/?livemode__exact=1").content.decode()
    assert live_order.partner_order_id in page and test_order.partner_order_id not in page
    assert admin_client.get("/admin/orders/ordersheet/?livemode__exact=0").status_code == 200
    assert admin_client.get("/admin/orders/subscription/?livemode__exact=0").status_code == 200
    page = admin_client.get(f"/admin/catalog/product/{product.pk}/change/").content.decode()
    assert "test_stock" in page


@pytest.mark.django_db
def test_merchant_api_shows_livemode(client, test_app):
    from merchant.services import api_key_create

    test_app.payment_plugin_id = "pay"
    test_app.save()
    make_product(option_stock=3)
    _, plain = api_key_create(kakao_app=test_app, name="k", scopes=["orders"], created_by="t")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {plain}"}
    r = client.post(
        "/api/v1/order-sheets", data=json.dumps({"product_id": "P-1", "quantity": 1,
        "option_groups": [{"option_group_id": "size", "option_id": "L"}]}), content_type="application/json", **auth,
    )  # fmt: skip
    assert r.status_code == 201, r.content
    assert r.json()["livemode"] is False
    sheet = OrderSheet.objects.get()
    buyer = Buyer(base(test_app), "http://unused", client=client)
    assert buyer.t1(sheet.pk)["status"] == 200
    r = client.get(f"/api/v1/orders/{buyer.partner_order_id}", **auth)
    assert r.status_code == 200 and r.json()["livemode"] is False
    r = client.get("/api/v1/orders", **auth)
    assert [o["livemode"] for o in r.json()["results"]] == [False]


# --- worker: money moves on PostgreSQL + Redis with a real Celery worker ---------------------------


def _settle(buyer: Buyer) -> dict:
    def done():
        data = buyer.t4()["data"]
        return data if data["order_status"] != "W" else None

    return wait_until(done, timeout=20, message="T4 to leave W")


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_worker_sells_and_refunds_the_counter_of_the_orders_mode(celery_worker, client, test_app, live_app, fake_kakao):
    product, option = make_product(option_stock=5)
    Option.objects.filter(pk=option.pk).update(test_stock=4)

    buyer = pay_until_held(client, test_app, fake_kakao)
    assert buyer.t2(ADDRESS) == {"status": 200}
    assert buyer.t3() == {"status": 200}
    assert _settle(buyer) == {"order_status": "S"}
    order = Order.objects.get(partner_order_id=buyer.partner_order_id)
    assert order.status == Order.Status.PAID and order.livemode is False
    assert StockHold.objects.get(reference=order.partner_order_id).state == StockHold.State.SOLD
    assert stocks(option) == (5, 3)  # sold from the test counter
    # order.paid is recorded by the worker just after the paying commit, after T4's publication
    paid = wait_until(lambda: WebhookEvent.objects.filter(
        type="order.paid", payload__data__order__partner_order_id=order.partner_order_id).first(), message="order.paid")  # fmt: skip
    assert paid.payload["livemode"] is False and paid.payload["data"]["order"]["livemode"] is False

    live = pay_until_held(client, live_app, fake_kakao)
    assert live.t2(ADDRESS) == {"status": 200}
    assert live.t3() == {"status": 200}
    assert _settle(live) == {"order_status": "S"}
    assert stocks(option) == (4, 3)
    # order.paid is recorded by the worker just after the paying commit, after T4's publication
    paid = wait_until(lambda: WebhookEvent.objects.filter(
        type="order.paid", payload__data__order__partner_order_id=live.partner_order_id).first(), message="order.paid")  # fmt: skip
    assert paid.payload["livemode"] is True and paid.payload["data"]["order"]["livemode"] is True

    # a full refund gives back to the counter that was taken
    assert payments.payment_refund(order_id=order.pk).full
    assert stocks(option) == (4, 4)
    assert payments.payment_refund(order_id=Order.objects.get(partner_order_id=live.partner_order_id).pk).full
    assert stocks(option) == (5, 4)


@pytest.mark.django_db(transaction=True)
def test_a_test_apps_subscription_and_its_charges_are_test(eager_tasks, test_app, fake_kakao):
    from datetime import date

    from orders.models import Subscription
    from orders.subscriptions import ChargeOutcome, subscription_charge
    from tests.support.subscriptions import make_plan, move_anchor, seoul, sign_up

    plan = make_plan(intro="0", amount=9900)
    test_app.subscription_cid = "TCSUBSCRIP"
    test_app.save()
    _, sub = sign_up(test_app, base(test_app), fake_kakao.url, plan)
    assert sub.state == Subscription.State.ACTIVE and sub.livemode is False
    assert sub.signup_order.livemode is False
    sub = move_anchor(sub, date(2024, 1, 31), seoul(2024, 2, 29))
    assert subscription_charge(subscription_id=sub.pk, now=seoul(2024, 2, 29, 10)) is ChargeOutcome.DONE
    child = sub.installments.get(seq=1).order
    assert child.livemode is False and child.status == Order.Status.PAID


# --- catalog.stock: the mode is given once, at the hold -------------------------------------------


@pytest.mark.django_db
def test_stock_operations_move_the_counter_the_hold_took():
    from datetime import timedelta

    from catalog.models import Product
    from catalog.stock import (
        OutOfStock,
        StockItem,
        stock_hold,
        stock_release,
        stock_renew,
        stock_restock,
        stock_sell,
    )

    product, option = make_product(option_stock=5)
    Option.objects.filter(pk=option.pk).update(test_stock=2)
    Product.objects.filter(pk=product.pk).update(stock=7, test_stock=1)
    later = timezone.now() + timedelta(minutes=15)
    items = [StockItem(quantity=2, option_pk=option.pk), StockItem(quantity=1, product_pk=product.pk)]
    stock_hold(reference="t1", items=items, expires_at=later, livemode=False)
    assert stocks(option) == (5, 0)
    assert Product.objects.values_list("stock", "test_stock").get(pk=product.pk) == (7, 0)
    with pytest.raises(OutOfStock):  # the test counter is empty; the real one is not consulted
        stock_hold(reference="t2", items=items[:1], expires_at=later, livemode=False)
    stock_hold(reference="l1", items=items[:1], expires_at=later, livemode=True)
    assert stocks(option) == (3, 0)
    assert stock_release(reference="t1") == 3
    assert stocks(option) == (3, 2)
    assert Product.objects.values_list("stock", "test_stock").get(pk=product.pk) == (7, 1)
    stock_renew(reference="t1", expires_at=later)  # taken again from the test counter
    assert stocks(option) == (3, 0)
    stock_sell(reference="t1")
    assert stock_restock(reference="t1") == 3
    assert stocks(option) == (3, 2)
    assert stock_release(reference="l1") == 2
    assert stocks(option) == (5, 2)


@pytest.mark.django_db
def test_admin_grid_and_csv_edit_test_stock_and_test_option_t1_follows(admin_client, client, test_app, live_app):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    product, option = make_product(option_stock=3)
    assert option_t1_stock(client, test_app) is None and option_t1_stock(client, live_app) == 3
    grid = reverse("admin:catalog_product_grid", args=[product.pk])
    assert f'name="test_stock-{option.pk}"' in admin_client.get(grid).content.decode()
    post = {"option": [str(option.pk)], f"value-{option.pk}": "L", f"stock-{option.pk}": "3",
            f"test_stock-{option.pk}": "0"}  # fmt: skip
    assert admin_client.post(grid, post).status_code == 302
    assert stocks(option) == (3, 0)
    assert option_t1_stock(client, test_app) == 0 and option_t1_stock(client, live_app) == 3
    csv_url = reverse("admin:catalog_product_grid_csv", args=[product.pk])
    lines = admin_client.get(csv_url).content.decode("utf-8-sig").splitlines()
    assert lines[0].endswith(",extra,test_stock") and lines[1].endswith(",3,,,,0")
    upload = SimpleUploadedFile("o.csv", (lines[0] + "\n" + lines[1][:-1] + "7\n").encode(), content_type="text/csv")
    assert admin_client.post(grid, {"csv": upload}).status_code == 302
    assert stocks(option) == (3, 7)
    assert option_t1_stock(client, test_app) == 7


# --- the simulator's flash sale through a test app (as bin/run's demo app is) ------------------------


@pytest.mark.django_db(transaction=True)
def test_flash_sale_through_a_test_app_sells_test_stock_only(request, live_server, fake_kakao):
    from django.db import connection

    from tests.support.simulator import simulate

    request.getfixturevalue("tasks")
    app = request.getfixturevalue("shop")
    app.environment = KakaoApp.Environment.TEST
    app.save(update_fields=["environment"])
    concurrency = 8 if connection.vendor == "postgresql" else 1
    output = simulate(app, live_server, fake_kakao, buyers=8, stock=3, concurrency=concurrency)
    assert "PASS  flash sale: 3 successes, 0 oversold, 0 double charges (8 buyers, 3 units)" in output, output
    option = Option.objects.get(product__code="sim:flash-sale")
    assert stocks(option) == (3, 0)  # the real stock was set to 3 too and nobody took it
    sold = Order.objects.filter(status=Order.Status.PAID, lines__catalog_option=option).distinct()
    assert sold.count() == 3 and not sold.filter(livemode=True).exists()
    assert StockHold.objects.filter(option=option, state=StockHold.State.SOLD, livemode=False).count() == 3
