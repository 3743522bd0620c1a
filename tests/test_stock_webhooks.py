"""Stock webhooks (issue 16): ``option.low_stock`` and ``product.sold_out``, once per crossing,
re-armed by a restock, from every path that moves live stock, delivered signed to the receivers."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import Option, OptionGroup, OptionSubGroup, Product, ProductStockState
from catalog.services import options_bulk_update
from catalog.stock import StockItem, stock_hold, stock_release, stock_restock, stock_sell
from catalog.stock_alerts import OPTION_LOW_STOCK, PRODUCT_SOLD_OUT
from catalog.stock_sync import stock_apply
from kakaoplugin import signing
from kakaoplugin.models import KakaoApp, WebhookDelivery, WebhookEvent
from kakaoplugin.services import api_key_create, webhook_endpoint_create
from tests.test_webhooks_and_keys import Receiver


def _product(code="SW-1", *, stocks=(5,), threshold=None) -> tuple[Product, list[Option]]:
    product = Product.objects.create(code=code, name=f"상품 {code}", price=1000, low_stock_threshold=threshold)
    group = OptionGroup.objects.create(product=product, group_id="size", name="사이즈")
    sub = OptionSubGroup.objects.create(product=product, group=group, sub_group_id="size")
    options = [
        Option.objects.create(product=product, sub_group=sub, option_id=f"o{i}", value=f"V{i}", position=i, stock=s, extra=f"SKU-{code}-{i}")
        for i, s in enumerate(stocks)
    ]  # fmt: skip
    return product, options


def _later():
    return timezone.now() + timedelta(minutes=15)


def _buy(reference: str, option: Option | None = None, quantity: int = 1, *, product: Product | None = None, livemode=True):
    item = StockItem(quantity=quantity, option_pk=option.pk) if option else StockItem(quantity=quantity, product_pk=product.pk)
    return stock_hold(reference=reference, items=[item], expires_at=_later(), livemode=livemode)


def _events(event_type: str | None = None) -> list[dict]:
    qs = WebhookEvent.objects.order_by("created_at")
    if event_type:
        qs = qs.filter(type=event_type)
    return [e.payload for e in qs]


@pytest.fixture
def subscribed(kakao_app):
    """The live app with one endpoint taking every event type (the deliveries are not sent here)."""
    return webhook_endpoint_create(kakao_app=kakao_app, url="http://127.0.0.1:9/hooks")


@pytest.mark.django_db
def test_low_stock_emits_once_per_crossing_and_a_restock_rearms_it(subscribed):
    product, (opt,) = _product(stocks=(5,), threshold=3)
    _buy("r1", opt, 1)  # 4: above the threshold
    assert _events() == []
    _buy("r2", opt, 1)  # 3: at the threshold: crossed
    _buy("r3", opt, 2)  # 1: still below, no second event
    (event,) = _events(OPTION_LOW_STOCK)
    assert event["livemode"] is True
    assert event["data"] == {
        "product": {"id": "SW-1", "name": "상품 SW-1"},
        "option": {"id": "o0", "sub_group_id": "size", "path": "V0"},
        "stock": 3,
        "threshold": 3,
    }
    stock_release(reference="r3")  # back to 3: not above the threshold, still announced
    assert Option.objects.get(pk=opt.pk).low_stock_notified_at is not None
    stock_release(reference="r2")  # 4: above: re-armed
    assert Option.objects.get(pk=opt.pk).low_stock_notified_at is None
    assert len(_events(OPTION_LOW_STOCK)) == 1
    _buy("r4", opt, 2)  # 2: a second crossing, a second event (another idempotency key)
    stock_sell(reference="r4")
    assert [e["data"]["stock"] for e in _events(OPTION_LOW_STOCK)] == [3, 2]
    assert len(set(WebhookEvent.objects.values_list("idempotency_key", flat=True))) == 2
    assert _events(PRODUCT_SOLD_OUT) == []


@pytest.mark.django_db
def test_sold_out_when_every_stocked_option_is_gone_and_again_after_a_restock(subscribed):
    product, (a, b) = _product(stocks=(1, 2))
    _buy("r1", a)  # a: 0, b: 2: not sold out
    assert _events() == []
    _buy("r2", b, 2)  # b: 0: sold out
    (event,) = _events(PRODUCT_SOLD_OUT)
    assert event["data"] == {"product": {"id": "SW-1", "name": "상품 SW-1"}, "stock": 0, "stocked_options": 2}
    stock_sell(reference="r2")
    assert ProductStockState.objects.get(product=product).sold_out_at is not None
    stock_restock(reference="r2")  # a refund puts b's 2 back: re-armed
    assert ProductStockState.objects.get(product=product).sold_out_at is None
    _buy("r3", b, 2)
    assert len(_events(PRODUCT_SOLD_OUT)) == 2
    assert _events(OPTION_LOW_STOCK) == []  # no threshold, no low-stock events


@pytest.mark.django_db
def test_a_product_without_options_uses_its_own_stock(subscribed):
    product = Product.objects.create(code="PLAIN", name="plain", price=1, stock=3, low_stock_threshold=1)
    _buy("r1", product=product)  # 2
    _buy("r2", product=product)  # 1: low
    _buy("r3", product=product)  # 0: sold out (and still low: no second low event)
    low, sold = _events(OPTION_LOW_STOCK), _events(PRODUCT_SOLD_OUT)
    assert [e["data"] for e in low] == [{"product": {"id": "PLAIN", "name": "plain"}, "option": None, "stock": 1, "threshold": 1}]
    assert [e["data"]["stock"] for e in sold] == [0]
    stock_release(reference="r3")
    stock_release(reference="r2")  # 2: above the threshold, in stock: both re-armed
    state = ProductStockState.objects.get(product=product)
    assert (state.sold_out_at, state.low_stock_at) == (None, None)


@pytest.mark.django_db
def test_test_orders_move_test_stock_and_emit_nothing(subscribed):
    product, (opt,) = _product(stocks=(1,), threshold=1)
    Option.objects.filter(pk=opt.pk).update(test_stock=1)
    _buy("t1", opt, livemode=False)
    assert Option.objects.get(pk=opt.pk).test_stock == 0
    assert _events() == [] and not ProductStockState.objects.exists()


@pytest.mark.django_db
def test_bulk_paths_emit_too_stock_patch_grid_and_a_new_threshold(subscribed):
    product, (a, b) = _product(stocks=(10, 10))
    # PATCH /stock's service: b set to 0, a adjusted to 2 → nothing yet (no threshold), b alone is not sold out
    stock_apply(rows=[{"sku": "SKU-SW-1-1", "set": 0}, {"product_id": "SW-1", "option_path": "V0", "adjust": -8}])
    assert _events() == []
    # a threshold set on the product (admin or API): the already low option crosses now
    Product.objects.filter(pk=product.pk).update(low_stock_threshold=2)
    options_bulk_update(product=product, changes={})  # nothing changed: no check either
    assert _events() == []
    options_bulk_update(product=product, changes={a.pk: {"stock": 1}})  # the admin grid
    low = _events(OPTION_LOW_STOCK)
    assert sorted((e["data"]["option"]["id"], e["data"]["stock"]) for e in low) == [("o0", 1), ("o1", 0)]
    stock_apply(rows=[{"sku": "SKU-SW-1-0", "set": 0}])
    assert len(_events(PRODUCT_SOLD_OUT)) == 1
    stock_apply(rows=[{"sku": "SKU-SW-1-0", "set": 0}])  # the same again: nothing new
    stock_apply(rows=[{"sku": "SKU-SW-1-1", "adjust": 5}])  # 5 > 2: b re-armed, product re-armed
    assert Option.objects.get(pk=b.pk).low_stock_notified_at is None
    assert ProductStockState.objects.get(product=product).sold_out_at is None
    assert len(_events()) == 3


@pytest.mark.django_db
def test_catalog_api_sets_and_answers_the_threshold(kakao_app, subscribed):
    from tests.test_merchant_catalog_api import DEMO, PID, product_body

    _, plain = api_key_create(kakao_app=kakao_app, name="erp", scopes=["catalog"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {plain}"}
    from django.test import Client

    client = Client()
    r = client.put(f"/api/v1/products/{PID}", json.dumps(product_body(low_stock_threshold=5)), content_type="application/json", **auth)
    assert r.status_code == 201, r.json()
    got = client.get(f"/api/v1/products/{PID}", **auth).json()
    assert got["low_stock_threshold"] == 5
    assert Product.objects.get(code=PID).low_stock_threshold == 5
    listed = client.get("/api/v1/products", **auth).json()
    assert listed["results"][0]["low_stock_threshold"] == 5
    # stock PATCHed below it over HTTP: one event per option crossed
    leaf = Option.objects.filter(product__code=PID, stock__isnull=False).order_by("pk").first()
    r = client.patch("/api/v1/stock", json.dumps({"rows": [{"product_id": PID, "sub_group_id": leaf.sub_group.sub_group_id,
                                                             "option_id": leaf.option_id, "set": 4}]}),
                     content_type="application/json", **auth)  # fmt: skip
    assert r.status_code == 200, r.json()
    (event,) = _events(OPTION_LOW_STOCK)
    assert event["data"]["option"]["id"] == leaf.option_id and event["data"]["stock"] == 4
    assert event["data"]["product"]["id"] == PID == DEMO["id"]


@pytest.mark.django_db
def test_sent_to_every_active_subscribed_app(kakao_app):
    other = KakaoApp.objects.create(name="second-app", rest_api_key="k2", cid="TC0ONETIME")
    quiet = KakaoApp.objects.create(name="orders-only", rest_api_key="k3", cid="TC0ONETIME")
    off = KakaoApp.objects.create(name="inactive", rest_api_key="k4", cid="TC0ONETIME", is_active=False)
    webhook_endpoint_create(kakao_app=kakao_app, url="http://127.0.0.1:9/a", event_types=[PRODUCT_SOLD_OUT])
    webhook_endpoint_create(kakao_app=other, url="http://127.0.0.1:9/b")
    webhook_endpoint_create(kakao_app=quiet, url="http://127.0.0.1:9/c", event_types=["order.paid"])
    webhook_endpoint_create(kakao_app=off, url="http://127.0.0.1:9/d")
    product, (opt,) = _product(stocks=(1,), threshold=1)
    _buy("r1", opt)
    sold = WebhookEvent.objects.filter(type=PRODUCT_SOLD_OUT)
    assert sorted(sold.values_list("kakao_app__name", flat=True)) == ["second-app", "test-app"]
    low = WebhookEvent.objects.filter(type=OPTION_LOW_STOCK)
    assert list(low.values_list("kakao_app__name", flat=True)) == ["second-app"]
    assert all(e.payload["livemode"] is True for e in WebhookEvent.objects.all())


@pytest.mark.django_db
def test_delivered_signed_to_the_receiver(kakao_app, django_capture_on_commit_callbacks, eager_tasks):
    receiver = Receiver()
    try:
        endpoint = webhook_endpoint_create(kakao_app=kakao_app, url=receiver.url, event_types=[PRODUCT_SOLD_OUT])
        product, (opt,) = _product(stocks=(1,), threshold=0)
        with django_capture_on_commit_callbacks(execute=True):
            _buy("r1", opt)
        (got,) = receiver.received  # low stock was not subscribed to
        assert signing.verify(endpoint.secret, got["headers"]["X-Webhook-Signature"], got["body"])
        assert got["headers"]["X-Webhook-Event"] == PRODUCT_SOLD_OUT
        payload = json.loads(got["body"])
        assert payload["type"] == PRODUCT_SOLD_OUT and payload["data"]["product"]["id"] == "SW-1"
        assert WebhookDelivery.objects.get().status == "delivered"
    finally:
        receiver.close()


@pytest.mark.django_db
def test_a_hold_that_crosses_nothing_costs_one_query(subscribed):
    product, (opt,) = _product(stocks=(100,), threshold=3)
    Option.objects.filter(pk=opt.pk).update(test_stock=100)
    with CaptureQueriesContext(connection) as test_mode:
        _buy("t1", opt, livemode=False)  # test stock: no check at all
    with CaptureQueriesContext(connection) as live:
        _buy("r1", opt)
    assert len(live.captured_queries) == len(test_mode.captured_queries) + 1


@pytest.mark.django_db(transaction=True)
def test_flash_sale_last_units_emit_sold_out_exactly_once():
    """Ten options of one unit each, two buyers per option at once: the last unit of the product
    is taken by whichever buyer commits last, and every one of them checks while others have not
    committed yet; the state row's lock makes exactly one of them announce it."""
    if connection.vendor != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL")
    app = KakaoApp.objects.create(name="flash-app", rest_api_key="k", cid="TC0ONETIME")
    webhook_endpoint_create(kakao_app=app, url="http://127.0.0.1:9/hooks")
    product, options = _product("FLASH", stocks=(1,) * 10, threshold=0)
    results: list[str] = []
    barrier = threading.Barrier(20)

    def buy(i):
        try:
            barrier.wait()
            _buy(f"f{i}", options[i % 10])
            results.append("held")
        except Exception as exc:  # OutOfStock for the second buyer of an option
            results.append(type(exc).__name__)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=buy, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("held") == 10 and results.count("OutOfStock") == 10, results
    assert WebhookEvent.objects.filter(type=PRODUCT_SOLD_OUT).count() == 1
    assert WebhookEvent.objects.filter(type=OPTION_LOW_STOCK).count() == 10
    assert ProductStockState.objects.get(product=product).sold_out_at is not None


