"""정기결제 end to end with a real Celery worker (Redis, PostgreSQL) against the fake KakaoPay over
HTTP: sign-up stores the sid; scheduled charges on the right Seoul dates; exactly once; declines
retried then suspended; staff cancel.  "Now" is passed to the charging task (business time) or set
in the data (the sign-up date); nothing of ours is patched.  Skipped on the embedded default."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from orders.models import Order, PaymentEvent, Subscription, SubscriptionInstallment
from orders.subscriptions import subscriptions_due
from orders.tasks import charge_subscription, charge_subscriptions
from tests.conftest import wait_until
from tests.support.subscriptions import charge_orders, make_plan, move_anchor, seoul, sign_up

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

Inst = SubscriptionInstallment


def charges(fake) -> list[dict]:
    return [c["params"] for c in fake.calls("subscription")]


def installment(sub: Subscription, seq: int) -> Inst | None:
    return Inst.objects.filter(subscription=sub, seq=seq).select_related("order").first()


def wait_status(sub: Subscription, seq: int, *statuses: str, timeout: float = 20.0) -> Inst:
    return wait_until(
        lambda: (i := installment(sub, seq)) is not None and i.status in statuses and i,
        timeout=timeout, message=f"installment {seq} to be {statuses}",
    )  # fmt: skip


def quiet(fake, seconds: float = 2.5) -> None:
    """Give stray tasks time to (wrongly) charge, so that a count of calls means something."""
    time.sleep(seconds)


def test_first_payment_stores_the_sid_encrypted(celery_worker, fake_kakao, kakao_app, plugin_base):
    plan = make_plan(intro="0", amount=9900)
    buyer, sub = sign_up(kakao_app, plugin_base, fake_kakao.url, plan)

    approve = fake_kakao.calls("approve")
    assert len(approve) == 1 and approve[0]["params"]["cid"] == "TCSUBSCRIP"
    sid = fake_kakao.state()["kakaopay"]["sids"]
    assert len(sid) == 1
    sid = next(iter(sid))

    assert buyer.t4()["data"]["order_status"] == "S"
    assert sub.state == Subscription.State.ACTIVE and str(sub.sid) == sid
    signup = sub.signup_order
    assert signup.status == Order.Status.PAID and signup.cid == "TCSUBSCRIP" and signup.total_amount == 0
    # Encrypted at rest, masked in repr, and never in the event log.
    with connection.cursor() as cursor:
        cursor.execute("SELECT sid FROM orders_subscription WHERE id = %s", [sub.pk])
        raw = cursor.fetchone()[0]
    assert raw.startswith("fernet:") and sid not in raw
    assert sid not in repr(sub.sid)
    for event in PaymentEvent.objects.filter(order=signup):
        assert sid not in str(event.request) + str(event.response)
    assert PaymentEvent.objects.filter(order=signup, kind=PaymentEvent.Kind.APPROVE_SUCCESS).get().response["sid"].startswith("••••")
    # Installment 1 is due one month after today's Seoul date, at the charge hour.
    today = sub.anchor_date
    month = today.month % 12 + 1
    year = today.year + (today.month == 12)
    import calendar

    day = min(today.day, calendar.monthrange(year, month)[1])
    assert sub.next_due_at == seoul(year, month, day, 9)


def test_three_installments_across_a_month_end_on_seoul_dates(celery_worker, fake_kakao, kakao_app, plugin_base):
    plan = make_plan(intro="0, 5000", amount=9900)
    _, sub = sign_up(kakao_app, plugin_base, fake_kakao.url, plan)
    # Signed up on 31 January 2024 (Asia/Seoul): due 29 Feb (leap year), 31 Mar, 30 Apr.
    sub = move_anchor(sub, date(2024, 1, 31), seoul(2024, 2, 29, 9))

    # 08:59 in Seoul on the 29th is 23:59 UTC on the 28th: not due yet; 09:00 is.
    assert subscriptions_due(now=seoul(2024, 2, 29, 8, 59)) == []
    charge_subscriptions.delay((seoul(2024, 2, 29, 8, 59)).isoformat())
    for seq, moment in ((1, seoul(2024, 2, 29, 9)), (2, seoul(2024, 3, 31, 9, 30)), (3, seoul(2024, 4, 30, 23, 59))):
        assert subscriptions_due(now=moment - timedelta(days=1)) == []
        charge_subscriptions.delay(moment.isoformat())
        wait_status(sub, seq, Inst.Status.PAID)

    done = list(Inst.objects.filter(subscription=sub).order_by("seq"))
    assert [(i.seq, i.due_date, i.amount) for i in done] == [
        (1, date(2024, 2, 29), 5000), (2, date(2024, 3, 31), 9900), (3, date(2024, 4, 30), 9900),
    ]  # fmt: skip
    sent = charges(fake_kakao)
    assert [int(c["total_amount"]) for c in sent] == [5000, 9900, 9900]
    assert {c["cid"] for c in sent} == {"TCSUBSCRIP"} and {c["sid"] for c in sent} == {str(sub.sid)}
    assert {c["partner_user_id"] for c in sent} == {"user-1"}
    orders = charge_orders(sub)
    assert [o.partner_order_id for o in orders] == [c["partner_order_id"] for c in sent]
    assert all(o.status == Order.Status.PAID and o.tid and o.approved_amount == o.total_amount for o in orders)
    assert [o.vat_amount for o in orders] == [455, 900, 900]
    for o in orders:
        kinds = list(o.events.values_list("kind", flat=True))
        assert PaymentEvent.Kind.CHARGE_REQUEST in kinds and PaymentEvent.Kind.CHARGE_SUCCESS in kinds
    sub.refresh_from_db()
    assert sub.next_seq == 4 and sub.next_due_at == seoul(2024, 5, 31, 9)


def test_charging_task_run_twice_or_raced_charges_once(celery_worker, fake_kakao, kakao_app, plugin_base):
    plan = make_plan(intro="0", amount=9900)
    _, sub = sign_up(kakao_app, plugin_base, fake_kakao.url, plan)
    sub = move_anchor(sub, date(2024, 3, 31), seoul(2024, 4, 30, 9))
    now = seoul(2024, 4, 30, 10).isoformat()
    # Two beat runs and two direct runs at once, on a worker with four threads.
    charge_subscriptions.delay(now)
    charge_subscriptions.delay(now)
    charge_subscription.delay(sub.pk, now)
    charge_subscription.delay(sub.pk, now)
    wait_status(sub, 1, Inst.Status.PAID)
    quiet(fake_kakao)
    # And once more, later the same day: nothing more is due.
    charge_subscriptions.delay(seoul(2024, 4, 30, 20).isoformat())
    quiet(fake_kakao)
    assert len(charges(fake_kakao)) == 1
    assert Inst.objects.filter(subscription=sub).count() == 1
    assert Order.objects.filter(subscription_installment__subscription=sub, status=Order.Status.PAID).count() == 1
    assert PaymentEvent.objects.filter(order__subscription_installment__subscription=sub,
                                       kind=PaymentEvent.Kind.CHARGE_REQUEST).count() == 1  # fmt: skip


def test_declined_charge_is_retried_then_the_subscription_is_suspended(celery_worker, fake_kakao, kakao_app, plugin_base):
    plan = make_plan(intro="0", amount=9900)
    _, sub = sign_up(kakao_app, plugin_base, fake_kakao.url, plan)
    sub = move_anchor(sub, date(2024, 1, 10), seoul(2024, 2, 10, 9))
    fake_kakao.fault("subscription", "decline", times=10, message="잔액이 부족합니다.")

    # Policy (SUBSCRIPTION_RETRY_HOURS): again after 24 h, 48 h, 72 h; a 4th decline suspends.
    first = seoul(2024, 2, 10, 9)
    attempts = [first, first + timedelta(hours=24), first + timedelta(hours=72), first + timedelta(hours=144)]
    for n, moment in enumerate(attempts, start=1):
        if n > 1:  # not before its retry time
            assert subscriptions_due(now=moment - timedelta(minutes=1)) == []
        charge_subscriptions.delay(moment.isoformat())
        wait_until(lambda n=n: installment(sub, 1) and installment(sub, 1).declines == n, message=f"decline {n}")
        inst = wait_status(sub, 1, Inst.Status.RETRY, Inst.Status.FAILED)
        if n < 4:
            assert inst.status == Inst.Status.RETRY and inst.next_attempt_at == moment + timedelta(hours=24 * n)
            assert "잔액이 부족합니다" in inst.last_error
    sub.refresh_from_db()
    inst = installment(sub, 1)
    assert sub.state == Subscription.State.SUSPENDED and "declined 4 times" in sub.state_reason
    assert inst.status == Inst.Status.FAILED and inst.attempts == 4
    assert inst.order.status == Order.Status.FAILED
    assert inst.order.events.filter(kind=PaymentEvent.Kind.CHARGE_FAILURE).count() == 4
    assert len(charges(fake_kakao)) == 4
    # Suspended: the next month's run charges nothing.
    charge_subscriptions.delay(seoul(2024, 3, 10, 9).isoformat())
    quiet(fake_kakao)
    assert len(charges(fake_kakao)) == 4


def test_admin_cancel_calls_inactive_and_stops_charges(celery_worker, fake_kakao, kakao_app, plugin_base):
    plan = make_plan(intro="0", amount=9900)
    _, sub = sign_up(kakao_app, plugin_base, fake_kakao.url, plan)
    sub = move_anchor(sub, date(2024, 1, 31), seoul(2024, 2, 29, 9))
    charge_subscriptions.delay(seoul(2024, 2, 29, 9).isoformat())
    wait_status(sub, 1, Inst.Status.PAID)

    staff = get_user_model().objects.create_superuser("staff", "staff@example.com", "pw")
    client = Client()
    client.force_login(staff)
    page = client.get(f"/admin/orders/subscription/{sub.pk}/change/")
    assert page.status_code == 200
    assert "2024-03-31" in page.content.decode() and "9,900" in page.content.decode()  # upcoming charges
    r = client.post("/admin/orders/subscription/", {"action": "cancel_at_kakaopay", "_selected_action": [sub.pk]}, follow=True)
    assert r.status_code == 200 and "해지됨 (카카오페이에서 비활성)" in r.content.decode()  # Korean: the default

    inactive = fake_kakao.calls("inactive")
    assert len(inactive) == 1 and inactive[0]["params"]["sid"] == str(sub.sid)
    assert inactive[0]["params"]["cid"] == "TCSUBSCRIP"
    assert fake_kakao.state()["kakaopay"]["sids"][str(sub.sid)]["status"] == "INACTIVE"
    sub.refresh_from_db()
    assert sub.state == Subscription.State.CANCELLED and sub.inactivated_at and sub.cancelled_by == "staff"

    charge_subscriptions.delay(seoul(2024, 3, 31, 9).isoformat())
    charge_subscription.delay(sub.pk, seoul(2024, 3, 31, 9).isoformat())
    quiet(fake_kakao)
    assert len(charges(fake_kakao)) == 1  # only February's
    assert not Inst.objects.filter(subscription=sub, seq=2).exists()

    # Staff see KakaoPay's view of the sid.
    r = client.post("/admin/orders/subscription/", {"action": "check_status", "_selected_action": [sub.pk]}, follow=True)
    assert "카카오페이 상태 INACTIVE" in r.content.decode()  # the admin speaks Korean by default
