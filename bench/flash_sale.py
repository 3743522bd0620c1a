"""The flash sale at scale (issue 18): N buyers for M units against the whole stack, several runs.

Starts what ``bin/run`` starts on PostgreSQL + Redis (the fake Kakao/KakaoPay as its own process,
gunicorn with ``gunicorn.conf.py``, a Celery worker and beat), on spare local ports, against the database
and Redis given; creates (or reuses) the Kakao app ``bench-flash``; then runs
``manage.py kakao_simulate --buyers N --stock M`` ``--runs`` times.  Each run's figures are the
simulator's own (the money from the fake's state and our database, never from the buyers' view);
this script adds the command's wall time and the CPU the simulator process used (the load
generator: asyncio buyers), and prints the ranges over the runs.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kp_flash REDIS_URL=redis://127.0.0.1:6379/4 \
      CACHE_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/flash_sale.py \
      [--buyers 5000] [--stock 500] [--runs 3] [--connections 256] [--gunicorn-workers 4] \
      [--gunicorn-threads 4] [--worker-threads 8]

Exit code 1 when a run did not PASS (exact successes, 0 oversold, 0 double charges, 0 errors...).
The processes' logs are in ``$VAR_DIR/log/`` (default a temporary directory, removed after).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PLUGIN_KEY = "bench-flash-plugin-key-" + "0" * 24
FIGURES = {
    "buyers_s": r"buyers:\s+\d+ in ([\d.]+) s",
    "successes": r"successes:\s+(\d+)",
    "errors": r"errors:\s+(\d+)\n",
    "units_charged": r"units charged:\s+(\d+) of",
    "orders_paid": r"orders paid:\s+(\d+)",
    "oversold": r"oversold units:\s+(\d+)",
    "double_charges": r"double charges:\s+(\d+)",
    "mismatches": r"answer mismatches: (\d+)",
    "no_answer": r"no answer (\d+)\)",
}
LATENCY = re.compile(r"^  (buyer, first call to S/F|option T1|option T2|payment T1|KakaoPay ready \(fake\)|payment T2|"
                     r"payment T3|payment T4 \(every poll\))\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$", re.M)  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer 200 within {timeout:.0f} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def machine() -> str:
    model = ""
    try:
        model = next(
            (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
             if line.startswith("model name")), "",
        )  # fmt: skip
    except OSError:
        pass
    return f"{os.cpu_count()} cores {model}".strip() + f", Python {sys.version.split()[0]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--buyers", type=int, default=5000)
    parser.add_argument("--stock", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=0, help="the simulator's pool to our server (0: its default)")
    parser.add_argument("--concurrency", type=int, default=0, help="buyers in their flow at once (0: all)")
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--gunicorn-threads", type=int, default=4)
    parser.add_argument("--worker-threads", type=int, default=8)
    parser.add_argument("--settle-timeout", type=float, default=60.0)
    parser.add_argument("--show", action="store_true", help="print each run's whole output")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get("REDIS_URL"):
        sys.exit("set DATABASE_URL (PostgreSQL) and REDIS_URL (and CACHE_URL)")

    own_var = not os.environ.get("VAR_DIR")
    var = Path(os.environ.get("VAR_DIR") or tempfile.mkdtemp(prefix="kp-flash-bench-"))
    (var / "log").mkdir(parents=True, exist_ok=True)
    port, fake_port = free_port(), free_port()
    base, fake = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{fake_port}"
    env = os.environ | {
        "KAKAOPAY_LEGACY_API_BASE": fake, "KAKAOPAY_OPEN_API_BASE": fake, "KAKAO_AUTH_BASE": fake,
        "KAKAO_API_BASE": fake, "KAKAO_OTP_HOSTS": f"127.0.0.1:{fake_port}", "KAKAO_IMAGE_HOSTS": f"127.0.0.1:{fake_port}",
        "KAKAO_ALLOW_HTTP": "true", "PUBLIC_BASE_URL": base, "VAR_DIR": str(var), "PYTHONUNBUFFERED": "1",
        "DEBUG": "false", "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-flash-" + "s" * 50,
        "FIELD_ENCRYPTION_KEY": os.environ.get("FIELD_ENCRYPTION_KEY") or "Zm9yLWJlbmNoLW9ubHktbm90LWEtc2VjcmV0LWtleSE=",
        "ALLOWED_HOSTS": "127.0.0.1,localhost", "SECURE_SSL_REDIRECT": "false",
        "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(args.gunicorn_workers),
        "GUNICORN_THREADS": str(args.gunicorn_threads),
    }  # fmt: skip

    def manage(*cmd: str) -> None:
        subprocess.run([PY, "manage.py", *cmd], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)

    manage("migrate", "--noinput", "-v0")
    manage("kakao_app", "--name", "bench-flash", "--environment", "test", "--rest-api-key", "bench-flash-rest-key",
           "--admin-key", "bench-flash-admin-key-000000", "--cid", "TC0ONETIME", "--wrap-approval-url", "no",
           "--payment-plugin-id", "bench-flash-payment", "--plugin-key", PLUGIN_KEY, "--base-url", base)  # fmt: skip

    procs: list[subprocess.Popen] = []

    def spawn(name: str, cmd: list[str]) -> None:
        log = open(var / "log" / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it)
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True))  # fmt: skip

    spawn("fake", [PY, "-m", "fakekakao", "--host", "127.0.0.1", "--port", str(fake_port)])
    spawn("worker", [PY, "-m", "celery", "-A", "config", "worker", "--pool", "threads", "--concurrency",
                     str(args.worker_threads), "--loglevel", "WARNING", "--without-gossip", "--without-mingle"])  # fmt: skip
    spawn("beat", [PY, "-m", "celery", "-A", "config", "beat", "--loglevel", "WARNING",
                   "--schedule", str(var / "celerybeat-schedule")])  # fmt: skip
    spawn("server", [str(Path(PY).parent / "gunicorn"), "-c", "gunicorn.conf.py", "config.wsgi:application"])
    runs: list[dict] = []
    failed = 0
    try:
        wait_up(fake + "/__fake__/health")
        wait_up(base + "/readyz")
        time.sleep(3)  # the worker connects to the broker
        print(f"flash sale bench: {args.buyers} buyers / {args.stock} units, {args.runs} runs; {machine()}")
        print(f"gunicorn {args.gunicorn_workers} × {args.gunicorn_threads} (gthread, balanced accept), Celery worker "
              f"{args.worker_threads} threads and beat, PostgreSQL, Redis; fake KakaoPay {fake}")  # fmt: skip
        stamp = time.strftime("%H%M%S")
        for run in range(1, args.runs + 1):
            cmd = [PY, "manage.py", "kakao_simulate", "--app", "bench-flash", "--base", base, "--fake", fake,
                   "--buyers", str(args.buyers), "--stock", str(args.stock), "--quiet",
                   "--settle-timeout", str(args.settle_timeout),
                   # a product of its own: a failed run's held units never block the next one
                   "--flash-product", f"bench:flash-{stamp}-{run}"]  # fmt: skip
            if args.connections:
                cmd += ["--connections", str(args.connections)]
            if args.concurrency:
                cmd += ["--concurrency", str(args.concurrency)]
            load_before = os.getloadavg()[0]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.monotonic()
            out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
            wall = time.monotonic() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            text = out.stdout + out.stderr
            if args.show or out.returncode:
                print(text)
            figures = {name: float(m.group(1)) if (m := re.search(p, text)) else None for name, p in FIGURES.items()}
            figures |= {"wall_s": wall, "cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
                        "passed": out.returncode == 0 and "PASS  flash sale" in text, "load": load_before,
                        "latency": {m.group(1): [int(x) for x in m.groups()[1:]] for m in LATENCY.finditer(text)}}  # fmt: skip
            runs.append(figures)
            failed += not figures["passed"]
            print(f"run {run}: {'PASS' if figures['passed'] else 'FAIL'}  wall {wall:.1f} s (buyers "
                  f"{figures['buyers_s']} s), paid {figures['orders_paid']}, charged {figures['units_charged']}, "
                  f"oversold {figures['oversold']}, double charges {figures['double_charges']}, errors "
                  f"{figures['errors']}, mismatches {figures['mismatches']}; simulator CPU {figures['cpu_s']:.1f} s; "
                  f"load average before {load_before:.1f}")  # fmt: skip
            for step, (p50, p95, p99, top, n) in figures["latency"].items():
                print(f"    {step:<26} p50 {p50:>6} ms  p95 {p95:>6}  p99 {p99:>6}  max {top:>6}  n {n}")
    finally:
        for proc in reversed(procs):
            stop(proc)
        if own_var:
            shutil.rmtree(var, ignore_errors=True)
    if runs:
        def span(key: str) -> str:
            values = [r[key] for r in runs if r[key] is not None]
            return f"{min(values):.1f}–{max(values):.1f}" if values else "-"

        print(f"\nover {len(runs)} runs: wall {span('wall_s')} s, buyers {span('buyers_s')} s, simulator CPU "
              f"{span('cpu_s')} s, paid {span('orders_paid')}, oversold {span('oversold')}, double charges "
              f"{span('double_charges')}, errors {span('errors')}; {len(runs) - failed}/{len(runs)} PASS")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
