"""The worker and its broker stopping and starting again: nothing is lost, nothing runs twice.

- ``bin/run`` on the embedded default, Ctrl-C while a task waits for its retry's countdown, then
  ``bin/run`` again: the worker put the task back in the broker's folder and the next one runs it,
  once (issue 13).
- A Redis restart while approvals wait for their retries: the worker lives on (kombu's Redis
  transport made it exit, issue 12 item 3) and every order settles with no manual step.  Against a
  Redis server of its own on a spare port (skipped without ``redis-server``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kombu import Connection

from orders.models import Order
from orders.tasks import approve_order
from tests.conftest import ARTIFACTS, ROOT, stop_process, wait_until, worker_command, worker_environment
from tests.support.payments import Buyer, make_product, make_sheet
from tests.support.processes import free_port
from tests.support.webhooks import Receiver

pytestmark = pytest.mark.worker


# --- bin/run, Ctrl-C, bin/run -------------------------------------------------------------------


def _bin_run(env: dict, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        proc = subprocess.Popen(["bin/run"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 240
    while "until Ctrl-C" not in log.read_text(encoding="utf-8", errors="replace"):
        assert proc.poll() is None, log.read_text(encoding="utf-8", errors="replace")
        assert time.monotonic() < deadline, log.read_text(encoding="utf-8", errors="replace")
        time.sleep(0.5)
    text = log.read_text(encoding="utf-8")
    assert "every scenario passed" in text, text
    return proc


def _ctrl_c(proc: subprocess.Popen) -> None:
    """What a terminal does on Ctrl-C: SIGINT to the whole foreground process group."""
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=90)


def test_bin_run_stopped_with_ctrl_c_and_started_again_loses_nothing_and_repeats_nothing(tmp_path):
    port, fake_port = free_port(), free_port()
    var = tmp_path / "var"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "CACHE_URL", "CELERY_"))
    } | {
        "VAR_DIR": str(var), "PORT": str(port), "FAKE_PORT": str(fake_port), "PYTHONUNBUFFERED": "1",
        "WEBHOOK_RETRY_BASE_SECONDS": "10", "WEBHOOK_ALLOW_LOCAL": "true",  # the receiver is on 127.0.0.1
    }  # fmt: skip
    receiver = Receiver(fail_first=1)
    procs = []
    try:
        procs.append(_bin_run(env, tmp_path / "run-1.log"))
        # A merchant's webhook, in bin/run's database, through our own services; the receiver
        # answers the first attempt 500: the worker holds the retry for its 10 s countdown.
        script = (
            "from kakaoplugin.models import KakaoApp\n"
            "from kakaoplugin.services import webhook_emit, webhook_endpoint_create\n"
            "app = KakaoApp.objects.get(name='demo')\n"
            f"webhook_endpoint_create(kakao_app=app, url={receiver.url!r}, event_types=['restart.check'])\n"
            "webhook_emit(kakao_app=app, event_type='restart.check', data={'n': 1}, idempotency_key='restart-1')\n"
        )
        subprocess.run([".venv/bin/python", "manage.py", "shell", "-c", script], cwd=ROOT, env=env, check=True, timeout=60)
        wait_until(lambda: len(receiver.received) == 1, timeout=30, message="the first (failing) attempt")
        _ctrl_c(procs[0])
        assert len(receiver.received) == 1
        # the retry, put back in the broker's folder by the worker as it stopped
        assert list((var / "broker" / "queue").glob("*.msg")), "no task left in the broker's folder"

        procs.append(_bin_run(env, tmp_path / "run-2.log"))
        wait_until(lambda: len(receiver.received) == 2, timeout=60, message="the retry after the restart")
        time.sleep(3)
        assert len(receiver.received) == 2  # once more, not twice
        assert receiver.received[0]["body"] == receiver.received[1]["body"]
    finally:
        receiver.close()
        for proc in procs:
            if proc.poll() is None:
                _ctrl_c(proc)


# --- Redis restarted under pending retries (issue 12, item 3) ------------------------------------


class OwnRedis:
    """A redis-server of this test's own (never the shared one), persisted like compose's."""

    def __init__(self, folder: Path):
        self.port = free_port()
        self.folder = folder
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--appendonly", "yes", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_a_redis_restart_under_pending_retries_leaves_the_worker_running_and_orders_settle(
    kakao_app, plugin_base, fake_kakao, fake_kakao_server, tmp_path
):
    if not shutil.which("redis-server"):
        pytest.skip("needs redis-server (a Redis of the test's own, on a spare port)")
    redis = OwnRedis(tmp_path)
    redis.start()
    ARTIFACTS.mkdir(exist_ok=True)
    env = worker_environment(
        fake_kakao_server.url,
        CELERY_BROKER_URL=redis.url,
        PAYMENT_RETRY_BASE_SECONDS="3",
        PAYMENT_STALLED_SECONDS="2",
        PERIODIC_SWEEP_SECONDS="2",
    )
    hostname = f"restart-worker-{os.getpid()}@%h"
    worker_log = open(ARTIFACTS / "celery-worker-redis-restart.log", "ab")  # noqa: SIM115
    beat_log = open(ARTIFACTS / "celery-beat-redis-restart.log", "ab")  # noqa: SIM115
    worker = subprocess.Popen(worker_command(hostname), cwd=ROOT, env=env, stdout=worker_log,
                              stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    beat = subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO"],
                            cwd=ROOT, env=env, stdout=beat_log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        orders = []
        product, option = make_product(option_stock=5)
        for n in range(3):
            # past T2 and T3 (tid, pg_token, stock held); KakaoPay will answer the first approve 500
            buyer = Buyer(plugin_base, fake_kakao.url, app_user_id=f"user-{n}")
            buyer.t1(make_sheet(kakao_app, product, option, app_user_id=f"user-{n}").pk)
            buyer.ready()
            buyer.authorize()
            fake_kakao.fault("approve", "error500", match={"tid": buyer.tid})
            assert buyer.t2() == {"status": 200}
            Order.objects.filter(partner_order_id=buyer.partner_order_id).update(pg_token=buyer.pg_token)
            orders.append(Order.objects.get(partner_order_id=buyer.partner_order_id))
        broker = Connection(redis.url, transport="kakaoplugin.brokers:RedisTransport")
        with broker:
            for order in orders:
                approve_order.apply_async((order.pk,), connection=broker)
        # every first approve answered 500: each task now waits for its retry (3 s countdown)
        wait_until(lambda: len(fake_kakao.calls("approve")) >= 3, timeout=60, message="the first approves")
        redis.stop()
        time.sleep(1)
        redis.start()
        deadline = time.monotonic() + 90
        wait_until(
            lambda: Order.objects.filter(pk__in=[o.pk for o in orders], status=Order.Status.PAID).count() == 3,
            timeout=90, message="every order settled after the Redis restart",
        )  # fmt: skip
        assert time.monotonic() < deadline
        assert worker.poll() is None, "the worker exited on the Redis restart"
        tids = fake_kakao.state()["kakaopay"]["tids"]
        assert all(tids[o.tid]["approvals"] == 1 for o in orders)
    finally:
        stop_process(beat)
        stop_process(worker)
        worker_log.close()
        beat_log.close()
        redis.stop()


# --- one beat; the supervisor -------------------------------------------------------------------


def _beat(env: dict, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_a_second_beat_waits_and_takes_over_when_the_first_dies(celery_worker, fake_kakao_server, tmp_path):
    env = worker_environment(fake_kakao_server.url, PERIODIC_SWEEP_SECONDS="1")
    first_log, second_log = tmp_path / "beat-1.log", tmp_path / "beat-2.log"
    first = _beat(env, first_log)
    second = None
    try:
        wait_until(lambda: "Sending due task" in first_log.read_text(), timeout=60, message="the first beat sending")
        second = _beat(env, second_log)
        wait_until(lambda: "another beat holds the schedule lock" in second_log.read_text(), timeout=60,
                   message="the second beat waiting")  # fmt: skip
        time.sleep(2)
        assert "Sending due task" not in second_log.read_text()  # one beat sends, never two
        os.killpg(first.pid, signal.SIGKILL)  # the lock goes with the process
        wait_until(lambda: "Sending due task" in second_log.read_text(), timeout=30, message="the standby taking over")
    finally:
        for proc in (first, second):
            if proc is not None:
                stop_process(proc)


def test_the_supervisor_starts_its_command_again_and_stops_it_on_ctrl_c(tmp_path):
    marks = tmp_path / "starts"
    command = ["sh", "-c", f"echo started >> {marks}; exec sleep 60"]
    supervisor = subprocess.Popen([sys.executable, "-m", "kakaoplugin.supervise", "sleeper", "--", *command],
                                  cwd=ROOT, stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    try:
        wait_until(lambda: marks.exists() and marks.read_text().count("started") == 1, message="the first start")
        child = int(subprocess.run(["pgrep", "-P", str(supervisor.pid)], capture_output=True, text=True).stdout.split()[0])
        os.kill(child, signal.SIGKILL)  # a crash
        wait_until(lambda: marks.read_text().count("started") == 2, timeout=10, message="the start after the crash")
        os.killpg(supervisor.pid, signal.SIGINT)  # Ctrl-C
        assert supervisor.wait(timeout=10) == 0
        assert "exited with -9; starting it again" in supervisor.stderr.read()
        assert subprocess.run(["pgrep", "-f", str(marks)], capture_output=True).returncode == 1  # nothing left
    finally:
        if supervisor.poll() is None:
            os.killpg(supervisor.pid, signal.SIGKILL)


@pytest.mark.django_db(transaction=True)
def test_the_schedule_is_in_the_database_and_a_task_paused_there_stays_paused(celery_worker, fake_kakao_server, tmp_path):
    from django.conf import settings
    from django_celery_beat.models import PeriodicTask

    env = worker_environment(fake_kakao_server.url, PERIODIC_SWEEP_SECONDS="1")
    first_log, second_log = tmp_path / "beat-1.log", tmp_path / "beat-2.log"
    beat = _beat(env, first_log)
    try:
        wait_until(lambda: "Sending due task orders.reconcile_payments" in first_log.read_text(), timeout=60,
                   message="the reconciler sent")  # fmt: skip
    finally:
        stop_process(beat)
    assert set(settings.CELERY_BEAT_SCHEDULE) <= set(PeriodicTask.objects.values_list("name", flat=True))
    # staff untick "enabled" in the admin (Periodic tasks)
    PeriodicTask.objects.filter(name="orders.reconcile_payments").update(enabled=False)
    beat = _beat(env, second_log)
    try:
        wait_until(lambda: second_log.read_text().count("Sending due task orders.sweep_expired_orders") >= 3,
                   timeout=60, message="three sweeps sent")  # fmt: skip
    finally:
        stop_process(beat)
    assert "Sending due task orders.reconcile_payments" not in second_log.read_text()
    assert PeriodicTask.objects.get(name="orders.reconcile_payments").enabled is False
