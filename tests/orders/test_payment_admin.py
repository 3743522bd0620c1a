"""Staff in the admin: full and partial cancels reach the fake KakaoPay, failures are shown,
orders list with their filters and event log, store rules editable."""

from __future__ import annotations

import pytest

from catalog.models import Option, StockHold
from orders import payments
from orders.models import Order, PaymentEvent, StoreRules
from tests.support.payments import paid_order

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/orders/order/"


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_superuser("staff", "staff@example.com", "pw")
    client.force_login(user)
    return client


def refund_post(staff, order, **form):
    data = {"action": "refund", "_selected_action": [order.pk], "confirm": "yes", **form}
    return staff.post(CHANGELIST, data, follow=True)


def test_full_cancel_from_the_admin_reaches_kakaopay_and_moves_the_order_to_c(staff, kakao_app, plugin_base, fake_kakao):
    order, option, buyer = paid_order(kakao_app, plugin_base, fake_kakao)
    assert Option.objects.get(pk=option.pk).stock == 3
    # the intermediate page with the form
    r = staff.post(CHANGELIST, {"action": "refund", "_selected_action": [order.pk]})
    assert r.status_code == 200 and "카카오페이에서 취소" in r.content.decode() and order.partner_order_id.encode() in r.content
    r = refund_post(staff, order, kind="full")
    assert r.status_code == 200 and "취소됨 (C)" in r.content.decode()  # Korean: the default
    (call,) = fake_kakao.calls("cancel")
    assert call["params"]["tid"] == order.tid and int(call["params"]["cancel_amount"]) == 20000
    assert int(call["params"]["cancel_available_amount"]) == 20000
    assert call["headers"]["Authorization"].startswith("KakaoAK ")
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED and order.refunded_amount == 20000
    assert buyer.t4()["data"]["order_status"] == "C"
    assert Option.objects.get(pk=option.pk).stock == 5  # stock returned
    assert StockHold.objects.get(reference=order.partner_order_id).state == StockHold.State.RELEASED
    ev = order.events.get(kind=PaymentEvent.Kind.CANCEL_SUCCESS)
    assert ev.created_by == "staff"
    assert fake_kakao.state()["kakaopay"]["tids"][order.tid]["status"] == "CANCEL_PAYMENT"


def test_partial_cancels_keep_paid_until_everything_is_refunded(staff, kakao_app, plugin_base, fake_kakao):
    order, option, _ = paid_order(kakao_app, plugin_base, fake_kakao)
    r = refund_post(staff, order, kind="partial", amount=5000, tax_free_amount=0)
    assert "부분 환불됨" in r.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.refunded_amount == 5000
    assert order.refunded_vat_amount == 455
    assert Option.objects.get(pk=option.pk).stock == 3  # a partial refund returns no stock
    call = fake_kakao.calls("cancel")[-1]["params"]
    assert (int(call["cancel_amount"]), int(call["cancel_tax_free_amount"]), int(call["cancel_vat_amount"])) == (5000, 0, 455)
    tid = fake_kakao.state()["kakaopay"]["tids"][order.tid]
    assert tid["status"] == "PART_CANCEL_PAYMENT" and tid["canceled"]["total"] == 5000
    refund_post(staff, order, kind="partial", amount=15000)
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED and order.refunded_amount == 20000
    assert Option.objects.get(pk=option.pk).stock == 5


def test_a_refused_cancel_is_shown_to_staff_and_recorded(staff, kakao_app, plugin_base, fake_kakao):
    order, _, _ = paid_order(kakao_app, plugin_base, fake_kakao)
    fake_kakao.fault("cancel", "decline", message="취소 가능 기간이 지났습니다.")
    r = refund_post(staff, order, kind="full")
    assert "취소를 거절했습니다" in r.content.decode() and "취소 가능 기간이 지났습니다." in r.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.refunded_amount == 0
    assert order.events.filter(kind=PaymentEvent.Kind.CANCEL_FAILURE).count() == 1
    # the order is listed under "needs attention"
    r = staff.get(CHANGELIST, {"attention": "yes"})
    assert order.partner_order_id in r.content.decode()


