"""The order's admin page (issue 17): a receipt (buyer, items with options, amounts, shipping,
KakaoPay's state), the payment events as a timeline in plain words with the raw request and
answer behind a disclosure, refund and "check with KakaoPay" on the page for staff who may
change orders; personal data masked exactly as elsewhere; a fixed number of queries."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from orders.models import Order
from tests.support.admin_pages import ADDRESS, PERSONAL, make_member, make_order, make_subscription, staff

pytestmark = pytest.mark.django_db

VIEW = ("orders.view_order",)


def client_for(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")  # the assertions read English
    client.force_login(user)
    return client


def url(order) -> str:
    return f"/admin/orders/order/{order.pk}/change/"


def get(client, order) -> str:
    response = client.get(url(order))
    assert response.status_code == 200
    return response.content.decode()


def section(html: str, element_id: str) -> str:
    """The element of that id (its tag holds no element of the same tag)."""
    match = re.search(rf'<(\w+)[^>]*id="{element_id}".*?</\1>', html, re.S)
    assert match, element_id
    return match.group(0)


def test_the_receipt_shows_buyer_items_amounts_shipping_and_kakaopay_state(kakao_app):
    order = make_order(kakao_app, amount=20000, refunded=5000, text="생일 축하해")
    member = make_member(kakao_app, order.app_user_id)
    html = get(client_for(staff("shipper", *VIEW, "kakaoplugin.view_personal_data", "kakaoplugin.view_customer")), order)
    items = section(html, "receipt-items")
    assert "티셔츠" in items and "사이즈" in items and "<b>L</b>" in items and "생일 축하해" in items
    amounts = section(html, "receipt-amounts")
    assert "20,000" in amounts and "5,000" in amounts and "15,000" in amounts  # total, refunded, refundable
    shipping = section(html, "receipt-shipping")
    assert ADDRESS["receiver_name"] in shipping and ADDRESS["base_address"] in shipping and "13494" in shipping
    kakaopay = section(html, "receipt-kakaopay")
    assert order.tid in kakaopay and "CARD" in kakaopay and "<b>S</b>" in kakaopay
    # the buyer links to the member's page
    assert f"/admin/kakaoplugin/customer/{member.pk}/page/" in section(html, "receipt-buyer")
    # not for staff who may not view members (the link would answer 403)
    html = get(client_for(staff("no-members", *VIEW)), order)
    assert "/admin/kakaoplugin/customer/" not in section(html, "receipt-buyer")


def test_the_timeline_reads_in_plain_words_with_the_raw_exchange_folded(kakao_app):
    order = make_order(kakao_app)
    html = get(client_for(staff("reader", *VIEW, "kakaoplugin.view_personal_data")), order)
    timeline = section(html, "order-timeline")
    kinds = re.findall(r'data-kind="([a-z0-9_]+)"', timeline)
    assert kinds == ["t1_served", "t2_received", "t3_received", "approve_request", "approve_success"]
    for words in ("T1 served", "T2 received", "Approve sent to KakaoPay", "Approved by KakaoPay"):
        assert words in timeline, words
    assert timeline.count("<details>") == 5  # each event's request/answer behind a disclosure
    assert "01011112222" in timeline  # in full with the permission (T2's request)
    # dates on one line: one element per date, never wrapped
    assert re.search(r'<div class="when">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</div>', timeline)


def test_without_the_personal_data_permission_the_page_is_masked_as_today(kakao_app):
    order = make_order(kakao_app, text="홍길동 010-9876-5432")
    html = get(client_for(staff("support", *VIEW)), order)
    for text in PERSONAL:
        assert text not in html, text
    assert "9876" not in html
    shipping = section(html, "receipt-shipping")
    assert "수*인" in shipping and "경기도 ***" in shipping and "***-****-2222" not in shipping
    assert "2222" in shipping
    timeline = section(html, "order-timeline")
    assert "수*인" in timeline  # T2's raw request, masked like the event admin masks it
    assert "홍*동" in section(html, "receipt-items")


def test_refund_and_check_are_on_the_page_only_for_staff_who_may_change_orders(kakao_app):
    order = make_order(kakao_app)
    reader = get(client_for(staff("support", *VIEW)), order)
    assert 'id="order-actions"' not in reader and 'id="order-refund"' not in reader
    html = get(client_for(staff("orders", *VIEW, "orders.change_order")), order)
    actions = section(html, "order-actions")
    assert 'value="refund"' in actions and 'value="check_with_kakaopay"' not in actions  # paid: nothing to check
    assert f'name="_selected_action" value="{order.pk}"' in actions
    # an approval in flight or stuck: the check, nothing to refund yet; a failed order: neither
    orders = client_for(staff("orders2", *VIEW, "orders.change_order"))
    html = get(orders, make_order(kakao_app, status=Order.Status.APPROVING))
    assert 'id="order-refund"' not in html and 'value="check_with_kakaopay"' in section(html, "order-actions")
    html = get(orders, make_order(kakao_app, status=Order.Status.REFUNDING))
    assert 'id="order-refund"' not in html and 'id="order-check"' in html
    html = get(orders, make_order(kakao_app, status=Order.Status.FAILED))
    assert 'id="order-refund"' not in html and 'id="order-check"' not in html


def test_the_refund_button_opens_the_refund_form_which_comes_back_to_the_order(kakao_app):
    order = make_order(kakao_app)
    client = client_for(staff("orders", *VIEW, "orders.change_order"))
    form = client.post("/admin/orders/order/", {"action": "refund", "_selected_action": order.pk, "_from_order_page": "1"})
    assert form.status_code == 200 and 'name="_from_order_page"' in form.content.decode()
    # a partial refund without an amount is refused by the form: nothing sent, still on the form
    again = client.post(
        "/admin/orders/order/",
        {"action": "refund", "_selected_action": order.pk, "_from_order_page": "1", "confirm": "yes", "kind": "partial"},
    )
    assert again.status_code == 200 and "A partial refund needs an amount." in again.content.decode()


def test_a_subscription_order_links_its_subscription(kakao_app):
    order = make_order(kakao_app)
    subscription = make_subscription(kakao_app, order)
    html = get(client_for(staff("orders", *VIEW, "orders.view_subscription")), order)
    assert f"/admin/orders/subscription/{subscription.pk}/change/" in section(html, "receipt-kakaopay")
    html = get(client_for(staff("orders-only", *VIEW)), order)
    kakaopay = section(html, "receipt-kakaopay")
    assert "월간 원두" in kakaopay and "/admin/orders/subscription/" not in kakaopay


def test_the_page_takes_the_same_queries_with_5_or_40_events(kakao_app):
    perms = (*VIEW, "orders.change_order", "kakaoplugin.view_personal_data", "kakaoplugin.view_customer")
    client = client_for(staff("orders", *perms))
    counts = []
    for extra in (0, 35):
        order = make_order(kakao_app, events=extra)
        if extra == 0:
            make_member(kakao_app, order.app_user_id)  # the second order's buyer is the same member
        client.get(url(order))  # warm the session and permission caches
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url(order)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert counts[0] <= 16, counts
    print(f"order page: {counts[0]} queries with 5 or 40 events")


def test_each_role_sees_the_receipt_as_its_role_says(kakao_app):
    from django.contrib.auth.models import Group, User

    from kakaoplugin.roles import ROLES, roles_sync

    roles_sync()
    order = make_order(kakao_app)
    for role, in_full, acts in (("owner", True, True), ("order_staff", True, True), ("support", False, False),
                                ("developer", False, False)):  # fmt: skip
        user = User.objects.create_user(f"u-{role}", password="pw", is_staff=True)
        user.groups.add(Group.objects.get(name=ROLES[role].group))
        html = get(client_for(user), order)
        assert (ADDRESS["receiver_name"] in html) is in_full, role
        assert ('id="order-refund"' in html) is acts, role
        assert 'id="order-timeline"' in html, role
