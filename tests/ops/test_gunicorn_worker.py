"""gunicorn's worker (config/gunicorn_worker.py): a new connection goes to a worker with a free thread.

Real gunicorn processes on a spare port, serving a small WSGI app that answers its worker's pid
(no Django: the worker class is what is tested)."""

from __future__ import annotations

import http.client
import runpy
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.processes import ROOT, free_port, stop, wait_for_port

WORKER = "config.gunicorn_worker.BalancedThreadWorker"
# The same worker holding back 100 ms instead of 5: the idle worker is then sure to be scheduled
# within the hold, even on a loaded machine (the reproduction's verdict depends on nothing else)
PATIENT = '''
from config.gunicorn_worker import BalancedThreadWorker


class PatientWorker(BalancedThreadWorker):
    hold_back = 0.1
'''
APP = '''
import os, time

def app(environ, start_response):
    busy_until = time.perf_counter() + float(environ.get("QUERY_STRING") or 0)
    while time.perf_counter() < busy_until:  # CPU, as a Django view spends it
        pass
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
'''


@pytest.fixture
def gunicorn(tmp_path):
    started = []

    def start(*, workers: int, threads: int, worker_class: str = WORKER) -> int:
        (tmp_path / "pidapp.py").write_text(APP)
        (tmp_path / "patient.py").write_text(PATIENT)
        port = free_port()
        log = open(tmp_path / f"gunicorn-{port}.log", "wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "pidapp:app", "--config", "/dev/null", "--chdir", str(tmp_path),
             "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
             "--worker-class", worker_class, "--keep-alive", "30", "--timeout", "60", "--pythonpath", str(ROOT)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        started.append((proc, log))
        wait_for_port(port)
        pids = {_get(port) for _ in range(40)}  # every worker booted and answering
        deadline = time.monotonic() + 20
        while len(pids) < workers and time.monotonic() < deadline:
            pids |= {_get(port) for _ in range(10)}
        assert len(pids) == workers, f"not every worker answers: {pids}"
        return port

    yield start
    for proc, log in started:
        stop(proc)
        log.close()


def _get(port: int, *, seconds: float = 0, timeout: float = 5) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", f"/?{seconds}" if seconds else "/")
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def test_the_project_serves_with_the_balanced_worker():
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["worker_class"] == WORKER


def test_a_request_is_not_queued_behind_a_worker_whose_only_thread_is_taken(gunicorn):
    """The reproduction (gthread): a slow client holds worker A's only thread; a request arriving
    meanwhile was as likely to be accepted by A (and wait there) as by the idle worker B."""
    port = gunicorn(workers=2, threads=1, worker_class="patient.PatientWorker")
    queued = 0
    for _ in range(20):
        slow = socket.create_connection(("127.0.0.1", port))
        try:
            slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # headers never finished: its thread waits
            time.sleep(0.2)
            try:
                assert _get(port, timeout=1)
            except TimeoutError:
                queued += 1  # accepted by the worker whose thread waits on the slow client
        finally:
            slow.close()
    # gthread: about half of them (≤ 3 of 20 by chance: 0.13 %); here none, unless the idle
    # worker was not scheduled within the busy one's hold
    assert queued <= 3, f"{queued} of 20 requests waited behind the slow client"


def test_a_burst_of_keep_alive_connections_spreads_over_the_workers(gunicorn):
    """200 keep-alive connections opened at once, each sending requests of 1 ms of CPU in turn (as
    wrk's connections do): every connection stays with the worker that accepted it. With gthread the
    worker awake first often took the larger part and served it on its one core (391 and 209 of
    600 in one run here, not in every run: the slow-client test above is the sure reproduction)."""
    port = gunicorn(workers=2, threads=4)

    def client(_) -> str:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            pids = set()
            for _ in range(10):
                conn.request("GET", "/?0.001")
                pids.add(conn.getresponse().read().decode())
            assert len(pids) == 1  # kept alive on one worker
            return pids.pop()
        finally:
            conn.close()

    per_worker = Counter()
    for _ in range(3):
        with ThreadPoolExecutor(200) as pool:
            per_worker.update(pool.map(client, range(200)))
    assert len(per_worker) == 2 and min(per_worker.values()) >= 264, per_worker  # ≥ 44 % of 600 each
