"""``PATCH /api/v1/stock`` with 1,000 rows, through gunicorn, on PostgreSQL (the issue wants < 1 s).

    .venv/bin/python bench/stock_patch.py [--runs 5] [--write]

Prepares its own PostgreSQL database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/
kp_stock_bench, created if missing) with the product of ``bench/option_t1.py`` (``bench:1000``:
1,010 options, a 10 × 100 related chain; 1,000 stocked leaves, each given an ``extra`` SKU and the
product a low-stock threshold of 5, so the stock webhooks' check runs as in production), an API key
with the ``catalog`` scope and a webhook endpoint subscribed to the stock events. Then starts
gunicorn (1 worker, the project's gthread worker; Redis cache from BENCH_CACHE_URL) and sends ``--runs`` PATCHes of
1,000 rows for each way of naming a row (option path, sub-group + option id, SKU; ``set`` to new
values each run, so every row is written) and one of 1,000 ``adjust`` rows, each with its own
Idempotency-Key, timing each call from the client (keep-alive connection). Prints p50 / max per
kind. With BENCH_BROKER_URL (a Redis URL; the deliveries are queued there, not sent) it also times
calls that set all 1,000 options below the threshold (1,000 ``option.low_stock`` events recorded in
the call) and back above it (1,000 re-arms). ``--write`` puts the table into BENCHMARKS.md under "Stock PATCH (1,000 rows)".
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kp_stock_bench")

from bench.option_t1 import PRODUCT, environment, free_port, prepare  # noqa: E402

SECTION = "Stock PATCH (1,000 rows)"


def setup() -> tuple[str, list[dict]]:
    """The API key and, per leaf option, how to name it (path, ids, SKU)."""
    from catalog.models import Option, Product
    from catalog.selectors import option_paths
    from kakaoplugin.models import KakaoApp, WebhookEndpoint
    from merchant.services import api_key_create

    app = KakaoApp.objects.get(name="bench")
    _, plain = api_key_create(kakao_app=app, name="bench-stock", scopes=["catalog"])
    if not WebhookEndpoint.objects.filter(kakao_app=app).exists():
        WebhookEndpoint.objects.create(kakao_app=app, url="https://hooks.example.com/stock", secret="whsec_bench",
                                       event_types=["product.sold_out", "option.low_stock"])  # fmt: skip
    product = Product.objects.get(code=PRODUCT)
    Product.objects.filter(pk=product.pk).update(low_stock_threshold=5)
    leaves = list(Option.objects.filter(product=product, stock__isnull=False).select_related("sub_group").order_by("pk"))
    for leaf in leaves:
        if leaf.extra != f"SKU-{leaf.pk}":
            Option.objects.filter(pk=leaf.pk).update(extra=f"SKU-{leaf.pk}")
    paths = option_paths(product.pk)
    return plain, [
        {"path": paths[o.pk], "sub_group_id": o.sub_group.sub_group_id, "option_id": o.option_id, "sku": f"SKU-{o.pk}"}
        for o in leaves[:1000]
    ]


def rows_for(kind: str, leaves: list[dict], rng: random.Random) -> list[dict]:
    def named(leaf: dict) -> dict:
        if kind == "option_path":
            return {"product_id": PRODUCT, "option_path": leaf["path"]}
        if kind == "sub_group_id + option_id":
            return {"product_id": PRODUCT, "sub_group_id": leaf["sub_group_id"], "option_id": leaf["option_id"]}
        return {"sku": leaf["sku"]}

    if kind.startswith("sku, 1,000"):
        return [{"sku": leaf["sku"], "set": 3 if "crossings" in kind else 100} for leaf in leaves]
    if kind == "adjust (sku)":
        return [{"sku": leaf["sku"], "adjust": rng.choice((-1, 1))} for leaf in leaves]
    return [named(leaf) | {"set": rng.randint(50, 150)} for leaf in leaves]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="write the result into BENCHMARKS.md")
    args = parser.parse_args()

    env = environment()
    # a fixed key: the secrets stored by an earlier run (the webhook endpoint's) stay readable
    env["FIELD_ENCRYPTION_KEY"] = "YmVuY2gtc3RvY2stcGF0Y2gtZmllbGQta2V5LTAwMDA="
    # without a broker Celery runs eagerly: the deliveries would be sent inside the request
    env["CELERY_BROKER_URL"] = os.environ.get("BENCH_BROKER_URL", "")
    prepare(env)
    plain, leaves = setup()
    assert len(leaves) == 1000, len(leaves)
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "config.wsgi:application", "--config", "/dev/null",
            "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2", "--worker-class", "config.gunicorn_worker.BalancedThreadWorker",
            "--log-level", "warning",
        ],
        cwd=ROOT, env=os.environ | env, start_new_session=True,
    )  # fmt: skip
    rng = random.Random(16)
    kinds: tuple[str, ...] = ("option_path", "sub_group_id + option_id", "sku", "adjust (sku)")
    if env["CELERY_BROKER_URL"]:
        kinds += ("sku, 1,000 low-stock crossings", "sku, 1,000 re-arms")
    timings: dict[str, list[float]] = {k: [] for k in kinds}
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("GET", "/api/v1/products?page_size=1", headers={"Authorization": f"Bearer {plain}"})
                conn.getresponse().read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.2)

        def patch(rows: list[dict]) -> float:
            body = json.dumps({"rows": rows}, ensure_ascii=False).encode()
            headers = {
                "Authorization": f"Bearer {plain}", "Content-Type": "application/json",
                "Idempotency-Key": f"bench-{time.time_ns()}-{rng.random()}",
            }  # fmt: skip
            t0 = time.perf_counter()
            conn.request("PATCH", "/api/v1/stock", body=body, headers=headers)
            r = conn.getresponse()
            answer = r.read()
            took = time.perf_counter() - t0
            if r.status != 200:
                raise SystemExit(f"HTTP {r.status}: {answer[:500]!r}")
            assert len(json.loads(answer)["rows"]) == len(rows)
            return took

        patch(rows_for("sku", leaves, rng))  # warm: imports, connections, caches
        for _ in range(args.runs):
            for kind in kinds:
                timings[kind].append(patch(rows_for(kind, leaves, rng)))
        conn.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)

    lines = [
        f"`PATCH /api/v1/stock`, 1,000 rows per call (the 1,000 stocked leaves of `{PRODUCT}`, 1,010 options), "
        f"each call a new Idempotency-Key; gunicorn gthread (balanced accept) 1 worker, PostgreSQL, Redis cache; one keep-alive "
        f"client, {args.runs} calls per kind after one warm-up call; {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores shared with other jobs.",
        "",
        "| rows named by | p50 ms | max ms | min ms |",
        "|---|---:|---:|---:|",
    ]
    for kind in kinds:
        t = [x * 1000 for x in timings[kind]]
        lines.append(f"| {kind} | {statistics.median(t):.0f} | {max(t):.0f} | {min(t):.0f} |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        path = ROOT / "BENCHMARKS.md"
        text = path.read_text(encoding="utf-8")
        section = f"## {SECTION}\n\n" + table + "\n\nReproduce: `.venv/bin/python bench/stock_patch.py --write`.\n"
        pattern = re.compile(rf"## {re.escape(SECTION)}\n.*?(?=\n## |\Z)", re.S)
        text = pattern.sub(lambda _m: section, text, count=1) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
