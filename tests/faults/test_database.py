"""Plugin paths under database faults (issue 12, item 1): a connection the database dropped is
replaced and the request answered; a database that cannot be reached is a 503 JSON envelope with
Retry-After, never an HTML page.  (Broker and cache faults: tests/faults/test_outbox.py.)"""

from __future__ import annotations

import psycopg2
import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from kakaoplugin.selectors import forget_plugin_keys
from tests.support.payments import make_product

pytestmark = pytest.mark.django_db(transaction=True)

# (method, path below the plugin base or from the root, query or body, the envelope status a
# healthy database gives, its HTTP status)
CALLS = {
    "T4": ("get", "order/status", {"order_id": "po_unknown"}, 300, 200),
    "payment T1": ("get", "ordersheet", {"ordersheet_id": "unknown"}, 300, 200),
    "T2": ("post", "order/approve", {"partner_order_id": "po_unknown", "tid": "T-1"}, 300, 200),
    # the buyer's browser (KakaoPay's approval redirect): an order that is not there
    "T3": ("get", "/pay/po_unknown/approval/not-a-token", {"pg_token": "pg"}, 404, 404),
    "option T1": ("get", "options", {"id": "P-1"}, 200, 200),
}


@pytest.fixture(autouse=True)
def _postgresql(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("dropping a connection needs PostgreSQL (DATABASE_URL)")
    yield
    connection.close()  # a request answered from the cache may leave the dropped one behind


def call(client: Client, plugin_base: str, name: str):
    method, path, data, _, _ = CALLS[name]
    headers = {"HTTP_X_KAKAO_APPUSERID": "user-1"}
    url = path if path.startswith("/") else plugin_base + path
    if method == "post":
        return client.post(url, data, content_type="application/json", **headers)
    return client.get(url, data, **headers)


def drop_our_connection() -> None:
    """What a database restart does to a kept connection: the server ends the backend under it."""
    pid = connection.connection.info.backend_pid
    s = connection.settings_dict
    admin = psycopg2.connect(
        dbname=s["NAME"], user=s["USER"] or "postgres", password=s["PASSWORD"] or None,
        host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432,
    )  # fmt: skip
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])  # waits until it is gone
        assert cursor.fetchone()[0]
    admin.close()


def assert_answered(response, name: str) -> None:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    assert response.status_code == CALLS[name][4], response.content
    assert response.json()["status"] == CALLS[name][3]


@pytest.mark.parametrize("app_cached", [True, False], ids=["app cached", "app looked up"])
@pytest.mark.parametrize("name", list(CALLS))
def test_first_request_on_a_dropped_connection_is_answered(client, kakao_app, plugin_base, name, app_cached):
    make_product(code="P-1")
    assert_answered(call(client, plugin_base, name), name)  # the connection is kept (CONN_MAX_AGE)
    drop_our_connection()
    if not app_cached:
        forget_plugin_keys()  # the gate's app lookup is then the first statement on it
    assert_answered(call(client, plugin_base, name), name)
    assert_answered(call(client, plugin_base, name), name)


@pytest.mark.parametrize("name", list(CALLS))
def test_unreachable_database_is_a_503_envelope_with_retry_after(client, kakao_app, plugin_base, name, settings):
    make_product(code="P-1")
    assert_answered(call(client, plugin_base, name), name)
    real_port = connection.settings_dict["PORT"]
    cache.clear()  # option T1 then reads the database (a cached tree is served without it)
    drop_our_connection()
    # Nothing listens there: every reconnect is refused, as while PostgreSQL is stopped.
    connection.settings_dict["PORT"] = "1"
    try:
        for app_cached in (True, False):
            if not app_cached:
                forget_plugin_keys()
            response = call(client, plugin_base, name)
            assert response.status_code == 503, response.content[:300]
            assert response["Content-Type"].startswith("application/json")
            assert response["Retry-After"] == str(settings.PLUGIN_RETRY_AFTER_SECONDS)
            body = response.json()
            assert body["status"] == 503 and "잠시 후 다시 시도해 주세요" in body["message"]
    finally:
        connection.close()
        connection.settings_dict["PORT"] = real_port
    # the database is back: the first request is answered
    assert_answered(call(client, plugin_base, name), name)
