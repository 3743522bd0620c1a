"""Generations: what lets a process keep a copy of something read on a hot path (a product's option
tree, a store's rules) and still never serve it after a change.

Each cached thing has a *generation*: a random token in the shared cache under a key of its own.
Whatever changes the thing renews the token (after its commit); a copy is served only while the
token it was stored under is the current one. A reader takes the token BEFORE it reads the database
and stores its copy under that token: a change committed in between renews the token, so that copy
is never served. Reading a token is one small cache read (``MGET`` on the calling thread's own
connection, kakaoplugin.fast_reads) instead of the database queries it saves.

:class:`LocalCopies` keeps the copies of one process (bounded): option T1's bodies and option T2's
trees (catalog.cache, catalog.hot_reads), payment T1's subscription plans (catalog.hot_reads), the
store rules (orders.rules), the blocked members (kakaoplugin.selectors); docs/architecture.md,
"What each process keeps". While the cache does not answer, :func:`generation` answers None (so
nothing kept is served) without trying again for ``_BACKOFF_SECONDS``.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterable
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import transaction

from .fast_reads import mget

logger = logging.getLogger(__name__)

# Read on every warm hot call, so through one long-lived Redis client (Django's RedisCache builds a
# new redis.Redis object per call, which costs more than the round trip itself). Keys carry
# Django's prefix and version: clearing Django's cache clears them too.
_client_lock = threading.Lock()
_client: tuple[str, redis.Redis] | None = None


def _redis() -> redis.Redis | None:
    global _client
    if not isinstance(caches["default"], RedisCache):
        return None
    url = settings.CACHES["default"]["LOCATION"]
    current = _client
    if current is None or current[0] != url:
        timeout = settings.CACHE_SOCKET_TIMEOUT_SECONDS  # a Redis that stops answering costs this, not minutes
        with _client_lock:
            current = _client = (url, redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout))
    return current[1]


# A read that fails (Redis down or not answering) is answered "no token" for _BACKOFF_SECONDS
# without trying again: the callers read the database meanwhile (no copy is served or kept).
_BACKOFF_SECONDS = 5.0
_down_until = 0.0


def _read(fetch) -> str | None:
    global _down_until
    if _down_until > time.monotonic():
        return None
    try:
        value = fetch()
    except Exception:
        _down_until = time.monotonic() + _BACKOFF_SECONDS
        logger.warning("generations: the cache is unavailable; reading the database for %.0f s", _BACKOFF_SECONDS,
                       exc_info=True)  # fmt: skip
        return None
    if isinstance(value, bytes):
        return value.decode()
    return value


def generation(key: str) -> str | None:
    """The current token under ``key``, or None when there is none (never renewed, or evicted; or
    the cache unavailable: then nothing kept is served)."""
    client = _redis()
    if client is None:
        return _read(lambda: cache.get(key))
    return _read(lambda: mget(client, [cache.make_key(key)])[0])


def generation_start(key: str) -> str | None:
    """Set a token when there is none; return the current one (None: the cache unavailable)."""
    token = secrets.token_hex(8)
    client = _redis()
    if client is None:

        def start():
            cache.add(key, token, timeout=None)
            return cache.get(key)
    else:
        made = cache.make_key(key)

        def start():
            client.set(made, token, nx=True)
            return client.get(made)

    return _read(start)


def generation_current(key: str) -> str | None:
    """The current token, started when there is none: what a cold read stores its copy under."""
    return generation(key) or generation_start(key)


def generations_renew(keys: Iterable[str]) -> None:
    """New tokens: every copy stored under the old ones is stale, in every process."""
    tokens = {key: secrets.token_hex(8) for key in keys}
    if not tokens:
        return
    client = _redis()
    if client is None:
        cache.set_many(tokens, timeout=None)
    else:
        client.mset({cache.make_key(k): v for k, v in tokens.items()})


class LocalCopies:
    """One process's copies, each under the token it was read with; at most ``limit`` of them (the
    oldest kept dropped first). ``max_age`` (seconds): a copy older than that is read again even
    under the same token, a bound for a renewal that was lost (the cache unreachable just after a
    change's commit)."""

    def __init__(self, limit: int, *, max_age: float | None = None):
        self.limit = limit
        self.max_age = max_age
        self._copies: dict[Any, tuple[str, Any, float]] = {}

    def get(self, key: Any, token: str | None) -> Any | None:
        entry = self._copies.get(key)
        if entry is None or token is None or entry[0] != token:
            return None
        if self.max_age is not None and time.monotonic() - entry[2] > self.max_age:
            return None
        return entry[1]

    def keep(self, key: Any, token: str | None, value: Any) -> None:
        if token is None:
            return
        self._copies.pop(key, None)
        while len(self._copies) >= self.limit:
            try:
                del self._copies[next(iter(self._copies))]  # the oldest kept
            except (StopIteration, KeyError, RuntimeError):  # another thread emptied it meanwhile
                break
        self._copies[key] = (token, value, time.monotonic())

    def forget(self, key: Any) -> None:
        self._copies.pop(key, None)

    def renew_after_commit(self, key: Any, generation_key: str) -> None:
        """A change of what ``key`` copies: this process's copy at once, every process's after the
        commit (a copy read before it, here or elsewhere, was stored under the token it replaces).
        A renewal that fails (the cache unreachable) is logged; ``max_age`` bounds it."""
        self.forget(key)

        def renew() -> None:
            try:
                generations_renew([generation_key])
            except Exception:
                logger.warning("could not renew %s: copies are read again within their max age", generation_key,
                               exc_info=True)  # fmt: skip

        transaction.on_commit(renew)
