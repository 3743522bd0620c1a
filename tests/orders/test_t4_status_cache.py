"""Payment T4 from the status cache (issue 18, orders.status_cache): published after commit, warm
polls without the database, versions that never go back, lost writes healed within the bound, and
a real worker's transitions raced against pollers.

Runs on PostgreSQL + Redis (CI) and on the embedded default (SQLite + files)."""

from __future__ import annotations

import random
import threading
import time

import pytest
from django.core.cache import caches
from django.db import connection, connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kakaoplugin.models import KakaoApp
from orders import status_cache
from orders.models import Order
from tests.conftest import wait_until
from tests.support.payments import Buyer, make_product, make_sheet

pytestmark = pytest.mark.django_db(transaction=True)

CONTRACT = {  # docs/contracts.md, T4: the exact bytes
    "W": b'{"status":200,"data":{"order_status":"W"}}',
    "S": b'{"status":200,"data":{"order_status":"S"}}',
    "C": b'{"status":200,"data":{"order_status":"C"}}',
}
UNKNOWN = '{"status":300,"message":"유효하지 않은 주문입니다."}'.encode()
NOT_OWNER = '{"status":400,"message":"주문자 정보가 일치하지 않습니다."}'.encode()


def store():
    found = status_cache._store()
    assert found is not None
    return found


def entry_of(partner_order_id: str):
    entry, _ = store().read(partner_order_id)
    return None if entry is None else status_cache.orjson.loads(entry)


def poll(client: Client, plugin_base: str, partner_order_id: str, user: str = "user-1"):
    return client.get(plugin_base + "order/status", {"order_id": partner_order_id}, HTTP_X_KAKAO_APPUSERID=user)


@pytest.fixture
def order(kakao_app, plugin_base):
    product, option = make_product(option_stock=None)
    buyer = Buyer(plugin_base, "http://127.0.0.1:9")
    assert buyer.t1(make_sheet(kakao_app, product, option).pk)["status"] == 200
    return Order.objects.get(partner_order_id=buyer.partner_order_id)


def test_created_order_is_filled_by_its_first_poll_and_a_warm_poll_reads_no_database(order, plugin_base):
    client = Client()
    # payment T1's commit publishes nothing (no entry can exist for a new order): the first poll
    # misses, reads the row and fills the entry
    assert entry_of(order.partner_order_id) is None
    assert poll(client, plugin_base, order.partner_order_id).content == CONTRACT["W"]
    assert entry_of(order.partner_order_id) == [order.kakao_app_id, "W", "user-1", ""]
    with CaptureQueriesContext(connection) as queries:
        response = poll(client, plugin_base, order.partner_order_id)
    assert response.content == CONTRACT["W"] and response.status_code == 200
    assert len(queries) == 0, [q["sql"] for q in queries]


def test_a_miss_reads_the_database_once_and_fills_the_cache(order, plugin_base):
    client = Client()
    poll(client, plugin_base, order.partner_order_id)  # the app's key is looked up once per process
    caches["default"].delete("t4:" + order.partner_order_id)  # evicted
    with CaptureQueriesContext(connection) as queries:
        assert poll(client, plugin_base, order.partner_order_id).content == CONTRACT["W"]
    assert len(queries) == 1 and "partner_order_id" in queries[0]["sql"]
    assert entry_of(order.partner_order_id)[1] == "W"
    with CaptureQueriesContext(connection) as queries:
        assert poll(client, plugin_base, order.partner_order_id).content == CONTRACT["W"]
    assert len(queries) == 0


def test_every_kind_of_write_publishes_and_answers_stay_byte_identical(order, plugin_base, settings):
    client = Client()
    pk, poid = order.pk, order.partner_order_id

    def both() -> bytes:
        """T4's answer from the cache, then with the cache off (the database): must be equal."""
        cached = poll(client, plugin_base, poid).content
        settings.T4_STATUS_CACHE_SECONDS = 0
        try:
            direct = poll(client, plugin_base, poid).content
        finally:
            settings.T4_STATUS_CACHE_SECONDS = 5.0
        assert cached == direct
        return cached

    assert both() == CONTRACT["W"]
    # T2's hold and the approval's claim move between W states: T4 cannot change, nothing is published
    with CaptureQueriesContext(connection) as queries:
        Order.objects.filter(pk=pk).update(status=Order.Status.HELD)
        Order.objects.filter(pk=pk).update(status=Order.Status.APPROVING, pg_token="t")
    assert len(queries) == 2 and entry_of(poid)[1] == "W"
    Order.objects.filter(pk=pk).update(status=Order.Status.PAID)  # QuerySet.update
    assert entry_of(poid)[1] == "S" and both() == CONTRACT["S"]
    locked = Order.objects.get(pk=pk)
    locked.status, locked.failure_message = Order.Status.FAILED, "재고가 부족합니다."
    locked.save()  # Model.save
    assert both() == '{"status":200,"data":{"order_status":"F","message":"재고가 부족합니다."}}'.encode()
    Order.objects.filter(pk=pk).update(failure_message="")  # F's message alone changes: published too
    assert both() == '{"status":200,"data":{"order_status":"F","message":"결제에 실패했습니다."}}'.encode()
    with transaction.atomic():  # several writes in one transaction: the committed end state
        Order.objects.filter(pk=pk).update(status=Order.Status.PAID)
        locked.status = Order.Status.CANCELLED
        locked.save(update_fields=["status"])
    assert both() == CONTRACT["C"]
    # not the owner, another app, an unknown order: as from the database
    assert poll(client, plugin_base, poid, user="someone-else").content == NOT_OWNER
    other = KakaoApp.objects.create(name="other", rest_api_key="k", kakaopay_admin_key="a", cid="TC0ONETIME")
    response = poll(client, f"/plugin/{other.plugin_key}/", poid)
    assert response.content == UNKNOWN
    assert poll(client, plugin_base, "po_no-such-order").content == UNKNOWN
    assert poll(client, plugin_base, "x" * 150).content == UNKNOWN  # never a cache key
    # a save that touches nothing T4 reads publishes nothing (no extra query)
    with CaptureQueriesContext(connection) as queries:
        Order.objects.get(pk=pk).save(update_fields=["pg_token"])
    assert len(queries) == 2  # the get and the update
    Order.objects.filter(pk=pk).delete()
    assert entry_of(poid) is None and poll(client, plugin_base, poid).content == UNKNOWN


