"""Staff see what their role allows (issue 11): Kakao app secrets are never rendered once saved,
the plugin URLs need their own permission, personal data is masked on every admin page without
``kakaoplugin.view_personal_data``, and the merchant API gives shipping data only to keys with
the ``orders:shipping`` scope."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from callbacks.models import MemberProfile
from kakaoplugin.masking import mask_personal, mask_value
from kakaoplugin.models import Customer, InboundCall, WebhookDelivery, WebhookEvent
from kakaoplugin.services import webhook_endpoint_create
from orders.models import OrderSheetLine
from orders.serializers import OrderSerializer
from tests.support.merchant import Api, key_for
from tests.support.payments import ADDRESS, paid_order

pytestmark = pytest.mark.django_db

SECRETS = ("kakaopay_admin_key", "kakaopay_secret_key", "cid_secret", "kakao_client_secret", "rest_api_key")
# what must never appear on a page for staff without the personal-data permission
PERSONAL = ("수령인", "01011112222", "판교역로", "에이치스퀘어")


def staff_client(*perms: str, username: str = "staffer") -> Client:
    user = User.objects.create_user(username, password="pw-0123456789", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    client = Client()
    client.force_login(user)
    return client


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def app_url(app) -> str:
    return f"/admin/kakaoplugin/kakaoapp/{app.pk}/change/"


# --- Kakao app secrets and the plugin key ---------------------------------------------------------


def test_view_only_staff_sees_no_kakao_app_secret_and_no_plugin_key(kakao_app):
    html = page(staff_client("kakaoplugin.view_kakaoapp"), app_url(kakao_app))
    for name in SECRETS:
        value = getattr(kakao_app, name)
        assert value and value not in html, name
    assert kakao_app.plugin_key not in html
    assert "“플러그인 URL 보기” 권한이 필요합니다" in html  # Korean: the default
    assert "설정됨 (••••" in html  # the secrets show as set, masked


def test_staff_who_may_change_the_app_see_secrets_masked_only(kakao_app):
    html = page(staff_client("kakaoplugin.view_kakaoapp", "kakaoplugin.change_kakaoapp"), app_url(kakao_app))
    for name in SECRETS:
        assert getattr(kakao_app, name) not in html, name
    assert 'name="rest_api_key"' in html and "비워 두면 그대로 두고" in html  # a "replace" input
    assert kakao_app.plugin_key not in html


def test_blank_secret_inputs_keep_the_saved_secrets(kakao_app):
    from kakaoplugin.admin import KakaoAppForm

    data = {
        "name": kakao_app.name, "environment": kakao_app.environment, "kakaopay_api": kakao_app.kakaopay_api,
        "cid": kakao_app.cid, "subscription_cid": kakao_app.subscription_cid, "order_agreements": "[]",
        "available_cards": "[]", "is_active": "on", "rest_api_key": "", "cid_secret": "new-cid-secret-0123456789",
    }  # fmt: skip
    form = KakaoAppForm(data=data, instance=kakao_app)
    assert form.is_valid(), form.errors
    saved = form.save()
    saved.refresh_from_db()
    assert saved.rest_api_key == "test-rest-api-key" and saved.kakaopay_admin_key == "test-admin-key-0123456789"
    assert saved.cid_secret == "new-cid-secret-0123456789"


def test_the_plugin_url_list_needs_its_own_permission(kakao_app):
    html = page(
        staff_client("kakaoplugin.view_kakaoapp", "kakaoplugin.view_plugin_urls"), app_url(kakao_app)
    )
    assert f"/plugin/{kakao_app.plugin_key}/" in html
    for name in SECRETS:
        assert getattr(kakao_app, name) not in html, name


# --- personal data in the admin -----------------------------------------------------------------


@pytest.fixture
def order(kakao_app, plugin_base, fake_kakao):
    order, _, _ = paid_order(kakao_app, plugin_base, fake_kakao)
    assert order.shipping_address == ADDRESS
    return order


def test_order_page_masks_the_buyers_shipping_data_without_the_personal_data_permission(order):
    url = f"/admin/orders/order/{order.pk}/change/"
    perms = ("orders.view_order", "orders.view_paymentevent", "orders.view_orderline")
    html = page(staff_client(*perms), url)
    for text in PERSONAL:
        assert text not in html, text
    assert "수*인" in html and "2222" in html and "경기도 ***" in html
    assert "t2_received" in html  # the event log is on the page, masked where it holds personal data

    full = page(staff_client(*perms, "kakaoplugin.view_personal_data", username="shipper"), url)
    assert "수령인" in full and "01011112222" in full and "판교역로" in full


def test_webhook_delivery_page_masks_the_payload(order, kakao_app):
    endpoint = webhook_endpoint_create(kakao_app=kakao_app, url="http://127.0.0.1:9/hook")
    event = WebhookEvent.objects.create(
        id="evt_staff", kakao_app=kakao_app, type="order.paid", idempotency_key="staff-test",
        payload={"id": "evt_staff", "type": "order.paid", "data": {"order": OrderSerializer(order).data}},
    )  # fmt: skip
    delivery = WebhookDelivery.objects.create(event=event, endpoint=endpoint, give_up_at=timezone.now())
    url = f"/admin/kakaoplugin/webhookdelivery/{delivery.pk}/change/"
    html = page(staff_client("kakaoplugin.view_webhookdelivery"), url)
    for text in PERSONAL:
        assert text not in html, text
    assert order.partner_order_id in html  # the rest of the payload is there
    full = page(staff_client("kakaoplugin.view_webhookdelivery", "kakaoplugin.view_personal_data", username="b"), url)
    assert "판교역로" in full


def test_inbound_call_bodies_are_masked_without_the_personal_data_permission(order):
    call = InboundCall.objects.filter(endpoint__icontains="approve").exclude(body="").first()
    assert call is not None and "01011112222" in call.body  # the gate stored T2's body
    escaped = json.dumps(ADDRESS["base_address"])[1:-1]  # as the body holds it
    url = f"/admin/kakaoplugin/inboundcall/{call.pk}/change/"
    html = page(staff_client("kakaoplugin.view_inboundcall", "kakaoplugin.view_inbound_body"), url)
    for text in (*PERSONAL, escaped):
        assert text not in html, text
    assert order.tid in html  # the body is shown, its personal values masked
    full = page(
        staff_client("kakaoplugin.view_inboundcall", "kakaoplugin.view_inbound_body",
                     "kakaoplugin.view_personal_data", username="dev2"), url,
    )  # fmt: skip
    assert "01011112222" in full


def test_order_sheet_answers_are_masked(order):
    line = OrderSheetLine.objects.filter(sheet=order.sheet).first()
    line.text = "홍길동 010-9876-5432"
    line.save()
    url = f"/admin/orders/ordersheet/{quote(order.sheet_id)}/change/"  # (an id may hold "_5F": the admin's escape)
    perms = ("orders.view_ordersheet", "orders.view_ordersheetline")
    html = page(staff_client(*perms), url)
    assert "010-9876-5432" not in html and "홍길동" not in html
    assert "홍*동 ***" in html or "***-5432" in html  # the line is there, masked
    assert "010-9876-5432" in page(staff_client(*perms, "kakaoplugin.view_personal_data", username="x"), url)


def test_member_profile_ci_hash_is_masked(kakao_app):
    member = Customer.objects.create(kakao_app=kakao_app, app_user_id="u-ci")
    profile = MemberProfile.objects.create(
        customer=member, source="callback", collected_at=timezone.now(), ci_hash="ab" * 32, email="hong@example.com"
    )
    url = f"/admin/callbacks/memberprofile/{profile.pk}/change/"
    html = page(staff_client("callbacks.view_memberprofile"), url)
    assert "ab" * 32 not in html and "hong@example.com" not in html and "ho***@example.com" in html
    assert "ab" * 32 in page(staff_client("callbacks.view_memberprofile", "kakaoplugin.view_personal_data", username="y"), url)


def test_one_masking_helper_keeps_the_shape_of_json():
    masked = mask_personal({"tid": "T1", "shipping_address": ADDRESS, "profile": {"nickname": "라이언"}, "email": "ab@c.kr"})
    assert masked["tid"] == "T1"
    assert masked["shipping_address"]["receiver_name"] == "수*인"
    assert masked["shipping_address"]["receiver_mobile_number"] == "*******2222"
    assert masked["profile"] == {"nickname": "라*언"} and masked["email"] == "a***@c.kr"
    assert mask_value("f" * 64) == "•••• (hidden)"
    assert json.dumps(masked, ensure_ascii=False).count("판교역로") == 0


# --- the merchant API ----------------------------------------------------------------------------


def test_an_orders_key_gets_no_shipping_data_and_an_orders_shipping_key_does(order, kakao_app):
    plain = Api(key_for(kakao_app, "orders")).get(f"orders/{order.partner_order_id}")
    assert plain.status_code == 200
    assert plain.json()["shipping_address"] is None
    assert not any(text in plain.content.decode() for text in PERSONAL)
    listed = Api(key_for(kakao_app, "orders")).get("orders").json()
    assert listed["results"][0]["shipping_address"] is None

    shipping = Api(key_for(kakao_app, "orders", "orders:shipping")).get(f"orders/{order.partner_order_id}")
    assert shipping.json()["shipping_address"] == ADDRESS


def test_only_staff_who_see_personal_data_can_make_keys_that_read_it(kakao_app):
    from merchant.models import MerchantApiKey

    perms = ("merchant.view_merchantapikey", "merchant.add_merchantapikey")
    add = "/admin/merchant/merchantapikey/add/"
    developer = staff_client(*perms)
    form = page(developer, add)
    assert 'value="orders"' in form and 'value="orders:shipping"' not in form and 'value="members:personal"' not in form
    developer.post(add, {"kakao_app": kakao_app.pk, "name": "exfil", "scopes": ["orders", "orders:shipping"]})
    assert not MerchantApiKey.objects.filter(name="exfil").exists()

    owner = staff_client(*perms, "kakaoplugin.view_personal_data", username="owner")
    assert 'value="orders:shipping"' in page(owner, add)
    owner.post(add, {"kakao_app": kakao_app.pk, "name": "fulfilment", "scopes": ["orders", "orders:shipping"]})
    assert MerchantApiKey.objects.get(name="fulfilment").scopes == ["orders", "orders:shipping"]


def test_a_webhook_signing_secret_is_shown_once_then_only_masked(kakao_app):
    from kakaoplugin.models import WebhookEndpoint

    endpoint = webhook_endpoint_create(kakao_app=kakao_app, url="http://127.0.0.1:9/hook")
    url = f"/admin/kakaoplugin/webhookendpoint/{endpoint.pk}/change/"
    assert endpoint.secret not in page(staff_client("kakaoplugin.view_webhookendpoint"), url)

    owner = staff_client(
        "kakaoplugin.view_webhookendpoint", "kakaoplugin.change_webhookendpoint", "kakaoplugin.add_webhookendpoint",
        username="owner",
    )  # fmt: skip
    assert endpoint.secret not in page(owner, url)
    r = owner.post(
        "/admin/kakaoplugin/webhookendpoint/", {"action": "rotate_secret", "_selected_action": [endpoint.pk]}, follow=True
    )
    rotated = WebhookEndpoint.objects.get(pk=endpoint.pk).secret
    assert rotated != endpoint.secret and rotated in r.content.decode()  # shown this once
    assert rotated not in page(owner, url)


def test_grants_of_the_old_callbacks_permission_move_to_the_new_one(django_user_model):
    import importlib

    from django.apps import apps
    from django.contrib.auth.models import Group
    from django.contrib.contenttypes.models import ContentType

    migration = importlib.import_module("callbacks.migrations.0003_personal_data_permission_moved")
    old = Permission.objects.create(
        content_type=ContentType.objects.get_for_model(MemberProfile), codename="view_personal_data", name="old"
    )
    user = django_user_model.objects.create_user("legacy", is_staff=True)
    user.user_permissions.add(old)
    group = Group.objects.create(name="legacy shippers")
    group.permissions.add(old)

    migration.move_grants(apps, None)

    assert not Permission.objects.filter(content_type__app_label="callbacks", codename="view_personal_data").exists()
    user = django_user_model.objects.get(pk=user.pk)
    assert user.has_perm("kakaoplugin.view_personal_data")
    assert group.permissions.filter(content_type__app_label="kakaoplugin", codename="view_personal_data").exists()
