"""Faults on the money path: an approve that times out but went through, a worker killed while
its approve is in flight, a lost task, abandoned holds, the KakaoPay client's error typing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from catalog.models import Option, StockHold
from kakaoplugin.clients.kakaopay import (
    KakaoPayClient,
    KakaoPayDeclined,
    KakaoPayNotConfigured,
    KakaoPayUnavailable,
)
from orders import payments
from orders.models import Order, PaymentEvent
from tests.conftest import ROOT, _database_url, fake_environment, wait_until
from tests.support.payments import Buyer, held_with_token, make_product, make_sheet


@pytest.mark.django_db
def test_approve_timed_out_but_succeeded_is_settled_by_inquiry_without_a_second_approve(
    kakao_app, plugin_base, fake_kakao, settings
):
    settings.KAKAO_HTTP_TIMEOUT = 0.5
    order, option, buyer = held_with_token(kakao_app, plugin_base, fake_kakao, fault="delay", delay=1.5)
    assert payments.payment_approve(order_id=order.pk) is payments.Outcome.RETRY
    order.refresh_from_db()
    assert order.status == Order.Status.APPROVING and buyer.t4()["data"]["order_status"] == "W"
    assert order.events.get(kind=PaymentEvent.Kind.APPROVE_UNKNOWN).response == {"error": "ReadTimeout"}
    # the retry: asks first, finds it approved, never approves again
    assert payments.payment_approve(order_id=order.pk) is payments.Outcome.DONE
    assert buyer.t4()["data"]["order_status"] == "S"
    assert len(fake_kakao.calls("approve")) == 1
    assert fake_kakao.state()["kakaopay"]["tids"][order.tid]["approvals"] == 1
    assert Option.objects.get(pk=option.pk).stock == 4


@pytest.mark.django_db
def test_a_timed_out_approve_that_did_not_happen_is_retried_only_after_it_cannot_be_in_flight(
    kakao_app, plugin_base, fake_kakao, settings
):
    settings.KAKAO_HTTP_TIMEOUT = 0.5
    order, _, buyer = held_with_token(kakao_app, plugin_base, fake_kakao, fault="delay", delay=1.0, when="before")
    assert payments.payment_approve(order_id=order.pk) is payments.Outcome.RETRY
    time.sleep(1.2)  # the delayed call reaches the fake's approve now and succeeds
    assert payments.payment_approve(order_id=order.pk) is payments.Outcome.DONE
    assert buyer.t4()["data"]["order_status"] == "S"
    assert fake_kakao.state()["kakaopay"]["tids"][order.tid]["approvals"] == 1


@pytest.mark.django_db
def test_a_runner_cannot_claim_an_order_another_runner_holds(kakao_app, plugin_base, fake_kakao):
    order, _, _ = held_with_token(kakao_app, plugin_base, fake_kakao)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.APPROVING, lease_until=timezone.now() + timedelta(minutes=1))
    assert payments.payment_approve(order_id=order.pk) is payments.Outcome.SKIPPED
    assert not fake_kakao.calls("approve")


@pytest.mark.django_db
def test_sweeper_fails_abandoned_holds_and_gives_the_stock_back(kakao_app, plugin_base, fake_kakao):
    product, option = make_product(option_stock=5)
    buyer = Buyer(plugin_base, fake_kakao.url)
    buyer.t1(make_sheet(kakao_app, product, option, quantity=2).pk)
    buyer.ready()
    assert buyer.t2() == {"status": 200}
    assert Option.objects.get(pk=option.pk).stock == 3
    assert payments.payment_sweep() == 0
    assert payments.payment_sweep(now=timezone.now() + timedelta(minutes=16)) == 1
    assert buyer.t4()["data"] == {"order_status": "F", "message": "결제 시간이 초과되었습니다. 다시 주문해 주세요."}
    assert Option.objects.get(pk=option.pk).stock == 5
    # a late T3 does not bring it back: its link has expired with the order (issue 11), said with
    # the order's own message
    buyer.authorize()
    assert buyer.t3() == {"status": 410, "message": "결제 시간이 초과되었습니다. 다시 주문해 주세요."}
    assert not fake_kakao.calls("approve")


@pytest.mark.django_db
def test_reconciler_finds_lost_tasks_dead_runners_and_owed_refunds(kakao_app, plugin_base, fake_kakao):
    order, _, _ = held_with_token(kakao_app, plugin_base, fake_kakao)
    soon = timezone.now()
    assert order.pk not in payments.payment_reconcile_candidates(now=soon)["approve"]  # just arrived
    later = soon + timedelta(seconds=31)
    assert order.pk in payments.payment_reconcile_candidates(now=later)["approve"]
    Order.objects.filter(pk=order.pk).update(status=Order.Status.APPROVING, lease_until=soon + timedelta(seconds=60))
    assert order.pk not in payments.payment_reconcile_candidates(now=later)["approve"]
    assert order.pk in payments.payment_reconcile_candidates(now=soon + timedelta(seconds=61))["approve"]
    Order.objects.filter(pk=order.pk).update(status=Order.Status.REFUNDING, lease_until=None)
    assert payments.payment_reconcile_candidates(now=soon)["compensate"] == [order.pk]


@pytest.mark.django_db(transaction=True)
def test_worker_killed_while_its_approve_is_in_flight(celery_worker, kakao_app, plugin_base, fake_kakao):
    """SIGKILL a worker mid-approve (KakaoPay approved, the answer never arrives): the reconciler
    on another worker settles the order by the inquiry, with no second approve."""
    order, option, buyer = held_with_token(kakao_app, plugin_base, fake_kakao, fault="delay", delay=30)
    queue = f"kill-test-{os.getpid()}"
    env = os.environ | fake_environment(fake_kakao.url) | {
        "DATABASE_URL": _database_url(), "REDIS_URL": django_settings.REDIS_URL,
        "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL, "CACHE_URL": django_settings.CACHE_URL,
        "DJANGO_SETTINGS_MODULE": "config.settings", "PAYMENT_LEASE_SECONDS": "3",
    }  # fmt: skip
    log = open(ROOT / "artifacts" / "celery-worker-killed.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "--pool", "solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--hostname", f"doomed-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        from orders.tasks import approve_order

        approve_order.apply_async((order.pk,), queue=queue)
        wait_until(lambda: fake_kakao.calls("approve"), timeout=60, message="the doomed worker to call approve")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    order.refresh_from_db()
    assert order.status == Order.Status.APPROVING and order.approve_requested_at is not None
    assert buyer.t4()["data"]["order_status"] == "W"
    time.sleep(3.2)  # the dead runner's lease runs out
    from orders.tasks import reconcile_payments

    reconcile_payments.delay()  # what beat does every minute, run by the suite's worker
    wait_until(lambda: buyer.t4()["data"]["order_status"] == "S", timeout=30, message="the reconciler to settle")
    assert len(fake_kakao.calls("approve")) == 1
    assert fake_kakao.calls("order")
    assert Option.objects.get(pk=option.pk).stock == 4
    assert StockHold.objects.get(reference=order.partner_order_id).state == StockHold.State.SOLD


# --- the client ---------------------------------------------------------------------------------


def test_client_types_errors_for_both_generations(fake_kakao, settings):
    for api, key in (("legacy", "adm"), ("open", "sec")):
        client = KakaoPayClient(api=api, auth_key=key)
        ready = client.ready(cid="TC0ONETIME", partner_order_id="p", partner_user_id="u", item_name="i", quantity=1,
                             total_amount=1000, tax_free_amount=0, approval_url="https://x/a")  # fmt: skip
        tid = ready.data["tid"]
        with pytest.raises(KakaoPayDeclined) as exc:
            client.approve(cid="TC0ONETIME", tid=tid, partner_order_id="p", partner_user_id="u", pg_token="nope")
        assert exc.value.http_status == 400 and exc.value.code and exc.value.buyer_message
        fake_kakao.fault("approve", "decline", message="한도 초과")
        with pytest.raises(KakaoPayDeclined) as exc:
            client.approve(cid="TC0ONETIME", tid=tid, partner_order_id="p", partner_user_id="u", pg_token="x")
        assert exc.value.buyer_message == "한도 초과"
        assert exc.value.code == ("-780" if api == "legacy" else "APPROVAL_FAILURE")
        fake_kakao.fault("order", "error500")
        with pytest.raises(KakaoPayUnavailable) as exc:
            client.order(cid="TC0ONETIME", tid=tid)
        assert exc.value.http_status == 500 and not exc.value.timed_out
        assert client.order(cid="TC0ONETIME", tid=tid).data["status"] == "FAIL_PAYMENT"
    with pytest.raises(KakaoPayDeclined) as exc:
        KakaoPayClient(api="open", auth_key="k").call("order", {"cid": "c", "tid": "t"})
    assert exc.value.code == "INVALID_TID"
    with pytest.raises(KakaoPayNotConfigured):
        KakaoPayClient(api="legacy", auth_key="").order(cid="c", tid="t")
    settings.KAKAO_ALLOW_HTTP = False
    with pytest.raises(KakaoPayNotConfigured):
        KakaoPayClient(api="legacy", auth_key="k").order(cid="c", tid="t")
    settings.KAKAO_ALLOW_HTTP = True
    settings.KAKAO_HTTP_TIMEOUT = 0.3
    fake_kakao.fault("order", "delay", delay=1.0)
    with pytest.raises(KakaoPayUnavailable) as exc:
        KakaoPayClient(api="legacy", auth_key="k").order(cid="c", tid="t")
    assert exc.value.timed_out
    assert "kkkk-secret" not in repr(KakaoPayClient(api="legacy", auth_key="kkkk-secret"))


def test_fake_checks_auth_headers_and_body_encoding(fake_kakao):
    import requests

    r = requests.post(fake_kakao.url + "/v1/payment/order", data={"cid": "c", "tid": "t"}, timeout=5)
    assert r.status_code == 401 and r.json()["code"] == -401
    r = requests.post(fake_kakao.url + "/online/v1/payment/order", json={"cid": "c", "tid": "t"},
                      headers={"Authorization": "KakaoAK x"}, timeout=5)  # fmt: skip
    assert r.status_code == 401 and r.json()["error_code"] == "UNAUTHORIZED"
    r = requests.post(fake_kakao.url + "/v1/payment/order", json={"cid": "c", "tid": "t"},
                      headers={"Authorization": "KakaoAK x"}, timeout=5)  # fmt: skip
    assert r.status_code == 400


def test_fake_subscription_calls(fake_kakao):
    client = KakaoPayClient(api="legacy", auth_key="adm")
    ready = client.ready(cid="TCSUBSCRIP", partner_order_id="s1", partner_user_id="u", item_name="정기 이용권",
                         quantity=1, total_amount=0, tax_free_amount=0, approval_url="https://x/a")  # fmt: skip
    import requests

    token = requests.post(fake_kakao.url + "/kakaopay-sim/authorize", json={"tid": ready.data["tid"]}, timeout=5).json()["pg_token"]
    approved = client.approve(cid="TCSUBSCRIP", tid=ready.data["tid"], partner_order_id="s1", partner_user_id="u", pg_token=token)
    sid = approved.data["sid"]
    charge = client.subscription(cid="TCSUBSCRIP", sid=sid, partner_order_id="s2", partner_user_id="u",
                                 item_name="정기 이용권", quantity=1, total_amount=5000, tax_free_amount=0)  # fmt: skip
    assert charge.data["amount"]["total"] == 5000
    assert client.subscription_status(cid="TCSUBSCRIP", sid=sid).data["available"] is True
    assert client.inactive(cid="TCSUBSCRIP", sid=sid).data["status"] == "INACTIVE"
    with pytest.raises(KakaoPayDeclined):
        client.subscription(cid="TCSUBSCRIP", sid=sid, partner_order_id="s3", partner_user_id="u",
                            item_name="x", quantity=1, total_amount=5000, tax_free_amount=0)  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_staff_check_never_starts_an_approve_while_one_is_in_flight(kakao_app, plugin_base, fake_kakao, settings):
    """Invariant 1 under a staff "Check with KakaoPay" pressed mid-call, after an earlier attempt
    got an answered 5xx: the check must neither take the live lease nor read the earlier 5xx as
    "the current call is not in flight"."""
    import threading

    from django.db import connection

    settings.KAKAO_HTTP_TIMEOUT = 5
    order, option, buyer = held_with_token(kakao_app, plugin_base, fake_kakao)
    fake_kakao.fault("approve", "error500", match={"tid": buyer.tid})
    assert payments.payment_approve(order_id=order.pk) is payments.Outcome.RETRY  # attempt 1: a 500
    fake_kakao.fault("approve", "delay", delay=2.0, when="before", match={"tid": buyer.tid})
    results = {}

    def runner():
        results["runner"] = payments.payment_approve(order_id=order.pk)  # attempt 2: slow
        connection.close()

    thread = threading.Thread(target=runner)
    thread.start()
    wait_until(lambda: Order.objects.get(pk=order.pk).approve_attempts == 2, message="attempt 2 sent")
    results["check"] = payments.payment_check(order_id=order.pk)
    thread.join()
    assert results["check"].startswith("in progress")
    assert len(fake_kakao.calls("approve")) == 2  # attempt 1 and attempt 2, nothing more
    order.refresh_from_db()
    assert results["runner"] is payments.Outcome.DONE and order.status == Order.Status.PAID
    assert order.approve_attempts == 2


@pytest.mark.django_db
def test_retry_after_an_answered_5xx_waits_for_the_current_call(kakao_app, plugin_base, fake_kakao):
    """An answered 5xx of attempt 1 does not make attempt 2's unanswered call "not in flight"."""
    from orders.payments.approve import _client, _may_be_in_flight

    order, option, buyer = held_with_token(kakao_app, plugin_base, fake_kakao)
    fake_kakao.fault("approve", "error500", match={"tid": buyer.tid})
    assert payments.payment_approve(order_id=order.pk) is payments.Outcome.RETRY
    order.refresh_from_db()
    client = _client(order)
    assert _may_be_in_flight(order, client) is False  # attempt 1 was answered
    # attempt 2 was sent just now and has no answer yet
    Order.objects.filter(pk=order.pk).update(approve_requested_at=timezone.now())
    order.refresh_from_db()
    assert _may_be_in_flight(order, client) is True


