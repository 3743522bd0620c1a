"""catalog.stock: holds by atomic conditional decrement, idempotent per reference."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection, connections
from django.utils import timezone

from catalog.cache import tree_key
from catalog.models import Option, OptionGroup, OptionSubGroup, Product, StockHold
from catalog.stock import (
    OutOfStock,
    StockItem,
    stock_hold,
    stock_release,
    stock_renew,
    stock_restock,
    stock_sell,
)


def _option(stock, code="S-1", value="L"):
    product = Product.objects.create(code=code, name=code, price=1000)
    group = OptionGroup.objects.create(product=product, group_id="g", name="g")
    sub = OptionSubGroup.objects.create(product=product, group=group, sub_group_id="sg")
    return Option.objects.create(product=product, sub_group=sub, option_id=value, value=value, stock=stock)


def _later(minutes=15):
    return timezone.now() + timedelta(minutes=minutes)


def _stock(option):
    return Option.objects.values_list("stock", flat=True).get(pk=option.pk)


@pytest.mark.django_db
def test_hold_release_sell_restock_each_happen_once():
    opt = _option(5)
    items = [StockItem(quantity=2, option_pk=opt.pk)]
    stock_hold(reference="r1", items=items, expires_at=_later(), livemode=True)
    stock_hold(reference="r1", items=items, expires_at=_later(30), livemode=True)  # a replay takes nothing more
    assert _stock(opt) == 3
    assert stock_release(reference="r1") == 2
    assert stock_release(reference="r1") == 0
    assert _stock(opt) == 5
    stock_renew(reference="r1", expires_at=_later())  # a released hold is taken again
    assert _stock(opt) == 3
    stock_sell(reference="r1")
    stock_sell(reference="r1")
    assert stock_release(reference="r1") == 0  # sold is not held
    assert _stock(opt) == 3
    assert stock_restock(reference="r1") == 2
    assert stock_restock(reference="r1") == 0
    assert _stock(opt) == 5


@pytest.mark.django_db
def test_out_of_stock_names_the_item_and_takes_nothing():
    a, b = _option(5, "A"), _option(1, "B")
    items = [StockItem(quantity=1, option_pk=a.pk, label="A/L"), StockItem(quantity=2, option_pk=b.pk, label="B/L")]
    with pytest.raises(OutOfStock) as exc:
        stock_hold(reference="r2", items=items, expires_at=_later(), livemode=True)
    assert exc.value.item.label == "B/L" and exc.value.available == 1 and "B/L" in str(exc.value)
    assert (_stock(a), _stock(b)) == (5, 1)
    assert not StockHold.objects.exists()
    # one row (payment T2's usual order; on PostgreSQL the decrement and the count in one statement)
    with pytest.raises(OutOfStock) as exc:
        stock_hold(reference="r2", items=[items[1]], expires_at=_later(), livemode=True, fresh=True)
    assert exc.value.available == 1 and _stock(b) == 1
    gone = Option.objects.get(pk=b.pk)
    gone.delete()
    with pytest.raises(OutOfStock) as exc:  # a row deleted meanwhile: out of stock, not unlimited
        stock_hold(reference="r2", items=[items[1]], expires_at=_later(), livemode=True, fresh=True)
    assert exc.value.available is None
    assert not StockHold.objects.exists()


@pytest.mark.django_db
def test_unlimited_stock_needs_no_hold_and_products_hold_too():
    unlimited = _option(None, "U")
    product = Product.objects.create(code="PS", name="PS", price=1, stock=2)
    stock_hold(reference="r3", items=[StockItem(quantity=9, option_pk=unlimited.pk), StockItem(quantity=2, product_pk=product.pk)],
               expires_at=_later(), livemode=True)  # fmt: skip
    assert _stock(unlimited) is None
    assert Product.objects.get(pk=product.pk).stock == 0
    assert list(StockHold.objects.values_list("product_id", "option_id")) == [(product.pk, None)]


@pytest.mark.django_db
def test_renew_fails_when_released_stock_is_gone():
    opt = _option(1)
    stock_hold(reference="r4", items=[StockItem(quantity=1, option_pk=opt.pk)], expires_at=_later(), livemode=True)
    stock_release(reference="r4")
    stock_hold(reference="other", items=[StockItem(quantity=1, option_pk=opt.pk)], expires_at=_later(), livemode=True)
    with pytest.raises(OutOfStock):
        stock_renew(reference="r4", expires_at=_later())
    assert StockHold.objects.get(reference="r4").state == StockHold.State.RELEASED
    assert _stock(opt) == 0


@pytest.mark.django_db(transaction=True)
def test_stock_changes_invalidate_the_cached_tree():
    opt = _option(3, "C")
    cache.set(tree_key("C"), b"cached")
    stock_hold(reference="r5", items=[StockItem(quantity=1, option_pk=opt.pk)], expires_at=_later(), livemode=True)
    assert cache.get(tree_key("C")) is None
    cache.set(tree_key("C"), b"cached")
    stock_release(reference="r5")
    assert cache.get(tree_key("C")) is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_holds_never_oversell():
    if connection.vendor != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL")
    opt = _option(5, "X", "x")
    other = Option.objects.create(product=opt.product, sub_group=opt.sub_group, option_id="y", value="y", stock=50)
    results: list[str] = []
    barrier = threading.Barrier(20)

    def buy(i):
        try:
            barrier.wait()
            # two rows per hold, listed in opposite orders: pk ordering keeps them deadlock-free
            items = [StockItem(quantity=1, option_pk=opt.pk), StockItem(quantity=1, option_pk=other.pk)]
            stock_hold(reference=f"c{i}", items=items if i % 2 else items[::-1], expires_at=_later(), livemode=True)
            results.append("held")
        except OutOfStock:
            results.append("out")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=buy, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("held") == 5 and results.count("out") == 15
    assert _stock(opt) == 0
    assert Option.objects.get(pk=other.pk).stock == 45  # the 15 failed holds rolled back their first row
    assert StockHold.objects.filter(state="held").count() == 10


@pytest.mark.django_db(transaction=True)
def test_a_take_that_waited_for_the_last_unit_reports_what_is_left_after_it():
    """PostgreSQL's one-statement take: a buyer whose UPDATE waited for another buyer's commit of
    the last unit is refused, and told what is left after that commit (0), not the count of the
    statement's older snapshot (1); the row switched to unlimited meanwhile would let it through."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks")
    from django.db import transaction

    opt = _option(1, "W", "w")
    holding, done = threading.Event(), threading.Event()
    outcome: list = []

    def first_buyer():
        try:
            with transaction.atomic():
                stock_hold(reference="w1", items=[StockItem(quantity=1, option_pk=opt.pk)], expires_at=_later(),
                           livemode=True, fresh=True)  # fmt: skip
                holding.set()
                done.wait(10)  # the second buyer is waiting for this row by now
        finally:
            connections.close_all()

    def second_buyer():
        try:
            holding.wait(10)
            stock_hold(reference="w2", items=[StockItem(quantity=1, option_pk=opt.pk)], expires_at=_later(),
                       livemode=True, fresh=True)  # fmt: skip
            outcome.append("held")
        except OutOfStock as exc:
            outcome.append(exc.available)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first_buyer), threading.Thread(target=second_buyer)]
    for t in threads:
        t.start()
    holding.wait(10)
    wait_for_lock = timezone.now() + timedelta(seconds=10)
    with connection.cursor() as cursor:  # until the second buyer's UPDATE waits on the row lock
        while timezone.now() < wait_for_lock:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
            if cursor.fetchone()[0]:
                break
    done.set()
    for t in threads:
        t.join()
    assert outcome == [0]
    assert _stock(opt) == 0 and StockHold.objects.get().reference == "w1"
