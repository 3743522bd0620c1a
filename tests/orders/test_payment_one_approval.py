"""One KakaoPay approval pays one order: a tid belongs to one order, every KakaoPay answer that can
settle an order is checked against the order before it settles anything, a refused pg_token does
not fail the order, T3 needs the order's buyer.

Worker tests run our endpoints over HTTP with a real Celery worker (PostgreSQL + Redis) and the fake
KakaoPay over HTTP; the others call the payment engine in-process against the same fake."""

from __future__ import annotations

import time

import pytest
import requests

from catalog.models import Option
from kakaoplugin.models import WebhookEvent
from orders.models import Order, PaymentEvent
from tests.conftest import wait_until
from tests.support.payments import Buyer, browser_path, make_product, make_sheet

worker = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def settle(buyer: Buyer, timeout: float = 20.0) -> dict:
    def done():
        data = buyer.t4()["data"]
        return data if data["order_status"] != "W" else None

    return wait_until(done, timeout=timeout, message=f"T4 of {buyer.partner_order_id} to leave W")


def pay(kakao_app, plugin_base, fake_kakao, product, option, **buyer_kw) -> Buyer:
    """A buyer who completes a payment (T1, ready, authorize, T2, T3) and waits for S."""
    buyer = Buyer(plugin_base, fake_kakao.url, **buyer_kw)
    buyer.t1(make_sheet(kakao_app, product, option, app_user_id=buyer.app_user_id).pk)
    buyer.ready()
    buyer.authorize()
    assert buyer.t2() == {"status": 200}
    assert buyer.t3() == {"status": 200}
    assert settle(buyer) == {"order_status": "S"}
    return buyer


def approve_at_fake(fake_kakao, buyer: Buyer, **params) -> dict:
    """Approve a tid at the fake directly (what another integration holding the key would do)."""
    body = {"cid": "TC0ONETIME", "tid": buyer.tid, "partner_order_id": buyer.partner_order_id,
            "partner_user_id": buyer.t1_data["partner_user_id"], "pg_token": buyer.pg_token} | params  # fmt: skip
    r = requests.post(fake_kakao.url + "/v1/payment/approve", data=body,
                      headers={"Authorization": "KakaoAK test-admin-key-0123456789"}, timeout=5)  # fmt: skip
    r.raise_for_status()
    return r.json()


def paid_webhooks(order: Order) -> int:
    return WebhookEvent.objects.filter(idempotency_key=f"order.paid:{order.partner_order_id}").count()


