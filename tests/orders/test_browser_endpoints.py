"""Issue 11, "Buyer-facing URLs carry no server secret".

The URLs the buyer's browser follows (KakaoPay's approval / cancel / fail redirects, Kakao Sync's
redirect URI) never carry the plugin key and are never refused by the app's allowed networks;
each is authorised by its own token (the order's, per action; or a state we issued), refused
cleanly (4xx) when wrong or no longer valid, stored as an inbound call, and kept out of logs.
"""

from __future__ import annotations

import logging
import urllib.parse

import pytest
from django.test import Client

from kakaoplugin.logging import RedactPluginKeyFilter, redact
from kakaoplugin.models import InboundCall
from orders.models import Order
from orders.pay_links import pay_token
from tests.support.payments import Buyer, browser_path, make_product, make_sheet

KAKAO_ADDR = "10.20.30.40"  # Kakao's servers, inside the app's allowed networks
BUYER_ADDR = "203.0.113.7"  # a buyer's phone, anywhere


@pytest.fixture
def kakao(kakao_app) -> Client:
    return Client(REMOTE_ADDR=KAKAO_ADDR)


@pytest.fixture
def phone() -> Client:
    return Client(REMOTE_ADDR=BUYER_ADDR)


@pytest.fixture
def buyer(plugin_base, fake_kakao, kakao) -> Buyer:
    return Buyer(plugin_base, fake_kakao.url, client=kakao)


def _t1_urls(buyer: Buyer) -> list[str]:
    return [buyer.t1_data[k] for k in ("approval_url", "cancel_url", "fail_url")]


def _unquoted(url: str) -> str:
    return urllib.parse.unquote(urllib.parse.unquote(url))


@pytest.mark.django_db
@pytest.mark.parametrize("wrap", [True, False])
def test_payment_t1_hands_kakao_no_plugin_key_for_the_buyers_browser(kakao_app, buyer, settings, wrap):
    settings.PUBLIC_BASE_URL = "https://shop.example.com"
    kakao_app.wrap_approval_url = wrap
    kakao_app.save(update_fields=["wrap_approval_url"])
    product, option = make_product()
    assert buyer.t1(make_sheet(kakao_app, product, option).pk)["status"] == 200
    for url in _t1_urls(buyer):
        assert kakao_app.plugin_key not in _unquoted(url) and "/plugin/" not in _unquoted(url), url
        assert len(url) <= 255
    po = buyer.partner_order_id
    order = Order.objects.get(partner_order_id=po)
    approval = _unquoted(buyer.t1_data["approval_url"])
    assert approval.endswith(f"https://shop.example.com/pay/{po}/approval/{pay_token(order=order, action='approval')}")
    assert buyer.t1_data["cancel_url"] == f"https://shop.example.com/pay/{po}/cancel/{pay_token(order=order, action='cancel')}"
    assert buyer.t1_data["fail_url"] == f"https://shop.example.com/pay/{po}/fail/{pay_token(order=order, action='fail')}"
    # one token per order and per action
    tokens = {pay_token(order=order, action=a) for a in ("approval", "cancel", "fail")}
    assert len(tokens) == 3


@pytest.mark.django_db(transaction=True)
def test_allowed_networks_refuse_strangers_but_never_the_buyers_browser(kakao_app, buyer, phone, fake_kakao, eager_tasks):
    kakao_app.allowed_networks = "10.20.0.0/16"
    kakao_app.save(update_fields=["allowed_networks"])
    product, option = make_product()
    buyer.t1(make_sheet(kakao_app, product, option).pk)
    buyer.ready()
    buyer.authorize()
    assert buyer.t2() == {"status": 200}
    # a server endpoint from outside Kakao's ranges: still refused
    stranger = Buyer(buyer.base, fake_kakao.url, client=phone)
    stranger.t1_data = buyer.t1_data
    assert stranger.t4() == {"status": 403, "message": "허용되지 않은 출발지입니다 (source address not allowed)"}
    # KakaoPay's approval redirect, followed by the buyer's phone: accepted, the order is paid
    assert buyer.t3(browser=phone) == {"status": 200}
    assert buyer.t4()["data"] == {"order_status": "S"}
    assert len(fake_kakao.calls("approve")) == 1
    call = InboundCall.objects.get(endpoint="kakaopay_approval")
    assert (call.kakao_app_id, call.source_ip, call.http_status, call.result_status) == (kakao_app.pk, BUYER_ADDR, 200, 200)
    assert call.query["pg_token"] == "***"


