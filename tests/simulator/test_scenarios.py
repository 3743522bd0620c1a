"""End to end: the Kakao simulator's scenarios and its flash sale against a live server.

The server is pytest-django's ``live_server`` (a real HTTP server in a thread of this process), Kakao
and KakaoPay are the fake (``fake_kakao``), and the simulator talks to both over HTTP only, as
``manage.py kakao_simulate`` does.  With PostgreSQL and Redis (CI) the server's tasks run on a real
Celery worker; on the embedded default (SQLite) they run in-process.  Afterwards the tests check in
the database what the simulator could only see from outside.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management.base import CommandError
from django.db import connection

from callbacks.models import CallbackEvent, KakaoSyncSignup, LocationRecord, MemberProfile, SecureImage
from catalog.models import Option, StockHold
from kakaoplugin.models import Customer, InboundCall
from merchant.models import MerchantApiKey
from merchant.services import api_key_create, api_key_revoke
from orders.models import Order, OrderSheet
from simulator.http import Printer
from simulator.options import choose
from simulator.scenarios import NAMES, run_scenarios
from simulator.target import Target
from tests.support.processes import free_port
from tests.support.simulator import PAY_PLUGIN, simulate

pytestmark = pytest.mark.django_db(transaction=True)


def section(output: str, guide: str) -> str:
    """The printed steps of one scenario: from its ``== [guide]`` header to its PASS/FAIL line."""
    start = output.index(f"== [{guide}]")
    end = re.compile(r"^(PASS|FAIL)  ", re.M).search(output, start).end()
    return output[start : output.index("\n", end)]


def metric_samples(where: str) -> dict[tuple[str, tuple], float]:
    """Prometheus samples of this process, or of the worker (its own metrics port)."""
    import requests
    from prometheus_client import REGISTRY, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    text = requests.get(where, timeout=5).text if where.startswith("http") else generate_latest(REGISTRY).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_every_scenario_passes_and_leaves_its_traces(shop, live_server, fake_kakao, tasks, request):
    worker = request.getfixturevalue("celery_worker").metrics_url if tasks == "worker" else "this process"
    web_before, worker_before = metric_samples("this process"), metric_samples(worker)
    output = simulate(shop, live_server, fake_kakao)
    web_after, worker_after = metric_samples("this process"), metric_samples(worker)

    def moved(before, after, name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    # the run left its figures in the metrics: three payments approved at KakaoPay, T1 served thrice
    assert moved(worker_before, worker_after, "kakaoplugin_payment_outcomes_total", outcome="approved") == 3
    assert moved(worker_before, worker_after, "kakaoplugin_kakaopay_calls_total", operation="approve", outcome="ok") == 3
    assert moved(worker_before, worker_after, "kakaoplugin_t3_to_paid_seconds_count") == 3
    assert moved(web_before, web_after, "kakaoplugin_plugin_requests_total", endpoint="ordersheet", http_status="200", status="200") == 3
    assert moved(web_before, web_after, "kakaoplugin_plugin_request_seconds_count", endpoint="order_status") > 3

    for guide, title in (
        ("9.2.1", "옵션선택 플러그인"),
        ("9.2.2", "카카오싱크 + 옵션선택"),
        ("9.2.3", "카카오싱크 + 원클릭결제"),
        ("9.2.4", "카카오싱크 + 옵션선택 + 원클릭결제"),
        ("callback", "개인정보이용 콜백"),
        ("callback", "위치전송 콜백"),
        ("callback", "이미지보안전송 콜백"),
    ):
        assert f"PASS  [{guide}] {title}: " in output, output
    assert "FAIL" not in output and "8/8 scenarios passed" in output
    # each step is printed readably, T4 polls included, and the plugin key never is
    assert "→ option T1: GET /plugin/<key>/options?id=101:10013529" in output
    assert re.search(r"→ payment T4 #1: GET /plugin/<key>/order/status\?order_id=po_", output)
    assert '"order_status":"W"' in output and '"order_status":"S"' in output
    assert shop.plugin_key not in output
    # the buyer's browser reaches our server without the plugin key (issue 11): KakaoPay's approval
    # redirect at the order's /pay/ link, Kakao Sync at the app's fixed /sync/ redirect URI with the
    # state the chatbot got from the merchant API; their one-time secrets are not printed either
    assert re.search(r"→ payment T3 \(approval redirect\): GET /pay/po_[\w-]+/approval/<token>\?", output), output
    assert f"→ Kakao Sync redirect URI: GET /sync/{shop.pk}/redirect?code=***&state=***&continue=" in output
    assert "merchant API: Kakao Sync launch (Bearer <api key>): POST /api/v1/kakaosync/launch-link" in output
    for order in Order.objects.filter(kakao_app=shop).exclude(pg_token=""):
        assert order.pg_token not in output
    assert "pg_token=***" in output
    assert set(InboundCall.objects.filter(endpoint="kakaopay_approval").values_list("http_status", flat=True)) == {200}

    # 9.2.3: the merchant's chatbot makes the sheet through the merchant API (not option T2) with a
    # key made for this run, and the payment plugin is launched with the link's oneclick_id
    payment_only = section(output, "9.2.3")
    assert (
        '→ merchant API (Bearer <api key>): POST /api/v1/order-sheets  {"product_id":"101:10013529"'
        in payment_only
    )
    assert "option T2" not in payment_only
    link = re.search(
        r"← launch link kakaotalk://bizplugin\?plugin_id=(\S+)&oneclick_id=(os_\S+)", payment_only
    )
    assert link and link.group(1) == PAY_PLUGIN, payment_only
    assert f"payment T1: GET /plugin/<key>/ordersheet?ordersheet_id={link.group(2)}&" in payment_only
    assert (
        f"PASS  [9.2.3] 카카오싱크 + 원클릭결제: order sheet {link.group(2)[:12]}… from the merchant API; "
        "order po_" in payment_only
    )
    key = MerchantApiKey.objects.get(kakao_app=shop)  # made for the run, used, revoked after it
    assert key.scopes == ["orders"] and key.last_used_at is not None and key.revoked_at is not None
    assert f"merchant API key kp_{key.prefix}_… (scope orders): made for this run, revoked after it" in output
    sheet = OrderSheet.objects.get(pk=link.group(2))
    assert sheet.relay_id.endswith("-sync-payment") and sheet.app_user_id  # bound to the signed-up buyer
    assert sheet.orders.get().status == Order.Status.PAID

    # what the server did, seen from inside
    paid = Order.objects.filter(kakao_app=shop, status=Order.Status.PAID)
    assert paid.count() == 3
    assert sorted(o.relay_id.split("-", 2)[-1] for o in paid) == ["chatbot", "sync-option-payment", "sync-payment"]
    # the chatbot: the products skill's "바로 결제" card led to a paid order, then the orders skill
    chat = section(output, "skill")
    assert "→ skill products (Open Builder): POST /skill/<key>/products" in chat
    assert "the buyer taps “바로 결제” on 라이언 머그컵" in chat and "← orders skill: 라이언 머그컵" in chat
    assert shop.chatbot_skills.skill_key not in output
    chat_order = paid.get(relay_id__endswith="-chatbot")
    assert chat_order.sheet.product_code == "CHAT-MUG" and chat_order.sheet.app_user_id == chat_order.app_user_id
    for order in paid.exclude(pk=chat_order.pk):
        assert order.approved_amount == order.total_amount and order.app_user_id
        assert Customer.objects.filter(
            kakao_app=shop, app_user_id=order.app_user_id
        ).exists()  # signed up first
    assert len(fake_kakao.calls("approve")) == 3
    signups = KakaoSyncSignup.objects.filter(kakao_app=shop)
    assert signups.count() == 3 and set(signups.values_list("status", flat=True)) == {
        KakaoSyncSignup.Status.DONE
    }
    events = {e.kind: e for e in CallbackEvent.objects.filter(kakao_app=shop)}
    assert set(events) == {"onetimeprofile", "current_location", "secure_image"}
    assert {e.status for e in events.values()} == {CallbackEvent.Status.PROCESSED}
    profile_user = events["onetimeprofile"].raw_response["app_user_id"]
    assert MemberProfile.objects.get(customer__app_user_id=str(profile_user)).nickname == "라이언"
    assert LocationRecord.objects.get(event=events["current_location"]).road_address_name.startswith(
        "경기도 성남시"
    )
    images = SecureImage.objects.filter(image_set__event=events["secure_image"])
    assert images.count() == 2 and {i.status for i in images} == {SecureImage.Status.STORED}


def test_a_failing_scenario_prints_fail_and_exits_non_zero(shop, live_server, fake_kakao, tasks):
    fake_kakao.fault("approve", "decline", message="카드 한도가 초과되었습니다.")
    with pytest.raises(CommandError) as caught:
        simulate(shop, live_server, fake_kakao, scenario=["sync-payment", "profile"])
    assert caught.value.returncode == 1
    assert "sync-payment" in str(caught.value)
    output = caught.value.output
    assert "FAIL  [9.2.3] 카카오싱크 + 원클릭결제: T4 ended F 카드 한도가 초과되었습니다." in output
    assert "PASS  [callback] 개인정보이용 콜백" in output  # the next scenario still runs
    assert "1/2 scenarios passed" in output


def test_the_payment_only_sheet_is_made_with_a_given_api_key(shop, live_server, fake_kakao, tasks):
    key, plain = api_key_create(kakao_app=shop, name="chatbot", scopes=["orders"])
    output = simulate(shop, live_server, fake_kakao, scenario=["sync-payment"], api_key=plain)

    assert "PASS  [9.2.3] 카카오싱크 + 원클릭결제: order sheet os_" in output, output
    assert "merchant API key: the one given" in output and plain not in output
    assert list(MerchantApiKey.objects.filter(kakao_app=shop)) == [key]  # none made, the given one kept
    key.refresh_from_db()
    assert key.last_used_at is not None and key.revoked_at is None
    order = Order.objects.get(kakao_app=shop, status=Order.Status.PAID)
    assert order.sheet.app_user_id == order.app_user_id and order.relay_id.endswith("-sync-payment")
    assert len(fake_kakao.calls("approve")) == 1


def test_the_payment_only_scenario_fails_saying_what_the_merchant_api_refused(
    shop, live_server, fake_kakao, tasks
):
    # no payment plugin id: the merchant API cannot make a launch link (409), nothing is sold
    shop.payment_plugin_id = ""
    shop.save(update_fields=["payment_plugin_id"])
    with pytest.raises(CommandError) as caught:
        simulate(shop, live_server, fake_kakao, scenario=["sync-payment"])
    assert caught.value.returncode == 1
    assert re.search(
        r"FAIL  \[9.2.3\] 카카오싱크 \+ 원클릭결제: merchant API: POST /api/v1/order-sheets answered HTTP 409: .*plugin id",
        caught.value.output,
    ), caught.value.output
    assert not OrderSheet.objects.exists() and not Order.objects.exists()
    assert MerchantApiKey.objects.get(kakao_app=shop).revoked_at is not None  # revoked even so

    # a revoked key: 401, said plainly
    shop.payment_plugin_id = PAY_PLUGIN
    shop.save(update_fields=["payment_plugin_id"])
    key, plain = api_key_create(kakao_app=shop, name="old", scopes=["orders"])
    api_key_revoke(api_key=key)
    with pytest.raises(CommandError) as caught:
        simulate(shop, live_server, fake_kakao, scenario=["sync-payment"], api_key=plain)
    assert "answered HTTP 401: invalid or revoked API key" in caught.value.output, caught.value.output


def test_launch_links_are_parsed_strictly():
    from simulator.flows import launch_link_oneclick_id
    from simulator.http import ScenarioFailed

    assert launch_link_oneclick_id("kakaotalk://bizplugin?plugin_id=p1&oneclick_id=os_abc") == (
        "p1",
        "os_abc",
    )
    for bad in (
        "kakaotalk://bizplugin?plugin_id=p1&product_id=101:1",  # the option plugin's link
        "kakaotalk://bizplugin?oneclick_id=os_abc",
        "https://example.com/bizplugin?plugin_id=p1&oneclick_id=os_abc",
        "",
    ):
        with pytest.raises(ScenarioFailed, match="not a payment plugin launch link"):
            launch_link_oneclick_id(bad)


def test_flash_sale_sells_exactly_the_stock(shop, live_server, fake_kakao, tasks):
    # On SQLite the live server shares this process's one in-memory connection between its
    # threads, so its buyers go one at a time there; on PostgreSQL all 30 run at once.
    concurrency = 30 if connection.vendor == "postgresql" else 1
    output = simulate(shop, live_server, fake_kakao, buyers=30, stock=5, concurrency=concurrency)

    assert "PASS  flash sale: 5 successes, 0 oversold, 0 double charges (30 buyers, 5 units)" in output, (
        output
    )
    assert re.search(r"successes:\s+5 ", output) and re.search(r"errors:\s+0\n", output)
    assert re.search(r"failures:\s+25\n", output)
    assert re.search(r"\[#{40}\] 30/30 buyers", output)  # the progress bar reached the end
    assert re.search(
        r"payment T4 \(every poll\)\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+", output
    )  # latency percentiles

    option = Option.objects.get(product__code="sim:flash-sale")
    assert option.stock == 0
    sold = Order.objects.filter(status=Order.Status.PAID, lines__catalog_option=option).distinct()
    assert sold.count() == 5
    assert StockHold.objects.filter(option=option, state=StockHold.State.SOLD).count() == 5
    assert not StockHold.objects.filter(option=option, state=StockHold.State.HELD).exists()
    approves = [
        c
        for c in fake_kakao.calls("approve")
        if c["params"]["partner_order_id"] in {o.partner_order_id for o in sold}
    ]
    assert (
        len(approves) == 5 and len(fake_kakao.calls("approve")) == 5
    )  # once per sold order, never for the others


def test_flash_sale_stock_is_not_reset_under_unfinished_payments(shop, live_server, fake_kakao, tasks):
    from demo.services import flash_sale_product_set

    product = flash_sale_product_set(stock=1)
    option = Option.objects.get(product=product)
    StockHold.objects.create(
        reference="po_unfinished", livemode=True, option=option, quantity=1, expires_at="2999-01-01T00:00:00Z"
    )
    with pytest.raises(CommandError, match="1 units of sim:flash-sale are still held by unfinished payments"):
        simulate(shop, live_server, fake_kakao, buyers=2, stock=1)


def test_the_buyer_follows_the_related_chain_and_answers_questions():
    tree = {
        "id": "P", "name": "상품", "price": 1000,
        "option_groups": [
            {"id": "size", "name": "사이즈", "type": "SELECT", "option_sub_groups": [{"id": "size", "options": [
                {"id": "S", "value": "S", "stock": 0, "relate_option_groups": [{"group_id": "color", "sub_group_id": "S:color"}]},
                {"id": "M", "value": "M", "relate_option_groups": [{"group_id": "color", "sub_group_id": "M:color"}]},
            ]}]},
            {"id": "color", "name": "색상", "type": "SELECT", "option_sub_groups": [
                {"id": "S:color", "options": [{"id": "R", "value": "빨강", "add_price": 100}]},
                {"id": "M:color", "options": [{"id": "B", "value": "파랑", "add_price": 200, "extra": "SKU-MB",
                                               "added_option_groups": [{"id": "wrap", "name": "포장", "type": "SELECT",
                                                                        "option_sub_groups": [{"id": "wrap", "options": [{"id": "Y", "value": "선물포장", "add_price": 50}]}]}]}]},
            ]},
            {"id": "phone", "name": "연락처", "type": "NUMBERS", "min_length": 10, "max_length": 11},
            {"id": "memo", "name": "메모", "type": "TEXT", "required": False},
        ],
    }  # fmt: skip
    choice = choose(tree)
    assert choice.body["option_groups"] == [
        {"option_group_id": "size", "option_id": "M", "add_price": 0},  # S is sold out
        {"option_group_id": "color", "option_id": "B", "add_price": 200, "extra": "SKU-MB"},
        {"option_group_id": "phone", "text": "0111111111"},
        {"option_group_id": "wrap", "option_id": "Y", "add_price": 50},  # added groups come after
    ]
    assert choice.body["price"] == 1000 and choice.body["quantity"] == 1 and choice.unit_price == 1250
    assert choose(tree, skip_sold_out=False).body["option_groups"][0]["option_id"] == "S"


def test_scenarios_can_be_run_without_django_knowing(shop, live_server, fake_kakao):
    """The simulator needs nothing but URLs and keys (it imports nothing of the apps)."""
    import simulator.flows
    import simulator.http
    import simulator.load
    import simulator.options
    import simulator.scenarios
    import simulator.target

    for module in (simulator.flows, simulator.load, simulator.scenarios, simulator.http, simulator.options,
                   simulator.target):  # fmt: skip
        source = Path(module.__file__).read_text(encoding="utf-8")
        assert not re.search(
            r"^(from|import) (django|kakaoplugin|catalog|orders|callbacks|merchant|demo)\b", source, re.M
        )
    lines: list[str] = []
    target = Target(base_url=live_server.url, plugin_key=shop.plugin_key, fake_url=fake_kakao.url,
                    rest_api_key=shop.rest_api_key)  # fmt: skip
    results = run_scenarios(target, Printer(lines.append, verbose=False, tty=False), ["option", "location"])
    assert [r.passed for r in results] == [True, True], "".join(lines)
    assert set(NAMES) >= {r.scenario.name for r in results}


# --- the README's run command, as a newcomer runs it ---------------------------------------------


def test_bin_run_plays_every_scenario_then_serves_and_sells_a_flash_sale(tmp_path):
    """``bin/run`` on the embedded default (SQLite, a worker on the embedded broker, gunicorn), in a fresh
    VAR_DIR: every scenario passes before it serves; then a concurrent flash sale against it."""
    import os
    import signal
    import subprocess
    import time

    root = Path(__file__).resolve().parents[2]
    port, fake_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "REDIS_URL", "CACHE_URL", "CELERY_"))
    }
    env |= {
        "VAR_DIR": str(tmp_path / "var"),
        "PORT": str(port),
        "FAKE_PORT": str(fake_port),
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "bin-run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["bin/run"], cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 180
        while "until Ctrl-C" not in log.read_text(encoding="utf-8", errors="replace"):
            assert proc.poll() is None, log.read_text(encoding="utf-8", errors="replace")
            assert time.monotonic() < deadline, log.read_text(encoding="utf-8", errors="replace")
            time.sleep(0.5)
        text = log.read_text(encoding="utf-8")
        assert "8/8 scenarios passed" in text and "FAIL" not in text, text
        assert "every scenario passed" in text
        assert f"admin:        http://127.0.0.1:{port}/admin/   (user admin / password admin)" in text
        assert "worker:       a Celery worker" in text and "server:       gunicorn" in text
        assert "broker:       the embedded broker" in text

        sale = subprocess.run(
            [".venv/bin/python", "manage.py", "kakao_simulate", "--base", f"http://127.0.0.1:{port}",
             "--fake", f"http://127.0.0.1:{fake_port}", "--buyers", "30", "--stock", "5"],
            cwd=root, env=env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert sale.returncode == 0, sale.stdout + sale.stderr
        assert (
            "PASS  flash sale: 5 successes, 0 oversold, 0 double charges (30 buyers, 5 units)" in sale.stdout
        )
        assert "30 at once" in sale.stdout
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_kakaos_approval_relay_is_followed_to_our_payment_t3():
    from urllib.parse import quote

    from simulator.flows import _unwrap_relay

    ours = "https://shop.example.com/pay/po_1/approval/tok"
    relayed = f"https://talk-plugin.kakao.com/kakaopay/callback?approval_url={quote(ours, safe='')}&partner_order_id=po_1&pg_token=t"
    assert _unwrap_relay(relayed) == ours + "?partner_order_id=po_1&pg_token=t"
    assert _unwrap_relay(ours) == ours
