"""정기결제 in this process (tasks eager; SQLite or PostgreSQL) against the fake KakaoPay over HTTP:
the schedule rule, payment T1's ``automatic_payment``, unknown outcomes settled without a second
charge, blocked members, free periods, refunds of a charge, status, resume, the plan admin."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
import requests
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from catalog.subscriptions import ScheduleRule, add_months, parse_amounts
from kakaoplugin.models import Customer
from kakaoplugin.services import customer_set_blocked
from orders import payments
from orders.models import Order, PaymentEvent, Subscription, SubscriptionInstallment
from orders.payments.ledger import payment_event_record
from orders.subscriptions import (
    ChargeOutcome,
    SubscriptionError,
    subscription_charge,
    subscription_check_status,
    subscription_resume,
    subscriptions_due,
)
from tests.support.payments import Buyer, make_product, make_sheet
from tests.support.subscriptions import SEOUL, make_plan, move_anchor, seoul, sign_up

Inst = SubscriptionInstallment
flow = pytest.mark.django_db(transaction=True)


# --- the rule (no database) ------------------------------------------------------------------------


def test_months_count_from_the_sign_up_day_with_month_end_clamping():
    rule = ScheduleRule(amount=9900, intro_amounts=(0,))
    got = [(i.seq, i.due_date, i.amount) for i in rule.installments(date(2024, 1, 31), count=6)]
    assert got == [
        (0, date(2024, 1, 31), 0), (1, date(2024, 2, 29), 9900), (2, date(2024, 3, 31), 9900),
        (3, date(2024, 4, 30), 9900), (4, date(2024, 5, 31), 9900), (5, date(2024, 6, 30), 9900),
    ]  # fmt: skip
    assert add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert add_months(date(2024, 11, 30), 3) == date(2025, 2, 28)
    assert ScheduleRule(cycle="year", amount=1).due_date(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert ScheduleRule(cycle="week", interval=2, amount=1).due_date(date(2024, 12, 25), 1) == date(2025, 1, 8)
    assert ScheduleRule(interval=3, amount=1).due_date(date(2024, 8, 31), 2) == date(2025, 2, 28)


def test_rule_amounts_periods_labels_and_parsing():
    rule = ScheduleRule(amount=10000, intro_amounts=(0, 5000), periods=3)
    assert [i.amount for i in rule.installments(date(2024, 7, 25), count=10, quantity=2)] == [0, 10000, 20000]
    assert rule.exists(2) and not rule.exists(3)
    assert ScheduleRule().cycle_label == "월" and ScheduleRule(cycle="week").cycle_label == "주"
    assert ScheduleRule(interval=2).cycle_label == "2개월"
    assert parse_amounts("0, 5000;10000") == (0, 5000, 10000) and parse_amounts("") == ()
    with pytest.raises(ValueError):
        parse_amounts("0, 5,000.5")
    with pytest.raises(ValueError):
        ScheduleRule(cycle="day")
    assert ScheduleRule.from_json(rule.as_json() | {"shown": 4}) == rule


# --- payment T1 ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_payment_t1_of_a_plan_product_sends_automatic_payment_with_the_subscription_cid(kakao_app, plugin_base, fake_kakao):
    plan = make_plan(intro="0, 5000", amount=9900)
    plan.details_shown = 4
    plan.save()
    body = Buyer(plugin_base, fake_kakao.url).t1(make_sheet(kakao_app, plan.product, None).pk)
    assert body["status"] == 200
    data = body["data"]
    assert data["cid"] == "TCSUBSCRIP" and data["total_amount"] == 0 and data["vat_amount"] == 0
    today = timezone.now().astimezone(SEOUL).date()
    expected = [(d := add_months(today, n)) and {"year": d.year, "month": d.month, "day": d.day, "amount": a}
                for n, a in enumerate([0, 5000, 9900, 9900])]  # fmt: skip
    assert data["automatic_payment"] == {"message": "첫달 무료", "billing_cycle": "월", "currency": "원", "details": expected}
    sub = Subscription.objects.get(signup_order__partner_order_id=data["partner_order_id"])
    assert sub.state == Subscription.State.PENDING and sub.anchor_date == today

    # A plain product still sells as a single payment.
    product, option = make_product(code="P-plain")
    data = Buyer(plugin_base, fake_kakao.url).t1(make_sheet(kakao_app, product, option).pk)["data"]
    assert data["cid"] == "TC0ONETIME" and "automatic_payment" not in data and data["total_amount"] == 10000
    # A plan switched off: single payment at the product's price.
    plan.active = False
    plan.save()
    data = Buyer(plugin_base, fake_kakao.url).t1(make_sheet(kakao_app, plan.product, None).pk)["data"]
    assert data["cid"] == "TC0ONETIME" and "automatic_payment" not in data and data["total_amount"] == 9900


@flow
def test_a_plan_with_delivery_signs_up_without_shipping_fees(eager_tasks, kakao_app, plugin_base, fake_kakao):
    from orders.models import StoreRules
    from tests.support.payments import ADDRESS

    StoreRules.objects.create(kakao_app=kakao_app, enforce_business_hours=False, shipping_base_fee=3000)
    plan = make_plan(intro="4900", amount=9900)
    plan.product.needs_shipping = True
    plan.product.save()
    sheet = make_sheet(kakao_app, plan.product, None)
    buyer = Buyer(plugin_base, fake_kakao.url)
    data = buyer.t1(sheet.pk)["data"]
    assert data["use_shipping"] is True and data["total_amount"] == 4900 and data["vat_amount"] == 445
    buyer.ready()
    buyer.authorize()
    assert buyer.t2(address=ADDRESS) == {"status": 200}
    assert buyer.t3() == {"status": 200}
    assert buyer.t4()["data"] == {"order_status": "S"}
    sub = Subscription.objects.get(signup_order__partner_order_id=buyer.partner_order_id)
    assert sub.state == Subscription.State.ACTIVE and sub.signup_order.approved_amount == 4900
    assert fake_kakao.state()["kakaopay"]["tids"][buyer.tid]["status"] == "SUCCESS_PAYMENT"


@pytest.mark.django_db
def test_payment_t1_without_a_subscription_cid_is_a_500_envelope(kakao_app, plugin_base, fake_kakao):
    kakao_app.subscription_cid = ""
    kakao_app.save()
    plan = make_plan()
    body = Buyer(plugin_base, fake_kakao.url).t1(make_sheet(kakao_app, plan.product, None).pk)
    assert body["status"] == 500 and "정기결제" in body["message"]
    assert not Subscription.objects.exists()


# --- charging in this process ------------------------------------------------------------------------


@pytest.fixture
def active(eager_tasks, kakao_app, plugin_base, fake_kakao):
    """A subscription signed up on 31 Jan 2024 (Asia/Seoul): 0 at sign-up, then 9,900 monthly."""

    def make(intro: str = "0", periods: int | None = None) -> Subscription:
        plan = make_plan(intro=intro, amount=9900, periods=periods)
        _, sub = sign_up(kakao_app, plugin_base, fake_kakao.url, plan)
        assert sub.state == Subscription.State.ACTIVE
        return move_anchor(sub, date(2024, 1, 31), seoul(2024, 2, 29))

    return make


@flow
def test_a_lost_answer_is_settled_by_kakaopay_not_by_charging_again(active, fake_kakao):
    sub = active()
    fake_kakao.fault("subscription", "lost")  # KakaoPay charges, the answer never arrives
    now = seoul(2024, 2, 29, 10)
    assert subscription_charge(subscription_id=sub.pk, now=now) is ChargeOutcome.RETRY
    inst = Inst.objects.get(subscription=sub, seq=1)
    assert inst.status == Inst.Status.CHARGING and inst.requested_at is not None
    assert subscription_charge(subscription_id=sub.pk, now=now) is ChargeOutcome.DONE
    inst.refresh_from_db()
    assert inst.status == Inst.Status.PAID and inst.order.status == Order.Status.PAID
    assert len(fake_kakao.calls("subscription")) == 1
    assert len(fake_kakao.calls("subscription_status")) == 1
    assert inst.order.events.filter(kind=PaymentEvent.Kind.CHARGE_UNKNOWN).count() == 1
    sub.refresh_from_db()
    assert sub.next_seq == 2 and sub.next_due_at == seoul(2024, 3, 31)


@flow
def test_a_5xx_is_known_not_to_have_charged_and_is_charged_once_more(active, fake_kakao):
    sub = active()
    fake_kakao.fault("subscription", "error500")
    now = seoul(2024, 2, 29, 10)
    assert subscription_charge(subscription_id=sub.pk, now=now) is ChargeOutcome.RETRY
    assert subscription_charge(subscription_id=sub.pk, now=now) is ChargeOutcome.DONE
    inst = Inst.objects.get(subscription=sub, seq=1)
    assert inst.status == Inst.Status.PAID and inst.attempts == 2 and inst.tid
    tids = [t for t, v in fake_kakao.state()["kakaopay"]["tids"].items() if v.get("sid") == str(sub.sid) and v["total_amount"] == 9900]
    assert tids == [inst.tid]


@flow
def test_an_answer_received_but_not_processed_is_settled_by_the_order_inquiry(active, fake_kakao, kakao_app):
    """The worker died after recording KakaoPay's answer: the inquiry of that tid settles it."""
    sub = active()
    assert subscription_charge(subscription_id=sub.pk, now=seoul(2024, 2, 29, 10)) is ChargeOutcome.DONE
    fake_kakao.fault("subscription", "error500")  # claim installment 2 and stop after one failed call
    assert subscription_charge(subscription_id=sub.pk, now=seoul(2024, 3, 31, 10)) is ChargeOutcome.RETRY
    inst = Inst.objects.get(subscription=sub, seq=2)
    # What the dead worker had: KakaoPay's answer to its call, recorded as an event.
    answer = requests.post(
        fake_kakao.url + "/v1/payment/subscription", headers={"Authorization": "KakaoAK test-admin-key-0123456789"},
        data={"cid": "TCSUBSCRIP", "sid": str(sub.sid), "partner_order_id": inst.order.partner_order_id,
              "partner_user_id": "user-1", "item_name": sub.item_name, "quantity": 1, "total_amount": 9900,
              "tax_free_amount": 0}, timeout=5,
    ).json()  # fmt: skip
    Inst.objects.filter(pk=inst.pk).update(requested_at=timezone.now() - timedelta(seconds=1))
    payment_event_record(order=inst.order, kind=PaymentEvent.Kind.CHARGE_SUCCESS, response=answer, outcome="ok")
    calls = len(fake_kakao.calls("subscription"))
    assert subscription_charge(subscription_id=sub.pk, now=seoul(2024, 3, 31, 10)) is ChargeOutcome.DONE
    inst.refresh_from_db()
    assert inst.status == Inst.Status.PAID and inst.tid == answer["tid"]
    assert len(fake_kakao.calls("subscription")) == calls
    assert [c["params"]["tid"] for c in fake_kakao.calls("order")] == [answer["tid"]]


