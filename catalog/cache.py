"""The cache of option T1's serialized trees (bytes), one entry per product.

Whatever changes a product's tree or stock calls :func:`invalidate_products`.

A test app's T1 shows the test stock (``Option.test_stock``): its body differs, so it has its own
entry (``tree_key(code, livemode=False)``) under the product's one generation: an invalidation
makes both stale at once.

Each product has a *generation* (a random token in the shared cache) and an entry
``(generation, body bytes)``.  Invalidation writes a new generation and deletes the entry; an entry
is served only while its generation is the current one.  So a cold T1 that read the database just
before an edit committed cannot leave stale bytes behind: it stored them under the old generation.

Each process also keeps the bodies it served (bounded): a warm T1 is then one small cache read
(the generation, a few bytes) and no database query, instead of moving the whole body out of Redis
on every request.  The generation check keeps every process exact after any invalidation.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from urllib.parse import quote

import redis
from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache

from kakaoplugin.fast_reads import mget

from .models import Product


def _safe(product_code: str) -> str:
    # Product ids are merchant text (Korean, spaces, colons): keep cache keys printable.
    return quote(product_code, safe=":-_.")


def tree_key(product_code: str, *, livemode: bool = True) -> str:
    return f"catalog:t1:{_safe(product_code)}" if livemode else f"catalog:t1test:{_safe(product_code)}"


def generation_key(product_code: str) -> str:
    return f"catalog:t1gen:{_safe(product_code)}"


# --- generations: read on every warm T1, so through one long-lived Redis client ----------------
# (Django's RedisCache builds a new redis.Redis object per call, which costs more than the round
# trip itself.)  Keys carry Django's prefix and version; clearing Django's cache clears them too.

_client_lock = threading.Lock()
_client: tuple[str, redis.Redis] | None = None


def _redis() -> redis.Redis | None:
    global _client
    if not isinstance(_default_backend(), RedisCache):
        return None
    url = settings.CACHES["default"]["LOCATION"]
    current = _client
    if current is None or current[0] != url:
        with _client_lock:
            current = _client = (url, redis.Redis.from_url(url))
    return current[1]


def _default_backend():
    from django.core.cache import caches

    return caches["default"]


def _generation(product_code: str) -> str | None:
    client = _redis()
    key = cache.make_key(generation_key(product_code))
    if client is None:
        return cache.get(generation_key(product_code))
    (value,) = mget(client, [key])  # the hottest read of T1: kakaoplugin.fast_reads
    return None if value is None else value.decode()


def _generation_start(product_code: str) -> str | None:
    """Set a generation when there is none; return the current one."""
    token = secrets.token_hex(8)
    client = _redis()
    if client is None:
        cache.add(generation_key(product_code), token, timeout=None)
        return cache.get(generation_key(product_code))
    key = cache.make_key(generation_key(product_code))
    client.set(key, token, nx=True)
    value = client.get(key)
    return None if value is None else value.decode()


def _generations_renew(codes: list[str]) -> None:
    client = _redis()
    tokens = {generation_key(code): secrets.token_hex(8) for code in codes}
    if client is None:
        cache.set_many(tokens, timeout=None)
    else:
        client.mset({cache.make_key(k): v for k, v in tokens.items()})


LOCAL_MAX_BYTES = 64 * 1024 * 1024
_local: dict[tuple[str, bool], tuple[str, bytes]] = {}  # (product code, livemode) → entry
_local_bytes = 0


def _keep_local(local_key: tuple[str, bool], generation: str, body: bytes) -> None:
    global _local_bytes
    if _local_bytes + len(body) > LOCAL_MAX_BYTES:
        _local.clear()
        _local_bytes = 0
    old = _local.get(local_key)
    _local[local_key] = (generation, body)
    _local_bytes += len(body) - (len(old[1]) if old else 0)


def generation_current(product_code: str) -> str | None:
    """The product's generation: what a cold read must store under (read it BEFORE the database)."""
    # never invalidated, or evicted: start one (no entry can match it yet)
    return _generation(product_code) or _generation_start(product_code)


def cached_body(product_code: str, *, livemode: bool = True) -> tuple[bytes | None, str]:
    """``(body, generation)``: the T1 body when a current one is cached (else None), and the
    generation a cold read must store its body under (read it BEFORE reading the database)."""
    generation = _generation(product_code)
    if generation is None:  # never invalidated, or evicted: start one (no entry can match it yet)
        return None, _generation_start(product_code)
    local = _local.get((product_code, livemode))
    if local is not None and local[0] == generation:
        return local[1], generation
    entry = cache.get(tree_key(product_code, livemode=livemode))
    if entry is not None and entry[0] == generation:
        _keep_local((product_code, livemode), generation, entry[1])
        return entry[1], generation
    return None, generation


def store_body(product_code: str, generation: str | None, body: bytes, *, livemode: bool = True) -> None:
    if generation is None:
        return
    timeout = settings.CATALOG_T1_CACHE_SECONDS
    cache.set(tree_key(product_code, livemode=livemode), (generation, body), timeout=timeout)
    _keep_local((product_code, livemode), generation, body)


# Option T2's loaded trees (catalog.selectors.tree_load_cached), in this process only, under the
# same generations: served only while their generation is the current one.
LOCAL_MAX_TREES = 64
_trees: dict[tuple[str, bool], tuple[str, object]] = {}


def local_tree(product_code: str, generation: str, *, livemode: bool) -> object | None:
    entry = _trees.get((product_code, livemode))
    return entry[1] if entry is not None and entry[0] == generation else None


def keep_tree(product_code: str, generation: str, tree: object, *, livemode: bool) -> None:
    if len(_trees) >= LOCAL_MAX_TREES and (product_code, livemode) not in _trees:
        _trees.clear()
    _trees[(product_code, livemode)] = (generation, tree)


def invalidate_codes(codes: Iterable[str]) -> None:
    codes = list(codes)
    if not codes:
        return
    _generations_renew(codes)
    for code in codes:
        for livemode in (True, False):
            _local.pop((code, livemode), None)
            _trees.pop((code, livemode), None)
    cache.delete_many([tree_key(code, livemode=livemode) for code in codes for livemode in (True, False)])


def invalidate_products(*, product_pks: Iterable[int]) -> None:
    """Forget the cached T1 of these products (by primary key)."""
    pks = list(product_pks)
    if not pks:
        return
    invalidate_codes(Product.objects.filter(pk__in=pks).values_list("code", flat=True))
