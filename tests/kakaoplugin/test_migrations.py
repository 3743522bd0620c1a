"""Migrations keep existing data: a database built at the previous schema (the migration leaves before
the project wiring moved out and the merchant API keys moved to ``merchant``), filled through the
historical models, migrated to whatever the latest migrations are, then read and used with today's
code: the data is intact and an old API key still authenticates, over HTTP too.

The database is a fresh one of its own (``<test database>_migrations``, or a file with SQLite),
migrated forwards only: later migrations need not be reversible for this test to hold. The test
database of the run is put back as ``default`` afterwards.
"""

from __future__ import annotations

import copy
import hashlib
from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connections
from django.db.migrations.exceptions import IrreversibleError
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import load_backend
from django.utils import timezone

# The leaves of every project app before issue 14's migrations (kakaoplugin 0008, merchant 0003).
PREVIOUS = [
    ("kakaoplugin", "0007_staff_permissions"),
    ("catalog", "0005_stock_webhooks"),
    ("orders", "0005_one_tid_one_order"),
    ("callbacks", "0003_personal_data_permission_moved"),
    ("merchant", "0002_idempotency_keys"),
]
PLAIN_KEY = "kp_0123456789ab_" + "s" * 43  # kp_<prefix>_<secret>, as merchant.services makes them
REVOKED_KEY = "kp_ba9876543210_" + "r" * 43


def _key_hash(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


@pytest.fixture
def fresh_database(django_db_blocker, tmp_path):
    """An empty database of the configured engine, in use as ``default`` for the test."""
    original = connections["default"]
    settings_dict = copy.deepcopy(original.settings_dict)
    postgres = original.vendor == "postgresql"
    if postgres:
        settings_dict["NAME"] = f"{original.settings_dict['NAME']}_migrations"
        with django_db_blocker.unblock(), original._nodb_cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{settings_dict["NAME"]}"')
            cursor.execute(f'CREATE DATABASE "{settings_dict["NAME"]}"')
    else:
        settings_dict["NAME"] = str(tmp_path / "previous.sqlite3")
    fresh = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "default")
    connections["default"] = fresh
    ContentType.objects.clear_cache()
    try:
        with django_db_blocker.unblock():
            yield fresh
    finally:
        fresh.close()
        connections["default"] = original
        ContentType.objects.clear_cache()
        if postgres:
            with django_db_blocker.unblock(), original._nodb_cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{settings_dict["NAME"]}"')


