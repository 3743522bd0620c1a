"""The merchant API (/api/v1/): order sheets for payment-only launches paid through T1-T4, launch
links, scoped and revocable keys, order reads and lists, members; signed order webhooks per state
change; the OpenAPI schema (valid, and the plugin endpoints fuzzed by schemathesis without a 5xx)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from callbacks.models import MemberProfile, ShippingAddress
from kakaoplugin import signing
from kakaoplugin.models import Customer, KakaoApp, WebhookEvent
from kakaoplugin.services import webhook_endpoint_create
from merchant.services import api_key_create, api_key_revoke
from orders import payments
from orders.models import Order, OrderSheet
from tests.conftest import wait_until
from tests.support.merchant import Api, key_for
from tests.support.payments import ADDRESS, Buyer, browser_path
from tests.support.payments import make_product as kit_product
from tests.support.webhooks import Receiver

PAY_PLUGIN = "pay-plugin-1"
OPTION_PLUGIN = "opt-plugin-1"


@pytest.fixture
def app(kakao_app) -> KakaoApp:
    kakao_app.payment_plugin_id = PAY_PLUGIN
    kakao_app.option_plugin_id = OPTION_PLUGIN
    kakao_app.save()
    return kakao_app


@pytest.fixture
def other_app(db) -> KakaoApp:
    return KakaoApp.objects.create(name="other-app", rest_api_key="other-key", payment_plugin_id="other-pay")


def make_product(**kwargs):
    """The payment kit's product (group "size", option "L"), buyable up to 10 at once."""
    product, option = kit_product(**kwargs)
    product.max_quantity = 10
    product.save()
    return product, option


@pytest.fixture
def api(app) -> Api:
    # a fulfilment system: orders with their shipping addresses (orders:shipping, issue 11)
    return Api(key_for(app, "orders", "orders:shipping"))


def sheet_body(**extra) -> dict:
    return {"product_id": "P-1", "quantity": 2, "option_groups": [{"option_group_id": "size", "option_id": "L"}]} | extra


def received(receiver: Receiver, endpoint) -> list[dict]:
    """The events the receiver got, each checked the way a merchant's receiver checks them."""
    events = []
    for got in receiver.received:
        assert signing.verify(endpoint.secret, got["headers"][signing.SIGNATURE_HEADER], got["body"])
        assert not signing.verify(endpoint.secret, got["headers"][signing.SIGNATURE_HEADER], got["body"] + b" ")
        payload = json.loads(got["body"])
        assert payload["id"] == got["headers"][signing.EVENT_ID_HEADER]
        assert payload["type"] == got["headers"][signing.EVENT_TYPE_HEADER]
        events.append(payload)
    return events


def pay(buyer: Buyer, sheet_id: str) -> None:
    assert buyer.t1(sheet_id)["status"] == 200
    buyer.ready()
    buyer.authorize()
    assert buyer.t2() == {"status": 200}
    assert buyer.t3() == {"status": 200}


