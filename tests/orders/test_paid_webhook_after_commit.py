"""The approval's ``order.paid`` webhook is owed inside the paying transaction (an outbox row) and
recorded after its commit, after T4's status publication (issue 18: T3 → S through the worker).

The approval runs in this process against the fake KakaoPay; PostgreSQL; the on-commit callbacks
are captured, so what runs after the commit (and what a process that died there leaves) is seen.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from kakaoplugin.models import OutboxMessage, WebhookEvent
from kakaoplugin.outbox import outbox_dispatch_due
from orders import payments
from orders.models import Order, PaymentEvent
from orders.webhooks import EMIT_TASK
from tests.support.payments import held_with_token


def paid_events(order: Order) -> list[WebhookEvent]:
    return list(WebhookEvent.objects.filter(idempotency_key=f"order.paid:{order.partner_order_id}"))


@pytest.mark.django_db
def test_paid_event_is_recorded_after_the_commit_and_t4_is_published_first(
    kakao_app, plugin_base, fake_kakao, django_capture_on_commit_callbacks
):
    order, _, buyer = held_with_token(kakao_app, plugin_base, fake_kakao)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert payments.payment_approve(order_id=order.pk) is payments.Outcome.DONE
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    # committed (here: the test's transaction) with the order paid: the event is owed, not yet built
    assert paid_events(order) == []
    (owed,) = OutboxMessage.objects.filter(task=EMIT_TASK)
    assert owed.args == [order.pk, "order.paid"] and owed.inline
    # after the commit, T4's publication runs before the webhook's work
    names = [getattr(c, "__qualname__", "") or getattr(getattr(c, "func", None), "__qualname__", "") for c in callbacks]
    publish = [i for i, n in enumerate(names) if n.startswith("publish_on_commit")]
    dispatch = [i for i, n in enumerate(names) if n == "_dispatch_committed"]
    assert publish and dispatch and max(publish) < min(dispatch), names
    for callback in callbacks:
        callback()
    (event,) = paid_events(order)
    assert event.payload["data"]["order"]["status"] == "paid"
    assert event.payload["data"]["order"]["order_status"] == "S"
    kinds = [e["kind"] for e in event.payload["data"]["order"]["events"]]
    assert PaymentEvent.Kind.APPROVE_SUCCESS in kinds
    assert not OutboxMessage.objects.filter(task=EMIT_TASK).exists()
    assert buyer.t4()["data"]["order_status"] == "S"


@pytest.mark.django_db
def test_a_process_that_died_after_the_commit_leaves_the_event_to_the_dispatcher_once(
    kakao_app, plugin_base, fake_kakao, django_capture_on_commit_callbacks
):
    order, _, _ = held_with_token(kakao_app, plugin_base, fake_kakao)
    with django_capture_on_commit_callbacks(execute=False):  # the callbacks never run: the process died
        assert payments.payment_approve(order_id=order.pk) is payments.Outcome.DONE
    assert paid_events(order) == []
    OutboxMessage.objects.filter(task=EMIT_TASK).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert outbox_dispatch_due()["sent"] >= 1
    assert len(paid_events(order)) == 1
    assert not OutboxMessage.objects.filter(task=EMIT_TASK).exists()
    # owed twice (a replayed row): still one event, its idempotency key
    OutboxMessage.objects.create(task=EMIT_TASK, args=[order.pk, "order.paid"], inline=True,
                                 next_attempt_at=timezone.now() - timedelta(seconds=1))  # fmt: skip
    outbox_dispatch_due()
    assert len(paid_events(order)) == 1
    # and the approval run again owes nothing new
    assert payments.payment_approve(order_id=order.pk) is payments.Outcome.SKIPPED
    assert not OutboxMessage.objects.filter(task=EMIT_TASK).exists()