def test_nothing_uncommitted_is_ever_cached_or_served(order, plugin_base):
    poid = order.partner_order_id
    seen = []

    def other_poller():
        seen.append(poll(Client(), plugin_base, poid).content)
        connections.close_all()

    with transaction.atomic():
        Order.objects.filter(pk=order.pk).update(status=Order.Status.PAID)
        assert status_cache.t4_row(kakao_app_id=order.kakao_app_id, partner_order_id=poid)[0] == "S"  # own write
        caches["default"].delete("t4:" + poid)
        thread = threading.Thread(target=other_poller)
        thread.start()
        thread.join()
        assert seen == [CONTRACT["W"]]  # the other connection: the committed state, not ours
        assert entry_of(poid) == [order.kakao_app_id, "W", "user-1", ""]  # refilled with the committed W
    assert entry_of(poid)[1] == "S"  # published after the commit
    with transaction.atomic():
        Order.objects.filter(pk=order.pk).update(status=Order.Status.CANCELLED)
        transaction.set_rollback(True)
    assert entry_of(poid)[1] == "S"  # a rolled-back write publishes nothing


def test_a_late_stale_write_never_replaces_a_newer_entry(order, plugin_base):
    poid, app_id = order.partner_order_id, order.kakao_app_id
    s = store()
    stale = status_cache.orjson.dumps([app_id, "W", "user-1", ""])
    # a poll misses and reads the row (W), then the worker commits S and publishes first (a bump:
    # there is no entry to replace)
    caches["default"].delete("t4:" + poid)
    _, read_version = s.read(poid)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PAID)
    s.put([(poid, read_version, stale, 5000)])  # the poll's fill arrives late: refused
    assert entry_of(poid) is None
    assert poll(Client(), plugin_base, poid).content == CONTRACT["S"]  # the next poll fills S
    assert entry_of(poid)[1] == "S"
    # a slow publisher bumped before a faster one: its stale row cannot land either
    ((slow, held),) = s.bump([poid])
    assert held  # the entry S is there: the publication reads the row and replaces it
    Order.objects.filter(pk=order.pk).update(status=Order.Status.CANCELLED)
    s.put([(poid, slow, status_cache.orjson.dumps([app_id, "S", "user-1", ""]), 5000)])
    assert entry_of(poid)[1] == "C"
    # the counter evicted while the entry lives: the next publication still replaces the entry
    caches["default"].delete("t4v:" + poid)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.FAILED, failure_message="환불되었습니다.")
    assert entry_of(poid) == [app_id, "F", "user-1", "환불되었습니다."]


def test_a_change_of_an_order_nobody_polled_publishes_without_reading_the_database(order, plugin_base):
    """A flash sale's refused buyers: their orders fail and Kakao never polls them. The publication
    bumps the version and stops (no entry to replace); a fill that began before the commit is
    refused; the first poll reads the committed row."""
    poid, app_id = order.partner_order_id, order.kakao_app_id
    assert entry_of(poid) is None
    _, before = store().read(poid)  # a poll that missed before the commit and read W
    with CaptureQueriesContext(connection) as queries:
        Order.objects.filter(pk=order.pk).update(status=Order.Status.FAILED, failure_message="품절")
    assert len(queries) == 1, [q["sql"] for q in queries]  # the UPDATE only: nothing read after the commit
    assert entry_of(poid) is None
    store().put([(poid, before, status_cache.orjson.dumps([app_id, "W", "user-1", ""]), 5000)])  # its late fill
    assert entry_of(poid) is None
    expected = '{"status":200,"data":{"order_status":"F","message":"품절"}}'.encode()
    assert poll(Client(), plugin_base, poid).content == expected
    assert entry_of(poid) == [app_id, "F", "user-1", "품절"]