# --- the payment-only scenario (guide 9.2.3) --------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_api_order_sheet_is_paid_through_payment_t1_to_t4_and_a_signed_paid_event_is_delivered(
    app, api, fake_kakao, plugin_base, eager_tasks
):
    receiver = Receiver()
    try:
        endpoint = webhook_endpoint_create(kakao_app=app, url=receiver.url)
        product, option = make_product(price=10000, option_stock=5)
        r = api.post("order-sheets", sheet_body(app_user_id="user-1", relay_id="chat-9"))
        assert r.status_code == 201, r.content
        sheet = r.json()
        assert sheet["id"].startswith("os_") and sheet["status"] == "open"
        assert sheet["launch_link"] == f"kakaotalk://bizplugin?plugin_id={PAY_PLUGIN}&oneclick_id={sheet['id']}"
        assert sheet["goods_amount"] == 20000 and sheet["total_amount"] == 20000 and sheet["shipping_fee"] == 0
        assert sheet["app_user_id"] == "user-1" and sheet["relay_id"] == "chat-9"
        assert [(x["group_id"], x["option_id"]) for x in sheet["lines"]] == [("size", "L")]
        assert timezone.now() + timedelta(hours=23) < timezone.datetime.fromisoformat(sheet["expires_at"])

        # someone else cannot pay a sheet bound to user-1 (T1 code 400)
        assert Buyer(plugin_base, fake_kakao.url, app_user_id="user-2").t1(sheet["id"])["status"] == 400

        buyer = Buyer(plugin_base, fake_kakao.url, app_user_id="user-1")
        pay(buyer, sheet["id"])
        assert buyer.t1_data["total_amount"] == 20000 and buyer.t1_data["partner_user_id"] == "user-1"
        assert buyer.t4()["data"] == {"order_status": "S"}  # the approval ran after T3 committed
        assert len(fake_kakao.calls("approve")) == 1
        assert OrderSheet.objects.get(pk=sheet["id"]).status == OrderSheet.Status.ORDERED

        r = api.get(f"orders/{buyer.partner_order_id}")
        assert r.status_code == 200
        order = r.json()
        assert order["status"] == "paid" and order["order_status"] == "S" and order["order_sheet_id"] == sheet["id"]
        assert order["total_amount"] == order["approved_amount"] == 20000 and order["refundable_amount"] == 20000
        assert order["shipping_address"] == ADDRESS
        assert order["relay_id"] == "chat-9" and order["app_user_id"] == "user-1"
        assert order["product"] == {"id": "P-1", "name": "상품 P-1", "unit_price": 10000, "quantity": 2,
                                    "url": "https://shop.example.com/p/P-1"}  # fmt: skip
        assert [x["option_value"] for x in order["lines"]] == ["L"]
        kinds = [e["kind"] for e in order["events"]]
        assert kinds.index("t1_served") < kinds.index("approve_success")
        assert api.get("orders/by-relay-id/chat-9").json()["partner_order_id"] == buyer.partner_order_id

        wait_until(lambda: receiver.received, timeout=10, message="the paid event")
        (event,) = received(receiver, endpoint)
        assert event["type"] == "order.paid"
        assert event["data"]["order"] == order  # the same representation as the API's
        assert WebhookEvent.objects.get(pk=event["id"]).idempotency_key == f"order.paid:{buyer.partner_order_id}"
        # the approval run again emits nothing new
        db_order = Order.objects.get(partner_order_id=buyer.partner_order_id)
        assert payments.payment_approve(order_id=db_order.pk) is payments.Outcome.SKIPPED
        assert WebhookEvent.objects.filter(type="order.paid").count() == 1
    finally:
        receiver.close()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_payment_only_launch_with_a_real_worker(app, celery_worker, fake_kakao, plugin_base):
    receiver = Receiver()
    try:
        endpoint = webhook_endpoint_create(kakao_app=app, url=receiver.url, event_types=["order.paid"])
        make_product(price=7000, option_stock=3)
        api = Api(key_for(app, "orders"))
        sheet = api.post("order-sheets", sheet_body(quantity=1, relay_id="chat-w")).json()
        buyer = Buyer(plugin_base, fake_kakao.url, app_user_id="user-7")  # an unbound sheet: anyone may pay
        pay(buyer, sheet["id"])
        status = wait_until(
            lambda: (d := buyer.t4()["data"])["order_status"] != "W" and d, timeout=20, message="T4 to leave W"
        )
        assert status == {"order_status": "S"}
        order = api.get(f"orders/{buyer.partner_order_id}").json()
        assert order["status"] == "paid" and order["app_user_id"] == "user-7" and order["total_amount"] == 7000
        wait_until(lambda: receiver.received, timeout=20, message="the paid event from the worker")
        (event,) = received(receiver, endpoint)
        assert event["type"] == "order.paid" and event["data"]["order"]["partner_order_id"] == buyer.partner_order_id
    finally:
        receiver.close()