@pytest.mark.django_db
def test_cancel_from_the_buyers_phone_outside_the_allowed_networks(kakao_app, buyer, phone):
    kakao_app.allowed_networks = "10.20.0.0/16"
    kakao_app.save(update_fields=["allowed_networks"])
    product, option = make_product()
    buyer.t1(make_sheet(kakao_app, product, option).pk)
    buyer.ready()
    assert buyer.t2() == {"status": 200}
    redirect = buyer.authorize("cancel")["redirect_url"]
    assert phone.get(browser_path(redirect)).json() == {"status": 200}
    assert buyer.t4()["data"] == {"order_status": "F", "message": "결제를 취소하셨습니다."}
    option.refresh_from_db()
    assert option.stock == 5


def _other_order(kakao_app, buyer_factory) -> Buyer:
    product, option = make_product(code="P-2")
    other = buyer_factory()
    other.t1(make_sheet(kakao_app, product, option).pk)
    return other


@pytest.mark.django_db
def test_a_wrong_token_is_a_404_envelope_and_changes_nothing(kakao_app, buyer, phone, plugin_base, fake_kakao, kakao):
    product, option = make_product()
    buyer.t1(make_sheet(kakao_app, product, option).pk)
    buyer.ready()
    buyer.authorize()
    po = buyer.partner_order_id
    order = Order.objects.get(partner_order_id=po)
    other = _other_order(kakao_app, lambda: Buyer(plugin_base, fake_kakao.url, client=kakao))
    other_order = Order.objects.get(partner_order_id=other.partner_order_id)
    query = {"partner_order_id": po, "partner_user_id": order.partner_user_id, "pg_token": buyer.pg_token}
    wrong = [
        f"/pay/{po}/approval/not-the-token",
        f"/pay/{po}/approval/{pay_token(order=order, action='cancel')}",  # another action's token
        f"/pay/{po}/approval/{pay_token(order=other_order, action='approval')}",  # another order's token
        f"/pay/{po}/approval/" + "A" * 22,
    ]
    for path in wrong:
        r = phone.get(path, query)
        assert r.status_code == 404 and r.json() == {"status": 404, "message": "유효하지 않은 결제 주소입니다 (invalid payment link)"}, path
    r = phone.get(f"/pay/{po}/cancel/{pay_token(order=order, action='approval')}")
    assert r.status_code == 404 and r.json()["status"] == 404
    r = phone.get(f"/pay/po_unknown/approval/{pay_token(order=order, action='approval')}", query)
    assert r.status_code == 404 and r.json()["status"] == 404
    r = phone.get(f"/pay/{po}/nothing/{pay_token(order=order, action='approval')}")
    assert r.status_code == 404 and r.json()["status"] == 404
    order.refresh_from_db()
    assert order.pg_token == "" and order.status == Order.Status.PENDING
    # each refused visit of a known order is stored (the unknown order has no app to store it under)
    assert InboundCall.objects.filter(http_status=404).count() == len(wrong) + 2
    # the old plugin-key URLs are gone
    r = kakao.get(plugin_base + "kakaopay/approval", query)
    assert r.status_code == 404 and r.json()["status"] == 404


@pytest.mark.django_db(transaction=True)
def test_links_are_valid_only_while_they_make_sense(kakao_app, buyer, phone, eager_tasks):
    product, option = make_product()
    buyer.t1(make_sheet(kakao_app, product, option).pk)
    buyer.ready()
    buyer.authorize()
    assert buyer.t2() == {"status": 200}
    assert buyer.t3(browser=phone) == {"status": 200}
    assert buyer.t4()["data"] == {"order_status": "S"}
    # the same approval again (the relay retries, the buyer reloads): the same answer
    assert buyer.t3(browser=phone) == {"status": 200}
    approval = browser_path(buyer.t1_data["approval_url"])
    replay = {"partner_order_id": buyer.partner_order_id, "partner_user_id": buyer.t1_data["partner_user_id"], "pg_token": buyer.pg_token}
    form = urllib.parse.urlencode(replay)
    r = phone.post(approval, form, content_type="application/x-www-form-urlencoded")  # a relay may POST a form
    assert r.json() == {"status": 200}
    # another pg_token on a paid order, or the buyer's cancel after payment: the link has expired
    r = phone.get(browser_path(buyer.t1_data["approval_url"], pg_token="another-token"))
    assert r.status_code == 410 and r.json()["status"] == 410
    r = phone.get(browser_path(buyer.t1_data["cancel_url"]))
    assert r.status_code == 410 and r.json() == {
        "status": 410, "message": "이미 처리되었거나 만료된 결제 주소입니다 (this payment link is no longer valid)",
    }  # fmt: skip
    assert Order.objects.get(partner_order_id=buyer.partner_order_id).status == Order.Status.PAID