def _migrate(connection, targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor


def _fill_previous_schema(apps) -> dict:
    """Representative rows, written with the models as they were at PREVIOUS."""
    now = timezone.now()
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    KakaoApp = apps.get_model("kakaoplugin", "KakaoApp")
    Customer = apps.get_model("kakaoplugin", "Customer")
    MerchantApiKey = apps.get_model("kakaoplugin", "MerchantApiKey")
    IdempotencyKey = apps.get_model("merchant", "IdempotencyKey")
    Product = apps.get_model("catalog", "Product")
    OptionGroup = apps.get_model("catalog", "OptionGroup")
    OptionSubGroup = apps.get_model("catalog", "OptionSubGroup")
    Option = apps.get_model("catalog", "Option")
    OrderSheet = apps.get_model("orders", "OrderSheet")
    Order = apps.get_model("orders", "Order")
    OrderLine = apps.get_model("orders", "OrderLine")
    PaymentEvent = apps.get_model("orders", "PaymentEvent")
    CallbackEvent = apps.get_model("callbacks", "CallbackEvent")

    # what post_migrate had made on a running install: the key's content type, its permissions,
    # a group holding one of them
    key_type = ContentType.objects.create(app_label="kakaoplugin", model="merchantapikey")
    for action in ("add", "change", "delete", "view"):
        Permission.objects.create(content_type=key_type, codename=f"{action}_merchantapikey", name=f"Can {action} key")
    developers = Group.objects.create(name="Developer")
    developers.permissions.add(*Permission.objects.filter(codename__in=["add_merchantapikey", "view_merchantapikey"]))

    shop = KakaoApp.objects.create(
        name="shop", environment="production", rest_api_key="rest-key-before",
        kakaopay_admin_key="admin-key-before", cid="TC0ONETIME", cid_secret="cid-secret-before",
    )  # fmt: skip
    member = Customer.objects.create(kakao_app=shop, app_user_id="member-1")
    product = Product.objects.create(code="P-100", name="머그컵", price=12000, stock=7)
    group = OptionGroup.objects.create(product=product, group_id="color", name="색상", position=0)
    sub = OptionSubGroup.objects.create(product=product, group=group, sub_group_id="color-main")
    red = Option.objects.create(product=product, sub_group=sub, option_id="red", value="빨강", add_price=1000, stock=3)
    Option.objects.create(product=product, sub_group=sub, option_id="blue", value="파랑", position=1)
    sheet = OrderSheet.objects.create(
        kakao_app=shop, livemode=True, app_user_id="member-1", product=product, product_code="P-100",
        product_name="머그컵", unit_price=12000, quantity=1, total_amount=13000, expires_at=now + timedelta(days=1),
    )  # fmt: skip
    order = Order.objects.create(
        sheet=sheet, kakao_app=shop, livemode=True, app_user_id="member-1", partner_user_id="member-1",
        item_name="머그컵", quantity=1, goods_amount=13000, total_amount=13000, vat_amount=1182,
        status="paid", tid="T-before-1", aid="A-before-1", approved_amount=13000, approved_at=now,
        payment_method="CARD", completed_at=now,
    )  # fmt: skip
    OrderLine.objects.create(order=order, description="머그컵 / 빨강", quantity=1, amount=13000,
                             catalog_product=product, catalog_option=red)  # fmt: skip
    for kind in ("t1_served", "t2_received", "approve_request", "approve_success"):
        PaymentEvent.objects.create(order=order, kind=kind, idempotency_key=f"{order.partner_order_id}:{kind}",
                                    outcome="ok", request={"tid": "T-before-1"})  # fmt: skip
    key = MerchantApiKey.objects.create(
        kakao_app=shop, name="erp", prefix="0123456789ab", key_hash=_key_hash(PLAIN_KEY),
        scopes=["orders", "members"], created_by="owner",
    )  # fmt: skip
    MerchantApiKey.objects.create(kakao_app=shop, name="old", prefix="ba9876543210",
                                  key_hash=_key_hash(REVOKED_KEY), scopes=["orders"], revoked_at=now)  # fmt: skip
    IdempotencyKey.objects.create(api_key=key, key="req-1", fingerprint="f" * 64, response_status=201,
                                  response_content='{"ok": true}')  # fmt: skip
    callback = CallbackEvent.objects.create(kind="onetimeprofile", kakao_app=shop, relay_id="relay-1",
                                            app_user_id="member-1", body='{"otp": "..."}', status="processed",
                                            customer=member)  # fmt: skip
    return {"app": shop.pk, "key": key.pk, "order": order.partner_order_id, "callback": callback.pk,
            "product": product.pk, "key_type": key_type.pk}  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_data_of_the_previous_schema_survives_every_migration_since(fresh_database, client):
    executor = _migrate(fresh_database, PREVIOUS)
    made = _fill_previous_schema(executor.loader.project_state(PREVIOUS).apps)

    latest = executor.loader.graph.leaf_nodes()
    assert executor.migration_plan(latest), "nothing to migrate: is PREVIOUS still the previous schema?"
    executor = _migrate(fresh_database, latest)
    assert executor.migration_plan(latest) == []

    from callbacks.models import CallbackEvent
    from catalog.models import Product
    from kakaoplugin.models import Customer, KakaoApp
    from merchant.models import MerchantApiKey
    from merchant.services import api_key_authenticate
    from orders.models import Order

    # the key: same row, same table, now the merchant app's model; it authenticates, the revoked one does not
    key = MerchantApiKey.objects.get(pk=made["key"])
    assert (key.name, key.prefix, key.scopes, key.created_by) == ("erp", "0123456789ab", ["orders", "members"], "owner")
    assert api_key_authenticate(plain=PLAIN_KEY) == key
    assert api_key_authenticate(plain=REVOKED_KEY) is None
    assert [k.key for k in key.idempotency_keys.all()] == ["req-1"]
    assert KakaoApp.objects.get(pk=made["app"]).api_keys.count() == 2

    # its content type was relabelled: the permissions, and the group holding them, followed it
    assert ContentType.objects.get(pk=made["key_type"]).app_label == "merchant"
    assert not ContentType.objects.filter(app_label="kakaoplugin", model="merchantapikey").exists()
    from django.contrib.auth.models import Group

    granted = {f"{p.content_type.app_label}.{p.codename}" for p in Group.objects.get(name="Developer").permissions.all()}
    assert granted == {"merchant.add_merchantapikey", "merchant.view_merchantapikey"}

    # the rest, read with today's models: secrets still decrypt, the catalog tree, the order and its log
    app = KakaoApp.objects.get(pk=made["app"])
    assert (app.rest_api_key, app.kakaopay_admin_key, app.cid_secret) == ("rest-key-before", "admin-key-before", "cid-secret-before")
    assert Customer.objects.get(kakao_app=app).app_user_id == "member-1"
    product = Product.objects.get(pk=made["product"])
    assert (product.code, product.price, product.stock) == ("P-100", 12000, 7)
    group = product.option_groups.get()
    options = [(o.option_id, o.value, o.add_price, o.stock) for s in group.sub_groups.all() for o in s.options.order_by("position")]
    assert options == [("red", "빨강", 1000, 3), ("blue", "파랑", None, None)]
    order = Order.objects.get(partner_order_id=made["order"])
    assert (order.status, order.tid, order.approved_amount, order.total_amount) == ("paid", "T-before-1", 13000, 13000)
    assert order.lines.get().catalog_option.option_id == "red"
    assert sorted(e.idempotency_key.rsplit(":", 1)[1] for e in order.events.all()) == [
        "approve_request", "approve_success", "t1_served", "t2_received",
    ]  # fmt: skip
    callback = CallbackEvent.objects.get(pk=made["callback"])
    assert (callback.relay_id, callback.customer.app_user_id) == ("relay-1", "member-1")

    # and over HTTP, as the merchant's system calls it: the old key reads the old order
    answer = client.get(f"/api/v1/orders/{made['order']}", headers={"authorization": f"Bearer {PLAIN_KEY}"})
    assert answer.status_code == 200, answer.content
    assert answer.json()["partner_order_id"] == made["order"]
    refused = client.get(f"/api/v1/orders/{made['order']}", headers={"authorization": f"Bearer {REVOKED_KEY}"})
    assert refused.status_code == 401


@pytest.mark.django_db(transaction=True)
def test_the_key_move_runs_backwards(fresh_database):
    executor = _migrate(fresh_database, PREVIOUS)
    made = _fill_previous_schema(executor.loader.project_state(PREVIOUS).apps)
    executor = _migrate(fresh_database, executor.loader.graph.leaf_nodes())
    try:
        executor = _migrate(fresh_database, PREVIOUS)
    except IrreversibleError as exc:  # a later migration (not the key move) cannot run backwards
        pytest.skip(f"a migration after PREVIOUS is irreversible: {exc}")
    apps = executor.loader.project_state(PREVIOUS).apps
    key = apps.get_model("kakaoplugin", "MerchantApiKey").objects.get(pk=made["key"])
    assert key.key_hash == _key_hash(PLAIN_KEY) and key.idempotency_keys.count() == 1
    assert apps.get_model("contenttypes", "ContentType").objects.get(pk=made["key_type"]).app_label == "kakaoplugin"
