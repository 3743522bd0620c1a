"""Issue 12, item 5: the flash sale's money figures come from the fake's full state and our
database, not from the buyers whose flow returned.

Two buyers' approvals are answered late (the fake approves at once and answers after 8 s), and the
buyers give up polling T4 after 4 s: their flows end in an error although they paid.  The report
must still count their units, their paid orders, and no mismatch.
"""

from __future__ import annotations

import io

import pytest

from demo.services import flash_sale_product_set
from merchant.services import api_key_create
from orders.models import Order
from simulator.http import Printer
from simulator.load import flash_sale
from simulator.target import Target
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_run_where_buyers_error_out_still_reports_the_true_figures(
    celery_worker, kakao_app, live_server, fake_kakao, settings
):
    settings.PUBLIC_BASE_URL = live_server.url
    product = flash_sale_product_set(stock=4)
    _, api_key = api_key_create(kakao_app=kakao_app, name="sim", scopes=["orders"], created_by="test")
    target = Target(base_url=live_server.url, plugin_key=kakao_app.plugin_key, fake_url=fake_kakao.url,
                    rest_api_key=kakao_app.rest_api_key, api_key=api_key, t4_timeout=4.0)  # fmt: skip
    fake_kakao.fault("approve", "delay", delay=8.0, times=2)  # approved at once, answered after 8 s
    out = io.StringIO()
    report = flash_sale(target, Printer(out.write, tty=False), buyers=10, stock=4, product_id=product.code,
                        settle_timeout=60)  # fmt: skip
    output = out.getvalue()

    # the truth, independently: the fake's state (reset for this test) and the database, once
    # nothing is on the money path any more
    wait_until(lambda: not Order.objects.filter(status__in=["approving", "refunding"]).exists(), timeout=60,
               message="the late approvals to settle")  # fmt: skip
    tids = fake_kakao.state()["kakaopay"]["tids"]
    charged = sum(t["quantity"] for t in tids.values() if t["status"] == "SUCCESS_PAYMENT")
    paid = Order.objects.filter(kakao_app=kakao_app, status=Order.Status.PAID).count()
    statuses = sorted(Order.objects.values_list("status", flat=True))
    assert 0 < charged <= 4 and paid == charged, (statuses, output)

    # buyers errored out although they paid (the two answered late gave up on T4) ...
    assert report.errors >= 2 and report.successes < charged, output
    # ... and the report still has the true figures
    assert report.charged_units == charged and f"units charged:   {charged} of 4" in output
    assert report.paid_orders == paid and report.unsettled == 0
    assert report.oversold == 0 and report.double_charges == 0 and report.mismatches == 0, report.problems
    assert report.answers["non_json"] == 0 and report.effect_errors == 0  # T4 gave up, T2/T3 answered fine
    assert f"{report.errors} buyers got no usable answer (transport error or 5xx)" in report.problems
