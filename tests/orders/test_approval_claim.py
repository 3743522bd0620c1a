"""The approval's claim (orders.payments.transitions.order_claim_approval): one UPDATE … RETURNING
that one runner wins, whose lease the next claim respects, on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from orders.models import Order
from tests.support.payments import Buyer, make_product, make_sheet


def _later(minutes=15):
    return timezone.now() + timedelta(minutes=minutes)


@pytest.mark.django_db(transaction=True)
def test_the_claim_returns_the_order_and_respects_its_lease(kakao_app, plugin_base):
    """The raw claim's datetimes compare with the ORM's (SQLite stores text)."""
    from orders.payments.calls import lease_over
    from orders.payments.transitions import order_claim_approval

    product, option = make_product(option_stock=5)
    buyer = Buyer(plugin_base, "http://unused")
    buyer.t1(make_sheet(kakao_app, product, option).pk)
    assert buyer.t2(tid="T0000000000000000019") == {"status": 200}
    order = Order.objects.get(partner_order_id=buyer.partner_order_id)
    Order.objects.filter(pk=order.pk).update(pg_token="pgtoken")
    with transaction.atomic():
        assert order_claim_approval(order_id=order.pk, lease_until=_later(1)) is not None
    with transaction.atomic():
        assert order_claim_approval(order_id=order.pk, lease_until=_later(1)) is None  # owned
    assert not Order.objects.filter(lease_over(timezone.now()), pk=order.pk).exists()
    Order.objects.filter(pk=order.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    with transaction.atomic():
        again = order_claim_approval(order_id=order.pk, lease_until=_later(1))
    assert again is not None and again.lease_until > timezone.now()
    order.refresh_from_db()
    assert order.lease_until == again.lease_until

