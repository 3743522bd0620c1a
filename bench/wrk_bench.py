"""wrk against gunicorn: payment T4 and option T1 (warm), each alternated with its minimal view in one
run, and T3 → T4 "S" through a real Celery worker with a breakdown of where the time goes.

Needs wrk (``bench/setup.sh`` installs it from Debian's packages), PostgreSQL and Redis:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kp_perf REDIS_URL=redis://127.0.0.1:6379/2 \\
      CACHE_URL=redis://127.0.0.1:6379/3 .venv/bin/python bench/wrk_bench.py \\
      [--port 21080] [--seconds 5] [--rounds 3] [--connections 200] [--latency-orders 30]

Serves with gunicorn and the project's ``gunicorn.conf.py`` (its gthread worker with a balanced accept, 2 workers × 4 threads by
default, access log and multiprocess metrics on as in production; the log goes to /dev/null), the
``bench.settings`` URLconf (the real URLs plus ``/bench/minimal`` and ``/bench/baseline``). Creates
its own rows in that database (a Kakao app "bench-wrk", the product ``bench:1000`` of 1,010
options, orders), left there. Prints one line per wrk run and the ratios of each round.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PLUGIN_KEY = "bench-wrk-plugin-key-0000000000000000000000"
PRODUCT = "bench:1000"
USER = "bench-wrk-user"


def _cpu(pid: int | str) -> tuple[int, float]:
    """(parent pid, CPU seconds used so far: user + system) of a process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return -1, 0.0
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(master: int) -> tuple[float, float]:
    """CPU used so far by gunicorn's workers (children of ``master``) and by this database's
    PostgreSQL backends (the workers' kept connections; PostgreSQL runs on this host)."""
    from django.db import connection

    gunicorn = sum(cpu for ppid, cpu in map(_cpu, filter(str.isdigit, os.listdir("/proc"))) if ppid == master)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        backends = [row[0] for row in cursor.fetchall()]
    return gunicorn, sum(_cpu(pid)[1] for pid in backends)


