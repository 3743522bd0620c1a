"""The admin pages of issue 17 at two data sizes: queries and wall time of the index (with its
dashboard), an order's page and a member's page.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/kp_pages BENCH_CACHE_URL=redis://127.0.0.1:6380/1 \\
      .venv/bin/python bench/admin_pages.py [--sizes 1000,50000] [--rounds 5]

Fills the database (BENCH_DATABASE_URL, default kp_admin_bench; its rows are replaced) with live
orders (five payment events each, a tenth of them from a test app, a few stuck, owed a refund or
flagged), failed callbacks and webhook deliveries, products with stocked options, and one member
with 200 orders; then GETs each page ``--rounds`` times with Django's test client as a staff user
holding every view permission and the personal-data one. Prints queries and the median time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.option_t1 import environment  # noqa: E402


def fill(total: int) -> None:
    """Grow the data to ``total`` orders (and the rest in proportion)."""
    from django.db.models import F
    from django.utils import timezone

    from callbacks.models import CallbackEvent
    from catalog.models import Option, OptionGroup, OptionSubGroup, Product
    from kakaoplugin.models import KakaoApp, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
    from orders.models import Order, OrderSheet, PaymentEvent

    live, _ = KakaoApp.objects.get_or_create(name="bench-live", defaults={"rest_api_key": "k", "environment": "production"})
    test, _ = KakaoApp.objects.get_or_create(name="bench-test", defaults={"rest_api_key": "k", "environment": "test"})
    have = Order.objects.count()
    now = timezone.now()
    batch = 2000
    for start in range(have, total, batch):
        n = min(batch, total - start)
        apps = [test if (start + i) % 10 == 0 else live for i in range(n)]
        sheets = OrderSheet.objects.bulk_create(
            OrderSheet(kakao_app=a, livemode=a.livemode, app_user_id=f"u{(start + i) % 5000}", product_code="B",
                       product_name="벤치", unit_price=1000, total_amount=1000, expires_at=now)  # fmt: skip
            for i, a in enumerate(apps)
        )
        # per 1,000: mostly paid, some failed, a few cancelled, one each stuck in flight or owed a refund
        statuses = ["paid"] * 955 + ["failed"] * 40 + ["cancelled"] * 2 + ["refunding", "approving", "held"]
        orders = Order.objects.bulk_create(
            Order(sheet=s, kakao_app=s.kakao_app, livemode=s.livemode, app_user_id=s.app_user_id,
                  partner_user_id=s.app_user_id, item_name="벤치", quantity=1, goods_amount=1000, total_amount=1000,
                  status=statuses[(start + i) % 1000], approved_amount=1000, refunded_amount=0,
                  approved_at=now - timedelta(hours=(start + i) % 2000), tid=f"T{start + i}",
                  flag="answer_mismatch" if (start + i) % 997 == 0 else "")  # fmt: skip
            for i, s in enumerate(sheets)
        )
        # created a minute before approval: the orders spread over the last 2,000 hours (12 weeks)
        Order.objects.filter(pk__in=[o.pk for o in orders]).update(created_at=F("approved_at") - timedelta(minutes=1))
        PaymentEvent.objects.bulk_create(
            PaymentEvent(order=o, kind=k, idempotency_key=f"{k}:{o.pk}", request={"tid": o.tid}, response={"ok": 1})
            for o in orders
            for k in ("t1_served", "t2_received", "t3_received", "approve_request", "approve_success")
        )
        CallbackEvent.objects.bulk_create(
            CallbackEvent(kind="onetimeprofile", kakao_app=live, status="failed" if i % 5 == 0 else "processed")
            for i in range(n // 10)
        )
        endpoint, _ = WebhookEndpoint.objects.get_or_create(kakao_app=live, url="https://hooks.example.com/b", defaults={"secret": "s"})
        events = WebhookEvent.objects.bulk_create(
            WebhookEvent(id=f"evt_b{start}_{i}", kakao_app=live, type="order.paid", idempotency_key=f"b{start}_{i}", payload={})
            for i in range(n // 10)
        )
        deliveries = WebhookDelivery.objects.bulk_create(
            WebhookDelivery(event=e, endpoint=endpoint, status="failed" if i % 5 == 0 else "delivered", give_up_at=now)
            for i, e in enumerate(events)
        )
        WebhookAttempt.objects.bulk_create(WebhookAttempt(delivery=d, number=1) for d in deliveries)
        for p in range(n // 100):
            product = Product.objects.create(code=f"B-{start}-{p}", name="벤치", price=1000, low_stock_threshold=3)
            group = OptionGroup.objects.create(product=product, group_id="g", name="g")
            sub = OptionSubGroup.objects.create(product=product, group=group, sub_group_id=f"g-{start}-{p}")
            Option.objects.bulk_create(
                Option(product=product, sub_group=sub, option_id=f"o{j}", value=f"o{j}", stock=j % 40) for j in range(20)
            )


def timed(client, url: str, rounds: int) -> tuple[int, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)
    times, count = [], 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        times.append(time.perf_counter() - t0)
        assert response.status_code == 200, (url, response.status_code)
        count = len(queries)
    return count, statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,50000")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    env = environment()
    env["DATABASE_URL"] = env["DATABASE_URL"].replace("kp_catalog_bench", "kp_admin_bench")
    env["ALLOWED_HOSTS"] = "testserver"
    import os

    import psycopg2

    url = env["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    admin = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import Permission, User
    from django.test import Client
    from django.test.utils import setup_test_environment

    from kakaoplugin.models import Customer, KakaoApp
    from orders.models import Order

    setup_test_environment()
    user = User.objects.create_user("bench-staff", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client = Client()
    client.force_login(user)
    from django.db import connection

    print(f"{'orders':>8} | {'index q':>7} {'index ms':>8} | {'order q':>7} {'order ms':>8} | {'member q':>8} {'member ms':>9}")
    for size in (int(s) for s in args.sizes.split(",")):
        t0 = time.perf_counter()
        fill(size)
        filled = time.perf_counter() - t0
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        live = KakaoApp.objects.get(name="bench-live")
        member, _ = Customer.objects.get_or_create(kakao_app=live, app_user_id="u1")
        order = Order.objects.filter(app_user_id="u1", kakao_app=live).first()
        results = [
            timed(client, "/admin/", args.rounds),
            timed(client, f"/admin/orders/order/{order.pk}/change/", args.rounds),
            timed(client, f"/admin/kakaoplugin/customer/{member.pk}/page/", args.rounds),
        ]
        cells = " | ".join(f"{q:>7} {t * 1000:>8.0f}" for q, t in results)
        print(f"{size:>8} | {cells}   (filled in {filled:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
