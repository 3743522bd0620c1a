"""gunicorn's threaded worker, accepting a new connection only while one of its threads is free.

gunicorn's ``gthread`` workers share one listening socket: every idle worker is woken by a new
connection and whichever runs first accepts it, however many requests it already has queued. A
burst of keep-alive connections (Kakao's pollers, a proxy's upstream pool, a load generator)
can thus settle mostly on one worker, which then serves them all on its one CPU while the other
workers idle: measured with wrk, 200 connections to 2 workers, T4's throughput moved between
0.35× and 0.8× of the minimal view from one run to the next as the connections happened to fall.
A connection accepted by a worker whose threads are all taken also waits behind them while
another worker has a thread free.

:class:`BalancedThreadWorker` accepts at once while it has a thread free. A worker with as many
requests in hand (running or queued for its threads) as threads holds back: woken by a waiting
connection, it stops listening for ``hold_back`` seconds (5 ms), then takes what is still waiting (at most
one connection per thread), leaving every connection a free worker can take to that worker. When
every worker is busy, they take turns, so a burst spreads over them instead of settling on the
first one awake, and a connection waits in the backlog only while the busy workers take their
turns with the ones before it.

The listening socket stays the master's (a restarting worker loses no queued connection, unlike
``reuse_port``'s socket per worker), keep-alive connections stay with the worker that accepted
them, and ``worker_connections`` still caps each worker.
"""

from __future__ import annotations

import time

from gunicorn.workers.gthread import ThreadWorker


class BalancedThreadWorker(ThreadWorker):
    hold_back = 0.005  # seconds a busy worker leaves a waiting connection to the others

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.in_hand = 0  # requests submitted to the thread pool and not finished (main thread only)
        self.holding_since: float | None = None  # a busy worker saw a connection waiting (monotonic)

    def set_accept_enabled(self, enabled):
        # gunicorn's loop asks to listen while the worker is under worker_connections
        super().set_accept_enabled(enabled and self.holding_since is None)

    def accept(self, listener):
        if self.in_hand < self.cfg.threads:
            super().accept(listener)
        else:
            self.holding_since = time.monotonic()
            super().set_accept_enabled(False)

    def _end_hold(self, *, take_waiting: bool) -> None:
        """Listen again; first, when the hold ran out, take what no free worker took."""
        self.holding_since = None
        if take_waiting:
            self._take_what_still_waits()
        self.set_accept_enabled(self.nr_conns < self.worker_connections)

    def _take_what_still_waits(self) -> None:
        """The connections no free worker took during the hold, one per thread at most."""
        for listener in self.sockets:
            for _ in range(self.cfg.threads):
                if self.nr_conns >= self.worker_connections:
                    return
                before = self.nr_conns
                super().accept(listener)  # non-blocking: nothing waiting any more is no error
                if self.nr_conns == before:
                    break

    def wait_for_and_dispatch_events(self, timeout):
        if self.holding_since is not None:
            left = self.holding_since + self.hold_back - time.monotonic()
            if not self.alive:  # stopping: accept nothing more
                self.holding_since = None
            elif left <= 0:
                self._end_hold(take_waiting=True)
            else:
                timeout = min(timeout, left)
        super().wait_for_and_dispatch_events(timeout)

    def enqueue_req(self, conn):
        self.in_hand += 1
        super().enqueue_req(conn)

    def finish_request(self, conn, fs):
        self.in_hand -= 1
        super().finish_request(conn, fs)
        if self.holding_since is not None and self.in_hand < self.cfg.threads and self.alive:
            self._end_hold(take_waiting=False)  # a thread is free again: listen (a waiting one comes now)
