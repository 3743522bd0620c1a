"""The member page (issue 17): profile, consents, addresses, locations, secure images, orders and
subscriptions of one member on one page; each section for staff who may view it; personal data
masked without ``kakaoplugin.view_personal_data``; a fixed number of queries."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kakaoplugin.roles import ROLES, roles_sync
from orders.models import Order
from tests.support.admin_pages import PERSONAL, make_member, make_order, make_subscription, staff

pytestmark = pytest.mark.django_db

CALLBACKS = ("callbacks.view_memberprofile", "callbacks.view_consent", "callbacks.view_shippingaddress",
             "callbacks.view_locationrecord", "callbacks.view_secureimageset")  # fmt: skip
EVERYTHING = ("kakaoplugin.view_customer", *CALLBACKS, "orders.view_order", "orders.view_subscription")


def url(member) -> str:
    return f"/admin/kakaoplugin/customer/{member.pk}/page/"


def get(user, member) -> str:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")  # the assertions read English
    client.force_login(user)
    response = client.get(url(member))
    assert response.status_code == 200
    return response.content.decode()


def section(html: str, element_id: str) -> str:
    match = re.search(rf'<(\w+)[^>]*id="{element_id}".*?</\1>', html, re.S)
    return match.group(0) if match else ""


@pytest.fixture
def member(kakao_app):
    member = make_member(kakao_app, "buyer-1")
    paid = make_order(kakao_app, app_user_id="buyer-1", amount=20000, refunded=5000)
    make_order(kakao_app, app_user_id="buyer-1", status=Order.Status.FAILED)
    make_order(kakao_app, app_user_id="someone-else")
    make_subscription(kakao_app, paid)
    return member


def test_everything_we_know_in_full_with_the_personal_data_permission(member):
    html = get(staff("owner", *EVERYTHING, "kakaoplugin.view_personal_data"), member)
    profile = section(html, "member-profile")
    assert "홍길동" in profile and "hong@example.com" in profile and "+82 10-1234-5678" in profile
    assert "marketing" in section(html, "member-consents")
    addresses = section(html, "member-addresses")
    assert "수령인" in addresses and "판교역로" in addresses and "에이치스퀘어" in addresses
    locations = section(html, "member-locations")
    assert "삼평동" in locations and "37.401234" in locations
    assert "expired" in section(html, "member-images")
    orders = section(html, "member-orders")
    assert "2 orders, 1 paid (live)" in orders and "15,000" in orders  # net of the refund
    assert orders.count("/admin/orders/order/") >= 2
    assert "app_user_id=buyer-1" in orders  # the whole list, filtered on the member
    assert "월간 원두" in section(html, "member-subscriptions")
    assert 'id="member-masked"' not in html


def test_masked_without_the_personal_data_permission(member):
    html = get(staff("support", *EVERYTHING), member)
    for text in PERSONAL:
        assert text not in html, text
    assert "삼평동" not in html and "37.401234" not in html and "1234-5678" not in html
    assert "홍*동" in section(html, "member-profile") and "ho***@example.com" in section(html, "member-profile")
    assert "수*인" in section(html, "member-addresses") and "경기도 ***" in section(html, "member-addresses")
    assert "37.4…" in section(html, "member-locations")
    assert 'id="member-masked"' in html


def test_sections_follow_view_permissions(member):
    html = get(staff("members-only", "kakaoplugin.view_customer"), member)
    for part in ("member-profile", "member-addresses", "member-locations", "member-images", "member-orders",
                 "member-subscriptions"):  # fmt: skip
        assert f'id="{part}"' not in html, part
    html = get(staff("orders-only", "kakaoplugin.view_customer", "orders.view_order"), member)
    assert 'id="member-orders"' in html and 'id="member-profile"' not in html
    client = Client(HTTP_ACCEPT_LANGUAGE="en")  # the assertions read English
    client.force_login(staff("no-members", "orders.view_order"))
    assert client.get(url(member)).status_code == 403


def test_each_role_opens_the_page_masked_as_its_role_says(member):
    roles_sync()
    from django.contrib.auth.models import Group, User

    for role, in_full in (("owner", True), ("order_staff", True), ("support", False), ("developer", False)):
        user = User.objects.create_user(f"u-{role}", password="pw", is_staff=True)
        user.groups.add(Group.objects.get(name=ROLES[role].group))
        html = get(user, member)
        assert ("홍길동" in html) is in_full, role
        assert 'id="member-orders"' in html, role


def test_linked_from_the_member_list_and_the_members_admin_page(member, admin_client):
    assert url(member) in admin_client.get("/admin/kakaoplugin/customer/").content.decode()
    assert url(member) in admin_client.get(f"/admin/kakaoplugin/customer/{member.pk}/change/").content.decode()
    # and from an order's receipt
    order = Order.objects.filter(app_user_id="buyer-1").first()
    assert url(member) in admin_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()


def test_the_same_queries_with_few_or_many_rows(kakao_app):
    user = staff("owner", *EVERYTHING, "kakaoplugin.view_personal_data")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")  # the assertions read English
    client.force_login(user)
    counts = []
    for n, extra in ((1, 0), (2, 25)):
        member = make_member(kakao_app, f"m-{n}", extra=extra)
        for _ in range(1 + extra):
            make_order(kakao_app, app_user_id=f"m-{n}")
        client.get(url(member))
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url(member)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    print(f"member page: {counts[0]} queries at both sizes")
