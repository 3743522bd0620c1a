"""Payment T4 under 200 concurrent pollers next to a minimal Django view, and T3 → S latency
through a real Celery worker with the fake KakaoPay answering at once.

Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL; CACHE_URL optional).  Starts gunicorn on a
local port with bench/settings.py, a Celery worker and the fake KakaoPay; creates its own Kakao app
and rows in that database (left there, named "bench-…").

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kp_payments REDIS_URL=redis://127.0.0.1:6379/4 \
      .venv/bin/python bench/payment_t4.py [--seconds 4] [--pollers 200] [--latency-orders 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def poller(host: str, port: int, request: bytes, stop_at: float, latencies: list[float], errors: list[str]):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200") or b'"status":200' not in body:
                errors.append(head[:40].decode() + body[:80].decode(errors="replace"))
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def load(host: str, port: int, path: str, headers: dict[str, str], pollers: int, seconds: float) -> dict:
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}Connection: keep-alive\r\n\r\n".encode()
    latencies: list[float] = []
    errors: list[str] = []
    stop_at = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(*(poller(host, port, request, stop_at, latencies, errors) for _ in range(pollers)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--pollers", type=int, default=200)
    parser.add_argument("--latency-orders", type=int, default=30)
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--gunicorn-threads", type=int, default=8)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get("REDIS_URL"):
        sys.exit("set DATABASE_URL (PostgreSQL) and REDIS_URL")

    from fakekakao.server import FakeKakaoServer

    fake = FakeKakaoServer("127.0.0.1", 0).start()
    env_fake = {
        "KAKAOPAY_LEGACY_API_BASE": fake.url, "KAKAOPAY_OPEN_API_BASE": fake.url, "KAKAO_ALLOW_HTTP": "true",
        "DJANGO_SETTINGS_MODULE": "bench.settings", "DEBUG": "false", "SECRET_KEY": "bench-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver", "SECURE_SSL_REDIRECT": "false",
        "PLUGIN_APP_CACHE_SECONDS": "60", "LOG_LEVEL": "WARNING",
    }  # fmt: skip
    os.environ.update(env_fake)
    os.environ.setdefault("FIELD_ENCRYPTION_KEY", "Zm9yLWJlbmNoLW9ubHktbm90LWEtc2VjcmV0LWtleSE=")

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.test import Client

    from kakaoplugin.models import KakaoApp
    from orders.models import Order
    from tests.support.payments import Buyer, browser_path, make_product, make_sheet

    stamp = str(int(time.time()))
    app = KakaoApp.objects.create(
        name=f"bench-{stamp}", rest_api_key="bench", kakaopay_admin_key="bench-admin-key", cid="TC0ONETIME",
    )  # fmt: skip
    product, option = make_product(code=f"bench-{stamp}", option_stock=None)

    port = free_port()
    gunicorn = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.gunicorn_workers), "--threads", str(args.gunicorn_threads), "--worker-class", "config.gunicorn_worker.BalancedThreadWorker",
         "--keep-alive", "30", "--log-level", "warning", "--worker-connections", "1000"],
        # gunicorn.conf.py (production: access log on) applies; the log goes to /dev/null here
        cwd=ROOT, env=os.environ.copy(), start_new_session=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "threads", "--concurrency", "4",
         "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=os.environ.copy(), start_new_session=True,
    )  # fmt: skip
    try:
        import requests

        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.2)
        base_http = f"http://127.0.0.1:{port}"
        plugin_base = f"/plugin/{app.plugin_key}/"

        # --- T4 vs the minimal view --------------------------------------------------------------
        client = Client()
        buyer = Buyer(plugin_base, fake.url, app_user_id="bench-user", client=client)
        sheet = make_sheet(app, product, option, app_user_id="bench-user")
        buyer.t1(sheet.pk)
        t4_path = f"{plugin_base}order/status?order_id={buyer.partner_order_id}&relay_id=r"
        check = requests.get(base_http + t4_path, headers={"X-Kakao-AppUserId": "bench-user"}, timeout=5).json()
        assert check == {"status": 200, "data": {"order_status": "W"}}, check
        headers = {"X-Kakao-AppUserId": "bench-user"}
        asyncio.run(load("127.0.0.1", port, t4_path, headers, args.pollers, 1.0))  # warm up
        results = {}
        for name, path in (("minimal view", "/bench/minimal"), ("T4", t4_path), ("minimal view (again)", "/bench/minimal"),
                           ("T4 (again)", t4_path)):  # fmt: skip
            results[name] = asyncio.run(load("127.0.0.1", port, path, headers, args.pollers, args.seconds))
            r = results[name]
            print(f"{name:22s} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
                  f"errors {r['errors']} {r['first_error']}")  # fmt: skip

        # --- T3 → S through the worker -------------------------------------------------------------
        remote = requests.Session()

        def http_get(path, params=None, user=None):
            h = {"X-Kakao-AppUserId": user} if user else {}
            return remote.get(base_http + path, params=params, headers=h, timeout=10).json()

        latencies = []
        for i in range(args.latency_orders):
            user = f"bench-lat-{i}"
            b = Buyer(plugin_base, fake.url, app_user_id=user, client=client)
            b.t1(make_sheet(app, product, option, app_user_id=user).pk)
            b.ready()
            b.authorize()
            assert b.t2() == {"status": 200}
            started = time.perf_counter()
            # KakaoPay's approval redirect: the buyer's browser follows T1's approval_url (no plugin key)
            answer = http_get(browser_path(b.t1_data["approval_url"], partner_order_id=b.partner_order_id,
                                           partner_user_id=user, pg_token=b.pg_token))  # fmt: skip
            assert answer == {"status": 200}, answer
            while True:
                status = http_get(plugin_base + "order/status", {"order_id": b.partner_order_id}, user)["data"]["order_status"]
                if status != "W":
                    break
                time.sleep(0.002)
            latencies.append((time.perf_counter() - started) * 1000)
            assert status == "S", status
        latencies.sort()
        paid = Order.objects.filter(kakao_app=app, status="paid").count()
        print(f"T3 -> S through the worker ({len(latencies)} orders, {paid} paid): median {statistics.median(latencies):.1f} ms, "
              f"p90 {latencies[int(len(latencies) * 0.9)]:.1f} ms, max {latencies[-1]:.1f} ms")  # fmt: skip
    finally:
        for proc in (gunicorn, worker):
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in (gunicorn, worker):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        fake.stop()


if __name__ == "__main__":
    main()
