"""The hard total deadline of a KakaoPay call (see :mod:`kakaoplugin.clients.kakaopay`).

``requests``' timeouts bound each connect and each read, not the whole call: a :class:`Watch`
(a watchdog timer) shuts the call's sockets down when its deadline has passed, whatever they are
blocked on, and :func:`read_within` reads the body in chunks against the same clock.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import requests
import urllib3.poolmanager
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

# The watchdog fires this long after the deadline, so that a plain hold (no byte at all) still ends
# as the read timeout at the deadline; only a trickle, which resets the read timeout on every byte,
# is cut by the watchdog.
WATCHDOG_GRACE_SECONDS = 0.2
# How long after our call ended KakaoPay may still act on it (its own processing of a request
# whose caller hung up) and the clock skew between our processes: part of the in-flight bound.
IN_FLIGHT_MARGIN_SECONDS = 5.0
MAX_ANSWER_BYTES = 1 << 20

_local = threading.local()


class Watch:
    """One call's deadline: when it fires, every connection the call used is shut down, which ends
    any read or write blocked on it (a held or trickled answer included)."""

    def __init__(self, seconds: float):
        self.lock = threading.Lock()
        self.conns: list[HTTPConnection] = []
        self.fired = False
        self.timer = threading.Timer(seconds, self.fire)
        self.timer.daemon = True

    def add(self, conn: HTTPConnection) -> None:
        with self.lock:
            self.conns.append(conn)
            fired = self.fired
        if fired:
            _shutdown(conn)

    def fire(self) -> None:
        with self.lock:
            self.fired = True
            conns = list(self.conns)
        for conn in conns:
            _shutdown(conn)

    def __enter__(self) -> Watch:
        _local.watch = self
        self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timer.cancel()
        _local.watch = None


def _shutdown(conn: HTTPConnection) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _watched(conn: HTTPConnection) -> None:
    watch = getattr(_local, "watch", None)
    if watch is not None:
        watch.add(conn)


class _WatchedConnection:
    """Mixed into urllib3's connections: the call in progress on this thread watches them."""

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        _watched(self)  # type: ignore[arg-type]

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watched(self)  # type: ignore[arg-type]
        super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_WatchedConnection, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedConnection, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


def _watch_pools(manager: Any) -> Any:
    if manager.pool_classes_by_scheme is urllib3.poolmanager.pool_classes_by_scheme:  # not SOCKS
        manager.pool_classes_by_scheme = _POOLS
    return manager


class _DeadlineAdapter(HTTPAdapter):
    """requests' adapter whose connections the current call's watchdog can shut down.  No retries
    (``requests``' default): a POST is never sent twice by the transport."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _watch_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        return _watch_pools(super().proxy_manager_for(proxy, **kwargs))


def session() -> requests.Session:
    """One keep-alive session per thread (requests.Session is not thread-safe)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
        session.mount("http://", _DeadlineAdapter())
        session.mount("https://", _DeadlineAdapter())
    return session


class DeadlineExceeded(Exception):
    pass


class AnswerTooLarge(Exception):
    pass


def read_within(resp: requests.Response, started: float, deadline: float) -> bytes:
    """The body, read in chunks against the call's clock (and at most ``MAX_ANSWER_BYTES``)."""
    chunks: list[bytes] = []
    size = 0
    for chunk in resp.iter_content(chunk_size=4096):
        chunks.append(chunk)
        size += len(chunk)
        if time.monotonic() - started > deadline:
            raise DeadlineExceeded(f"answer still arriving after {deadline:g} s")
        if size > MAX_ANSWER_BYTES:
            raise AnswerTooLarge(f"answer larger than {MAX_ANSWER_BYTES} bytes")
    return b"".join(chunks)
