"""The admin's pages of issue 17 in a real browser, in Korean and in English (Accept-Language):
the dashboard on the index (its numbers link to the filtered lists), an order's page read like a
receipt with its payment timeline, refund and "check with KakaoPay" on the page, and the member
page, in full and masked by role. Screenshots: artifacts/screenshots/test_<page>_<ko|en>-*.png.

The admin's language follows Accept-Language once LocaleMiddleware is installed (the i18n work);
without it every page is in LANGUAGE_CODE (Korean) and only the layout is compared.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone, translation

from kakaoplugin.roles import ROLES, roles_sync
from orders.models import Order, PaymentEvent
from tests.support.admin_pages import make_failures, make_member, make_order, make_stock
from tests.support.payments import Buyer, make_product, make_sheet

from .conftest import STAFF_PASSWORD, admin_login, make_staff

LANGUAGES = ("ko", "en")


@pytest.fixture(autouse=True)
def _payments(eager_tasks, fake_kakao):
    pass


def speak(page, language: str) -> None:
    page.set_extra_http_headers({"Accept-Language": f"{language},{language}-KR;q=0.9" if language == "ko" else "en-US,en;q=0.9"})


def check_language(page, language: str) -> None:
    lang = page.get_attribute("html", "lang") or ""
    assert lang.startswith(language), (lang, language)


def status_label(status, language: str) -> str:
    """An order state as the page's language writes it."""
    with translation.override(language):
        return str(status.label)


def member_of(role: str, username: str) -> User:
    roles_sync()  # the live server's database is flushed between tests
    user = User.objects.create_user(username, password=STAFF_PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=ROLES[role].group))
    return user


def paid_order(kakao_app, fake_kakao, *, app_user_id: str, code: str, answer_lost: bool = False) -> Order:
    """Paid the way Kakao and KakaoPay drive it (T1, ready, authorize, T2, T3; approval eager).
    ``answer_lost``: KakaoPay approves but its answer is lost: the order stays approving."""
    product, option = make_product(code=code, price=10000, option_stock=5)
    sheet = make_sheet(kakao_app, product, option, app_user_id=app_user_id, quantity=2)
    buyer = Buyer(f"/plugin/{kakao_app.plugin_key}/", fake_kakao.url, app_user_id=app_user_id)
    assert buyer.t1(sheet.pk, relay_id=f"rly-{code}")["status"] == 200
    buyer.ready()
    buyer.authorize()
    if answer_lost:
        fake_kakao.fault("approve", "lost", match={"tid": buyer.tid})
    assert buyer.t2() == {"status": 200}
    buyer.t3()
    order = Order.objects.get(partner_order_id=buyer.partner_order_id)
    assert order.status == (Order.Status.APPROVING if answer_lost else Order.Status.PAID)
    return order


