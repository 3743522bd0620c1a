"""The cache of option T1's serialized trees (bytes), one entry per product.

Whatever changes a product's tree or stock calls :func:`invalidate_products`.

A test app's T1 shows the test stock (``Option.test_stock``): its body differs, so it has its own
entry (``tree_key(code, livemode=False)``) under the product's one generation: an invalidation
makes both stale at once.

Each product has a *generation* (kakaoplugin.generations: a random token in the shared cache) and
an entry ``(generation, body bytes)``.  Invalidation writes a new generation and deletes the entry; an entry
is served only while its generation is the current one.  So a cold T1 that read the database just
before an edit committed cannot leave stale bytes behind: it stored them under the old generation.

Each process also keeps the bodies it served (bounded): a warm T1 is then one small cache read
(the generation, a few bytes) and no database query, instead of moving the whole body out of Redis
on every request.  The generation check keeps every process exact after any invalidation.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from django.conf import settings
from django.core.cache import cache

from kakaoplugin.generations import (
    LocalCopies,
    generation,
    generation_current,
    generation_start,
    generations_renew,
)

from .models import Product


def _safe(product_code: str) -> str:
    # Product ids are merchant text (Korean, spaces, colons): keep cache keys printable.
    return quote(product_code, safe=":-_.")


def tree_key(product_code: str, *, livemode: bool = True) -> str:
    return f"catalog:t1:{_safe(product_code)}" if livemode else f"catalog:t1test:{_safe(product_code)}"


def generation_key(product_code: str) -> str:
    return f"catalog:t1gen:{_safe(product_code)}"


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


def tree_generation(product_code: str) -> str | None:
    """The product's generation: what a cold read must store under (read it BEFORE the database)."""
    return generation_current(generation_key(product_code))


def cached_body(product_code: str, *, livemode: bool = True) -> tuple[bytes | None, str]:
    """``(body, generation)``: the T1 body when a current one is cached (else None), and the
    generation a cold read must store its body under (read it BEFORE reading the database)."""
    current = generation(generation_key(product_code))
    if current is None:  # never invalidated, or evicted: start one (no entry can match it yet)
        return None, generation_start(generation_key(product_code))
    local = _local.get((product_code, livemode))
    if local is not None and local[0] == current:
        return local[1], current
    entry = cache.get(tree_key(product_code, livemode=livemode))
    if entry is not None and entry[0] == current:
        _keep_local((product_code, livemode), current, entry[1])
        return entry[1], current
    return None, current


def store_body(product_code: str, generation: str | None, body: bytes, *, livemode: bool = True) -> None:
    if generation is None:
        return
    timeout = settings.CATALOG_T1_CACHE_SECONDS
    cache.set(tree_key(product_code, livemode=livemode), (generation, body), timeout=timeout)
    _keep_local((product_code, livemode), generation, body)


# Option T2's loaded trees (catalog.hot_reads.tree_load_cached), in this process only, under the
# same generations: served only while their generation is the current one.
trees = LocalCopies(limit=64)  # (product code, livemode) → LoadedTree


def invalidate_codes(codes: Iterable[str]) -> None:
    codes = list(codes)
    if not codes:
        return
    generations_renew(generation_key(code) for code in codes)
    for code in codes:
        for livemode in (True, False):
            _local.pop((code, livemode), None)
            trees.forget((code, livemode))
    cache.delete_many([tree_key(code, livemode=livemode) for code in codes for livemode in (True, False)])


def invalidate_products(*, product_pks: Iterable[int]) -> None:
    """Forget the cached T1 of these products (by primary key)."""
    pks = list(product_pks)
    if not pks:
        return
    invalidate_codes(Product.objects.filter(pk__in=pks).values_list("code", flat=True))
