"""The payment ledger's writes: an event is one statement on PostgreSQL, and a replay (the same
idempotency key) changes nothing and leaves the caller's transaction usable."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from orders.models import Order, PaymentEvent
from orders.payments.ledger import payment_event_record
from tests.support.payments import make_product, make_sheet

pytestmark = pytest.mark.django_db


def test_an_event_is_recorded_once_by_its_key_and_a_replay_leaves_the_transaction_usable(kakao_app, client, plugin_base, fake_kakao):
    from tests.support.payments import Buyer

    product, option = make_product()
    buyer = Buyer(plugin_base, fake_kakao.url)
    assert buyer.t1(make_sheet(kakao_app, product, option).pk)["status"] == 200
    order = Order.objects.get(partner_order_id=buyer.partner_order_id)
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            first = payment_event_record(order=order, kind=PaymentEvent.Kind.T3_RECEIVED, key="t3:replay",
                                         request={"pg_token": "abc…", "sid": "SID-SECRET-0123456789"}, outcome="ok")  # fmt: skip
            replay = payment_event_record(order=order, kind=PaymentEvent.Kind.T3_RECEIVED, key="t3:replay", outcome="ok")
        assert first is not None and first.pk and replay is None
        assert order.events.filter(idempotency_key="t3:replay").count() == 1  # the transaction goes on
    if connection.vendor == "postgresql":  # one INSERT … ON CONFLICT DO NOTHING each: no savepoints
        assert [q["sql"].split()[0] for q in queries.captured_queries] == ["INSERT", "INSERT"]
    stored = PaymentEvent.objects.get(pk=first.pk)
    assert stored.request == {"pg_token": "abc…", "sid": "••••6789"}  # the sid never in the log
    assert stored.created_at is not None and stored.outcome == "ok" and stored.kind == "t3_received"
