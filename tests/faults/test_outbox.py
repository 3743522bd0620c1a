"""Broker and cache down (issue 12, item 2): a T2 or T3 that took effect is answered with its
contract answer, the work owed after the commit waits in the outbox, and once Redis is back the
dispatcher (beat) sends it and the order settles, without waiting for its hold to expire.

Real processes: gunicorn and a Celery worker and beat on a Redis of the test's own (stopped and
started again; the shared one is never touched), the test database (PostgreSQL), the fake KakaoPay.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest
from django.conf import settings

from catalog.models import Option
from kakaoplugin.models import OutboxMessage, WebhookDelivery, WebhookEndpoint
from orders.models import Order
from tests.conftest import _database_url, fake_environment, wait_until
from tests.support.payments import Buyer, make_product, make_sheet
from tests.support.processes import HttpClient, OwnRedis, celery, free_port, gunicorn, stop

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture
def own_redis(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server")
    redis = OwnRedis(tmp_path).start()
    yield redis
    redis.stop()


@pytest.fixture
def stack_env(own_redis, fake_kakao):
    """The environment of our processes: the test database, the own Redis, the fake."""
    db_url = _database_url()
    if db_url is None or not settings.CELERY_BROKER_URL:
        pytest.skip("needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL): run by .ci/run")
    return os.environ | fake_environment(fake_kakao.url) | {
        "DATABASE_URL": db_url,
        "REDIS_URL": own_redis.url(0),
        "CELERY_BROKER_URL": own_redis.url(0),
        "CACHE_URL": own_redis.url(1),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONUNBUFFERED": "1",
        "OUTBOX_GRACE_SECONDS": "1",
        "OUTBOX_DISPATCH_EVERY_SECONDS": "1",
        "OUTBOX_PAUSE_SECONDS": "1",
        "PAYMENT_STALLED_SECONDS": "3600",  # the outbox settles it, not the reconciler
    }


def test_payment_t2_t3_committed_while_redis_is_down_are_answered_and_settle_when_it_is_back(
    own_redis, stack_env, kakao_app, fake_kakao, tmp_path
):
    product, option = make_product(option_stock=5)
    sheet = make_sheet(kakao_app, product, option, quantity=2)
    late_sheet = make_sheet(kakao_app, product, option, quantity=4, app_user_id="user-2")
    WebhookEndpoint.objects.create(kakao_app=kakao_app, url="http://127.0.0.1:9/hooks", secret="whsec-test")
    port = free_port()
    web = gunicorn(stack_env | {"PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}, port)
    worker = beat = None
    try:
        http = HttpClient(f"http://127.0.0.1:{port}")
        plugin_base = f"/plugin/{kakao_app.plugin_key}/"
        buyer = Buyer(plugin_base, fake_kakao.url, client=http)
        assert buyer.t1(sheet.pk)["status"] == 200
        buyer.ready()
        buyer.authorize()
        late = Buyer(plugin_base, fake_kakao.url, client=http, app_user_id="user-2")
        assert late.t1(late_sheet.pk)["status"] == 200
        late.ready()
        late.authorize()
        assert http.get(plugin_base + "options", {"id": product.code}).status_code == 200  # cached

        own_redis.stop()  # the broker and the cache are gone

        assert buyer.t2() == {"status": 200}  # the stock is held: that is what Kakao hears
        assert buyer.t3() == {"status": 200}  # the pg_token is stored
        # a refusal that took effect (the order failed, the merchant's webhook is owed) is said too
        assert late.t2() == {"status": 300, "message": "주문 상품이 품절되었습니다. (사이즈: L)"}
        late_order = Order.objects.get(partner_order_id=late.partner_order_id)
        assert late_order.status == Order.Status.FAILED
        order = Order.objects.get(partner_order_id=buyer.partner_order_id)
        assert order.status == Order.Status.HELD and order.pg_token == buyer.pg_token
        assert Option.objects.get(pk=option.pk).stock == 3
        owed = sorted(OutboxMessage.objects.values_list("task", "args"))
        assert owed == [
            ("catalog.tasks.forget_cached_trees", [[product.pk]]),
            ("orders.tasks.approve_order", [order.pk]),
            ("orders.tasks.emit_order_webhooks", [late_order.pk, "order.failed"]),  # the dispatcher's, batched
        ]
        # hot reads do without the cache: option T1 from the database, T4 as always
        r = http.get(plugin_base + "options", {"id": product.code})
        assert r.status_code == 200 and r.json()["data"]["id"] == product.code
        assert buyer.t4()["data"]["order_status"] == "W"
        assert fake_kakao.calls("approve") == []

        own_redis.start()
        back = time.monotonic()
        worker = celery(
            stack_env, "worker", "--pool", "threads", "--concurrency", "2", "--without-gossip",
            "--without-mingle", "--without-heartbeat", "--hostname", f"fault-worker-{os.getpid()}@%h",
        )  # fmt: skip
        beat = celery(stack_env, "beat", "--schedule", str(tmp_path / "beat-schedule"))
        wait_until(lambda: buyer.t4()["data"]["order_status"] == "S", timeout=90, interval=0.5, message="S")
        settled = time.monotonic() - back
        wait_until(lambda: not OutboxMessage.objects.exists(), timeout=30, interval=0.5, message="an empty outbox")
        assert WebhookDelivery.objects.filter(event__type="order.failed", event__idempotency_key__endswith=late.partner_order_id).exists()
        print(f"Redis back, worker and beat started: the order is S {settled:.1f} s later")
    finally:
        stop(beat)
        stop(worker)
        stop(web)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.approved_amount == order.total_amount == 20000
    assert len([c for c in fake_kakao.calls("approve") if c["params"].get("tid") == buyer.tid]) == 1


def test_a_dispatch_that_failed_is_noted_and_sent_by_the_dispatcher(settings):
    """In one process, against a Redis port nobody listens on: the failure is noted on the row
    (attempts, error, next attempt later), never raised; the dispatcher sends it once Redis works."""
    from django.db import transaction

    from catalog import cache as tree_cache
    from catalog.tasks import forget_cached_trees
    from kakaoplugin.outbox import outbox_add, outbox_dispatch_due

    if not settings.CACHE_URL:
        pytest.skip("needs Redis (CACHE_URL)")
    product, _ = make_product()
    _, generation = tree_cache.cached_body(product.code)
    working = settings.CACHES
    settings.OUTBOX_PAUSE_SECONDS = 0
    settings.CACHES = {"default": working["default"] | {"LOCATION": f"redis://127.0.0.1:{free_port()}/0"}}
    with transaction.atomic():
        outbox_add(task=forget_cached_trees, args=[[product.pk]], inline=True)
    message = OutboxMessage.objects.get()
    assert message.attempts == 1 and message.last_error.startswith("ConnectionError")
    assert outbox_dispatch_due() == {"sent": 0, "failed": 0}  # not due yet

    OutboxMessage.objects.update(next_attempt_at=message.created_at)
    assert outbox_dispatch_due() == {"sent": 0, "failed": 1}  # still down: noted again
    assert OutboxMessage.objects.get().attempts == 2

    settings.CACHES = working
    OutboxMessage.objects.update(next_attempt_at=message.created_at)
    assert outbox_dispatch_due() == {"sent": 1, "failed": 0}
    assert not OutboxMessage.objects.exists()
    assert tree_cache.cached_body(product.code)[1] != generation  # the tree's cache was renewed
