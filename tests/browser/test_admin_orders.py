"""Staff in a real browser on the orders admin: a paid order found by the relay id of its chat
(the relay id filter, and the search box), cancelled in full through the refund form (cancelled,
stock back, KakaoPay's cancel on the fake), or refunded in part (still paid, the refunded amount
shown).

The orders are paid first the way Kakao and KakaoPay drive the flow: the buyer of
``tests/support/payments.py`` over HTTP to the live server (T1, ready, authorize, T2, T3) and to
the fake KakaoPay; the approval task runs in the server's process (``eager_tasks``).
"""

from __future__ import annotations

import pytest

from catalog.models import Option
from orders.models import Order, PaymentEvent
from tests.support.browser import paid_order

from .conftest import admin_login, make_staff

ORDERS = "/admin/orders/order/"
ORDER_PERMS = ("orders.view_order", "orders.change_order", "orders.view_orderline", "orders.view_paymentevent")
RELAY = "rly-20250611-chat-7f3a"  # the relay id of the buyer's chat the staff member was given
OTHER_RELAY = "rly-20250611-chat-9b21"


@pytest.fixture(autouse=True)
def _payments(eager_tasks, fake_kakao):
    pass


def result_rows(page):
    return page.locator("#result_list tbody tr")


def cell(row, field: str) -> str:
    return row.locator(f".field-{field}").inner_text().strip()


def event_kinds(page) -> list[str]:
    """The kinds in the order page's timeline of payment events, in order."""
    return [li.get_attribute("data-kind") for li in page.locator("#order-timeline li[data-kind]").all()]


def choose_refund(page, shot, order: Order) -> None:
    """Select the order in the list and open the refund form (the action's intermediate page)."""
    page.check(f"#result_list input.action-select[value='{order.pk}']")
    page.select_option("select[name=action]", "refund")
    page.click("#changelist-form button[name=index]")
    page.wait_for_selector("input[name=confirm][value=yes]", state="attached")
    shot("refund-form")
    assert page.locator("#content h1").count() == 1 and page.inner_text(".breadcrumbs a[href$='/orders/order/']")
    table = page.inner_text("#content table")
    assert order.partner_order_id in table and "paid (S)" in table


def test_staff_finds_a_paid_order_by_relay_id_and_cancels_it(page, shot, live_server, kakao_app, fake_kakao):
    order, option, buyer = paid_order(live_server, kakao_app, fake_kakao, relay_id=RELAY, app_user_id="4001", code="P-CANCEL")
    other, other_option, _ = paid_order(live_server, kakao_app, fake_kakao, relay_id=OTHER_RELAY, app_user_id="4002", code="P-OTHER")
    staff = make_staff("order-staff", *ORDER_PERMS)

    admin_login(page, staff)
    page.click("#content-main tr.model-order th a")
    page.wait_for_url(f"**{ORDERS}")
    result_rows(page).first.wait_for()
    shot("orders")
    assert result_rows(page).count() == 2

    # the relay id filter: a box in the filter sidebar (exact match)
    page.fill("#changelist-filter input[name=relay_id]", RELAY)
    page.press("#changelist-filter input[name=relay_id]", "Enter")
    page.wait_for_url(f"**relay_id={RELAY}")
    shot("found-by-relay-id")
    assert result_rows(page).count() == 1
    row = result_rows(page).first
    assert (cell(row, "partner_order_id"), cell(row, "status"), cell(row, "relay_id")) == (order.partner_order_id, "paid (S)", RELAY)

    # the order's page: paid, its chat, the event log
    page.click(f"#result_list a:text-is('{order.partner_order_id}')")
    page.wait_for_url(f"**{ORDERS}{order.pk}/change/**")
    shot("paid-order")
    assert page.text_content(".field-status .readonly").strip() == "paid (S)"
    assert page.text_content(".field-relay_id .readonly").strip() == RELAY
    assert page.text_content(".field-t4 .readonly").strip() == "S"
    assert page.inner_text("#order-state .badge") == "paid (S)"  # the receipt says it where the eye is
    assert PaymentEvent.Kind.APPROVE_SUCCESS in event_kinds(page)
    page.go_back()
    page.wait_for_url(f"**relay_id={RELAY}")

    # cancel it in full through the refund form
    choose_refund(page, shot, order)
    assert page.is_checked("input[name=kind][value=full]")  # full is the default
    page.click("input[type=submit][value='Cancel at KakaoPay']")
    message = page.wait_for_selector(".messagelist .success")
    page.wait_for_url(f"**relay_id={RELAY}")  # back on the filtered list
    shot("cancelled")
    assert message.inner_text() == f"Order {order.partner_order_id}: 20000 refunded, cancelled (C)."
    row = result_rows(page).first
    assert (cell(row, "status"), cell(row, "t4"), cell(row, "refunded_amount")) == ("cancelled (C)", "C", "20000")

    # what happened: KakaoPay got the cancel, the order is C to Kakao too, the stock is back
    (call,) = fake_kakao.calls("cancel")
    assert call["params"]["tid"] == order.tid and int(call["params"]["cancel_amount"]) == 20000
    assert fake_kakao.state()["kakaopay"]["tids"][order.tid]["status"] == "CANCEL_PAYMENT"
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED and order.refunded_amount == 20000
    assert buyer.t4() == {"status": 200, "data": {"order_status": "C"}}
    assert Option.objects.get(pk=option.pk).stock == 5
    assert order.events.get(kind=PaymentEvent.Kind.CANCEL_SUCCESS).created_by == "order-staff"
    other.refresh_from_db()
    assert other.status == Order.Status.PAID and other.refunded_amount == 0
    assert Option.objects.get(pk=other_option.pk).stock == 3

    page.click(f"#result_list a:text-is('{order.partner_order_id}')")
    page.wait_for_url(f"**{ORDERS}{order.pk}/change/**")
    shot("cancelled-order")
    assert page.text_content(".field-status .readonly").strip() == "cancelled (C)"
    assert page.text_content(".field-t4 .readonly").strip() == "C"
    assert page.text_content(".field-refunded_amount .readonly").strip() == "20000"
    assert event_kinds(page)[-3:] == [PaymentEvent.Kind.CANCEL_REQUEST, PaymentEvent.Kind.CANCEL_SUCCESS, PaymentEvent.Kind.STATE]
    assert "order-staff" in page.locator("#order-timeline li[data-kind=cancel_success] .meta").inner_text()