# --- webhooks per state change ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_one_signed_event_per_state_change_failed_refunded_cancelled(app, api, fake_kakao, plugin_base, eager_tasks):
    receiver = Receiver()
    try:
        endpoint = webhook_endpoint_create(kakao_app=app, url=receiver.url)
        make_product(price=10000, option_stock=5)
        sheet_id = api.post("order-sheets", sheet_body()).json()["id"]

        # declined at KakaoPay: failed
        declined = Buyer(plugin_base, fake_kakao.url)
        assert declined.t1(sheet_id)["status"] == 200
        declined.ready()
        declined.authorize()
        fake_kakao.fault("approve", "decline", match={"tid": declined.tid}, message="카드 잔액이 부족합니다.")
        declined.t2()
        declined.t3()
        assert declined.t4()["data"] == {"order_status": "F", "message": "카드 잔액이 부족합니다."}

        # the buyer tries again on the same sheet and pays; then a partial and a full refund
        buyer = Buyer(plugin_base, fake_kakao.url)
        pay(buyer, sheet_id)
        order = Order.objects.get(partner_order_id=buyer.partner_order_id)
        payments.payment_refund(order_id=order.pk, amount=5000, tax_free_amount=0, staff="staff")
        payments.payment_refund(order_id=order.pk, staff="staff")
        assert buyer.t4()["data"] == {"order_status": "C"}

        wait_until(lambda: len(receiver.received) >= 4, timeout=10, message="four events")
        events = received(receiver, endpoint)
        assert [(e["type"], e["data"]["order"]["partner_order_id"]) for e in events] == [
            ("order.failed", declined.partner_order_id),
            ("order.paid", buyer.partner_order_id),
            ("order.refunded", buyer.partner_order_id),
            ("order.cancelled", buyer.partner_order_id),
        ]
        failed, paid, refunded, cancelled = events
        assert failed["data"]["order"]["status"] == "failed" and failed["data"]["order"]["order_status"] == "F"
        assert failed["data"]["order"]["failure_reason"] == "declined"
        assert refunded["data"]["refund"]["amount"] == 5000
        assert refunded["data"]["order"]["status"] == "paid" and refunded["data"]["order"]["refunded_amount"] == 5000
        assert cancelled["data"]["refund"]["amount"] == 15000
        assert cancelled["data"]["order"]["status"] == "cancelled" and cancelled["data"]["order"]["refundable_amount"] == 0
        assert len({e["id"] for e in events}) == 4
        keys = set(WebhookEvent.objects.values_list("idempotency_key", flat=True))
        assert f"order.refunded:{buyer.partner_order_id}:1" in keys and f"order.cancelled:{buyer.partner_order_id}" in keys
        time_ok = all(signing.verify(endpoint.secret, r["headers"]["X-Webhook-Signature"], r["body"]) for r in receiver.received)
        assert time_ok and len(receiver.received) == 4  # nothing delivered twice
    finally:
        receiver.close()


@pytest.mark.django_db(transaction=True)
def test_the_buyer_cancelling_at_kakaopay_is_a_failed_event(app, api, fake_kakao, plugin_base, eager_tasks):
    receiver = Receiver()
    try:
        endpoint = webhook_endpoint_create(kakao_app=app, url=receiver.url, event_types=["order.failed"])
        make_product()
        buyer = Buyer(plugin_base, fake_kakao.url)
        buyer.t1(api.post("order-sheets", sheet_body(quantity=1)).json()["id"])
        r = Client().get(browser_path(buyer.t1_data["cancel_url"]))  # the buyer's browser, KakaoPay's redirect
        assert r.json() == {"status": 200}
        Client().get(browser_path(buyer.t1_data["cancel_url"]))  # a replay
        wait_until(lambda: receiver.received, timeout=10, message="the failed event")
        (event,) = received(receiver, endpoint)
        assert event["type"] == "order.failed" and event["data"]["order"]["failure_reason"] == "buyer_cancelled"
    finally:
        receiver.close()


# --- creating order sheets: option T2's validation, refusals ----------------------------------


@pytest.mark.django_db
def test_choices_are_validated_by_option_t2s_code(app, api, plugin_base):
    make_product(option_stock=1)
    bad = sheet_body(option_groups=[{"option_group_id": "size", "option_id": "XL"}])
    r = api.post("order-sheets", bad)
    t2 = Client().post(plugin_base + "option", {"id": "P-1", **{k: bad[k] for k in ("quantity", "option_groups")}},
                       content_type="application/json").json()  # fmt: skip
    assert r.status_code == 422 and t2["status"] == 400
    assert r.json() == {"status": 422, "message": t2["message"]}  # the same words as option T2
    assert "XL" in t2["message"]
    r = api.post("order-sheets", sheet_body())  # quantity 2 > stock 1
    assert r.status_code == 422 and "재고" in r.json()["message"]
    r = api.post("order-sheets", sheet_body(product_id="nope"))
    assert r.status_code == 422 and "nope" in r.json()["message"]
    r = api.post("order-sheets", sheet_body(quantity="two"))
    assert r.status_code == 400 and r.json()["status"] == 400 and "quantity" in r.json()["message"]
    r = api.post("order-sheets", {"quantity": 1})
    assert r.status_code == 400 and "product_id" in r.json()["message"]
    r = api.post("order-sheets", sheet_body(quantity=1, price=9999))
    assert r.status_code == 422 and "가격" in r.json()["message"]
    assert not OrderSheet.objects.exists()
    r = api.post("order-sheets", sheet_body(quantity=1, expires_in=600))
    assert r.status_code == 201
    made = OrderSheet.objects.get()
    assert 590 < (made.expires_at - timezone.now()).total_seconds() <= 600