@flow
def test_a_blocked_member_is_not_charged_and_resume_goes_on_from_the_next_date(active, fake_kakao, kakao_app):
    sub = active()
    Customer.objects.create(kakao_app=kakao_app, app_user_id="user-1", blocked=True)
    assert subscription_charge(subscription_id=sub.pk, now=seoul(2024, 2, 29, 10)) is ChargeOutcome.DONE
    sub.refresh_from_db()
    assert sub.state == Subscription.State.SUSPENDED and sub.state_reason == "member blocked"
    assert Inst.objects.get(subscription=sub, seq=1).status == Inst.Status.SKIPPED
    assert fake_kakao.calls("subscription") == []
    assert subscriptions_due(now=seoul(2024, 6, 1)) == []

    with pytest.raises(SubscriptionError):
        subscription_resume(subscription_id=sub.pk, now=seoul(2024, 4, 5))
    customer_set_blocked(customer=Customer.objects.get(app_user_id="user-1"), blocked=False)  # as staff unblock
    sub = subscription_resume(subscription_id=sub.pk, now=seoul(2024, 4, 5))
    assert sub.state == Subscription.State.ACTIVE and sub.next_seq == 3 and sub.next_due_at == seoul(2024, 4, 30)
    assert subscription_charge(subscription_id=sub.pk, now=seoul(2024, 4, 30, 9)) is ChargeOutcome.DONE
    assert [int(c["params"]["total_amount"]) for c in fake_kakao.calls("subscription")] == [9900]
    assert Inst.objects.get(subscription=sub, seq=3).status == Inst.Status.PAID