@pytest.mark.parametrize("language", LANGUAGES)
def test_dashboard(page, shot, kakao_app, language):
    make_order(kakao_app, amount=20000)
    make_order(kakao_app, amount=10000, refunded=4000)
    stuck = make_order(kakao_app, status=Order.Status.APPROVING)
    Order.objects.filter(pk=stuck.pk).update(updated_at=timezone.now() - timedelta(minutes=10))
    make_order(kakao_app, status=Order.Status.REFUNDING)
    make_failures(kakao_app, count=2)
    make_stock(sold_out=1, low=2, fine=1)

    speak(page, language)
    admin_login(page, member_of("owner", f"owner-{language}"))
    page.wait_for_selector("#dashboard")
    check_language(page, language)
    shot("index")
    cards = [c.get_attribute("id") for c in page.locator("#dashboard section.card").all()]
    assert cards == ["card-sales", "card-attention", "card-failures", "card-stock"]
    assert page.inner_text("#card-sales li:first-child .value") == "2"
    assert "26,000" in page.inner_text("#card-sales li:first-child")

    # a number is a link to the list, filtered: as many rows as the card said
    page.click("#card-attention a[href*='attention=stuck']")
    page.wait_for_url("**attention=stuck")
    shot("stuck-orders")
    assert page.locator("#result_list tbody tr").count() == 1
    assert page.locator("#changelist-filter li.selected:not(:first-child) a[href='?attention=stuck']").count() == 1
    page.go_back()
    page.click("#card-failures a[href*='webhookdelivery']")
    page.wait_for_url("**attempted_within=24h**")
    shot("failed-webhooks")
    assert page.locator("#result_list tbody tr").count() == 2
    page.go_back()
    page.click("#card-stock a[href*='stock_alert=low']")
    page.wait_for_url("**stock_alert=low")
    shot("low-stock")
    assert page.locator("#result_list tbody tr").count() == 2

    # staff see the cards of what they may view: support reads all, a catalog-only user the stock
    page.context.clear_cookies()
    admin_login(page, make_staff(f"catalog-{language}", "catalog.view_product"))
    page.wait_for_selector("#dashboard")
    shot("catalog-only")
    assert [c.get_attribute("id") for c in page.locator("#dashboard section.card").all()] == ["card-stock"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_order_page(page, shot, kakao_app, fake_kakao, language):
    order = paid_order(kakao_app, fake_kakao, app_user_id=f"buyer-{language}", code=f"OP-{language}", answer_lost=True)
    speak(page, language)
    admin_login(page, member_of("order_staff", f"orders-{language}"))
    page.goto(f"/admin/orders/order/{order.pk}/change/")
    page.wait_for_selector("#order-page")
    check_language(page, language)
    shot("approving")
    assert page.inner_text("#order-state .badge") == status_label(Order.Status.APPROVING, language)
    assert page.locator("#order-refund").count() == 0  # nothing to refund yet
    assert page.locator("#order-timeline li[data-kind=approve_unknown]").count() == 1

    # check with KakaoPay (the existing action) settles it by an inquiry; back on the page, paid
    page.click("#order-check")
    page.wait_for_selector(".messagelist li")
    page.wait_for_url(f"**/admin/orders/order/{order.pk}/change/")
    shot("receipt")
    assert order.partner_order_id in page.inner_text(".messagelist")
    assert fake_kakao.calls("order")  # the inquiry went to KakaoPay
    assert page.inner_text("#order-state .badge") == status_label(Order.Status.PAID, language)
    assert page.locator("#order-check").count() == 0  # nothing left to check
    assert "20,000" in page.inner_text("#receipt-amounts")
    assert "수령인" in page.inner_text("#receipt-shipping")  # order staff ship: in full
    kinds = [li.get_attribute("data-kind") for li in page.locator("#order-timeline li[data-kind]").all()]
    assert kinds[:5] == ["t1_served", "t2_received", "t3_received", "approve_request", "approve_unknown"]
    assert "inquiry" in kinds  # settled by asking KakaoPay
    # each date on one line
    for when in page.locator("#order-timeline .when").all()[:3]:
        box = when.bounding_box()
        assert box and box["height"] < 24, box
    # the raw exchange behind a disclosure
    raw = page.locator("#order-timeline li[data-kind=inquiry] details").first
    assert not raw.locator("pre").is_visible()
    raw.locator("summary").click()
    assert raw.locator("pre").is_visible() and order.tid in raw.locator("pre").inner_text()
    shot("raw-inquiry-answer")

    # refund in full from the page: the refund form, then back on the page, cancelled
    page.click("#order-refund")
    page.wait_for_selector("input[name=confirm][value=yes]", state="attached")
    shot("refund-form")
    page.click("#content form [type=submit]")
    page.wait_for_selector(".messagelist .success")
    page.wait_for_url(f"**/admin/orders/order/{order.pk}/change/")
    shot("refunded")
    assert page.inner_text("#order-state .badge") == status_label(Order.Status.CANCELLED, language)
    assert [c["params"]["tid"] for c in fake_kakao.calls("cancel")] == [order.tid]
    assert order.events.filter(kind=PaymentEvent.Kind.CANCEL_SUCCESS).exists()
    assert page.locator("#order-timeline li[data-kind=cancel_success]").count() == 1
    assert page.locator("#order-refund").count() == 0  # nothing left to refund


@pytest.mark.parametrize("language", LANGUAGES)
def test_order_page_masked_for_support(page, shot, kakao_app, language):
    order = make_order(kakao_app, text="홍길동 010-9876-5432")
    speak(page, language)
    admin_login(page, member_of("support", f"support-{language}"))
    page.goto(f"/admin/orders/order/{order.pk}/change/")
    page.wait_for_selector("#order-page")
    shot("masked-receipt")
    html = page.content()
    for text in ("수령인", "01011112222", "판교역로", "홍길동", "9876"):
        assert text not in html, text
    assert page.locator("#order-actions").count() == 0  # support changes nothing


@pytest.mark.parametrize("language", LANGUAGES)
def test_member_page(page, shot, kakao_app, language):
    member = make_member(kakao_app, f"member-{language}", extra=2)
    make_order(kakao_app, app_user_id=member.app_user_id, amount=30000)
    make_order(kakao_app, app_user_id=member.app_user_id, status=Order.Status.FAILED)
    speak(page, language)

    admin_login(page, member_of("owner", f"owner-{language}"))
    page.goto("/admin/kakaoplugin/customer/")
    page.click(f"a[href='/admin/kakaoplugin/customer/{member.pk}/page/']")
    page.wait_for_selector("#member-head")
    check_language(page, language)
    shot("member-in-full")
    assert "홍길동" in page.inner_text("#member-profile")
    assert "판교역로" in page.inner_text("#member-addresses")
    assert page.locator("#member-locations p").count() == 3
    assert page.locator("#member-orders tbody tr").count() == 2
    page.click("#member-orders-all")
    page.wait_for_url("**app_user_id=member-**")
    assert page.locator("#result_list tbody tr").count() == 2

    page.context.clear_cookies()
    admin_login(page, member_of("developer", f"dev-{language}"))
    page.goto(f"/admin/kakaoplugin/customer/{member.pk}/page/")
    page.wait_for_selector("#member-head")
    shot("member-masked")
    html = page.content()
    for text in ("홍길동", "hong@example.com", "판교역로", "수령인", "01011112222"):
        assert text not in html, text
    assert "홍*동" in page.inner_text("#member-profile")
    assert page.locator("#member-masked").count() == 1