@pytest.mark.django_db
def test_refused_without_a_payment_plugin_id_or_for_a_blocked_member(app, api):
    make_product()
    Customer.objects.create(kakao_app=app, app_user_id="bad", blocked=True)
    r = api.post("order-sheets", sheet_body(quantity=1, app_user_id="bad"))
    assert r.status_code == 422 and r.json()["status"] == 422
    app.payment_plugin_id = ""
    app.save()
    r = api.post("order-sheets", sheet_body(quantity=1))
    assert r.status_code == 409 and "plugin id" in r.json()["message"]
    assert not OrderSheet.objects.exists()


@pytest.mark.django_db
def test_launch_links(app, api):
    make_product(code="101:10013529")
    r = api.get("products/101:10013529/launch-link")
    assert r.status_code == 200
    assert r.json() == {
        "plugin_id": OPTION_PLUGIN,
        "launch_link": f"kakaotalk://bizplugin?plugin_id={OPTION_PLUGIN}&product_id=101%3A10013529",
        "product_id": "101:10013529", "product_name": "상품 101:10013529", "on_sale": True,
    }  # fmt: skip
    assert api.get("products/unknown/launch-link").status_code == 404
    sheet = api.post("order-sheets", {"product_id": "101:10013529", "option_groups": [
        {"option_group_id": "size", "option_id": "L"}]}).json()  # fmt: skip
    again = api.get(f"order-sheets/{sheet['id']}").json()
    assert again["launch_link"] == sheet["launch_link"] and again["id"] == sheet["id"]
    app.option_plugin_id = ""
    app.save()
    r = api.get("products/101:10013529/launch-link")
    assert r.status_code == 409 and r.json()["status"] == 409


# --- keys: authenticated, scoped to one app, revocable ----------------------------------------


@pytest.mark.django_db
def test_keys_are_scoped_to_their_app_and_revocable(app, other_app, api, plugin_base, fake_kakao):
    make_product()
    sheet_id = api.post("order-sheets", sheet_body(quantity=1, relay_id="chat-1")).json()["id"]
    buyer = Buyer(plugin_base, fake_kakao.url)
    buyer.t1(sheet_id)
    poid = buyer.partner_order_id
    assert api.get(f"orders/{poid}").status_code == 200

    other = Api(key_for(other_app, "orders", "members"))
    for path in (f"orders/{poid}", f"order-sheets/{sheet_id}", "orders/by-relay-id/chat-1"):
        r = other.get(path)
        assert r.status_code == 404 and r.json()["status"] == 404, path
    assert other.get("orders").json()["results"] == []
    Customer.objects.create(kakao_app=app, app_user_id="user-1")
    assert other.get("members/user-1").status_code == 404
    # the other app's key creates sheets in the other app only
    link = other.post("order-sheets", sheet_body(quantity=1)).json()["launch_link"]
    assert link.startswith("kakaotalk://bizplugin?plugin_id=other-pay&oneclick_id=os_")
    assert OrderSheet.objects.filter(kakao_app=other_app).count() == 1

    r = Api(None).get(f"orders/{poid}")
    assert r.status_code == 401 and r.json()["status"] == 401 and r["WWW-Authenticate"] == "Bearer"
    assert Api("kp_abc_def").get(f"orders/{poid}").status_code == 401
    r = Client().get(f"/api/v1/orders/{poid}", HTTP_AUTHORIZATION="Basic abc")
    assert r.status_code == 401
    members_only = Api(key_for(app, "members"))
    r = members_only.get(f"orders/{poid}")
    assert r.status_code == 403 and r.json()["status"] == 403
    assert Api(key_for(app, "orders")).get("members/user-1").status_code == 403

    key, plain = api_key_create(kakao_app=app, name="old", scopes=["orders"])
    assert Api(plain).get(f"orders/{poid}").status_code == 200
    api_key_revoke(api_key=key)
    r = Api(plain).get(f"orders/{poid}")
    assert r.status_code == 401 and "revoked" in r.json()["message"]


