"""Issue 13: the embedded default (nothing set: SQLite, the broker in a folder) is the whole system:
a real worker runs the tasks, a real beat runs the periodic ones, the web process only enqueues.

These run in both modes (on PostgreSQL + Redis too).  The issue's other two cases run on the
default with the rest of the worker tests: KakaoPay's approve answer lost once
(tests/orders/test_payment_flow.py::test_approve_response_lost_but_succeeded_is_s_without_a_second_approve)
and a webhook receiver failing twice
(tests/merchant/test_webhooks_and_keys.py::test_receiver_failing_twice_gets_the_event_on_the_third_attempt);
``bin/run`` stopped and started again: tests/ops/test_worker_restarts.py.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from callbacks.models import CallbackEvent, MemberProfile
from catalog.models import Option, StockHold
from fakekakao.kakao import seed_otp_url
from orders.models import Order, SubscriptionInstallment
from tests.conftest import wait_until
from tests.support.callbacks import PROFILE_SAMPLE, post_callback
from tests.support.payments import Buyer, make_product, make_sheet
from tests.support.subscriptions import make_plan, move_anchor, sign_up

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_an_abandoned_hold_is_released_by_the_beats_sweep(celery_beat, fake_kakao, kakao_app, plugin_base, settings):
    settings.PAYMENT_HOLD_SECONDS = 2
    product, option = make_product(option_stock=3)
    buyer = Buyer(plugin_base, fake_kakao.url)
    buyer.t1(make_sheet(kakao_app, product, option).pk)
    buyer.ready()
    assert buyer.t2() == {"status": 200}  # stock held; the buyer never authenticates at KakaoPay
    assert Option.objects.get(pk=option.pk).stock == 2
    started = time.monotonic()
    # hold (2 s) + one sweep (every second here, every minute by default) + the worker
    wait_until(lambda: Option.objects.get(pk=option.pk).stock == 3, timeout=30, message="the stock back")
    assert time.monotonic() - started < 30
    order = Order.objects.get(partner_order_id=buyer.partner_order_id)
    assert order.status == Order.Status.FAILED
    # T4 reads the status cache, which the worker fills right after its commit: a poll in the
    # moment between the commit and the publication still sees W (docs/payment-flow.md)
    wait_until(lambda: buyer.t4()["data"]["order_status"] == "F", timeout=5, message="T4 says F")
    assert StockHold.objects.get(reference=order.partner_order_id).state == StockHold.State.RELEASED


def test_a_due_installment_is_charged_once_by_the_beat(celery_beat, fake_kakao, kakao_app, plugin_base):
    plan = make_plan(intro="0", amount=9900)
    _, sub = sign_up(kakao_app, plugin_base, fake_kakao.url, plan)
    now = timezone.now()
    sub = move_anchor(sub, (now - timedelta(days=31)).date(), now - timedelta(minutes=1))  # due now
    installment = wait_until(
        lambda: SubscriptionInstallment.objects.filter(
            subscription=sub, seq=1, status=SubscriptionInstallment.Status.PAID
        ).first(),
        timeout=30, message="the installment charged by beat's charge_subscriptions",
    )  # fmt: skip
    time.sleep(3)  # the beat keeps running the charging task every second: nothing more is charged
    assert len(fake_kakao.calls("subscription")) == 1
    assert SubscriptionInstallment.objects.filter(subscription=sub).count() == 1
    assert installment.order.status == Order.Status.PAID


def test_an_otp_callback_is_answered_at_once_while_the_otp_server_is_slow(celery_worker, client, plugin_base, kakao_app, fake_kakao):
    url = seed_otp_url(fake_kakao.url, "onetimeprofile", PROFILE_SAMPLE, rest_api_key=kakao_app.rest_api_key)
    fake_kakao.fault("otp", "delay", delay=5)
    started = time.monotonic()
    answer = post_callback(client, plugin_base, "onetimeprofile", url)
    elapsed = time.monotonic() - started
    assert answer.json() == {"status": 200}
    assert elapsed < 0.2, f"answered after {elapsed:.3f} s"
    event = wait_until(
        lambda: CallbackEvent.objects.filter(status__in=["processed", "failed"]).first(),
        timeout=30, message="the profile fetched by the worker",
    )  # fmt: skip
    assert event.status == "processed", event.last_error
    assert MemberProfile.objects.get(customer__app_user_id="10000000").nickname == "lukas"
