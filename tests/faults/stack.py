"""A whole deployment on spare ports, started and broken by the fault suite (issue 12).

Its own PostgreSQL cluster (``initdb`` into a temporary directory, a unix socket there, a spare TCP
port), its own Redis (no persistence), the fake Kakao/KakaoPay, gunicorn, a Celery worker and
Celery beat as its own process, all as child processes of the test, configured as production is
(``DEBUG=false``).  The shared PostgreSQL and Redis of the machine are never touched.

Faults: :meth:`Stack.restart_postgres`, :meth:`Stack.restart_redis`, :meth:`Stack.kill_worker`;
each measures how long the service took to be ready again.
"""

from __future__ import annotations

import base64
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import requests

from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "faults"
PLUGIN_KEY = "faults-plugin-key-" + "0" * 32
APP = "faults"


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else name


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the ``postgres`` user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def wait_for(predicate, *, timeout: float, interval: float = 0.2, what: str = "condition") -> float:
    """Poll until ``predicate()`` is truthy; returns the seconds it took."""
    started = time.monotonic()
    while True:
        try:
            if predicate():
                return time.monotonic() - started
        except Exception:  # noqa: BLE001 - a service still starting answers anything
            pass
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what} not within {timeout:.0f} s")
        time.sleep(interval)


@dataclass
class Stack:
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kp-faults-")))
    pg_port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)
    web_port: int = field(default_factory=free_port)
    fake_port: int = field(default_factory=free_port)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: dict[str, object] = field(default_factory=dict)

    # --- addresses and environment -------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def fake_url(self) -> str:
        return f"http://127.0.0.1:{self.fake_port}"

    @property
    def database_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.pg_port}/kp_faults"

    def env(self, **extra: str) -> dict[str, str]:
        from tests.conftest import fake_environment

        env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "DJANGO_", "PYTEST"))}
        return env | fake_environment(self.fake_url) | {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "CACHE_URL": f"redis://127.0.0.1:{self.redis_port}/1",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "false", "SECRET_KEY": "faults-" + "s" * 50, "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",  # TLS ends at a proxy in production; here plain HTTP
            "FIELD_ENCRYPTION_KEY": base64.urlsafe_b64encode(b"fault-suite-fernet-key-32-bytes!").decode(),
            "PUBLIC_BASE_URL": self.base_url, "VAR_DIR": str(self.tmp / "var"), "PYTHONUNBUFFERED": "1",
            # the reconciler window: a dead runner's lease, a stalled approval; and how long a buyer
            # who left (no pg_token) holds stock or a pending order stays W, until the sweeper fails it
            "PAYMENT_LEASE_SECONDS": "15", "PAYMENT_STALLED_SECONDS": "10",
            "PAYMENT_HOLD_SECONDS": "45", "PAYMENT_PENDING_TTL_SECONDS": "45",
            "GUNICORN_BIND": f"127.0.0.1:{self.web_port}",
            "GUNICORN_WORKERS": os.environ.get("FAULTS_GUNICORN_WORKERS", "2"),
            "GUNICORN_THREADS": os.environ.get("FAULTS_GUNICORN_THREADS", "4"),
            **extra,
        }  # fmt: skip

    # --- processes -------------------------------------------------------------------------------

    def _spawn(self, name: str, cmd: list[str], **kw) -> subprocess.Popen:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        log = self.logs.get(name) or open(ARTIFACTS / f"{name}.log", "ab")  # noqa: SIM115
        self.logs[name] = log
        log.write(f"\n===== {time.strftime('%H:%M:%S')} start {' '.join(cmd[:6])}\n".encode())
        log.flush()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=kw.pop("env", None) or self.env(), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, **kw)  # fmt: skip
        self.procs[name] = proc
        return proc

    def _stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def manage(self, *args: str, timeout: float = 300) -> str:
        out = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env(), capture_output=True,
                             text=True, timeout=timeout)  # fmt: skip
        if out.returncode:
            raise RuntimeError(f"manage.py {args[0]} failed: {out.stdout[-2000:]}{out.stderr[-2000:]}")
        return out.stdout

    # --- PostgreSQL --------------------------------------------------------------------------------

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(_as_postgres([_pg_bin("pg_ctl"), "-D", str(self.tmp / "pg"), *args]), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)  # fmt: skip

    def start_postgres(self) -> None:
        data = self.tmp / "pg"
        if not data.exists():
            data.mkdir()
            if os.geteuid() == 0:
                shutil.chown(self.tmp, "postgres")
                shutil.chown(data, "postgres")
            subprocess.run(_as_postgres([_pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                         "-E", "UTF8", "--no-sync"]), check=True, capture_output=True, timeout=120)  # fmt: skip
        options = (f"-p {self.pg_port} -k {self.tmp} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")  # fmt: skip
        self._pg_ctl("-l", str(self.tmp / "postgres.log"), "-w", "-t", "60", "-o", options, "start")

    def stop_postgres(self) -> None:
        self._pg_ctl("-m", "fast", "-w", "-t", "60", "stop")

    def sql(self, query: str, *params) -> list[tuple]:
        conn = psycopg2.connect(host="127.0.0.1", port=self.pg_port, user="postgres", dbname="kp_faults",
                                connect_timeout=5)  # fmt: skip
        try:
            with conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall()
        finally:
            conn.close()

    # --- Redis -------------------------------------------------------------------------------------

    def start_redis(self) -> None:
        self._spawn("redis", ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", str(self.tmp)], env=dict(os.environ))  # fmt: skip
        wait_for(lambda: socket.create_connection(("127.0.0.1", self.redis_port), timeout=1).close() or True,
                 timeout=30, what="redis")  # fmt: skip

    def stop_redis(self) -> None:
        self._stop("redis")

    # --- the application ---------------------------------------------------------------------------

    def start_fake(self) -> None:
        self._spawn("fake", [sys.executable, "-m", "fakekakao", "--port", str(self.fake_port)])
        wait_for(lambda: requests.get(self.fake_url + "/__fake__/health", timeout=1).ok, timeout=30, what="the fake")

    def start_web(self) -> None:
        self._spawn("web", [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py",
                            "config.wsgi:application"])  # fmt: skip
        wait_for(self.ready, timeout=60, what="gunicorn /readyz")

    def start_worker(self) -> float:
        """Start the worker; returns the seconds until it was ready to consume."""
        log = ARTIFACTS / "worker.log"
        offset = log.stat().st_size if log.exists() else 0
        self._spawn("worker", [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "threads",
                               "--concurrency", "4", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
                               "--hostname", "faults-worker@%h"])  # fmt: skip

        def ready() -> bool:
            with open(log, "rb") as f:
                f.seek(offset)
                return b" ready." in f.read()

        return wait_for(ready, timeout=90, what="the celery worker")

    def start_beat(self) -> None:
        self._spawn("beat", [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                             "--schedule", str(self.tmp / "celerybeat-schedule")])  # fmt: skip

    def ready(self) -> bool:
        """Our /readyz: the web process reaches PostgreSQL and the broker."""
        return requests.get(self.base_url + "/readyz", timeout=3).status_code == 200

    def start(self) -> Stack:
        self.start_postgres()
        self.sql_admin("CREATE DATABASE kp_faults")
        self.start_redis()
        self.start_fake()
        self.manage("migrate", "--noinput", "-v0")
        self.manage("kakao_app", "--name", APP, "--environment", "test", "--rest-api-key", "faults-rest-api-key",
                    "--admin-key", "faults-admin-key-0000000000", "--cid", "TC0ONETIME", "--wrap-approval-url", "no",
                    "--payment-plugin-id", "faults-payment-plugin", "--plugin-key", PLUGIN_KEY,
                    "--base-url", self.base_url)  # fmt: skip
        self.start_web()
        self.start_worker()
        self.start_beat()
        return self

    def sql_admin(self, statement: str) -> None:
        conn = psycopg2.connect(host="127.0.0.1", port=self.pg_port, user="postgres", dbname="postgres")
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
        finally:
            conn.close()

    def stop(self) -> None:
        for name in ("beat", "worker", "web", "fake", "redis"):
            self._stop(name)
        try:
            self.stop_postgres()
        except Exception:  # noqa: BLE001 - already down
            pass
        for log in self.logs.values():
            log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- the faults --------------------------------------------------------------------------------

    def plugin_ok(self) -> bool:
        """A plugin path that reads the database (the gate's app lookup, T4's order read) answers a
        JSON envelope, not a 5xx."""
        try:
            r = requests.get(f"{self.base_url}/plugin/{PLUGIN_KEY}/order/status", params={"order_id": "po_probe"},
                             timeout=5)  # fmt: skip
            return r.status_code < 500 and isinstance(r.json(), dict)
        except (requests.RequestException, ValueError):
            return False

    def _back(self, started: float, down: float) -> dict[str, float]:
        """Once the component is back: how long until /readyz, and how many of the next 40 plugin
        calls (one at a time, spread over gunicorn's threads) still failed (stale connections)."""
        back = time.monotonic()
        ready = wait_for(self.ready, timeout=120, interval=0.1, what="/readyz after the fault")
        probes = [self.plugin_ok() for _ in range(40)]
        ok = wait_for(self.plugin_ok, timeout=120, interval=0.1, what="a plugin path after the fault")
        return {"down_s": round(back - started, 1), "outage_planned_s": down, "ready_after_back_s": round(ready, 1),
                "plugin_failures_of_next_40": probes.count(False), "plugin_ok_after_probes_s": round(ok, 1)}  # fmt: skip

    def restart_postgres(self, down: float = 5.0) -> dict[str, float]:
        started = time.monotonic()
        self.stop_postgres()
        time.sleep(down)
        self.start_postgres()
        return self._back(started, down)

    def restart_redis(self, down: float = 3.0) -> dict[str, float]:
        started = time.monotonic()
        self.stop_redis()
        time.sleep(down)
        self.start_redis()
        info = self._back(started, down)
        worker = self.procs.get("worker")
        # does the worker survive the restart (issue 12 item 3)?  Give it a few seconds to fall over.
        time.sleep(5)
        info["worker_survived"] = float(worker is not None and worker.poll() is None)
        return info

    def kill_worker(self, down: float = 2.0) -> dict[str, float]:
        started = time.monotonic()
        proc = self.procs.pop("worker")
        os.killpg(proc.pid, signal.SIGKILL)  # the worker and anything it started
        proc.wait(timeout=10)
        time.sleep(down)  # what a supervisor takes to notice and restart it
        ready = self.start_worker()
        return {"down_s": round(time.monotonic() - started, 1), "worker_ready_s": round(ready, 1)}

    def revive(self) -> None:
        """After a scenario: whatever died and was not brought back (a worker that exited on a
        Redis restart: issue 12 item 3) is restarted, so the next scenario starts whole."""
        for name, start in (("worker", self.start_worker), ("beat", self.start_beat)):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                self.procs.pop(name, None)
                start()


def parse_report(output: str) -> dict[str, int]:
    """The figures the simulator's flash sale printed."""
    patterns = {
        "successes": r"successes:\s+(\d+)",
        "failures": r"failures:\s+(\d+)",
        "errors": r"errors:\s+(\d+)\n",
        "units_charged": r"units charged:\s+(\d+) of",
        "orders_paid": r"orders paid:\s+(\d+)",
        "unsettled": r"unsettled:\s+(\d+)",
        "plugin_answers": r"plugin answers:\s+(\d+)",
        "non_json": r"non-JSON (\d+),",
        "5xx": r"5xx (\d+) of which",
        "503_retry_after": r"Retry-After (\d+);",
        "no_answer": r"no answer (\d+)\)",
        "effect_errors": r"errors for calls that took effect: (\d+)",
        "oversold": r"oversold units:\s+(\d+)",
        "double_charges": r"double charges:\s+(\d+)",
        "mismatches": r"answer mismatches: (\d+)",
    }
    found = {}
    for name, pattern in patterns.items():
        m = re.search(pattern, output)
        if m is None:
            raise AssertionError(f"the simulator printed no {name!r}:\n{output[-3000:]}")
        found[name] = int(m.group(1))
    return found
