"""Option T1 (warm) under gunicorn, next to a minimal Django view returning the same bytes.

    .venv/bin/python bench/option_t1.py [--seconds 4] [--threads 8] [--write]

Prepares a PostgreSQL database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/
kp_catalog_bench, created if missing) with a product of 1,010 options (a 10 × 100 related chain),
starts gunicorn on a free local port (the project's gthread worker, BENCH_WORKERS workers × BENCH_THREADS threads, Redis
cache from BENCH_CACHE_URL), checks both URLs answer the same bytes, then measures each with a
threaded keep-alive HTTP load generator, alternating runs.  ``--write`` puts the table into
BENCHMARKS.md under "Option T1 (warm)".
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PLUGIN_KEY = "bench-plugin-key-000000000000000000000000000"
PRODUCT = "bench:1000"


def environment() -> dict[str, str]:
    from cryptography.fernet import Fernet

    return {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kp_catalog_bench"),
        "CACHE_URL": os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/3"),
        "CACHE_KEY_PREFIX": "bench",
        "REDIS_URL": "",
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + secrets.token_hex(16),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
    }


def prepare(env: dict[str, str]) -> None:
    import psycopg2

    url = env["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    admin = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    from catalog.models import Product
    from catalog.services import combinations_generate
    from kakaoplugin.models import KakaoApp

    call_command("migrate", verbosity=0)
    KakaoApp.objects.update_or_create(name="bench", defaults={"rest_api_key": "bench", "plugin_key": PLUGIN_KEY})
    product, _ = Product.objects.update_or_create(code=PRODUCT, defaults={"name": "벤치 상품", "price": 10000})
    axes = [("색상", [f"c{i}" for i in range(10)]), ("사이즈", [f"s{i:03d}" for i in range(100)])]
    combinations_generate(product=product, axes=axes, add_price=500, stock=100)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, body


def load(port: int, path: str, seconds: float, threads: int) -> dict:
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    stop = time.perf_counter() + seconds

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = latencies[i]
        while True:
            t0 = time.perf_counter()
            if t0 > stop:
                break
            try:
                conn.request("GET", path)
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    errors[i] += 1
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            mine.append(time.perf_counter() - t0)
        conn.close()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    every = sorted(x for lat in latencies for x in lat)
    return {
        "requests": len(every),
        "rps": len(every) / elapsed,
        "p50": statistics.median(every) * 1000,
        "p99": every[min(len(every) - 1, int(len(every) * 0.99))] * 1000,
        "errors": sum(errors),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="write the result into BENCHMARKS.md")
    args = parser.parse_args()

    env = environment()
    prepare(env)
    port = free_port()
    workers, threads = os.environ.get("BENCH_WORKERS", "2"), os.environ.get("BENCH_THREADS", "4")
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "config.wsgi:application", "--config", "/dev/null",
            "--bind", f"127.0.0.1:{port}", "--workers", workers, "--threads", threads, "--worker-class", "config.gunicorn_worker.BalancedThreadWorker",
            "--log-level", "warning",
        ],
        cwd=ROOT, env=os.environ | env, start_new_session=True,
    )  # fmt: skip
    try:
        t1 = f"/plugin/{PLUGIN_KEY}/options?id={quote(PRODUCT)}"
        base = f"/bench/baseline?id={quote(PRODUCT)}"
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = fetch(port, t1)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.2)
        status_b, body_b = fetch(port, base)
        assert status == status_b == 200, (status, status_b)
        assert body == body_b, "T1 and the baseline must answer the same bytes"
        options = body.count(b'"value"')
        load(port, t1, 1.0, args.threads)  # warm every worker: cache, app lookup, connections
        load(port, base, 1.0, args.threads)
        runs: dict[str, list[dict]] = {"t1": [], "baseline": []}
        for _ in range(args.rounds):
            runs["baseline"].append(load(port, base, args.seconds, args.threads))
            runs["t1"].append(load(port, t1, args.seconds, args.threads))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)

    def summary(name: str) -> dict:
        rs = runs[name]
        return {
            "rps": statistics.mean(r["rps"] for r in rs),
            "p50": statistics.mean(r["p50"] for r in rs),
            "p99": statistics.mean(r["p99"] for r in rs),
            "requests": sum(r["requests"] for r in rs),
            "errors": sum(r["errors"] for r in rs),
        }

    t1s, bs = summary("t1"), summary("baseline")
    ratio = t1s["rps"] / bs["rps"]
    table = "\n".join(
        [
            f"Product `{PRODUCT}`: {options:,} options, T1 body {len(body):,} bytes. gunicorn gthread (balanced accept) "
            f"{workers} workers × {threads} threads, PostgreSQL, Redis cache; load: {args.threads} keep-alive "
            f"client threads (Python), {args.rounds} × {args.seconds:g} s per URL, alternating; "
            f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores shared with the load generator.",
            "",
            "| endpoint | requests/s | p50 ms | p99 ms | requests | errors |",
            "|---|---:|---:|---:|---:|---:|",
            f"| option T1 warm (`/plugin/<key>/options`) | {t1s['rps']:.0f} | {t1s['p50']:.2f} | {t1s['p99']:.2f} | {t1s['requests']} | {t1s['errors']} |",
            f"| baseline: minimal Django view, same bytes from memory | {bs['rps']:.0f} | {bs['p50']:.2f} | {bs['p99']:.2f} | {bs['requests']} | {bs['errors']} |",
            "",
            f"**Ratio T1 / baseline: {ratio:.0%}** (aim: 60% or more). Reproduce: `.venv/bin/python bench/option_t1.py --write`.",
        ]
    )
    print(table)
    if args.write:
        path = ROOT / "BENCHMARKS.md"
        text = path.read_text(encoding="utf-8")
        section = "## Option T1 (warm)\n\n"
        pattern = re.compile(r"## Option T1 \(warm\)\n.*?(?=\n## |\Z)", re.S)
        text = pattern.sub(lambda _m: section + table + "\n", text, count=1)
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