# --- the reproduction of issue 11 ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_a_paid_tid_and_its_pg_token_cannot_pay_a_second_order(celery_worker, fake_kakao, kakao_app, plugin_base):
    """Order A paid with tid A; order B (same amount) sends T2 with tid A, then T3 with A's pg_token,
    while KakaoPay's approve answers 5xx once (so an inquiry of tid A would say SUCCESS_PAYMENT)."""
    product, option = make_product(option_stock=5)
    a = pay(kakao_app, plugin_base, fake_kakao, product, option)
    order_a = Order.objects.get(partner_order_id=a.partner_order_id)

    b = Buyer(plugin_base, fake_kakao.url)
    b.t1(make_sheet(kakao_app, product, option).pk)
    assert b.t1_data["total_amount"] == a.t1_data["total_amount"]
    fake_kakao.fault("approve", "error500", match={"tid": a.tid})
    answer = b.t2(tid=a.tid)
    assert answer["status"] == 400 and "다른 주문" in answer["message"]
    b.t3(pg_token=a.pg_token)
    time.sleep(1.5)  # give the worker every chance to (wrongly) settle B

    order_b = Order.objects.get(partner_order_id=b.partner_order_id)
    assert order_b.status == Order.Status.PENDING and order_b.tid == ""
    assert b.t4()["data"]["order_status"] == "W"
    assert order_b.events.get(kind=PaymentEvent.Kind.T2_RECEIVED).outcome == PaymentEvent.Outcome.REFUSED
    assert Option.objects.get(pk=option.pk).stock == 4  # sold once
    assert paid_webhooks(order_a) == 1 and paid_webhooks(order_b) == 0
    assert fake_kakao.state()["kakaopay"]["tids"][a.tid]["approvals"] == 1
    assert all(c["params"]["partner_order_id"] == a.partner_order_id for c in fake_kakao.calls("approve"))
    order_a.refresh_from_db()
    assert order_a.status == Order.Status.PAID and order_a.tid == a.tid


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_an_inquiry_about_another_orders_payment_never_marks_an_order_paid(
    celery_worker, fake_kakao, kakao_app, plugin_base
):
    """A tid readied and approved for another partner_order_id (money moved there) reaches order B
    by T2; approve answers 5xx once, the inquiry says SUCCESS_PAYMENT for the other order: B fails,
    flagged for staff, and the other payment is left alone (no cancel)."""
    product, option = make_product(option_stock=5)
    b = Buyer(plugin_base, fake_kakao.url)
    b.t1(make_sheet(kakao_app, product, option).pk)
    b.ready(partner_order_id="po_elsewhere")
    b.authorize()
    approved = approve_at_fake(fake_kakao, b, partner_order_id="po_elsewhere")
    assert approved["partner_order_id"] == "po_elsewhere"
    fake_kakao.fault("approve", "error500", match={"tid": b.tid})
    assert b.t2() == {"status": 200}  # a tid no order of ours holds
    assert b.t3() == {"status": 200}
    data = settle(b)
    assert data["order_status"] == "F" and "일치하지 않" in data["message"]

    order = Order.objects.get(partner_order_id=b.partner_order_id)
    assert order.flag == Order.Flag.ANSWER_MISMATCH and "partner_order_id" in order.flag_note
    assert order.failure_reason == "answer_mismatch" and order.approved_amount is None
    mismatch = order.events.get(kind=PaymentEvent.Kind.ANSWER_MISMATCH)
    assert mismatch.outcome == PaymentEvent.Outcome.REFUSED and "po_elsewhere" in mismatch.message
    assert fake_kakao.calls("order") and not fake_kakao.calls("cancel")
    assert fake_kakao.state()["kakaopay"]["tids"][b.tid]["status"] == "SUCCESS_PAYMENT"
    assert paid_webhooks(order) == 0
    assert Option.objects.get(pk=option.pk).stock == 5


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_an_approve_answer_naming_another_buyer_is_cancelled_not_paid(celery_worker, fake_kakao, kakao_app, plugin_base):
    """The approve answer is about this order's tid but names another partner_user_id: money moved
    on this order's own payment, so it is cancelled at KakaoPay; the order fails, flagged."""
    product, option = make_product(option_stock=5)
    b = Buyer(plugin_base, fake_kakao.url)
    b.t1(make_sheet(kakao_app, product, option).pk)
    b.ready()
    b.authorize()
    fake_kakao.fault("approve", "alter", match={"tid": b.tid}, set={"partner_user_id": "someone-else"})
    b.t2()
    b.t3()
    data = settle(b)
    assert data["order_status"] == "F" and "일치하지 않" in data["message"]
    wait_until(lambda: Order.objects.get(partner_order_id=b.partner_order_id).status == Order.Status.FAILED)
    order = Order.objects.get(partner_order_id=b.partner_order_id)
    assert order.flag == Order.Flag.ANSWER_MISMATCH and "partner_user_id" in order.flag_note
    assert order.failure_reason == "answer_mismatch" and order.refunded_amount == order.total_amount
    (cancel,) = fake_kakao.calls("cancel")
    assert cancel["params"]["tid"] == b.tid
    assert fake_kakao.state()["kakaopay"]["tids"][b.tid]["status"] == "CANCEL_PAYMENT"
    assert paid_webhooks(order) == 0
    assert Option.objects.get(pk=option.pk).stock == 5


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_a_refused_pg_token_does_not_fail_the_order_and_the_genuine_t3_completes_it(
    celery_worker, fake_kakao, kakao_app, plugin_base
):
    product, option = make_product(option_stock=5)
    b = Buyer(plugin_base, fake_kakao.url)
    b.t1(make_sheet(kakao_app, product, option).pk)
    b.ready()
    b.authorize()
    assert b.t2() == {"status": 200}
    assert b.t3(pg_token="not-the-issued-token") == {"status": 200}
    order = Order.objects.get(partner_order_id=b.partner_order_id)

    def refused_and_back():
        order.refresh_from_db()
        return order.status == Order.Status.HELD and order.pg_token == "" and order.approve_attempts == 1

    wait_until(refused_and_back, message="the refused pg_token to be dropped")
    refusal = order.events.get(kind=PaymentEvent.Kind.APPROVE_FAILURE)
    assert refusal.http_status == 400 and refusal.response == {"code": -708, "msg": "invalid pg_token"}
    assert b.t4()["data"]["order_status"] == "W"
    assert fake_kakao.state()["kakaopay"]["tids"][b.tid]["status"] == "AUTH_PASSWORD"

    assert b.t3() == {"status": 200}  # the genuine redirect
    assert settle(b) == {"order_status": "S"}
    calls = [c["params"]["pg_token"] for c in fake_kakao.calls("approve")]
    assert calls == ["not-the-issued-token", b.pg_token]
    assert fake_kakao.state()["kakaopay"]["tids"][b.tid]["approvals"] == 1
    assert Option.objects.get(pk=option.pk).stock == 4


