"""Stock operations inside a caller's transaction: an OutOfStock changes nothing and leaves the
caller's transaction usable, with or without the savepoints (catalog/stock.py takes one only for a
hold of several rows and for re-taking released rows)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from catalog.models import Option, StockHold
from catalog.stock import OutOfStock, StockItem, stock_hold, stock_release, stock_renew, stock_sell
from tests.support.payments import make_product


def _later(minutes=15):
    return timezone.now() + timedelta(minutes=minutes)


def _opt(code, stock):
    _, option = make_product(code=code, option_stock=stock)
    return option


def _stock(option):
    return Option.objects.values_list("stock", flat=True).get(pk=option.pk)


@pytest.mark.django_db(transaction=True)
def test_out_of_stock_inside_a_callers_transaction_changes_nothing_and_leaves_it_usable():
    a, b = _opt("A", 5), _opt("B", 1)
    with transaction.atomic():
        with pytest.raises(OutOfStock):  # one row, no savepoint
            stock_hold(reference="single", items=[StockItem(quantity=2, option_pk=b.pk)], expires_at=_later(), livemode=True)
        with pytest.raises(OutOfStock):  # several rows: the first one taken, then given back
            stock_hold(reference="multi", items=[StockItem(quantity=1, option_pk=a.pk), StockItem(quantity=2, option_pk=b.pk)],
                       expires_at=_later(), livemode=True)  # fmt: skip
        assert (_stock(a), _stock(b)) == (5, 1)  # the caller's transaction is still usable
        # a hold with released rows whose stock is gone: renew and sell change nothing
        stock_hold(reference="r", items=[StockItem(quantity=3, option_pk=a.pk), StockItem(quantity=1, option_pk=b.pk)],
                   expires_at=_later(), livemode=True)  # fmt: skip
        stock_release(reference="r")
        Option.objects.filter(pk=b.pk).update(stock=0)
        for op in (lambda: stock_renew(reference="r", expires_at=_later(30)), lambda: stock_sell(reference="r")):
            with pytest.raises(OutOfStock):
                op()
            assert (_stock(a), _stock(b)) == (5, 0)
            assert set(StockHold.objects.filter(reference="r").values_list("state", flat=True)) == {"released"}
    assert (_stock(a), _stock(b)) == (5, 0)
