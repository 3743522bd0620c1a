"""Payment T1, T2 and T4 rules over HTTP (no worker needed): the sheet, the member, the store's
hours, shipping (Jeju), tax, the relay wrapping, stock at T2, T4's codes and its single query."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import Option, Product, StockHold
from kakaoplugin.models import Customer
from orders.models import (
    BusinessHours,
    ClosedDate,
    Order,
    OrderSheet,
    PaymentEvent,
    RemoteAreaRange,
    StoreRules,
)
from orders.pay_links import pay_token
from orders.rules import store_is_open
from tests.support.payments import ADDRESS, JEJU_ADDRESS, Buyer, make_product, make_sheet

pytestmark = pytest.mark.django_db
SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture
def rules(kakao_app):
    r = StoreRules.objects.create(
        kakao_app=kakao_app, enforce_business_hours=False, shipping_base_fee=3000, free_shipping_threshold=50000
    )
    RemoteAreaRange.objects.create(rules=r, name="제주", zip_from="63000", zip_to="63644", surcharge=3000)
    return r


@pytest.fixture
def buyer(plugin_base, fake_kakao):
    return Buyer(plugin_base, fake_kakao.url)


def test_payment_t1_answers_the_contract_fields_with_numbers_and_a_once_encoded_relay(kakao_app, buyer, rules, settings):
    settings.PUBLIC_BASE_URL = "https://shop.example.com"
    kakao_app.order_agreements = [{"company": "가맹회사", "title": "구매조건 확인 및 결제진행 동의", "url": "https://shop.example.com/terms"}]
    kakao_app.available_cards = ["HANA", "BC"]
    kakao_app.payment_method_type = "CARD"
    kakao_app.save()
    product, option = make_product(price=12000)
    sheet = make_sheet(kakao_app, product, option, quantity=2)
    body = buyer.t1(sheet.pk)
    assert body["status"] == 200, body
    d = body["data"]
    assert d["rest_api_key"] == "test-rest-api-key" and d["cid"] == "TC0ONETIME"
    assert d["cid_secret"] == "cidsecret0123456789abcd"
    assert d["partner_order_id"].startswith("po_") and len(d["partner_order_id"]) <= 100
    assert d["partner_user_id"] == "user-1"
    assert d["item_name"] == "상품 P-1 L" and d["item_code"] == "P-1" and d["quantity"] == 2
    # 24000 goods + 3000 shipping (below the 50000 threshold); all taxable; VAT explicit
    assert (d["total_amount"], d["tax_free_amount"], d["vat_amount"]) == (27000, 0, 2455)
    assert all(isinstance(d[k], int) for k in ("quantity", "total_amount", "tax_free_amount", "vat_amount"))
    order = Order.objects.get(partner_order_id=d["partner_order_id"])
    t3 = f"https://shop.example.com/pay/{d['partner_order_id']}/approval/{pay_token(order=order, action='approval')}"
    assert d["approval_url"] == "https://talk-plugin.kakao.com/kakaopay/callback?approval_url=" + urllib.parse.quote(t3, safe="")
    assert "%25" not in d["approval_url"]  # encoded once, not twice
    assert d["cancel_url"] == f"https://shop.example.com/pay/{d['partner_order_id']}/cancel/{pay_token(order=order, action='cancel')}"
    assert d["fail_url"] == f"https://shop.example.com/pay/{d['partner_order_id']}/fail/{pay_token(order=order, action='fail')}"
    assert all(len(d[k]) <= 255 for k in ("approval_url", "cancel_url", "fail_url"))
    assert d["available_cards"] == ["HANA", "BC"] and d["payment_method_type"] == "CARD"
    assert d["order_agreements"][0]["company"] == "가맹회사"
    assert d["use_shipping"] is True and d["product_urls"] == ["https://shop.example.com/p/P-1"]
    order = Order.objects.get(partner_order_id=d["partner_order_id"])
    assert order.relay_id == "relay-1" and order.status == Order.Status.PENDING
    assert order.events.filter(kind=PaymentEvent.Kind.T1_SERVED).count() == 1


def test_payment_t1_unwrapped_approval_url_when_the_app_is_on_kakaopays_acl(kakao_app, buyer):
    kakao_app.wrap_approval_url = False
    kakao_app.save()
    product, option = make_product()
    d = buyer.t1(make_sheet(kakao_app, product, option).pk)["data"]
    order = Order.objects.get(partner_order_id=d["partner_order_id"])
    assert d["approval_url"].endswith(f"/pay/{order.partner_order_id}/approval/{pay_token(order=order, action='approval')}")


def test_jeju_zip_adds_the_remote_area_surcharge_even_with_free_shipping(kakao_app, buyer, rules):
    product, option = make_product(price=60000)
    d = buyer.t1(make_sheet(kakao_app, product, option).pk, zip_code="63309")["data"]
    assert d["total_amount"] == 63000  # free base shipping from 50000, +3000 for Jeju
    d = buyer.t1(make_sheet(kakao_app, product, option).pk, zip_code="13494")["data"]
    assert d["total_amount"] == 60000


def test_tax_free_goods_are_sent_tax_free_with_zero_vat(kakao_app, buyer, rules):
    product, option = make_product(price=10000, tax_type=Product.TaxType.TAX_FREE)
    d = buyer.t1(make_sheet(kakao_app, product, option).pk)["data"]
    assert (d["total_amount"], d["tax_free_amount"], d["vat_amount"]) == (13000, 13000, 0)


def test_no_shipping_for_products_that_do_not_ship(kakao_app, buyer, rules):
    product, option = make_product(price=10000, needs_shipping=False)
    d = buyer.t1(make_sheet(kakao_app, product, option).pk, zip_code="63309")["data"]
    assert d["use_shipping"] is False and d["total_amount"] == 10000


def test_payment_t1_codes(kakao_app, buyer, plugin_base, fake_kakao):
    product, option = make_product()
    assert buyer.t1("os_does-not-exist")["status"] == 300
    expired = make_sheet(kakao_app, product, option)
    OrderSheet.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert buyer.t1(expired.pk)["status"] == 300
    paid = make_sheet(kakao_app, product, option)
    OrderSheet.objects.filter(pk=paid.pk).update(status=OrderSheet.Status.ORDERED)
    assert buyer.t1(paid.pk)["status"] == 300
    sheet = make_sheet(kakao_app, product, option)
    stranger = Buyer(plugin_base, fake_kakao.url, app_user_id="someone-else")
    body = stranger.t1(sheet.pk)
    assert body["status"] == 400 and body["message"]
    assert Buyer(plugin_base, fake_kakao.url, app_user_id=None).t1(sheet.pk)["status"] == 400
    Customer.objects.create(kakao_app=kakao_app, app_user_id="user-1", blocked=True)
    assert buyer.t1(sheet.pk)["status"] == 401
    assert not Order.objects.exists()


def test_store_closed_is_301_at_payment_t1_and_t2(kakao_app, buyer, rules, fake_kakao):
    product, option = make_product()
    sheet = make_sheet(kakao_app, product, option)
    assert buyer.t1(sheet.pk)["status"] == 200
    buyer.ready()
    ClosedDate.objects.create(rules=rules, date=timezone.now().astimezone(SEOUL).date(), reason="정기 휴무")
    body = buyer.t2()
    assert body["status"] == 301 and body["message"] == rules.closed_message
    assert buyer.t4()["data"] == {"order_status": "F", "message": rules.closed_message}
    assert buyer.t1(make_sheet(kakao_app, product, option).pk)["status"] == 301


def test_business_hours_in_seoul(kakao_app):
    rules = StoreRules.objects.create(kakao_app=kakao_app)
    BusinessHours.objects.create(rules=rules, weekday=0, opens=dt.time(9), closes=dt.time(18))  # Monday
    BusinessHours.objects.create(rules=rules, weekday=4, opens=dt.time(18), closes=dt.time(2))  # Fri → Sat 02:00
    rules = StoreRules.objects.prefetch_related("hours", "closed_dates").get(pk=rules.pk)

    def at(y, m, d, h, mi=0):
        return dt.datetime(y, m, d, h, mi, tzinfo=SEOUL).astimezone(dt.UTC)

    # 2026-11-23 is a Monday
    assert store_is_open(rules, now=at(2026, 11, 23, 9)) is True
    assert store_is_open(rules, now=at(2026, 11, 23, 8, 59)) is False  # 23:59 UTC Sunday, 08:59 in Seoul
    assert store_is_open(rules, now=at(2026, 11, 23, 18)) is False
    assert store_is_open(rules, now=at(2026, 11, 27, 23)) is True  # Friday night
    assert store_is_open(rules, now=at(2026, 11, 28, 1, 30)) is True  # past midnight into Saturday
    assert store_is_open(rules, now=at(2026, 11, 28, 2)) is False
    assert store_is_open(rules, now=at(2026, 11, 24, 12)) is False  # Tuesday: no hours
    ClosedDate.objects.create(rules=rules, date=dt.date(2026, 11, 23))
    rules = StoreRules.objects.prefetch_related("hours", "closed_dates").get(pk=rules.pk)
    assert store_is_open(rules, now=at(2026, 11, 23, 10)) is False


def test_payment_t2_blocked_member_is_401_and_the_order_fails(kakao_app, buyer):
    product, option = make_product()
    buyer.t1(make_sheet(kakao_app, product, option).pk)
    buyer.ready()
    Customer.objects.create(kakao_app=kakao_app, app_user_id="user-1", blocked=True)
    assert buyer.t2()["status"] == 401
    assert buyer.t4()["data"]["order_status"] == "F"
    option.refresh_from_db()
    assert option.stock == 5


def test_payment_t2_holds_stock_replays_answer_the_same_and_another_tid_is_refused(kakao_app, buyer):
    product, option = make_product(option_stock=3)
    buyer.t1(make_sheet(kakao_app, product, option, quantity=2).pk)
    buyer.ready()
    assert buyer.t2() == {"status": 200}
    assert buyer.t2() == {"status": 200}  # Kakao retried
    option.refresh_from_db()
    assert option.stock == 1  # held once
    assert StockHold.objects.get(reference=buyer.partner_order_id).quantity == 2
    assert buyer.t2(tid="T-another")["status"] == 300
    order = Order.objects.get(partner_order_id=buyer.partner_order_id)
    assert order.status == Order.Status.HELD and order.tid == buyer.tid
    assert order.shipping_address["zone_code"] == "13494"
    assert order.events.filter(kind=PaymentEvent.Kind.T2_RECEIVED).count() == 3
    assert buyer.t4()["data"] == {"order_status": "W"}


def test_payment_t2_out_of_stock_is_300_and_t4_says_sold_out(kakao_app, buyer):
    product, option = make_product(option_stock=1)
    buyer.t1(make_sheet(kakao_app, product, option, quantity=2).pk)
    buyer.ready()
    body = buyer.t2()
    assert body["status"] == 300 and "품절" in body["message"]
    t4 = buyer.t4()["data"]
    assert t4["order_status"] == "F" and "품절" in t4["message"]
    option.refresh_from_db()
    assert option.stock == 1 and not StockHold.objects.exists()


def test_payment_t2_address_in_a_remote_area_t1_did_not_price_is_refused(kakao_app, buyer, rules):
    product, option = make_product()
    buyer.t1(make_sheet(kakao_app, product, option).pk, zip_code="13494")
    buyer.ready()
    body = buyer.t2(address=JEJU_ADDRESS)
    assert body["status"] == 300 and "배송비" in body["message"]
    option.refresh_from_db()
    assert option.stock == 5


def test_payment_t2_without_an_address_for_shipped_goods_is_refused(kakao_app, buyer):
    product, option = make_product()
    buyer.t1(make_sheet(kakao_app, product, option).pk)
    buyer.ready()
    assert buyer.t2(address=None)["status"] == 300


def test_payment_t2_and_t4_by_another_app_user_are_400_and_change_nothing(kakao_app, buyer, plugin_base, fake_kakao):
    product, option = make_product()
    buyer.t1(make_sheet(kakao_app, product, option).pk)
    buyer.ready()
    thief = Buyer(plugin_base, fake_kakao.url, app_user_id="intruder")
    thief.t1_data, thief.tid = buyer.t1_data, buyer.tid
    assert thief.t2()["status"] == 400
    assert Order.objects.get(partner_order_id=buyer.partner_order_id).status == Order.Status.PENDING
    assert buyer.t2() == {"status": 200}
    body = thief.t4()
    assert body["status"] == 400 and "data" not in body
    assert buyer.t4()["data"]["order_status"] == "W"


def test_payment_t4_unknown_order_is_300_and_missing_id_is_400(client, plugin_base):
    r = client.get(plugin_base + "order/status", {"order_id": "po_nope"}, HTTP_X_KAKAO_APPUSERID="u")
    assert r.status_code == 200 and r.json()["status"] == 300
    r = client.get(plugin_base + "order/status")
    assert r.status_code == 400 and r.json()["status"] == 400


def test_payment_t4_is_one_query(kakao_app, buyer):
    product, option = make_product()
    buyer.t1(make_sheet(kakao_app, product, option).pk)
    buyer.t4()  # warms the plugin-key cache
    with CaptureQueriesContext(connection) as ctx:
        assert buyer.t4()["data"] == {"order_status": "W"}
    assert len(ctx.captured_queries) == 1, ctx.captured_queries
    assert "partner_order_id" in ctx.captured_queries[0]["sql"]


def test_a_new_attempt_on_the_same_sheet_supersedes_an_abandoned_hold(kakao_app, plugin_base, fake_kakao):
    product, option = make_product(option_stock=1)
    sheet = make_sheet(kakao_app, product, option)
    first = Buyer(plugin_base, fake_kakao.url)
    first.t1(sheet.pk)
    first.ready()
    assert first.t2() == {"status": 200}
    second = Buyer(plugin_base, fake_kakao.url)
    second.t1(sheet.pk)
    second.ready()
    assert second.t2() == {"status": 200}  # the only unit moved from the first attempt to this one
    assert first.t4()["data"]["order_status"] == "F"
    assert Option.objects.get(pk=option.pk).stock == 0
    assert StockHold.objects.get(reference=first.partner_order_id).state == StockHold.State.RELEASED


def test_buyer_cancel_at_kakaopay_fails_the_order_and_gives_the_stock_back(kakao_app, buyer, client):
    product, option = make_product()
    buyer.t1(make_sheet(kakao_app, product, option).pk)
    buyer.ready()
    buyer.t2()
    redirect = buyer.authorize("cancel")["redirect_url"]
    path = urllib.parse.urlsplit(redirect)
    assert client.get(path.path + "?" + path.query).json() == {"status": 200}
    assert buyer.t4()["data"] == {"order_status": "F", "message": "결제를 취소하셨습니다."}
    option.refresh_from_db()
    assert option.stock == 5


def test_payment_t2_malformed_body_is_a_400_envelope(client, plugin_base):
    r = client.post(plugin_base + "order/approve", "not json", content_type="application/json")
    assert r.status_code == 400 and r.json()["status"] == 400
    r = client.post(plugin_base + "order/approve", {"tid": "x"}, content_type="application/json")
    assert r.status_code == 400 and "partner_order_id" in r.json()["message"]
    assert ADDRESS  # the kit's address is the guide's sample


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_the_approval_runs_in_process_after_payment_t3(kakao_app, buyer, fake_kakao):
    """Tasks run in-process (``eager_tasks``, as in the browser tests' servers): the approval runs
    once T3's transaction commits."""
    from config.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        product, option = make_product()
        buyer.t1(make_sheet(kakao_app, product, option).pk)
        buyer.ready()
        buyer.authorize()
        assert buyer.t2() == {"status": 200}
        assert buyer.t3() == {"status": 200}
        assert buyer.t4()["data"] == {"order_status": "S"}
        assert len(fake_kakao.calls("approve")) == 1
    finally:
        app.conf.task_always_eager = eager


@pytest.mark.django_db(transaction=True)
def test_store_rules_are_kept_per_process_and_a_committed_change_renews_every_copy(kakao_app, rules):
    """Payment T1 and T2 read the rules from this process's copy (no query) while nothing changed;
    a committed change of a part (a closed date) renews the app's generation in the shared cache,
    so every process's copy is read again, and the next read sees the change."""
    from kakaoplugin.generations import generation
    from orders.rules import store_rules

    key = f"orders:rules:{kakao_app.pk}"
    first = store_rules(kakao_app)
    with CaptureQueriesContext(connection) as queries:
        assert store_rules(kakao_app) is first
    assert queries.captured_queries == []
    token = generation(key)
    assert token is not None
    today = timezone.now().astimezone(SEOUL).date()
    ClosedDate.objects.create(rules=rules, date=today, reason="정기 휴무")  # committed: renewed after it
    assert generation(key) not in (None, token)
    again = store_rules(kakao_app)
    assert again is not first and [d.date for d in again.closed_dates.all()] == [today]
    assert not store_is_open(again)
