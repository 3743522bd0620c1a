"""The catalog admin's change page of a 1,000-option product: queries, bytes, seconds.

    .venv/bin/python bench/catalog_admin.py [--rounds 3]

Prepares the same database and product as ``bench/option_t1.py`` (``bench:1000``: 1,010 options,
a 10 × 100 related chain; BENCH_DATABASE_URL, default kp_catalog_bench), logs a superuser in with
Django's test client and GETs the product's change page ``--rounds`` times, then POSTs the page
back unchanged once (what "Save" sends). Prints queries, response size and wall time of each.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.option_t1 import PRODUCT, environment, prepare  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    env = environment()
    env["ALLOWED_HOSTS"] = "testserver"
    prepare(env)
    from django.conf import settings

    # static files as the test suite serves them (no collectstatic manifest needed); DEBUG stays off
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from django.urls import reverse
    from tests.support.admin_forms import form_data

    from catalog.models import Option, Product

    setup_test_environment()
    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    product = Product.objects.get(code=PRODUCT)
    url = reverse("admin:catalog_product_change", args=[product.pk])
    print(f"{PRODUCT}: {Option.objects.filter(product=product).count()} options")
    html = ""
    for i in range(args.rounds):
        t0 = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            r = client.get(url)
        took = time.perf_counter() - t0
        html = r.content.decode()
        print(
            f"GET  #{i + 1}: HTTP {r.status_code}, {len(queries)} queries, {len(r.content):,} bytes, {took:.2f} s"
        )
    data = form_data(html)
    t0 = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        r = client.post(url, data)
    took = time.perf_counter() - t0
    print(
        f"POST (unchanged, {len(data):,} fields): HTTP {r.status_code}, {len(queries)} queries, {took:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
