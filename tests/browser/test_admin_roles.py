"""Each staff role (the Django groups of ``kakaoplugin.roles``) in a real browser: what its member
sees and can do on the Kakao app page, an order, and an inbound plugin call.

One paid order per test, paid over HTTP the way Kakao and KakaoPay drive it (T2 carries the
buyer's shipping address, stored on the order and, as the gate stores every call, in the inbound
call's body).
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from kakaoplugin.models import InboundCall
from kakaoplugin.roles import ROLES, roles_sync
from tests.support.browser import paid_order
from tests.support.payments import ADDRESS

from .conftest import STAFF_PASSWORD, admin_login

APP_SECRETS = ("kakaopay_admin_key", "kakaopay_secret_key", "cid_secret", "kakao_client_secret", "rest_api_key")
PERSONAL = (ADDRESS["receiver_name"], ADDRESS["receiver_mobile_number"], "판교역로", "에이치스퀘어")


@pytest.fixture(autouse=True)
def _payments(eager_tasks, fake_kakao):
    pass


@pytest.fixture
def order(live_server, kakao_app, fake_kakao):
    order, _, _ = paid_order(live_server, kakao_app, fake_kakao, relay_id="rly-roles", app_user_id="buyer-1", code="R-1")
    return order


def member_of(role: str, username: str):
    from django.contrib.auth.models import User

    roles_sync()  # the live server's database is flushed between tests; migrate made them first
    user = User.objects.create_user(username, password=STAFF_PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=ROLES[role].group))
    return user


def no_secrets(page, kakao_app) -> None:
    html = page.content()
    for name in APP_SECRETS:
        assert getattr(kakao_app, name) not in html, name


def open_app(page, kakao_app) -> None:
    page.goto(f"/admin/kakaoplugin/kakaoapp/{kakao_app.pk}/change/")
    page.wait_for_selector("#content-main")


def open_order(page, order) -> None:
    page.goto(f"/admin/orders/order/{order.pk}/change/")
    page.wait_for_selector("#content-main")


def order_actions(page) -> list[str]:
    page.goto("/admin/orders/order/")
    page.wait_for_selector("#result_list")
    return [o.get_attribute("value") for o in page.locator("select[name=action] option").all()]


def inbound_payment_t2(order) -> InboundCall:
    call = InboundCall.objects.filter(endpoint__icontains="approve", body__contains=order.partner_order_id).first()
    assert call is not None and ADDRESS["receiver_mobile_number"] in call.body  # the gate stored T2's body
    return call


def test_support_sees_every_page_read_only_with_secrets_and_personal_data_masked(page, shot, kakao_app, order):
    admin_login(page, member_of("support", "support-1"))
    shot("index")
    assert page.locator("#content-main tr.model-user").count() == 0  # no staff accounts

    open_app(page, kakao_app)
    shot("kakao-app")
    no_secrets(page, kakao_app)
    assert kakao_app.plugin_key not in page.content()
    assert "see plugin URLs" in page.inner_text(".field-plugin_url_list_hidden")
    assert "set (••••" in page.inner_text(".field-masked_kakaopay_admin_key")
    assert page.locator("input[name=_save]").count() == 0  # nothing to save

    open_order(page, order)
    shot("order-masked")
    html = page.content()
    assert not [t for t in PERSONAL if t in html]
    assert "수*인" in page.text_content(".field-masked_shipping_address").strip()
    assert order.partner_order_id in html
    assert "refund" not in order_actions(page)  # no refunds

    call = inbound_payment_t2(order)
    page.goto(f"/admin/kakaoplugin/inboundcall/{call.pk}/change/")
    page.wait_for_selector(".field-body_hidden")
    shot("inbound-call")
    assert "see inbound call bodies" in page.inner_text(".field-body_hidden")


def test_order_staff_ship_and_refund_but_never_see_kakao_apps(page, shot, kakao_app, order):
    admin_login(page, member_of("order_staff", "orders-1"))
    shot("index")
    assert page.locator("#content-main tr.model-kakaoapp, #content-main tr.model-merchantapikey").count() == 0

    open_order(page, order)
    shot("order-in-full")
    address = page.text_content(".field-shipping_address").strip()
    assert ADDRESS["receiver_name"] in address and ADDRESS["receiver_mobile_number"] in address
    assert "refund" in order_actions(page)

    response = page.goto(f"/admin/kakaoplugin/kakaoapp/{kakao_app.pk}/change/")
    assert response.status == 403
    no_secrets(page, kakao_app)


def test_developer_configures_apps_and_sees_plugin_urls_but_personal_data_masked(page, shot, kakao_app, order):
    admin_login(page, member_of("developer", "dev-1"))
    open_app(page, kakao_app)
    shot("kakao-app")
    no_secrets(page, kakao_app)
    assert f"/plugin/{kakao_app.plugin_key}/" in page.inner_text(".field-plugin_url_list")
    assert page.input_value("#id_kakaopay_admin_key") == ""  # a "replace" input, never the value
    assert "Leave blank to keep" in page.inner_text(".field-kakaopay_admin_key")

    page.fill("#id_cid_secret", "developer-new-cid-secret-42")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    shot("secret-replaced")
    kakao_app.refresh_from_db()
    assert kakao_app.cid_secret == "developer-new-cid-secret-42"
    assert kakao_app.kakaopay_admin_key == "test-admin-key-0123456789"  # blank: kept
    assert "developer-new-cid-secret-42" not in page.content()

    open_order(page, order)
    shot("order-masked")
    assert not [t for t in PERSONAL if t in page.content()]
    assert "refund" not in order_actions(page)

    call = inbound_payment_t2(order)
    page.goto(f"/admin/kakaoplugin/inboundcall/{call.pk}/change/")
    page.wait_for_selector(".field-masked_body")
    shot("inbound-body-masked")
    body = page.inner_text(".field-masked_body")
    assert order.tid in body and "수*인" in body
    assert not [t for t in PERSONAL if t in page.content()]


def test_owner_sees_plugin_urls_and_personal_data_and_manages_staff(page, shot, kakao_app, order):
    admin_login(page, member_of("owner", "owner-1"))
    shot("index")
    assert page.locator("#content-main tr.model-user").count() == 1

    open_app(page, kakao_app)
    no_secrets(page, kakao_app)  # not even the owner: secrets are write-only
    assert f"/plugin/{kakao_app.plugin_key}/" in page.inner_text(".field-plugin_url_list")

    open_order(page, order)
    shot("order-in-full")
    assert ADDRESS["receiver_name"] in page.text_content(".field-shipping_address").strip()
    assert "refund" in order_actions(page)

    call = inbound_payment_t2(order)
    page.goto(f"/admin/kakaoplugin/inboundcall/{call.pk}/change/")
    page.wait_for_selector(".field-body")
    assert ADDRESS["receiver_mobile_number"] in page.inner_text(".field-body")