# --- reading orders and members ---------------------------------------------------------------


@pytest.mark.django_db
def test_order_list_filters_and_pagination(app, api, plugin_base, fake_kakao):
    make_product(option_stock=None)
    ids = []
    for n, user in enumerate(["a", "b", "a"]):
        sheet_id = api.post("order-sheets", sheet_body(quantity=1, relay_id=f"chat-{n}")).json()["id"]
        buyer = Buyer(plugin_base, fake_kakao.url, app_user_id=user)
        buyer.t1(sheet_id)
        ids.append(buyer.partner_order_id)
    Order.objects.filter(partner_order_id=ids[0]).update(status=Order.Status.FAILED)
    Order.objects.filter(partner_order_id=ids[1]).update(created_at=timezone.now() - timedelta(days=3))

    def listed(**params):
        r = api.get("orders", params)
        assert r.status_code == 200, r.content
        return [o["partner_order_id"] for o in r.json()["results"]]

    assert listed() == [ids[2], ids[0], ids[1]]  # newest first
    assert listed(app_user_id="a") == [ids[2], ids[0]]
    assert listed(status="failed") == [ids[0]]
    assert listed(status="failed,pending") == [ids[2], ids[0], ids[1]]
    assert listed(order_status="W") == [ids[2], ids[1]]
    assert listed(relay_id="chat-1") == [ids[1]]
    assert listed(created_after=(timezone.now() - timedelta(days=1)).isoformat()) == [ids[2], ids[0]]
    assert listed(created_before=(timezone.now() - timedelta(days=1)).isoformat()) == [ids[1]]

    page = api.get("orders", {"page_size": 2}).json()
    assert [o["partner_order_id"] for o in page["results"]] == [ids[2], ids[0]] and page["next"]
    rest = Client().get(page["next"], HTTP_AUTHORIZATION=api.headers["HTTP_AUTHORIZATION"]).json()
    assert [o["partner_order_id"] for o in rest["results"]] == [ids[1]] and rest["next"] is None

    r = api.get("orders", {"status": "paid,bogus"})
    assert r.status_code == 400 and "bogus" in r.json()["message"]
    r = api.get("orders", {"created_after": "yesterday"})
    assert r.status_code == 400 and r.json()["status"] == 400


@pytest.mark.django_db
def test_order_list_query_count_does_not_grow_with_orders(app, api, plugin_base, fake_kakao, django_assert_max_num_queries):
    make_product(option_stock=None)
    for _ in range(6):
        Buyer(plugin_base, fake_kakao.url).t1(api.post("order-sheets", sheet_body(quantity=1)).json()["id"])
    with django_assert_max_num_queries(6):  # key, last use, orders, lines, events (+ savepoint slack)
        assert len(api.get("orders").json()["results"]) == 6


@pytest.mark.django_db
def test_member_personal_data_only_with_its_scope(app, other_app):
    member = Customer.objects.create(kakao_app=app, app_user_id="m-1")
    MemberProfile.objects.create(
        customer=member, nickname="라이언", phone_number="+82 10-1234-5678", email="ryan@example.com",
        source="callback", collected_at=timezone.now(),
    )  # fmt: skip
    ShippingAddress.objects.create(customer=member, kakao_address_id="1", base_address="서울시 어딘가",
                                   zone_code="04524", collected_at=timezone.now())  # fmt: skip
    plain = Api(key_for(app, "members")).get("members/m-1")
    assert plain.status_code == 200
    body = plain.json()
    assert body["app_user_id"] == "m-1" and body["has_profile"] is True and body["personal"] is None
    assert "1234" not in plain.content.decode() and "ryan" not in plain.content.decode()
    full = Api(key_for(app, "members", "members:personal")).get("members/m-1").json()
    assert full["personal"]["phone_number"] == "+82 10-1234-5678" and full["personal"]["nickname"] == "라이언"
    assert full["personal"]["shipping_addresses"][0]["zone_code"] == "04524"
    assert Api(key_for(app, "members")).get("members/nobody").status_code == 404


# --- OpenAPI ----------------------------------------------------------------------------------


