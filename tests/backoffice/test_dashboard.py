"""The admin index's dashboard (issue 17): sales today and this week (test apps excluded),
orders needing attention, failed callbacks and webhooks of the last 24 hours, stock running out;
each number links to the list filtered on the same predicate (the list shows exactly that many);
cards by view permission; a fixed number of queries whatever the data size."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backoffice.dashboard import dashboard_cards
from kakaoplugin.roles import ROLES, roles_sync
from orders.models import Order
from tests.support.admin_pages import make_failures, make_order, make_stock, make_test_app, staff

pytestmark = pytest.mark.django_db


def figures(cards) -> dict[tuple[str, str], tuple[int, int | None, str]]:
    return {(c.key, f.key): (f.value, f.money, f.url) for c in cards for f in c.figures}




@pytest.fixture
def data(kakao_app):
    now = timezone.now()
    make_order(kakao_app, amount=20000)  # today
    make_order(kakao_app, amount=10000, refunded=4000)  # today, partly refunded: 6,000 net
    make_order(make_test_app(), amount=99000)  # a test app's: not a sale
    make_order(kakao_app, status=Order.Status.FAILED)  # not paid
    make_order(kakao_app, amount=7000, approved_at=now - timedelta(days=30))  # long ago
    stuck = make_order(kakao_app, status=Order.Status.APPROVING)
    Order.objects.filter(pk=stuck.pk).update(updated_at=now - timedelta(minutes=10))
    make_order(kakao_app, status=Order.Status.APPROVING)  # approving right now: not stuck
    make_order(kakao_app, status=Order.Status.REFUNDING)
    make_order(kakao_app, flag=Order.Flag.ANSWER_MISMATCH, amount=5000)
    make_failures(kakao_app, count=2)
    make_stock(sold_out=1, low=2, fine=3)
    return kakao_app


def test_the_numbers_and_the_lists_they_link_to_agree(data, admin_user):
    cards = dashboard_cards(admin_user)
    assert [c.key for c in cards] == ["sales", "attention", "failures", "stock"]
    f = figures(cards)
    today = f[("sales", "today")]
    assert today[:2] == (3, 20000 + 6000 + 5000)  # the flagged paid order is a sale too; refunds netted
    week = f[("sales", "week")]
    assert week[0] >= 3  # today is in this week
    assert f[("attention", "stuck")][0] == 1
    assert f[("attention", "refund_owed")][0] == 1
    assert f[("attention", "mismatch")][0] == 1
    assert f[("attention", "any")][0] == 3
    assert f[("failures", "callbacks")][0] == 2
    assert f[("failures", "webhooks")][0] == 2
    assert f[("stock", "sold_out")][0] == 1
    assert f[("stock", "low")][0] == 2

    client = Client()
    client.force_login(admin_user)
    for (card, label), (value, _money, url) in f.items():
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        count = re.search(r'class="paginator">\s*(\d+)', html)
        shown = int(count.group(1)) if count else 0
        assert shown == value, (card, label, url, shown, value)


def test_the_index_shows_the_cards_linked_to_the_filtered_lists(data, admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert 'id="dashboard"' in html and 'id="card-sales"' in html and 'id="card-stock"' in html
    for href in ("/admin/orders/order/?sales=today", "/admin/orders/order/?attention=stuck",
                 "/admin/callbacks/callbackevent/?status__exact=failed&amp;received_at_within=24h",
                 "/admin/kakaoplugin/webhookdelivery/?status__exact=failed&amp;attempted_within=24h",
                 "/admin/catalog/product/?stock_alert=low"):  # fmt: skip
        assert href in html, href
    assert "31,000" in html  # today's revenue


def test_each_role_sees_the_cards_of_what_it_may_view(data):
    roles_sync()
    from django.contrib.auth.models import Group, User

    def keys(role):
        user = User.objects.create_user(f"u-{role}", password="pw", is_staff=True)
        user.groups.add(Group.objects.get(name=ROLES[role].group))
        user = User.objects.get(pk=user.pk)
        return [c.key for c in dashboard_cards(user)], [f.key for c in dashboard_cards(user) for f in c.figures]

    assert keys("owner")[0] == ["sales", "attention", "failures", "stock"]
    assert keys("support")[0] == ["sales", "attention", "failures", "stock"]  # reads everything
    assert keys("developer")[0] == ["sales", "attention", "failures", "stock"]
    order_staff = keys("order_staff")
    assert order_staff[0] == ["sales", "attention", "failures", "stock"]
    only_stock = staff("catalog-only", "catalog.view_product")
    assert [c.key for c in dashboard_cards(only_stock)] == ["stock"]
    webhooks_only = staff("hooks-only", "kakaoplugin.view_webhookdelivery")
    assert figures(dashboard_cards(webhooks_only)).keys() == {("failures", "webhooks")}
    assert dashboard_cards(staff("nothing")) == []
    client = Client()
    client.force_login(only_stock)
    html = client.get("/admin/").content.decode()
    assert 'id="card-stock"' in html and 'id="card-sales"' not in html and "/admin/orders/order/" not in html


def _index_queries(client) -> int:
    client.get("/admin/")  # sessions, permissions cached
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/admin/").status_code == 200
    return len(queries)


def _grow(kakao_app, times: int) -> None:
    for _ in range(times):
        make_order(kakao_app, amount=1000)
        make_order(kakao_app, status=Order.Status.REFUNDING)
    make_failures(kakao_app, count=times)
    make_stock(sold_out=times, low=times, fine=times)


def test_a_fixed_number_of_queries_whatever_the_data_size(kakao_app, admin_user):
    user = staff("owner-like", "orders.view_order", "callbacks.view_callbackevent", "kakaoplugin.view_webhookdelivery",
                 "catalog.view_product")  # fmt: skip
    client = Client()
    client.force_login(user)
    user.has_perm("orders.view_order")  # the user's permissions loaded once (cached on the user)
    sizes = []
    for grow in (2, 40):
        _grow(kakao_app, grow)
        with CaptureQueriesContext(connection) as cards:
            dashboard_cards(user)
        sizes.append((len(cards), _index_queries(client)))
    assert sizes[0] == sizes[1], sizes
    assert sizes[0][0] == 5, sizes  # orders: sales, attention; callbacks; webhooks; stock
    print(f"dashboard: {sizes[0][0]} queries; admin index page: {sizes[0][1]} queries (at both sizes)")