@flow
def test_free_periods_are_not_sent_and_a_fixed_term_ends(active, fake_kakao):
    sub = active(intro="0, 0", periods=3)
    # Overdue together: installment 1 (free) and 2 (9,900); then the term is over.
    assert subscription_charge(subscription_id=sub.pk, now=seoul(2024, 4, 1)) is ChargeOutcome.DONE
    got = [(i.seq, i.status, i.amount, i.order_id is not None) for i in Inst.objects.filter(subscription=sub)]
    assert got == [(1, "paid", 0, False), (2, "paid", 9900, True)]
    assert [int(c["params"]["total_amount"]) for c in fake_kakao.calls("subscription")] == [9900]
    sub.refresh_from_db()
    assert sub.state == Subscription.State.ENDED and sub.next_due_at is None


@flow
def test_a_charge_is_refunded_with_the_existing_refund_machinery(active, fake_kakao):
    sub = active()
    subscription_charge(subscription_id=sub.pk, now=seoul(2024, 2, 29, 10))
    order = Inst.objects.get(subscription=sub, seq=1).order
    from kakaoplugin.models import WebhookEvent

    paid = WebhookEvent.objects.get(type="order.paid", idempotency_key=f"order.paid:{order.partner_order_id}")
    assert paid.payload["data"]["order"]["total_amount"] == 9900  # merchants hear of every charge
    done = payments.payment_refund(order_id=order.pk, staff="staff")
    assert done.full and done.amount == 9900
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED and order.refunded_amount == 9900
    from kakaoplugin.models import WebhookEvent

    assert WebhookEvent.objects.filter(idempotency_key=f"order.cancelled:{order.partner_order_id}").exists()
    assert WebhookEvent.objects.filter(type="order.cancelled", idempotency_key__endswith=order.partner_order_id).exists()
    cancel = fake_kakao.calls("cancel")[-1]["params"]
    assert cancel["cid"] == "TCSUBSCRIP" and cancel["tid"] == order.tid