@pytest.mark.django_db
def test_an_approval_partly_cancelled_at_kakaopay_before_we_settled_it_is_cancelled_in_full(
    kakao_app, plugin_base, fake_kakao, settings
):
    """Approve went through but its answer was lost; meanwhile staff at KakaoPay cancelled part of
    it. Settling must not leave the rest charged on an order we never completed."""
    import requests

    order, option, buyer = held_with_token(kakao_app, plugin_base, fake_kakao, fault="lost")
    assert payments.payment_approve(order_id=order.pk) is payments.Outcome.RETRY
    total = order.total_amount
    r = requests.post(
        f"{fake_kakao.url}/v1/payment/cancel",
        data={"cid": "TC0ONETIME", "tid": order.tid, "cancel_amount": 5000, "cancel_tax_free_amount": 0,
              "cancel_vat_amount": 455, "cancel_available_amount": total},  # fmt: skip
        headers={"Authorization": f"KakaoAK {kakao_app.kakaopay_admin_key}"},
        timeout=5,
    )
    assert r.status_code == 200, r.text
    Order.objects.filter(pk=order.pk).update(
        approve_requested_at=timezone.now() - timedelta(minutes=5), lease_until=None
    )  # the lost call can no longer be in flight
    assert payments.payment_approve(order_id=order.pk) is payments.Outcome.DONE
    order.refresh_from_db()
    assert order.status == Order.Status.FAILED and order.refunded_amount == total
    assert buyer.t4()["data"]["order_status"] == "F"
    tid = fake_kakao.state()["kakaopay"]["tids"][order.tid]
    assert tid["status"] == "CANCEL_PAYMENT" and tid["approvals"] == 1
    assert Option.objects.get(pk=option.pk).stock == 5  # the hold was given back
