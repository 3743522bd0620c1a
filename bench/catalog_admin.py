"""The catalog admin's change page of a 1,000-option product: queries, bytes, seconds.

    .venv/bin/python bench/catalog_admin.py [--rounds 3]

Prepares the same database and product as ``bench/option_t1.py`` (``bench:1000``: 1,010 options,
a 10 × 100 related chain; BENCH_DATABASE_URL, default kp_catalog_bench), logs a superuser in with
Django's test client and GETs the product's change page (the option tree editor) ``--rounds``
times, then POSTs the page back unchanged ``--rounds`` times (what "Save" sends), then POSTs it
with one rule broken ``--rounds`` times (a SELECT sub-group picking two: refused, the page comes
back with the error at its field, two passes). Prints queries, response size and wall time of
each, and the range of each kind.
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
    parser.add_argument("--get-only", action="store_true", help="measure the page's GET only")
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

    from catalog.models import Option, Product
    from tests.support.admin_forms import form_data

    setup_test_environment()
    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    product = Product.objects.get(code=PRODUCT)
    url = reverse("admin:catalog_product_change", args=[product.pk])
    print(f"{PRODUCT}: {Option.objects.filter(product=product).count()} options")
    ranges: dict[str, list[tuple[int, float]]] = {}

    def measure(kind: str, call) -> str:
        html = ""
        for i in range(args.rounds):
            connection.queries_log.clear()  # a bounded deque (9,000): a full one would count 0
            t0 = time.perf_counter()
            with CaptureQueriesContext(connection) as queries:
                r = call()
            took = time.perf_counter() - t0
            ranges.setdefault(kind, []).append((len(queries), took))
            print(f"{kind} #{i + 1}: HTTP {r.status_code}, {len(queries)} queries, {len(r.content):,} bytes, {took:.2f} s")
            html = r.content.decode()
        return html

    html = measure("GET", lambda: client.get(url))
    data = form_data(html)
    print(f"(the page posts {len(data):,} fields)")
    if args.get_only:
        args.rounds = 0
    measure("POST unchanged", lambda: client.post(url, data))
    broken = dict(data)
    sub_group = next(n for n, v in data.items() if n.endswith("-sub_group_id") and v == "c3:사이즈")
    broken[sub_group.replace("-sub_group_id", "-max_select")] = "2"
    page = measure("POST refused", lambda: client.post(url, broken))
    assert args.get_only or "SELECT picks one" in page, "the refused save did not say why"
    print()
    for kind, runs in ranges.items():
        counts = sorted({q for q, _ in runs})
        times = [t for _, t in runs]
        print(f"{kind}: {'/'.join(map(str, counts))} queries, {min(times):.2f}–{max(times):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