@flow
def test_status_check_learns_the_buyer_ended_it_at_kakaopay(active, fake_kakao):
    sub = active()
    requests.post(fake_kakao.url + "/v1/payment/manage/subscription/inactive",
                  headers={"Authorization": "KakaoAK test-admin-key-0123456789"},
                  data={"cid": "TCSUBSCRIP", "sid": str(sub.sid)}, timeout=5).raise_for_status()  # fmt: skip
    assert "INACTIVE" in subscription_check_status(subscription_id=sub.pk, staff="staff")
    sub.refresh_from_db()
    assert sub.state == Subscription.State.CANCELLED and sub.kakaopay_status["status"] == "INACTIVE"
    assert "sid" not in sub.kakaopay_status
    assert subscriptions_due(now=seoul(2024, 3, 1)) == []


@flow
def test_a_charge_declined_because_the_sid_is_inactive_suspends_at_once(active, fake_kakao):
    sub = active()
    requests.post(fake_kakao.url + "/v1/payment/manage/subscription/inactive",
                  headers={"Authorization": "KakaoAK test-admin-key-0123456789"},
                  data={"cid": "TCSUBSCRIP", "sid": str(sub.sid)}, timeout=5).raise_for_status()  # fmt: skip
    subscription_charge(subscription_id=sub.pk, now=seoul(2024, 2, 29, 10))
    sub.refresh_from_db()
    assert sub.state == Subscription.State.SUSPENDED and "INACTIVE" in sub.state_reason
    assert Inst.objects.get(subscription=sub, seq=1).status == Inst.Status.FAILED


@flow
def test_two_runners_racing_charge_once(active, fake_kakao):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    sub = active()
    now = seoul(2024, 2, 29, 10)
    barrier = threading.Barrier(4)
    results = []

    def run():
        try:
            barrier.wait()
            results.append(subscription_charge(subscription_id=sub.pk, now=now))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    assert len(fake_kakao.calls("subscription")) == 1
    assert Inst.objects.get(subscription=sub, seq=1).status == Inst.Status.PAID


