"""Issue 12, item 4: every KakaoPay call has a hard total deadline, and no second approve starts
while the first may still be in flight.

``requests``' timeouts bound each connect and each read, not the whole call: an answer trickled a
byte at a time never trips them.  The fake KakaoPay trickles (fault ``trickle``), the client must
give up at its deadline, and a worker must not send a second approve while its first call lives.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from django.conf import settings as django_settings

from kakaoplugin.clients.kakaopay import WATCHDOG_GRACE_SECONDS, KakaoPayClient, KakaoPayUnavailable
from orders.models import Order, PaymentEvent
from tests.conftest import ROOT, _database_url, fake_environment, wait_until
from tests.support.payments import held_with_token

DEADLINE = 1.0


def _ready(client: KakaoPayClient, fake_kakao) -> str:
    import requests

    tid = client.ready(cid="TC0ONETIME", partner_order_id="p1", partner_user_id="u1", item_name="i", quantity=1,
                       total_amount=1000, tax_free_amount=0, approval_url="https://x/a").data["tid"]  # fmt: skip
    requests.post(fake_kakao.url + "/kakaopay-sim/authorize", json={"tid": tid}, timeout=5).raise_for_status()
    return tid


@pytest.mark.parametrize("when", ["after", "before"])
def test_the_client_gives_up_at_its_deadline_on_a_trickled_answer(fake_kakao, when):
    """``after``: the approval is done and its answer comes one byte every 0.2 s (minutes in all);
    ``before``: KakaoPay holds the call open (``100 Continue`` a byte at a time) before acting."""
    client = KakaoPayClient(api="legacy", auth_key="adm", timeout=DEADLINE)
    tid = _ready(client, fake_kakao)
    token = fake_kakao.state()["kakaopay"]["tids"][tid]["pg_token"]
    fake_kakao.fault("approve", "trickle", interval=0.2, hold=30, when=when, match={"tid": tid})
    started = time.monotonic()
    with pytest.raises(KakaoPayUnavailable) as exc:
        client.approve(cid="TC0ONETIME", tid=tid, partner_order_id="p1", partner_user_id="u1", pg_token=token)
    elapsed = time.monotonic() - started
    assert exc.value.timed_out and exc.value.response == {"error": "DeadlineExceeded"}
    assert exc.value.http_status is None  # no answer: the outcome is unknown
    assert DEADLINE <= elapsed < DEADLINE + WATCHDOG_GRACE_SECONDS + 0.3, elapsed
    assert elapsed <= client.max_call_seconds + 0.3
    # the fake saw its caller hang up at the deadline, long before its answer was through
    trickle = wait_until(lambda: (fake_kakao.state()["kakaopay"].get("trickles") or [{}])[0].get("ended"),
                         timeout=5, message="the fake to notice the caller left")  # fmt: skip
    record = fake_kakao.state()["kakaopay"]["trickles"][0]
    assert record["caller_left"] is not None and record["caller_left"] - record["started"] < DEADLINE + 1.0
    assert trickle
    # KakaoPay acted on it all the same: the inquiry says approved, once
    assert client.order(cid="TC0ONETIME", tid=tid).data["status"] == "SUCCESS_PAYMENT"
    assert fake_kakao.state()["kakaopay"]["tids"][tid]["approvals"] == 1


def test_a_held_answer_without_bytes_is_still_the_read_timeout(fake_kakao):
    client = KakaoPayClient(api="legacy", auth_key="adm", timeout=0.5)
    fake_kakao.fault("order", "delay", delay=2.0)
    started = time.monotonic()
    with pytest.raises(KakaoPayUnavailable) as exc:
        client.order(cid="c", tid="t")
    assert exc.value.timed_out and exc.value.response == {"error": "ReadTimeout"}
    assert time.monotonic() - started < 0.5 + WATCHDOG_GRACE_SECONDS + 0.3


def test_the_in_flight_bound_is_derived_from_the_deadline(settings):
    from django.utils import timezone

    settings.KAKAO_HTTP_TIMEOUT = 7
    client = KakaoPayClient(api="open", auth_key="k")
    now = timezone.now()
    assert client.deadline == 7 and client.max_call_seconds == 7 + WATCHDOG_GRACE_SECONDS
    assert client.in_flight_until(now) > now + __import__("datetime").timedelta(seconds=client.max_call_seconds)


@pytest.mark.django_db(transaction=True)
def test_no_second_approve_while_the_first_is_in_flight(celery_worker, kakao_app, plugin_base, fake_kakao):
    """A worker with a 1 s deadline and a 2 s lease: KakaoPay holds its approve open (trickling)
    for 12 s and acts on it only then, or when the caller hangs up.  Meanwhile the order is kicked
    every 0.3 s, as retries and the reconciler do once the lease ran out.  Before the deadline was
    hard, the first call stayed alive for the whole hold while a runner decided after 2 × 1 + 5 s
    that it could not be in flight and sent a second approve.  Now the client hangs up at 1 s, the
    fake acts on it, and the retry's inquiry settles the order: one approve."""
    order, option, buyer = held_with_token(kakao_app, plugin_base, fake_kakao, fault="trickle",
                                           when="before", hold=12, interval=0.2)  # fmt: skip
    queue = f"deadline-test-{os.getpid()}"
    env = os.environ | fake_environment(fake_kakao.url) | {
        "DATABASE_URL": _database_url(), "REDIS_URL": django_settings.REDIS_URL,
        "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL, "CACHE_URL": django_settings.CACHE_URL,
        "DJANGO_SETTINGS_MODULE": "config.settings", "KAKAO_HTTP_TIMEOUT": str(DEADLINE),
        "PAYMENT_LEASE_SECONDS": "2", "PAYMENT_RETRY_BASE_SECONDS": "0.5",
    }  # fmt: skip
    log = open(ROOT / "artifacts" / "celery-worker-deadline.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "--pool", "threads",
         "--concurrency", "4", "--without-gossip", "--without-mingle", "--without-heartbeat",
         "--hostname", f"deadline-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    from orders.tasks import approve_order

    try:
        approve_order.apply_async((order.pk,), queue=queue)
        wait_until(lambda: fake_kakao.calls("approve"), timeout=60, message="the worker to call approve")
        first = time.monotonic()
        # kick it as the reconciler would, for longer than the old bound (2 × 1 s + 5 s) and until settled
        while time.monotonic() - first < 9 or Order.objects.get(pk=order.pk).status == Order.Status.APPROVING:
            assert time.monotonic() - first < 40, "the order never settled"
            approve_order.apply_async((order.pk,), queue=queue)
            time.sleep(0.3)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    calls = fake_kakao.calls("approve")
    trickle = fake_kakao.state()["kakaopay"]["trickles"][0]
    late = [c for c in calls[1:] if c["at"] < (trickle["caller_left"] or trickle["ended"] or float("inf"))]
    assert not late, f"a second approve was sent while the first was still in flight: {late}"
    assert len(calls) == 1
    assert fake_kakao.state()["kakaopay"]["tids"][order.tid]["approvals"] == 1
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    unknown = order.events.get(kind=PaymentEvent.Kind.APPROVE_UNKNOWN)
    assert unknown.response == {"error": "DeadlineExceeded"} and unknown.duration_ms < (DEADLINE + 0.5) * 1000