# --- in this process: T2, T3, the constraint, the check, refunds, subscriptions, the admin ----------


def held(kakao_app, plugin_base, fake_kakao, *, pg_token: str | None = None, code: str = "P-1", **buyer_kw):
    """An order past T2 and T3 (stored without sending the task: the test runs the approval)."""
    product, option = make_product(code=code, option_stock=5)
    buyer = Buyer(plugin_base, fake_kakao.url, **buyer_kw)
    buyer.t1(make_sheet(kakao_app, product, option, app_user_id=buyer.app_user_id).pk)
    buyer.ready()
    buyer.authorize()
    assert buyer.t2() == {"status": 200}
    order = Order.objects.get(partner_order_id=buyer.partner_order_id)
    Order.objects.filter(pk=order.pk).update(pg_token=pg_token or buyer.pg_token)
    return order, option, buyer


@pytest.mark.django_db
def test_payment_t2_with_a_tid_another_order_holds_is_a_400_and_changes_nothing(kakao_app, plugin_base, fake_kakao):
    a_order, _, a = held(kakao_app, plugin_base, fake_kakao)
    product, option = make_product(code="P-2", option_stock=3)
    b = Buyer(plugin_base, fake_kakao.url, app_user_id="user-2")
    b.t1(make_sheet(kakao_app, product, option, app_user_id="user-2").pk)
    answer = b.t2(tid=a.tid)
    assert answer == {"status": 400, "message": "이미 다른 주문에 사용된 결제 번호(tid)입니다. (This payment belongs to another order.)"}
    order_b = Order.objects.get(partner_order_id=b.partner_order_id)
    assert order_b.status == Order.Status.PENDING and order_b.tid == "" and order_b.shipping_address is None
    assert Option.objects.get(pk=option.pk).stock == 3  # nothing held
    assert b.t2(tid=a.tid)["status"] == 400  # and again
    # B can still pay with its own tid
    b.ready()
    assert b.t2() == {"status": 200}
    a_order.refresh_from_db()
    assert a_order.tid == a.tid and a_order.status == Order.Status.HELD


@pytest.mark.django_db
def test_a_tid_is_unique_per_kakao_app(kakao_app, plugin_base, fake_kakao):
    from django.db import IntegrityError, transaction

    from kakaoplugin.models import KakaoApp

    order, _, _ = held(kakao_app, plugin_base, fake_kakao)
    other = Order.objects.create(
        sheet=order.sheet, kakao_app=kakao_app, livemode=True, partner_user_id="u", item_name="x", quantity=1,
        goods_amount=1, total_amount=1,
    )  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=other.pk).update(tid=order.tid)
    Order.objects.filter(pk=other.pk).update(tid="")  # many orders without a tid yet
    second_app = KakaoApp.objects.create(name="other", cid="TC0ONETIME", kakaopay_admin_key="k")
    Order.objects.filter(pk=other.pk).update(kakao_app=second_app, tid=order.tid)  # another app's own tid space
    assert Order.objects.filter(tid=order.tid).count() == 2


