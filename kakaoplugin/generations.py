"""Generations: what lets a process keep a copy of something read on a hot path (a product's option
tree, a store's rules) and still never serve it after a change.

Each cached thing has a *generation*: a random token in the shared cache under a key of its own.
Whatever changes the thing renews the token (after its commit); a copy is served only while the
token it was stored under is the current one. A reader takes the token BEFORE it reads the database
and stores its copy under that token: a change committed in between renews the token, so that copy
is never served. Reading a token is one small cache read (``MGET`` on the calling thread's own
connection, kakaoplugin.fast_reads) instead of the database queries it saves.

:class:`LocalCopies` keeps the copies of one process (bounded); catalog.cache keeps option T1's
bodies this way and option T2's trees, orders.rules the store rules of payment T1 and T2.
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
        with _client_lock:
            current = _client = (url, redis.Redis.from_url(url))
    return current[1]


def generation(key: str) -> str | None:
    """The current token under ``key``, or None when there is none (never renewed, or evicted)."""
    client = _redis()
    if client is None:
        return cache.get(key)
    (value,) = mget(client, [cache.make_key(key)])
    return None if value is None else value.decode()


def generation_start(key: str) -> str | None:
    """Set a token when there is none; return the current one."""
    token = secrets.token_hex(8)
    client = _redis()
    if client is None:
        cache.add(key, token, timeout=None)
        return cache.get(key)
    made = cache.make_key(key)
    client.set(made, token, nx=True)
    value = client.get(made)
    return None if value is None else value.decode()


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
    """One process's copies, each under the token it was read with; at most ``limit`` of them (all
    dropped when full: the next reads load them again). ``max_age`` (seconds): a copy older than
    that is read again even under the same token, a bound for a renewal that was lost (the cache
    unreachable just after a change's commit)."""

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
        if len(self._copies) >= self.limit and key not in self._copies:
            self._copies.clear()
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