@pytest.mark.django_db
def test_admin_sets_the_threshold_and_the_save_announces_what_is_already_low(admin_client, subscribed):
    from django.urls import reverse

    from tests.support.admin_forms import form_data, form_errors

    product, (a, b) = _product(stocks=(2, 9))
    url = reverse("admin:catalog_product_change", args=[product.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="low_stock_threshold"' in page
    data = form_data(page)
    data["low_stock_threshold"] = "3"
    r = admin_client.post(url, data)
    assert r.status_code == 302, form_errors(r)
    assert Product.objects.get(pk=product.pk).low_stock_threshold == 3
    (event,) = _events(OPTION_LOW_STOCK)
    assert event["data"]["option"]["id"] == "o0" and event["data"]["threshold"] == 3
    # saved again unchanged: nothing new; the threshold emptied: re-armed
    assert admin_client.post(url, form_data(admin_client.get(url).content.decode())).status_code == 302
    assert len(_events(OPTION_LOW_STOCK)) == 1
    data = form_data(admin_client.get(url).content.decode())
    data["low_stock_threshold"] = ""
    assert admin_client.post(url, data).status_code == 302
    assert Option.objects.get(pk=a.pk).low_stock_notified_at is None


@pytest.mark.django_db
def test_many_crossings_in_one_write_cost_a_fixed_number_of_queries_and_all_arrive(
    kakao_app, django_capture_on_commit_callbacks, eager_tasks
):
    receiver = Receiver()
    try:
        webhook_endpoint_create(kakao_app=kakao_app, url=receiver.url, event_types=[OPTION_LOW_STOCK])
        product, options = _product("MANY", stocks=(10,) * 60, threshold=2)
        rows = [{"sku": o.extra, "set": 1} for o in options]
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            with CaptureQueriesContext(connection) as queries:
                stock_apply(rows=rows)
        assert WebhookEvent.objects.filter(type=OPTION_LOW_STOCK).count() == 60
        assert len(queries.captured_queries) < 45  # not ~8 per event
        # 60 deliveries > WEBHOOK_BURST: one message, fanned out by the (here eager) worker
        sent = [getattr(c, "args", [None])[0] for c in callbacks]
        tasks = [m.task for m in sent if m is not None and hasattr(m, "task")]
        assert tasks.count("kakaoplugin.tasks.deliver_webhooks") == 1
        assert "kakaoplugin.tasks.deliver_webhook" not in tasks
        assert len(receiver.received) == 60
        ids = {json.loads(r["body"])["data"]["option"]["id"] for r in receiver.received}
        assert ids == {o.option_id for o in options}
        assert WebhookDelivery.objects.filter(status="delivered").count() == 60
    finally:
        receiver.close()


@pytest.mark.django_db
def test_emit_many_skips_keys_already_recorded(kakao_app, subscribed):
    from kakaoplugin.services import webhook_emit, webhook_emit_many

    first = webhook_emit(kakao_app=kakao_app, event_type="x.y", data={"n": 1}, idempotency_key="k1")
    created = webhook_emit_many(kakao_app=kakao_app, event_type="x.y", events=[("k1", {"n": 2}), ("k2", {"n": 3}), ("k2", {"n": 4})])
    assert [e.idempotency_key for e in created] == ["k2"]
    assert WebhookEvent.objects.get(idempotency_key="k1").pk == first.pk
    assert WebhookEvent.objects.get(idempotency_key="k2").payload["data"] == {"n": 3}
    assert WebhookDelivery.objects.count() == 2  # one endpoint, two events