def test_a_partial_refund_leaves_the_order_paid_with_the_refunded_amount_shown(page, shot, live_server, kakao_app, fake_kakao):
    order, option, buyer = paid_order(live_server, kakao_app, fake_kakao, relay_id=RELAY, app_user_id="4003", code="P-PART", quantity=3)
    paid_order(live_server, kakao_app, fake_kakao, relay_id=OTHER_RELAY, app_user_id="4004", code="P-OTHER")

    admin_login(page, make_staff("refund-staff", *ORDER_PERMS))
    page.goto(ORDERS)
    # the search box finds it by relay id too
    page.fill("#searchbar", RELAY)
    page.press("#searchbar", "Enter")
    page.wait_for_url(f"**q={RELAY}")
    shot("searched-by-relay-id")
    assert result_rows(page).count() == 1 and cell(result_rows(page).first, "partner_order_id") == order.partner_order_id

    # a partial refund without an amount is refused by the form, nothing is sent
    choose_refund(page, shot, order)
    page.check("input[name=kind][value=partial]")
    page.click("input[type=submit][value='Cancel at KakaoPay']")
    page.wait_for_selector("#content .errorlist")
    shot("partial-needs-an-amount")
    assert "A partial refund needs an amount." in page.inner_text("#content .errorlist")
    assert not fake_kakao.calls("cancel")

    page.check("input[name=kind][value=partial]")
    page.fill("#id_amount", "5000")
    shot("partial-5000")
    page.click("input[type=submit][value='Cancel at KakaoPay']")
    message = page.wait_for_selector(".messagelist .success")
    page.wait_for_url(f"**q={RELAY}")
    shot("partially-refunded")
    assert message.inner_text() == f"Order {order.partner_order_id}: 5000 refunded, partially refunded."
    row = result_rows(page).first
    assert (cell(row, "status"), cell(row, "total_amount"), cell(row, "refunded_amount")) == ("paid (S)", "30000", "5000")

    (call,) = fake_kakao.calls("cancel")
    assert (call["params"]["tid"], int(call["params"]["cancel_amount"])) == (order.tid, 5000)
    tid = fake_kakao.state()["kakaopay"]["tids"][order.tid]
    assert tid["status"] == "PART_CANCEL_PAYMENT" and tid["canceled"]["total"] == 5000
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.refunded_amount == 5000 and order.refundable_amount == 25000
    assert buyer.t4() == {"status": 200, "data": {"order_status": "S"}}
    assert Option.objects.get(pk=option.pk).stock == 2  # a partial refund returns no stock

    page.click(f"#result_list a:text-is('{order.partner_order_id}')")
    page.wait_for_url(f"**{ORDERS}{order.pk}/change/**")
    shot("partially-refunded-order")
    assert page.text_content(".field-status .readonly").strip() == "paid (S)"
    assert page.text_content(".field-approved_amount .readonly").strip() == "30000"
    assert page.text_content(".field-refunded_amount .readonly").strip() == "5000"
    assert PaymentEvent.Kind.CANCEL_SUCCESS in event_kinds(page)