# --- admin -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_plan_admin_validates_and_previews(kakao_app):
    plan = make_plan(intro="0, 5000")
    staff = get_user_model().objects.create_superuser("staff", "s@example.com", "pw")
    client = Client()
    client.force_login(staff)
    page = client.get(f"/admin/catalog/subscriptionplan/{plan.pk}/change/").content.decode()
    today = timezone.now().astimezone(SEOUL).date()
    assert f"{add_months(today, 1):%Y-%m-%d}" in page and "5,000" in page and "첫달 무료" in page
    form = {"product": plan.product.pk, "active": "on", "message": "첫달 무료", "billing_cycle": "month", "interval": 1,
            "currency": "원", "amount": 9900, "intro_amounts": "0, 5천", "details_shown": 12}  # fmt: skip
    r = client.post(f"/admin/catalog/subscriptionplan/{plan.pk}/change/", form)
    assert r.status_code == 200 and "not a whole number" in r.content.decode()
    r = client.post(f"/admin/catalog/subscriptionplan/{plan.pk}/change/", form | {"intro_amounts": "0"})
    assert r.status_code == 302
    plan.refresh_from_db()
    assert plan.intro_amounts == "0"
    assert client.get("/admin/orders/subscription/").status_code == 200


@flow
def test_an_earlier_answered_5xx_does_not_make_the_current_charge_look_landed(active, fake_kakao, kakao_app):
    """After attempt 1's answered 500, attempt 2's unanswered call may still be in flight."""
    from kakaoplugin.clients.kakaopay import KakaoPayClient
    from orders.subscriptions.charging import _may_be_in_flight

    sub = active()
    fake_kakao.fault("subscription", "error500")
    assert subscription_charge(subscription_id=sub.pk, now=seoul(2024, 2, 29, 10)) is ChargeOutcome.RETRY
    inst = Inst.objects.get(subscription=sub, seq=1)
    client = KakaoPayClient.for_app(kakao_app)
    assert _may_be_in_flight(inst, inst.order, client) is False  # attempt 1 was answered
    Inst.objects.filter(pk=inst.pk).update(requested_at=timezone.now())  # attempt 2 sent just now
    inst.refresh_from_db()
    assert _may_be_in_flight(inst, inst.order, client) is True


@flow
def test_a_charge_cancelled_at_kakaopay_before_we_settled_it_shows_as_cancelled(active, fake_kakao, kakao_app):
    """The dead worker's charge went through and KakaoPay's staff cancelled it before we settled:
    the installment is charged (it happened) and its child order shows the cancel."""
    sub = active()
    assert subscription_charge(subscription_id=sub.pk, now=seoul(2024, 2, 29, 10)) is ChargeOutcome.DONE
    fake_kakao.fault("subscription", "error500")
    assert subscription_charge(subscription_id=sub.pk, now=seoul(2024, 3, 31, 10)) is ChargeOutcome.RETRY
    inst = Inst.objects.get(subscription=sub, seq=2)
    auth = {"Authorization": "KakaoAK test-admin-key-0123456789"}
    answer = requests.post(
        fake_kakao.url + "/v1/payment/subscription", headers=auth,
        data={"cid": "TCSUBSCRIP", "sid": str(sub.sid), "partner_order_id": inst.order.partner_order_id,
              "partner_user_id": "user-1", "item_name": sub.item_name, "quantity": 1, "total_amount": 9900,
              "tax_free_amount": 0}, timeout=5,
    ).json()  # fmt: skip
    cancel = requests.post(
        fake_kakao.url + "/v1/payment/cancel", headers=auth,
        data={"cid": "TCSUBSCRIP", "tid": answer["tid"], "cancel_amount": 9900, "cancel_tax_free_amount": 0,
              "cancel_vat_amount": 900, "cancel_available_amount": 9900}, timeout=5,
    )  # fmt: skip
    assert cancel.status_code == 200, cancel.text
    Inst.objects.filter(pk=inst.pk).update(requested_at=timezone.now() - timedelta(seconds=1))
    payment_event_record(order=inst.order, kind=PaymentEvent.Kind.CHARGE_SUCCESS, response=answer, outcome="ok")
    assert subscription_charge(subscription_id=sub.pk, now=seoul(2024, 3, 31, 10)) is ChargeOutcome.DONE
    inst.refresh_from_db()
    order = inst.order
    order.refresh_from_db()
    assert inst.status == Inst.Status.PAID and inst.tid == answer["tid"]
    assert order.status == Order.Status.CANCELLED and order.refunded_amount == 9900
    from kakaoplugin.models import WebhookEvent

    assert WebhookEvent.objects.filter(idempotency_key=f"order.cancelled:{order.partner_order_id}").exists()