def test_a_lost_publication_heals_within_the_bound(order, plugin_base, settings):
    settings.T4_STATUS_CACHE_SECONDS = 2.0
    client = Client()
    poid = order.partner_order_id
    caches["default"].delete("t4:" + poid)
    assert poll(client, plugin_base, poid).content == CONTRACT["W"]  # filled, lives 2 s from its read
    filled_at = time.monotonic()
    with connection.cursor() as cursor:  # a write whose publication is lost (raw SQL: no model layer)
        cursor.execute(f"UPDATE {Order._meta.db_table} SET status = 'paid' WHERE id = %s", [order.pk])
    answers = wait_until(
        lambda: poll(client, plugin_base, poid).content == CONTRACT["S"], timeout=10, interval=0.05,
        message="the lost write to heal",
    )  # fmt: skip
    assert answers
    assert time.monotonic() - filled_at >= 1.0  # it was the cache that answered W meanwhile, not the row
    # a corrupted entry is a miss: read from the database and replaced
    key = caches["default"].make_key("t4:" + poid)
    if hasattr(store(), "client"):
        store().client.set(key, b"garbage", px=60_000)
    else:
        caches["default"].set("t4:" + poid, "7:{not json", 60)
    assert poll(client, plugin_base, poid).content == CONTRACT["S"]


def test_the_protocol_on_the_file_cache_of_the_embedded_default(order, plugin_base, settings, tmp_path):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                                   "LOCATION": str(tmp_path / "cache")}}  # fmt: skip
    assert isinstance(store(), status_cache.LockedStore)
    client = Client()
    poid = order.partner_order_id
    assert poll(client, plugin_base, poid).content == CONTRACT["W"]
    with CaptureQueriesContext(connection) as queries:
        assert poll(client, plugin_base, poid).content == CONTRACT["W"]
    assert len(queries) == 0
    _, read_version = store().read(poid)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PAID)
    store().put([(poid, read_version, status_cache.orjson.dumps([order.kakao_app_id, "W", "user-1", ""]), 5000)])
    assert poll(client, plugin_base, poid).content == CONTRACT["S"]
    assert (tmp_path / "cache" / "t4-status.lock").exists()


def test_pollers_racing_a_real_worker_never_see_a_state_before_its_commit(
    celery_worker, fake_kakao, kakao_app, plugin_base
):
    """Orders paid by the worker while pollers hammer T4 and a chaos thread evicts entries: no poll
    answers S before the order's payment committed, no poller ever goes back from S to W, and once
    the cache showed S every later poll answers S."""
    product, option = make_product(option_stock=None)
    buyers = []
    for i in range(6):
        buyer = Buyer(plugin_base, fake_kakao.url, app_user_id=f"racer-{i}")
        buyer.t1(make_sheet(kakao_app, product, option, app_user_id=f"racer-{i}").pk)
        buyer.ready()
        buyer.authorize()
        assert buyer.t2() == {"status": 200}
        buyers.append(buyer)
    stop = threading.Event()
    polls: list[tuple[str, float, float, str]] = []  # (order, started, ended, state)
    first_cached_s: dict[str, float] = {}
    lock = threading.Lock()

    def poller(n: int):
        client = Client()
        rng = random.Random(n)
        try:
            while not stop.is_set():
                buyer = rng.choice(buyers)
                started = time.time()
                state = poll(client, plugin_base, buyer.partner_order_id, buyer.app_user_id).json()["data"]["order_status"]
                with lock:
                    polls.append((buyer.partner_order_id, started, time.time(), state))
        finally:
            connections.close_all()

    def watcher():  # when the cache first showed S, and evictions now and then (misses race fills)
        rng = random.Random(99)
        try:
            while not stop.is_set():
                for buyer in buyers:
                    entry = entry_of(buyer.partner_order_id)
                    if entry and entry[1] == "S":
                        first_cached_s.setdefault(buyer.partner_order_id, time.time())
                    if rng.random() < 0.2:
                        caches["default"].delete("t4:" + buyer.partner_order_id)
                time.sleep(0.002)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=poller, args=(n,)) for n in range(4)] + [threading.Thread(target=watcher)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        for buyer in buyers:
            assert buyer.t3() == {"status": 200}
        wait_until(lambda: len(first_cached_s) == len(buyers), timeout=30, message="every order published S")
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    committed = {o.partner_order_id: o for o in Order.objects.filter(partner_order_id__in=[b.partner_order_id for b in buyers])}
    assert all(o.status == Order.Status.PAID for o in committed.values())
    assert polls and {p[3] for p in polls} <= {"W", "S"}
    for poid, order in committed.items():
        mine = [p for p in polls if p[0] == poid]
        assert any(p[3] == "W" for p in mine) and any(p[3] == "S" for p in mine)
        paid_at = order.completed_at  # set inside the paying transaction, so before its commit
        for _, started, ended, state in mine:
            if state == "S":
                assert ended >= paid_at.timestamp(), "a poll answered S before the payment was written"
            if started > first_cached_s[poid]:
                assert state == "S", "a poll went back to W after S was published"