@pytest.mark.django_db
def test_the_migration_gives_a_duplicated_tid_to_its_first_holder_and_flags_the_rest(kakao_app, plugin_base, fake_kakao):
    """Existing data from before the rule: the constraint is added after duplicates are resolved."""
    import importlib

    from django.apps import apps
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("drops and re-adds a constraint inside the test transaction (PostgreSQL)")
    migration = importlib.import_module("orders.migrations.0005_one_tid_one_order")
    (constraint,) = [c for c in Order._meta.constraints if c.name == "order_unique_tid_per_app"]
    first, _, buyer = held(kakao_app, plugin_base, fake_kakao)
    Order.objects.filter(pk=first.pk).update(status=Order.Status.PAID)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # (no pending trigger events before DDL)
    with connection.schema_editor() as editor:
        editor.remove_constraint(Order, constraint)
    copies = [
        Order.objects.create(sheet=first.sheet, kakao_app=kakao_app, livemode=True, partner_user_id="user-1", item_name="x",
                             quantity=1, goods_amount=1, total_amount=1, tid=buyer.tid, status=status)  # fmt: skip
        for status in (Order.Status.PAID, Order.Status.APPROVING)
    ]
    migration.clear_duplicate_tids(apps, None)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with connection.schema_editor() as editor:
        editor.add_constraint(Order, constraint)
    first.refresh_from_db()
    assert first.tid == buyer.tid and first.flag == "" and first.status == Order.Status.PAID
    paid, approving = (Order.objects.get(pk=o.pk) for o in copies)
    assert paid.tid == approving.tid == "" and paid.flag == approving.flag == Order.Flag.DUPLICATE_TID
    assert buyer.tid in paid.flag_note and first.partner_order_id in paid.flag_note
    assert paid.status == Order.Status.PAID  # staff decide
    assert approving.status == Order.Status.FAILED and approving.failure_reason == "duplicate_tid"
    assert paid.events.filter(kind=PaymentEvent.Kind.STATE, outcome=PaymentEvent.Outcome.REFUSED).exists()


@pytest.mark.django_db
def test_payment_t3_needs_the_orders_partner_user_id(kakao_app, plugin_base, fake_kakao):
    product, option = make_product()
    b = Buyer(plugin_base, fake_kakao.url)
    b.t1(make_sheet(kakao_app, product, option).pk)
    b.ready()
    b.authorize()
    base = {"partner_order_id": b.partner_order_id, "pg_token": b.pg_token}
    for query in (base, base | {"partner_user_id": "user-2"}, base | {"partner_user_id": ""}):
        r = b.client.get(browser_path(b.t1_data["approval_url"], **query))
        assert r.status_code < 500 and r.json() == {"status": 400, "message": "주문자 정보가 일치하지 않습니다."}
    order = Order.objects.get(partner_order_id=b.partner_order_id)
    assert order.pg_token == "" and order.status == Order.Status.PENDING
    assert order.events.filter(kind=PaymentEvent.Kind.T3_RECEIVED, outcome=PaymentEvent.Outcome.REFUSED).count() == 3
    assert b.t3() == {"status": 200}  # the buyer's own
    order.refresh_from_db()
    assert order.pg_token == b.pg_token


@pytest.mark.django_db
def test_a_refused_pg_token_gives_way_to_the_genuine_one_that_came_meanwhile(kakao_app, plugin_base, fake_kakao):
    """A wrong T3 came first, the genuine one while the wrong one was stored: the approval tries the
    genuine one after KakaoPay refuses the first (one approval in all)."""
    from orders import payments

    order, option, buyer = held(kakao_app, plugin_base, fake_kakao, pg_token="wrong-token")
    assert buyer.t3(pg_token="wrong-token") == {"status": 200}  # (its event; the token was stored above)
    assert buyer.t3() == {"status": 200}  # the genuine one: kept, not refused
    assert payments.payment_approve(order_id=order.pk) is payments.Outcome.DONE
    order.refresh_from_db()
    assert order.status == Order.Status.HELD and order.pg_token == buyer.pg_token
    assert order.failure_reason == "" and buyer.t4()["data"]["order_status"] == "W"
    assert payments.payment_approve(order_id=order.pk) is payments.Outcome.DONE
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.flag == ""
    assert [c["params"]["pg_token"] for c in fake_kakao.calls("approve")] == ["wrong-token", buyer.pg_token]
    assert Option.objects.get(pk=option.pk).stock == 4


@pytest.mark.django_db
def test_a_declined_payment_still_fails_with_kakaopays_message(kakao_app, plugin_base, fake_kakao):
    from orders import payments

    order, option, buyer = held(kakao_app, plugin_base, fake_kakao)
    fake_kakao.fault("approve", "decline", match={"tid": buyer.tid}, message="한도가 초과되었습니다.")
    assert payments.payment_approve(order_id=order.pk) is payments.Outcome.DONE
    assert buyer.t4()["data"] == {"order_status": "F", "message": "한도가 초과되었습니다."}
    assert Option.objects.get(pk=option.pk).stock == 5


