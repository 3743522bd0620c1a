"""Issue 18: the flash sale's load mode drives its buyers on asyncio (simulator.aio), and the fake
KakaoPay holds thousands of callers at once.

On the real stack: gunicorn (``gunicorn.conf.py``, 2 workers × 4 threads) and a real Celery worker,
both on the test database (PostgreSQL) and Redis, the fake Kakao/KakaoPay over HTTP.  300 buyers for
30 units: exactly 30 paid, 0 oversold, 0 double charges, 0 errors, counted by the simulator from the
fake's state and our database, then checked again here in the database and at the fake.  Timings
are printed by the simulator, never asserted.  The scale run (5,000 buyers / 500 units) is
``bench/flash_sale.py`` (BENCHMARKS.md).
"""

from __future__ import annotations

import asyncio
import io
import re
import resource

import pytest
from django.db import connection

from catalog.models import Option, StockHold
from demo.services import flash_sale_product_set, simulator_api_key
from fakekakao.server import FakeKakaoServer
from orders.models import Order
from simulator.http import Printer
from simulator.load import flash_sale
from simulator.target import Target
from tests.conftest import ROOT, stop_process, worker_environment
from tests.support.processes import free_port, gunicorn

pytestmark = pytest.mark.django_db(transaction=True)

BUYERS, UNITS = 300, 30


@pytest.fixture
def gunicorn_server(request, fake_kakao):
    """gunicorn as production runs it, on the test database, its tasks on the real worker."""
    if connection.vendor != "postgresql":
        pytest.skip("the flash sale on the real stack needs PostgreSQL (and Redis)")
    request.getfixturevalue("celery_worker")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = worker_environment(fake_kakao.url, PUBLIC_BASE_URL=base, LOG_LEVEL="WARNING")
    proc = gunicorn(env, port, workers=2, threads=4, log_name="flash-sale-gunicorn.log")
    try:
        yield base
    finally:
        stop_process(proc)


def test_async_flash_sale_sells_exactly_the_stock_with_no_error(kakao_app, fake_kakao, gunicorn_server):
    product = flash_sale_product_set(stock=UNITS)
    out = io.StringIO()
    with simulator_api_key(kakao_app=kakao_app) as (_, plain):
        target = Target(base_url=gunicorn_server, plugin_key=kakao_app.plugin_key, fake_url=fake_kakao.url,
                        rest_api_key=kakao_app.rest_api_key, api_key=plain)  # fmt: skip
        report = flash_sale(target, Printer(out.write, tty=False), buyers=BUYERS, stock=UNITS,
                            product_id=product.code, settle_timeout=60)  # fmt: skip
    output = out.getvalue()

    # the simulator's own verdict and figures (money from the fake's state and our database)
    assert report.passed, output
    assert (report.successes, report.failures, report.errors) == (UNITS, BUYERS - UNITS, 0), output
    assert (report.oversold, report.double_charges, report.mismatches, report.effect_errors) == (0, 0, 0, 0), output
    assert (report.charged_units, report.paid_orders, report.unsettled, report.stock_left) == (UNITS, UNITS, 0, 0)
    assert report.answers["non_json"] == report.answers["5xx"] == report.answers["no_answer"] == 0, output
    assert f"{BUYERS} buyers, {UNITS} units of {product.code}, {BUYERS} at once, 32 connections" in output
    assert f"PASS  flash sale: {UNITS} successes, 0 oversold, 0 double charges ({BUYERS} buyers, {UNITS} units)" in output
    for step in ("option T1", "option T2", "payment T1", r"KakaoPay ready \(fake\)", "payment T2", "payment T3",
                 r"payment T4 \(every poll\)"):  # per-step latency percentiles, printed (not asserted)
        assert re.search(rf"^  {step}\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+$", output, re.M), (step, output)

    # and again, from our database and the fake, independently of the simulator's count
    option = Option.objects.get(product=product)
    paid = Order.objects.filter(status=Order.Status.PAID, lines__catalog_option=option).distinct()
    assert paid.count() == UNITS and option.stock == 0
    assert StockHold.objects.filter(option=option, state=StockHold.State.SOLD).count() == UNITS
    assert not StockHold.objects.filter(option=option, state=StockHold.State.HELD).exists()
    approves = fake_kakao.calls("approve")
    assert sorted(c["params"]["partner_order_id"] for c in approves) == sorted(o.partner_order_id for o in paid)
    tids = fake_kakao.state()["kakaopay"]["tids"]
    assert sum(1 for t in tids.values() if t["status"] == "SUCCESS_PAYMENT" and t["approvals"] == 1) == UNITS


async def _hit(port: int, n: int) -> list[str]:
    """``n`` callers connect at once, each sends one request; what each got (the status line)."""

    async def one() -> str:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 20)
            writer.write(b"GET /__fake__/health HTTP/1.1\r\nHost: fake\r\nConnection: close\r\n\r\n")
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 20)
            writer.close()
            return answer.split(b"\r\n", 1)[0].decode()
        except (OSError, TimeoutError) as exc:
            return exc.__class__.__name__

    return await asyncio.gather(*(one() for _ in range(n)))


def test_the_fake_answers_a_thousand_callers_connecting_at_once():
    """The standard library's listen backlog (5) timed out or reset more than half of them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:  # both ends of every connection are in this process
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    with FakeKakaoServer("127.0.0.1", 0) as fake:
        port = int(fake.url.rsplit(":", 1)[1])
        answers = asyncio.run(_hit(port, 1000))
    assert len(answers) == 1000
    assert set(answers) == {"HTTP/1.1 200 OK"}, {a: answers.count(a) for a in set(answers)}


def test_the_simulator_speaks_http_only():
    """Every module of the simulator (the async client too) imports nothing of the project's apps."""
    for path in sorted((ROOT / "simulator").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        assert not re.search(
            r"^\s*(from|import) (django|kakaoplugin|catalog|orders|callbacks|merchant|demo)\b", source, re.M
        ), path
