"""Payment T2's refusals owe their ``order.failed`` webhook to the outbox's dispatcher, which emits
every such event due in one batch (issue 18: a flash sale's thousands of buyers who find the stock
gone).  The refusal's request only inserts an outbox row; the event exists iff the failure
committed, once, with the order as it failed.

The requests run in this process against the fake KakaoPay; PostgreSQL or SQLite.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kakaoplugin import outbox
from kakaoplugin.models import OutboxMessage, WebhookDelivery, WebhookEndpoint, WebhookEvent
from kakaoplugin.outbox import outbox_add, outbox_dispatch_due
from orders.models import Order
from orders.webhooks import EMIT_BATCH_TASK
from tests.support.payments import Buyer, make_product, make_sheet

pytestmark = pytest.mark.django_db


def refused_buyers(kakao_app, plugin_base, fake_kakao, n: int) -> list[Buyer]:
    """``n`` buyers refused at payment T2 (one unit, taken by a first buyer)."""
    product, option = make_product(option_stock=1)
    first = Buyer(plugin_base, fake_kakao.url, app_user_id="winner")
    first.t1(make_sheet(kakao_app, product, option, app_user_id="winner").pk)
    first.ready()
    assert first.t2() == {"status": 200}
    OutboxMessage.objects.all().delete()  # its tree renewal (sent after a commit this test never makes)
    buyers = []
    for i in range(n):
        buyer = Buyer(plugin_base, fake_kakao.url, app_user_id=f"late-{i}")
        buyer.t1(make_sheet(kakao_app, product, option, app_user_id=f"late-{i}").pk)
        buyer.ready()
        assert buyer.t2()["status"] == 300
        buyers.append(buyer)
    return buyers


def failed_events() -> dict[str, WebhookEvent]:
    return {e.idempotency_key: e for e in WebhookEvent.objects.filter(type="order.failed")}


def test_a_refusal_owes_the_event_to_the_dispatcher_which_emits_it_once(kakao_app, plugin_base, fake_kakao):
    WebhookEndpoint.objects.create(kakao_app=kakao_app, url="https://hooks.example.com/kp", secret="whsec-test")
    (buyer,) = refused_buyers(kakao_app, plugin_base, fake_kakao, 1)
    order = Order.objects.get(partner_order_id=buyer.partner_order_id)
    # committed: the order failed (T4 says so now), the event is owed, not yet built
    assert order.status == Order.Status.FAILED and buyer.t4()["data"]["order_status"] == "F"
    assert failed_events() == {}
    (owed,) = OutboxMessage.objects.all()
    assert (owed.task, owed.args, owed.inline) == (EMIT_BATCH_TASK, [order.pk, "order.failed"], True)
    assert owed.next_attempt_at <= timezone.now()  # due at the dispatcher's next round

    assert outbox_dispatch_due() == {"sent": 1, "failed": 0}
    (event,) = failed_events().values()
    assert event.idempotency_key == f"order.failed:{order.partner_order_id}" and event.payload["livemode"] is True
    shown = event.payload["data"]["order"]
    assert shown["partner_order_id"] == order.partner_order_id and shown["status"] == "failed"
    assert shown["order_status"] == "F" and "품절" in shown["failure_message"]
    assert WebhookDelivery.objects.filter(event=event).count() == 1
    assert not OutboxMessage.objects.exists()

    # owed twice (a dispatcher that died after its commit cannot, but a second transition could): once
    outbox_add(task=EMIT_BATCH_TASK, args=[order.pk, "order.failed"], deferred=True)
    assert outbox_dispatch_due() == {"sent": 1, "failed": 0}
    assert list(failed_events()) == [event.idempotency_key]


def test_the_dispatcher_emits_many_in_the_same_queries_as_few(kakao_app, plugin_base, fake_kakao):
    WebhookEndpoint.objects.create(kakao_app=kakao_app, url="https://hooks.example.com/kp", secret="whsec-test")
    buyers = refused_buyers(kakao_app, plugin_base, fake_kakao, 7)
    owed = list(OutboxMessage.objects.order_by("pk"))
    assert len(owed) == 7
    OutboxMessage.objects.filter(pk__in=[m.pk for m in owed[2:]]).update(next_attempt_at=timezone.now() + timezone.timedelta(hours=1))
    with CaptureQueriesContext(connection) as two:
        assert outbox_dispatch_due() == {"sent": 2, "failed": 0}
    OutboxMessage.objects.update(next_attempt_at=timezone.now())
    with CaptureQueriesContext(connection) as five:
        assert outbox_dispatch_due() == {"sent": 5, "failed": 0}
    assert len(five.captured_queries) == len(two.captured_queries)
    assert sorted(failed_events()) == sorted(f"order.failed:{b.partner_order_id}" for b in buyers)
    assert WebhookDelivery.objects.filter(event__type="order.failed").count() == 7


def test_a_bad_message_fails_alone_and_the_rest_of_its_batch_is_emitted(kakao_app, plugin_base, fake_kakao, monkeypatch):
    monkeypatch.setattr(outbox, "_paused_until", {})  # the failure pauses this process's dispatches: not the next test's
    buyers = refused_buyers(kakao_app, plugin_base, fake_kakao, 2)
    bad = outbox_add(task=EMIT_BATCH_TASK, args=["not-an-id", "order.failed"], deferred=True)
    assert outbox_dispatch_due() == {"sent": 2, "failed": 1}
    assert sorted(failed_events()) == sorted(f"order.failed:{b.partner_order_id}" for b in buyers)
    (left,) = OutboxMessage.objects.all()
    assert left.pk == bad.pk and left.attempts == 1 and "ValueError" in left.last_error
    assert left.next_attempt_at > timezone.now()  # retried later, with the others' backoff


def test_messages_owed_after_a_commit_go_first_and_a_batched_task_is_only_owed_deferred(kakao_app, plugin_base, fake_kakao):
    from catalog.tasks import forget_cached_trees

    refused_buyers(kakao_app, plugin_base, fake_kakao, 3)  # three deferred messages, older than the next
    renewal = outbox_add(task=forget_cached_trees, args=[[]], inline=True)  # owed after a commit
    OutboxMessage.objects.filter(pk=renewal.pk).update(next_attempt_at=timezone.now())
    # a round that may take one deferred message still sends the other kind first
    assert outbox_dispatch_due(deferred_limit=1) == {"sent": 2, "failed": 0}
    assert not OutboxMessage.objects.filter(pk=renewal.pk).exists()
    assert OutboxMessage.objects.filter(deferred=True).count() == 2 and len(failed_events()) == 1
    with pytest.raises(ValueError):  # sent through the broker, its one message's args would not fit
        outbox_add(task=EMIT_BATCH_TASK, args=[1, "order.failed"])


def test_a_message_that_failed_is_run_alone_at_the_next_round(kakao_app, plugin_base, fake_kakao, monkeypatch):
    monkeypatch.setattr(outbox, "_paused_until", {})
    buyers = refused_buyers(kakao_app, plugin_base, fake_kakao, 3)
    OutboxMessage.objects.update(next_attempt_at=timezone.now() + timezone.timedelta(hours=1))
    bad = outbox_add(task=EMIT_BATCH_TASK, args=["not-an-id", "order.failed"], deferred=True)
    assert outbox_dispatch_due() == {"sent": 0, "failed": 1}  # it failed once
    OutboxMessage.objects.update(next_attempt_at=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        assert outbox_dispatch_due() == {"sent": 3, "failed": 1}
    # the three in one batch (one read of their orders), the bad one alone, no batch failed
    assert sum('FROM "orders_order"' in q["sql"] for q in queries.captured_queries) == 1
    assert sorted(failed_events()) == sorted(f"order.failed:{b.partner_order_id}" for b in buyers)
    (left,) = OutboxMessage.objects.all()
    assert left.pk == bad.pk and left.attempts == 2