@pytest.mark.django_db
def test_a_cancel_answer_about_another_payment_is_not_taken_as_a_refund(kakao_app, plugin_base, fake_kakao):
    from orders import payments

    order, _, buyer = held(kakao_app, plugin_base, fake_kakao)
    assert payments.payment_approve(order_id=order.pk) is payments.Outcome.DONE
    fake_kakao.fault("cancel", "alter", match={"tid": buyer.tid}, set={"partner_order_id": "po_elsewhere"})
    with pytest.raises(payments.RefundError, match="not about this order"):
        payments.payment_refund(order_id=order.pk, staff="admin")
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.refunded_amount == 0
    assert order.flag == Order.Flag.ANSWER_MISMATCH and "po_elsewhere" in order.flag_note
    assert order.events.filter(kind=PaymentEvent.Kind.ANSWER_MISMATCH).count() == 1


@pytest.mark.django_db
def test_a_compensation_cancel_answer_about_another_payment_stops_for_staff(kakao_app, plugin_base, fake_kakao):
    """Amount mismatch → REFUNDING → the cancel's answer names another tid: nothing recorded as
    refunded, no further cancel; the order ends F, flagged."""
    from orders import payments

    product, option = make_product()
    buyer = Buyer(plugin_base, fake_kakao.url)
    buyer.t1(make_sheet(kakao_app, product, option).pk)
    buyer.ready(total_amount=buyer.t1_data["total_amount"] + 1000)
    buyer.authorize()
    buyer.t2()
    order = Order.objects.get(partner_order_id=buyer.partner_order_id)
    Order.objects.filter(pk=order.pk).update(pg_token=buyer.pg_token)
    fake_kakao.fault("cancel", "alter", match={"tid": buyer.tid}, set={"tid": "T-someone-else"})
    assert payments.payment_approve(order_id=order.pk) is payments.Outcome.DONE
    order.refresh_from_db()
    assert order.status == Order.Status.FAILED and order.refunded_amount == 0
    assert order.flag == Order.Flag.ANSWER_MISMATCH and "T-someone-else" in order.flag_note
    assert len(fake_kakao.calls("cancel")) == 1
    assert payments.payment_compensate(order_id=order.pk) is payments.Outcome.SKIPPED


def test_answer_check_names_each_field_and_tells_foreign_from_own():
    from orders.payments.answers import AnswerMismatch

    own = AnswerMismatch(op="approve", fields={"amount.total": ("10000", "11000")})
    assert own.amount_only and not own.foreign
    assert AnswerMismatch(op="order", fields={"partner_order_id": ("po_a", "po_b")}).foreign
    assert AnswerMismatch(op="order", fields={"tid": ("T1", "T2")}).foreign
    buyer = AnswerMismatch(op="approve", fields={"partner_user_id": ("u1", "u2")})
    assert not buyer.foreign and not buyer.amount_only and "'u2'" in buyer.describe()


@pytest.mark.django_db
def test_answer_check_compares_every_field_and_a_missing_one_is_a_mismatch(kakao_app, plugin_base, fake_kakao):
    from orders.payments.answers import MISSING, answer_check

    order, _, buyer = held(kakao_app, plugin_base, fake_kakao)
    good = {"tid": order.tid, "cid": "TC0ONETIME", "partner_order_id": order.partner_order_id,
            "partner_user_id": order.partner_user_id,
            "amount": {"total": order.total_amount, "tax_free": order.tax_free_amount}}  # fmt: skip
    assert answer_check(order=order, op="approve", data=good) is None
    assert order.flag == "" and not order.events.filter(kind=PaymentEvent.Kind.ANSWER_MISMATCH).exists()
    for name, value in (("tid", "T-other"), ("cid", "TCSUBSCRIP"), ("partner_user_id", "user-2")):
        found = answer_check(order=order, op="order", data=good | {name: value})
        assert found is not None and set(found.fields) == {name}
    found = answer_check(order=order, op="approve", data={k: v for k, v in good.items() if k != "partner_order_id"})
    assert found.fields == {"partner_order_id": (order.partner_order_id, MISSING)} and found.foreign
    found = answer_check(order=order, op="approve", data=good | {"amount": {"total": 1, "tax_free": 0}})
    assert found.amount_only
    assert Order.objects.get(pk=order.pk).flag == Order.Flag.ANSWER_MISMATCH
    assert order.events.filter(kind=PaymentEvent.Kind.ANSWER_MISMATCH).count() == 5


