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
APP = '''
import os, time

def app(environ, start_response):
    time.sleep(float(environ.get("QUERY_STRING") or 0))
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
'''


@pytest.fixture
def gunicorn(tmp_path):
    started = []

    def start(*, workers: int, threads: int) -> int:
        (tmp_path / "pidapp.py").write_text(APP)
        port = free_port()
        log = open(tmp_path / f"gunicorn-{port}.log", "wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "pidapp:app", "--config", "/dev/null", "--chdir", str(tmp_path),
             "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
             "--worker-class", WORKER, "--keep-alive", "30", "--timeout", "60", "--pythonpath", str(ROOT)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        started.append((proc, log))
        wait_for_port(port)
        pids = {_get(port) for _ in range(40)}  # every worker booted and answering
        deadline = time.monotonic() + 20
        while len(pids) < workers and time.monotonic() < deadline:
            pids |= {_get(port) for _ in range(10)}
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
    port = gunicorn(workers=2, threads=1)
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
    # worker was not scheduled within the busy one's hold (5 ms) on a loaded machine
    assert queued <= 3, f"{queued} of 20 requests waited behind the slow client"


def test_a_burst_of_keep_alive_connections_spreads_over_the_workers(gunicorn):
    """100 keep-alive connections opened at once, each then sending requests of 5 ms: every
    connection stays with the worker that accepted it, so a worker accepting the whole burst would
    serve it alone on one core."""
    port = gunicorn(workers=2, threads=4)

    def client(_):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            pids = set()
            for _ in range(3):
                conn.request("GET", "/?0.005")
                pids.add(conn.getresponse().read().decode())
            assert len(pids) == 1  # kept alive on one worker
            return pids.pop()
        finally:
            conn.close()

    with ThreadPoolExecutor(100) as pool:
        per_worker = Counter(pool.map(client, range(100)))
    assert len(per_worker) == 2 and min(per_worker.values()) >= 25, per_worker