def wrk(url: str, *, seconds: float, connections: int, threads: int, extra: list[str] | None = None,
        master: int | None = None) -> dict:  # fmt: skip
    cpu_before = server_cpu_seconds(master) if master else (0.0, 0.0)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "5s"]
    command += extra or []
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout

    def ms(text: str) -> float:
        value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    cpu_after = server_cpu_seconds(master) if master else (0.0, 0.0)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": ms(re.search(r"\s50%\s+(\S+)", out).group(1)),
        "p99": ms(re.search(r"\s99%\s+(\S+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "errors": (sum(map(int, socket_errors.groups())) if socket_errors else 0) + (int(non_2xx.group(1)) if non_2xx else 0),
        "command": " ".join(command + [url]),
        "cpu_us": (cpu_after[0] - cpu_before[0]) / max(1, int(re.search(r"(\d+) requests in", out).group(1))) * 1e6,
        "db_us": (cpu_after[1] - cpu_before[1]) / max(1, int(re.search(r"(\d+) requests in", out).group(1))) * 1e6,
    }


def setup_rows(fake_url: str):
    from catalog.models import Product
    from catalog.services import combinations_generate
    from kakaoplugin.models import KakaoApp

    app, _ = KakaoApp.objects.update_or_create(
        name="bench-wrk",
        defaults={"rest_api_key": "bench", "kakaopay_admin_key": "bench-admin-key", "cid": "TC0ONETIME", "plugin_key": PLUGIN_KEY,
                  "environment": KakaoApp.Environment.PRODUCTION},
    )  # fmt: skip
    product, created = Product.objects.get_or_create(code=PRODUCT, defaults={"name": "벤치 상품", "price": 10000})
    if created or not product.option_groups.exists():
        axes = [("색상", [f"c{i}" for i in range(10)]), ("사이즈", [f"s{i:03d}" for i in range(100)])]
        combinations_generate(product=product, axes=axes, add_price=500, stock=100)
    return app


def t4_orders(app, count: int) -> list[str]:
    """``count`` orders of one buyer, marked paid (through Order's queryset: published to the cache)."""
    from django.test import Client

    from orders.models import Order
    from tests.support.payments import Buyer, make_product, make_sheet

    product, option = make_product(code=f"bench-t4-{time.time_ns()}", option_stock=None)
    client = Client()
    ids = []
    for _ in range(count):
        buyer = Buyer(f"/plugin/{app.plugin_key}/", "http://127.0.0.1:9", app_user_id=USER, client=client)
        buyer.t1(make_sheet(app, product, option, app_user_id=USER).pk)
        ids.append(buyer.partner_order_id)
    Order.objects.filter(partner_order_id__in=ids).update(status=Order.Status.PAID)
    return ids


def pickup(worker_name: str, count: int = 20) -> list[float]:
    """Broker → worker: from sending the heartbeat task to the worker's clock at its start (ms)."""
    from kakaoplugin.models import WorkerHeartbeat
    from kakaoplugin.tasks import heartbeat

    out = []
    for _ in range(count):
        sent = time.time()
        heartbeat.apply_async()
        while True:
            row = WorkerHeartbeat.objects.filter(worker__startswith=worker_name).first()
            if row is not None and row.seen_at.timestamp() >= sent:
                break
            time.sleep(0.001)
        out.append((row.seen_at.timestamp() - sent) * 1000)
    return out


def latency(app, base_http: str, fake_url: str, orders: int) -> tuple[list[float], dict[str, list[float]], str]:
    """T3 (the buyer's browser following KakaoPay's approval redirect) until T4 answers S, per order."""
    import requests
    from django.test import Client

    from orders.models import Order, PaymentEvent
    from tests.support.payments import Buyer, browser_path, make_product, make_sheet

    stamp = str(int(time.time() * 1000))
    product, option = make_product(code=f"bench-lat-{stamp}", option_stock=None)
    plugin_base = f"/plugin/{app.plugin_key}/"
    session = requests.Session()
    client = Client()
    totals: list[float] = []
    parts: dict[str, list[float]] = {k: [] for k in (
        "T3 request answered", "T3 recorded", "T3 recorded → approve call", "KakaoPay approve (fake)",
        "approve answered → paid", "paid → a poll shows S")}  # fmt: skip
    last = ""
    for i in range(orders):
        user = f"bench-lat-{stamp}-{i}"
        buyer = Buyer(plugin_base, fake_url, app_user_id=user, client=client, key="bench-admin-key")
        buyer.t1(make_sheet(app, product, option, app_user_id=user).pk)
        buyer.ready()
        buyer.authorize()
        assert buyer.t2() == {"status": 200}
        path = browser_path(buyer.t1_data["approval_url"], partner_order_id=buyer.partner_order_id,
                            partner_user_id=user, pg_token=buyer.pg_token)  # fmt: skip
        t4 = base_http + plugin_base + "order/status"
        started = time.time()
        answer = session.get(base_http + path, timeout=10).json()
        t3_done = time.time()
        assert answer == {"status": 200}, answer
        while True:
            data = session.get(t4, params={"order_id": buyer.partner_order_id}, headers={"X-Kakao-AppUserId": user}, timeout=10).json()
            if data["data"]["order_status"] != "W":
                break
            time.sleep(0.002)
        seen = time.time()
        assert data["data"]["order_status"] == "S", data
        totals.append((seen - started) * 1000)
        order = Order.objects.get(partner_order_id=buyer.partner_order_id)
        events = {e.kind: e.created_at.timestamp() for e in order.events.order_by("id")}
        t3_at = events[PaymentEvent.Kind.T3_RECEIVED]
        request_at, success_at = events[PaymentEvent.Kind.APPROVE_REQUEST], events[PaymentEvent.Kind.APPROVE_SUCCESS]
        paid_at = order.completed_at.timestamp()  # set in the paying transaction, just before its commit
        parts["T3 request answered"].append((t3_done - started) * 1000)
        parts["T3 recorded"].append((t3_at - started) * 1000)
        parts["T3 recorded → approve call"].append((request_at - t3_at) * 1000)
        parts["KakaoPay approve (fake)"].append((success_at - request_at) * 1000)
        parts["approve answered → paid"].append((paid_at - success_at) * 1000)
        parts["paid → a poll shows S"].append((seen - paid_at) * 1000)
        last = buyer.partner_order_id
    return totals, parts, last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=21080)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--latency-orders", type=int, default=30)
    parser.add_argument("--t4-orders", type=int, default=200, help="T4 polls go round this many paid orders")
    parser.add_argument("--workers", default="2")
    parser.add_argument("--threads", default="4")
    parser.add_argument("--only", choices=("t4", "t1", "latency"), action="append")
    args = parser.parse_args()
    only = set(args.only or ("t4", "t1", "latency"))
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get("REDIS_URL"):
        sys.exit("set DATABASE_URL (PostgreSQL), REDIS_URL and CACHE_URL")

    # The fake KakaoPay in its own process (as bench/flash_sale.py starts it): in this one it would
    # share the interpreter lock with the T4 poller of the latency run.
    fake_url = f"http://127.0.0.1:{args.port + 1}"
    fake = subprocess.Popen([sys.executable, "-m", "fakekakao", "--host", "127.0.0.1", "--port", str(args.port + 1)],
                            cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL)  # fmt: skip
    os.environ.update({
        "KAKAOPAY_LEGACY_API_BASE": fake_url, "KAKAOPAY_OPEN_API_BASE": fake_url, "KAKAO_ALLOW_HTTP": "true",
        "DJANGO_SETTINGS_MODULE": "bench.settings", "DEBUG": "false", "SECRET_KEY": "bench-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver", "SECURE_SSL_REDIRECT": "false",
        "PLUGIN_APP_CACHE_SECONDS": "60", "LOG_LEVEL": "WARNING", "CACHE_KEY_PREFIX": "bench",
        "GUNICORN_BIND": f"127.0.0.1:{args.port}", "GUNICORN_WORKERS": args.workers, "GUNICORN_THREADS": args.threads,
    })  # fmt: skip
    os.environ.setdefault("FIELD_ENCRYPTION_KEY", "Zm9yLWJlbmNoLW9ubHktbm90LWEtc2VjcmV0LWtleSE=")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    app = setup_rows(fake_url)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--config", str(ROOT / "gunicorn.conf.py"),
         "--keep-alive", "30", "--log-level", "warning"],
        cwd=ROOT, env=os.environ.copy(), start_new_session=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "threads", "--concurrency", "4",
         "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat",
         "--hostname", f"bench-wrk-{os.getpid()}@%h"],
        cwd=ROOT, env=os.environ.copy(), start_new_session=True,
    )  # fmt: skip
    base_http = f"http://127.0.0.1:{args.port}"
    try:
        import requests

        deadline = time.time() + 60
        while True:
            try:
                requests.get(base_http + "/healthz", timeout=1)
                requests.get(fake_url + "/__fake__/health", timeout=1)
                break
            except requests.RequestException:
                if time.time() > deadline:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.2)
        print(f"gunicorn gthread (balanced accept) {args.workers}×{args.threads} on 127.0.0.1:{args.port}; wrk -t{args.wrk_threads} "
              f"-c{args.connections} -d{args.seconds:g}s; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")  # fmt: skip

        if "latency" in only:
            waits = pickup(f"bench-wrk-{os.getpid()}@")
            print(f"broker → worker pickup (heartbeat task, {len(waits)} sends): median {statistics.median(waits):.1f} ms, "
                  f"max {max(waits):.1f} ms")  # fmt: skip
            totals, parts, _ = latency(app, base_http, fake_url, args.latency_orders)
            totals.sort()
            print(f"T3 → T4 S through the worker ({len(totals)} orders): median {statistics.median(totals):.1f} ms, "
                  f"p90 {totals[int(len(totals) * 0.9)]:.1f} ms, min {totals[0]:.1f} ms, max {totals[-1]:.1f} ms")  # fmt: skip
            for name, values in parts.items():
                print(f"    {name:22s} median {statistics.median(values):6.1f} ms")
        pairs = []
        if "t4" in only:
            ids = t4_orders(app, args.t4_orders)
            t4 = f"{base_http}/plugin/{PLUGIN_KEY}/order/status?order_id={ids[0]}&relay_id=r"
            check = requests.get(t4, headers={"X-Kakao-AppUserId": USER}, timeout=5).content
            assert check == b'{"status":200,"data":{"order_status":"S"}}', check
            script = Path(tempfile.mkdtemp(prefix="bench-wrk-")) / "t4.lua"
            script.write_text(
                "local ids = {" + ",".join(f'"{i}"' for i in ids) + "}\nlocal n = 0\n"
                "request = function()\n  n = n + 1\n"
                f'  return wrk.format("GET", "/plugin/{PLUGIN_KEY}/order/status?order_id=" .. ids[n % #ids + 1] .. "&relay_id=r")\n'
                "end\n"
            )  # fmt: skip
            pairs.append((f"T4 (paid orders, owner; {len(ids)} orders in turn)", t4,
                          ["-H", f"X-Kakao-AppUserId: {USER}", "-s", str(script)], f"{base_http}/bench/minimal"))  # fmt: skip
        if "t1" in only:
            t1 = f"{base_http}/plugin/{PLUGIN_KEY}/options?id={quote(PRODUCT)}"
            baseline = f"{base_http}/bench/baseline?id={quote(PRODUCT)}"
            a, b = requests.get(t1, timeout=10).content, requests.get(baseline, timeout=10).content
            assert a == b and b'"status":200' in a, "T1 and its baseline must answer the same bytes"
            options = a.count(b'"value"')
            pairs.append((f"option T1 warm ({options} options, {len(a):,} B)", t1, [], baseline))
        for name, url, extra, minimal in pairs:
            wrk(url, seconds=1, connections=args.connections, threads=args.wrk_threads, extra=extra)  # warm up
            wrk(minimal, seconds=1, connections=args.connections, threads=args.wrk_threads)
            ratios = []
            for n in range(args.rounds):
                m = wrk(minimal, seconds=args.seconds, connections=args.connections, threads=args.wrk_threads,
                        master=server.pid)  # fmt: skip
                e = wrk(url, seconds=args.seconds, connections=args.connections, threads=args.wrk_threads, extra=extra,
                        master=server.pid)  # fmt: skip
                for label, r in (("minimal view", m), (name, e)):
                    print(f"  round {n + 1} {label:44s} {r['rps']:8.0f} req/s  p50 {r['p50']:7.2f} ms  "
                          f"p99 {r['p99']:7.2f} ms  errors {r['errors']}  CPU µs/request: gunicorn {r['cpu_us']:4.0f}, "
                          f"PostgreSQL {r['db_us']:4.0f}")  # fmt: skip
                ratios.append((e["rps"] / m["rps"], e["p99"] / m["p99"],
                               (e["cpu_us"] + e["db_us"]) / (m["cpu_us"] + m["db_us"])))  # fmt: skip
                print(f"  round {n + 1} ratio: req/s {ratios[-1][0]:.2f}×, p99 {ratios[-1][1]:.2f}×, "
                      f"server CPU per request (gunicorn + PostgreSQL) {ratios[-1][2]:.2f}×")  # fmt: skip
            rps, p99, cpu = [r[0] for r in ratios], [r[1] for r in ratios], [r[2] for r in ratios]
            print(f"{name}: req/s {min(rps):.2f}–{max(rps):.2f}× the minimal view (median {statistics.median(rps):.2f}), "
                  f"p99 {min(p99):.2f}–{max(p99):.2f}× (median {statistics.median(p99):.2f}), "
                  f"server CPU per request {min(cpu):.2f}–{max(cpu):.2f}×  [{e['command'].replace(url, '<url>')}]")  # fmt: skip
    finally:
        for proc in (server, worker, fake):
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in (server, worker, fake):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