@pytest.mark.django_db
def test_a_cancelled_order_accepts_its_cancel_again_but_no_approval(kakao_app, buyer, phone):
    product, option = make_product()
    buyer.t1(make_sheet(kakao_app, product, option).pk)
    buyer.ready()
    cancel = browser_path(buyer.t1_data["cancel_url"])
    assert phone.get(cancel).json() == {"status": 200}
    assert phone.get(cancel).json() == {"status": 200}  # a replay
    r = phone.get(browser_path(buyer.t1_data["fail_url"]))
    assert r.status_code == 200  # the buyer's own end, said again
    r = phone.get(browser_path(buyer.t1_data["approval_url"], pg_token="late"))
    assert r.status_code == 410
    assert Order.objects.get(partner_order_id=buyer.partner_order_id).failure_reason == "buyer_cancelled"


@pytest.mark.django_db
def test_a_large_or_nul_body_on_a_browser_endpoint_is_a_4xx_envelope(kakao_app, buyer, phone, settings):
    product, option = make_product()
    buyer.t1(make_sheet(kakao_app, product, option).pk)
    path = browser_path(buyer.t1_data["cancel_url"])
    r = phone.post(path, "x" * (settings.PLUGIN_MAX_BODY_BYTES + 1), content_type="text/plain")
    assert r.status_code == 413 and r.json()["status"] == 413
    r = phone.get(path + "?partner_order_id=%00")
    assert r.status_code == 400 and r.json()["status"] == 400
    r = phone.post(path, "pg_token=a%00&partner_order_id=b", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 400 and "NUL" in r.json()["message"]
    r = phone.post(path, "{not json", content_type="application/json")
    assert r.status_code == 400 and r.json()["status"] == 400
    assert Order.objects.get(partner_order_id=buyer.partner_order_id).status == Order.Status.PENDING


def test_logs_carry_no_browser_token_pg_token_code_or_state():
    token, pg_token, code, state = "TOKEN0123456789abcdefg", "PGTOKEN987", "CODE-abc", "STATE-xyz"
    lines = [
        f'"GET /pay/po_abc/approval/{token}?partner_order_id=po_abc&pg_token={pg_token} HTTP/1.1" 200 15',
        f'"GET /pay/po_abc/cancel/{token} HTTP/1.1" 200 15',
        f'"GET /sync/7/redirect?code={code}&state={state}&continue=https%3A%2F%2Ftalk-plugin.kakao.com HTTP/1.1" 302 0',
        f"Not Found: /pay/po_abc/fail/{token}",
    ]
    for line in lines:
        shown = redact(line)
        for secret in (token, pg_token, code, state):
            assert secret not in shown, shown
    assert redact(lines[0]).startswith('"GET /pay/po_abc/approval/<token>?partner_order_id=po_abc&pg_token=<redacted>')
    record = logging.LogRecord("django.server", logging.INFO, __file__, 1, '"%s" %s %s', (lines[0][1:-8], 200, 15), None)
    RedactPluginKeyFilter().filter(record)
    assert token not in record.getMessage() and pg_token not in record.getMessage()


@pytest.mark.django_db
def test_odd_paths_are_4xx_never_500(kakao_app, buyer, phone):
    product, option = make_product()
    buyer.t1(make_sheet(kakao_app, product, option).pk)
    po = buyer.partner_order_id
    for path in ("/pay/a%00b/approval/t", "/pay/" + "p" * 101 + "/cancel/t", f"/pay/{po}/approval/t%00", "/sync/1%00/redirect",
                 f"/pay/{po}/cancel/" + "t" * 500):  # fmt: skip
        r = phone.get(path, {"pg_token": "x"})
        assert 400 <= r.status_code < 500, (path, r.status_code)
    assert Order.objects.get(partner_order_id=po).status == Order.Status.PENDING