@pytest.mark.django_db
def test_flagged_orders_are_filterable_in_the_admin(admin_client, kakao_app, plugin_base, fake_kakao):
    order, _, _ = held(kakao_app, plugin_base, fake_kakao)
    other, _, _ = held(kakao_app, plugin_base, fake_kakao, code="P-2", app_user_id="user-2")
    Order.objects.filter(pk=order.pk).update(flag=Order.Flag.ANSWER_MISMATCH, flag_note="partner_order_id differs")
    r = admin_client.get("/admin/orders/order/", {"flag__exact": Order.Flag.ANSWER_MISMATCH})
    assert r.status_code == 200
    body = r.content.decode()
    assert order.partner_order_id in body and other.partner_order_id not in body
    r = admin_client.get(f"/admin/orders/order/{order.pk}/change/")
    assert "partner_order_id differs" in r.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_subscription_charge_answer_that_is_not_the_childs_never_pays_it(eager_tasks, kakao_app, plugin_base, fake_kakao):
    """A charge answered for another partner_order_id: the child order fails, flagged, its money
    left alone; one naming another buyer on the child's own new tid: cancelled at KakaoPay."""
    from datetime import date

    from orders.models import Subscription, SubscriptionInstallment
    from orders.subscriptions import ChargeOutcome, subscription_charge
    from tests.support.subscriptions import make_plan, move_anchor, seoul, sign_up

    plan = make_plan(intro="0", amount=9900)
    _, sub = sign_up(kakao_app, plugin_base, fake_kakao.url, plan)
    assert sub.state == Subscription.State.ACTIVE
    sub = move_anchor(sub, date(2024, 1, 31), seoul(2024, 2, 29))
    fake_kakao.fault("subscription", "alter", set={"partner_order_id": "po_elsewhere"})
    assert subscription_charge(subscription_id=sub.pk, now=seoul(2024, 2, 29, 10)) is ChargeOutcome.DONE
    inst = SubscriptionInstallment.objects.select_related("order").get(subscription=sub, seq=1)
    child = inst.order
    assert inst.status == SubscriptionInstallment.Status.FAILED
    assert child.status == Order.Status.FAILED and child.tid == "" and child.approved_amount is None
    assert child.flag == Order.Flag.ANSWER_MISMATCH and "po_elsewhere" in child.flag_note
    assert not fake_kakao.calls("cancel") and paid_webhooks(child) == 0
    sub.refresh_from_db()
    assert sub.state == Subscription.State.SUSPENDED and "answer mismatch" in sub.state_reason

    plan2 = make_plan(code="SUB-2", intro="0", amount=9900)
    _, sub2 = sign_up(kakao_app, plugin_base, fake_kakao.url, plan2, app_user_id="user-2")
    sub2 = move_anchor(sub2, date(2024, 1, 31), seoul(2024, 2, 29))
    fake_kakao.fault("subscription", "alter", set={"partner_user_id": "someone-else"})
    assert subscription_charge(subscription_id=sub2.pk, now=seoul(2024, 2, 29, 10)) is ChargeOutcome.DONE
    child2 = SubscriptionInstallment.objects.select_related("order").get(subscription=sub2, seq=1).order
    assert child2.status == Order.Status.FAILED and child2.failure_reason == "answer_mismatch"
    assert child2.flag == Order.Flag.ANSWER_MISMATCH and child2.refunded_amount == 9900
    (cancel,) = fake_kakao.calls("cancel")
    assert cancel["params"]["tid"] == child2.tid and child2.tid
    assert fake_kakao.state()["kakaopay"]["tids"][child2.tid]["status"] == "CANCEL_PAYMENT"


@pytest.mark.django_db(transaction=True)
def test_two_orders_racing_payment_t2_for_one_tid_one_wins(kakao_app, plugin_base, fake_kakao):
    """The database decides a race the pre-check cannot see: exactly one order gets the tid."""
    import threading

    from django.db import connections
    from django.test import Client

    product, option = make_product(option_stock=10)
    tid_owner = Buyer(plugin_base, fake_kakao.url)
    tid_owner.t1(make_sheet(kakao_app, product, option).pk)
    tid = tid_owner.ready()
    racers = []
    for i in range(6):
        b = Buyer(plugin_base, fake_kakao.url, app_user_id=f"user-{i}", client=Client())
        b.t1(make_sheet(kakao_app, product, option, app_user_id=f"user-{i}").pk)
        racers.append(b)
    barrier = threading.Barrier(len(racers))
    answers: list[dict] = []

    def run(b: Buyer):
        try:
            barrier.wait()
            answers.append(b.t2(tid=tid))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(b,)) for b in racers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a["status"] for a in answers) == [200] + [400] * 5
    assert Order.objects.filter(tid=tid).count() == 1
    assert Order.objects.filter(status=Order.Status.HELD).count() == 1
    assert Option.objects.get(pk=option.pk).stock == 9