def test_openapi_schema_validates_without_warnings(tmp_path):
    from django.core.management import call_command

    out = tmp_path / "schema.json"
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", str(out))
    schema = json.loads(out.read_text())
    plugin = {p for p in schema["paths"] if p.startswith("/plugin/{plugin_key}/")}
    from kakaoplugin.plugin_paths import BROWSER_PATHS, PATHS

    assert plugin == {f"/plugin/{{plugin_key}}/{p}" for p in PATHS.values()}  # every plugin URL, exactly
    browser = {p for p in schema["paths"] if p.startswith(("/pay/", "/sync/"))}
    assert browser == {"/" + p.replace("<ref>", "{partner_order_id}" if p.startswith("pay/") else "{app_id}").replace("<token>", "{token}")
                       for p in BROWSER_PATHS.values()}  # fmt: skip
    assert {"/api/v1/order-sheets", "/api/v1/orders", "/api/v1/orders/{partner_order_id}",
            "/api/v1/members/{app_user_id}"} <= set(schema["paths"])  # fmt: skip
    assert schema["components"]["securitySchemes"]["MerchantApiKey"]["scheme"] == "bearer"
    t1 = schema["components"]["schemas"]["OrderSheetData"]
    assert "use_shipping" in t1["required"] and "vat_amount" in t1["properties"]


@pytest.mark.django_db
def test_schema_and_docs_are_served(client):
    r = client.get("/api/schema/", {"format": "json"})
    assert r.status_code == 200 and "/plugin/{plugin_key}/order/status" in r.json()["paths"]
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.django_db
def test_schemathesis_finds_no_server_error_on_the_plugin_endpoints(app, plugin_base, fake_kakao):
    """Fuzz every plugin operation of the schema (bounded examples) through the WSGI app."""
    import schemathesis
    from drf_spectacular.generators import SchemaGenerator
    from schemathesis.checks import not_a_server_error, response_schema_conformance

    from catalog.services import option_tree_import
    from config.wsgi import application
    from tests.support.schema_fuzz import fuzz, keep_test_connection
    from tests.support.trees import guide_tree

    option_tree_import(data=guide_tree())  # so that T1/T2 examples reach a real product
    raw = SchemaGenerator().get_schema(request=None, public=True)
    raw = json.loads(json.dumps(raw))
    raw["paths"] = {p: item for p, item in raw["paths"].items() if p.startswith(("/plugin/", "/pay/", "/sync/"))}
    raw["components"]["parameters"]["PluginKey"]["schema"] = {"type": "string", "enum": [app.plugin_key]}
    for item in raw["paths"].values():
        for operation in item.values():
            for parameter in operation["parameters"]:
                if parameter.get("name") == "plugin_key":
                    parameter["schema"] = {"type": "string", "enum": [app.plugin_key]}
    schema = schemathesis.openapi.from_dict(raw)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 12
    problems = []
    with keep_test_connection():
        for operation in operations:
            checks = [not_a_server_error]
            if operation.path != "/sync/{app_id}/redirect":  # an HTML page
                checks.append(response_schema_conformance)
            try:
                fuzz(operation, checks, application)
            except Exception as exc:  # collect every operation's failure, not just the first
                problems.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not problems, "\n\n".join(problems)


@pytest.mark.django_db
def test_a_nul_character_anywhere_is_a_400_envelope_not_a_500(app, plugin_base):
    """Found by the schemathesis run: PostgreSQL cannot store NUL, every plugin endpoint used to 500."""
    c = Client()
    gets = [("ordersheet", {"ordersheet_id": "a\x00b"}), ("order/status", {"order_id": "a\x00"}),
            ("options", {"id": "a\x00"})]  # fmt: skip
    for path, params in gets:
        r = c.get(plugin_base + path, params)
        assert r.status_code == 400 and r.json()["status"] == 400 and "NUL" in r.json()["message"], path
    posts = [("order/approve", {"partner_order_id": "a\x00", "tid": "t"}), ("option", {"id": "a\x00"}),
             ("callbacks/profile", {"otp": "https://talk-plugin.kakao.com/otp/a\x00/onetimeprofile"})]  # fmt: skip
    for path, body in posts:
        r = c.post(plugin_base + path, body, content_type="application/json")
        assert r.status_code == 400 and r.json()["status"] == 400, path
    assert c.get(plugin_base + "order/status", {"order_id": "po_x"}).json()["status"] == 300  # others pass

