"""Chatbot skills' answer times on the demo data (Open Builder gives a skill 5 s; we aim < 100 ms p99).

    .venv/bin/python bench/skills.py [--calls 300]

Runs in-process on a fresh embedded default (SQLite in a temporary VAR_DIR): the demo Kakao app
with its chatbot skills, the demo's option product plus nine products bought at once, one paid
order per buyer. Calls each skill through Django's full stack (middleware, URL resolving, the
inbound-call log) with a test client, and prints p50 / p99 / max per skill, next to ``/healthz``
(a minimal view) measured the same way.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--database-url", default="", help="a scratch database (emptied!); default: SQLite in a temporary directory")
    args = parser.parse_args()
    var = tempfile.mkdtemp(prefix="kp-skills-bench-")
    for name in ("DATABASE_URL", "REDIS_URL", "CACHE_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    os.environ.update({"DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": var, "LOG_LEVEL": "WARNING"})
    if args.database_url:  # e.g. a scratch PostgreSQL database (it is migrated and filled)
        os.environ["DATABASE_URL"] = args.database_url
    import django

    django.setup()
    import json

    from django.core.management import call_command
    from django.test import Client

    from catalog.models import Product
    from catalog.services import option_tree_import
    from kakaoplugin.models import KakaoApp
    from merchant.models import ChatbotSkills
    from orders.models import Order
    from orders.sheets import order_sheet_create_from_choices

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)  # a scratch database: emptied, then filled
    app = KakaoApp.objects.create(name="demo", rest_api_key="k", option_plugin_id="o", payment_plugin_id="p")
    option_tree_import(data=json.loads((ROOT / "catalog/fixtures/demo_product.json").read_text()),
                       product_settings={"on_sale": True})  # fmt: skip
    for i in range(9):
        Product.objects.create(code=f"CHAT-{i}", name=f"상품 {i}", price=12000 + i, list_price=15000, stock=1000, max_quantity=5)
    skills = ChatbotSkills.objects.create(kakao_app=app, order_status_block_id="block")
    sheet = order_sheet_create_from_choices(kakao_app=app, choices={"id": "CHAT-0", "quantity": 1, "option_groups": []},
                                            app_user_id="u-1", relay_id=None)  # fmt: skip
    order = Order.objects.create(kakao_app=app, sheet=sheet, livemode=sheet.livemode, app_user_id="u-1", partner_user_id="u-1", item_name="상품 0",
                                 quantity=1, goods_amount=12000, total_amount=12000, status=Order.Status.PAID)  # fmt: skip

    def payload(params=None, extra=None):
        return {"userRequest": {"utterance": "x", "user": {"id": "b", "properties": {"appUserId": "u-1"}}},
                "action": {"params": params or {}, "clientExtra": extra or {}}}  # fmt: skip

    client = Client()
    runs = {
        "minimal view (/healthz)": lambda: client.get("/healthz"),
        "products (10 cards, sheets reused)": lambda: client.post(f"/skill/{skills.skill_key}/products", payload(), content_type="application/json"),
        "pay": lambda: client.post(f"/skill/{skills.skill_key}/pay", payload({"product_id": "CHAT-1", "quantity": "2"}), content_type="application/json"),
        "orders": lambda: client.post(f"/skill/{skills.skill_key}/orders", payload(), content_type="application/json"),
        "order-status": lambda: client.post(f"/skill/{skills.skill_key}/order-status", payload(extra={"order_id": order.partner_order_id}), content_type="application/json"),
    }  # fmt: skip
    print(f"{args.calls} calls each, in-process, SQLite (embedded default), Python {sys.version.split()[0]}")
    print(f"| {'call':<34} | p50 ms | p99 ms | max ms |")
    print(f"|{'-' * 36}|-------:|-------:|-------:|")
    for name, run in runs.items():
        assert run().status_code == 200
        times = []
        for _ in range(args.calls):
            started = time.perf_counter()
            run()
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(f"| {name:<34} | {statistics.median(times):6.1f} | {p99:6.1f} | {times[-1]:6.1f} |")


if __name__ == "__main__":
    main()