def test_a_cancel_whose_answer_was_lost_is_settled_by_the_inquiry(staff, kakao_app, plugin_base, fake_kakao):
    order, _, _ = paid_order(kakao_app, plugin_base, fake_kakao)
    fake_kakao.fault("cancel", "lost")
    refund_post(staff, order, kind="full")
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED and order.refunded_amount == 20000
    assert len(fake_kakao.calls("cancel")) == 1
    assert order.events.filter(kind=PaymentEvent.Kind.CANCEL_UNKNOWN).count() == 1


def test_partial_refund_larger_than_left_is_refused_without_a_call(staff, kakao_app, plugin_base, fake_kakao):
    order, _, _ = paid_order(kakao_app, plugin_base, fake_kakao)
    r = refund_post(staff, order, kind="partial", amount=999999)
    assert "1 이상 20000 이하" in r.content.decode()
    assert not fake_kakao.calls("cancel")


def test_order_list_filters_and_change_page_with_the_event_log(staff, kakao_app, plugin_base, fake_kakao):
    order, _, _ = paid_order(kakao_app, plugin_base, fake_kakao)
    for params in ({"status__exact": "paid"}, {"relay_id": "relay-1"}, {"app_user_id": "user-1"},
                   {"kakao_app__id__exact": kakao_app.pk}, {"q": order.tid}):  # fmt: skip
        r = staff.get(CHANGELIST, params)
        assert r.status_code == 200 and order.partner_order_id in r.content.decode(), params
    r = staff.get(CHANGELIST, {"relay_id": "another"})
    assert order.partner_order_id not in r.content.decode()
    r = staff.get(f"{CHANGELIST}{order.pk}/change/")
    page = r.content.decode()
    assert r.status_code == 200 and "approve_success" in page and "t3_received" in page
    assert staff.get("/admin/orders/paymentevent/").status_code == 200


def test_store_rules_are_edited_in_the_admin(staff, kakao_app):
    r = staff.post(
        "/admin/orders/storerules/add/",
        {
            "kakao_app": kakao_app.pk, "enforce_business_hours": "on", "closed_message": "영업시간이 아닙니다.",
            "shipping_base_fee": 3000, "free_shipping_threshold": 50000,
            "hours-TOTAL_FORMS": 1, "hours-INITIAL_FORMS": 0, "hours-0-weekday": 0, "hours-0-opens": "09:00",
            "hours-0-closes": "18:00",
            "closed_dates-TOTAL_FORMS": 1, "closed_dates-INITIAL_FORMS": 0, "closed_dates-0-date": "2026-12-25",
            "closed_dates-0-reason": "성탄절",
            "remote_areas-TOTAL_FORMS": 1, "remote_areas-INITIAL_FORMS": 0, "remote_areas-0-name": "제주",
            "remote_areas-0-zip_from": "63000", "remote_areas-0-zip_to": "63644", "remote_areas-0-surcharge": 3000,
        },
    )  # fmt: skip
    assert r.status_code == 302, r.content.decode()[:2000]
    rules = StoreRules.objects.get(kakao_app=kakao_app)
    assert rules.hours.count() == 1 and rules.closed_dates.get().reason == "성탄절"
    assert rules.remote_areas.get().zip_to == "63644"


def test_small_partial_refunds_never_overshoot_the_vat(kakao_app, plugin_base, fake_kakao):
    """30원 with 3원 VAT refunded 6원 at a time: rounding each part's VAT up (1원 each) would pass
    the approved VAT at the fourth refund and end on a negative VAT cancel."""
    order, option, buyer = paid_order(kakao_app, plugin_base, fake_kakao, price=6, quantity=5)
    assert (order.approved_amount, order.approved_vat_amount) == (30, 3)
    for _ in range(5):
        payments.payment_refund(order_id=order.pk, amount=6, tax_free_amount=0, staff="staff")
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED and order.refunded_amount == 30
    assert order.refunded_vat_amount == 3
    vats = [int(c["params"]["cancel_vat_amount"]) for c in fake_kakao.calls("cancel")]
    assert len(vats) == 5 and min(vats) >= 0 and sum(vats) == 3


def test_a_vat_part_above_what_is_left_is_refused(kakao_app, plugin_base, fake_kakao):
    order, option, buyer = paid_order(kakao_app, plugin_base, fake_kakao)
    with pytest.raises(payments.RefundError, match="부가세는 0 이상"):
        payments.payment_refund(order_id=order.pk, amount=5000, tax_free_amount=0, vat_amount=order.approved_vat_amount + 1)
    assert not fake_kakao.calls("cancel")
