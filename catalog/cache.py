"""The cache of option T1's serialized trees (bytes), one entry per product.

Whatever changes a product's tree or stock calls :func:`invalidate_products`.

Each product has two keys: the entry ``(generation, body bytes)`` and its current generation (a
random token).  Invalidation writes a new generation and deletes the entry; a reader accepts an
entry only when its generation is the current one.  So a cold T1 that read the database just before
an edit committed cannot leave stale bytes behind: it stored them under the old generation.  A
warm T1 is one round trip to the cache (``get_many`` of both keys) and no database query.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from urllib.parse import quote

from django.conf import settings
from django.core.cache import cache

from .models import Product


def _safe(product_code: str) -> str:
    # Product ids are merchant text (Korean, spaces, colons): keep cache keys printable.
    return quote(product_code, safe=":-_.")


def tree_key(product_code: str) -> str:
    return f"catalog:t1:{_safe(product_code)}"


def generation_key(product_code: str) -> str:
    return f"catalog:t1gen:{_safe(product_code)}"


def cached_body(product_code: str) -> tuple[bytes | None, str | None]:
    """``(body, generation)``: the cached T1 body when current (else None), and the generation
    a cold read must store its body under."""
    tk, gk = tree_key(product_code), generation_key(product_code)
    found = cache.get_many([tk, gk])
    generation = found.get(gk)
    entry = found.get(tk)
    if entry is not None and entry[0] == generation:
        return entry[1], generation
    return None, generation


def store_body(product_code: str, generation: str | None, body: bytes) -> None:
    cache.set(tree_key(product_code), (generation, body), timeout=settings.CATALOG_T1_CACHE_SECONDS)


def invalidate_codes(codes: Iterable[str]) -> None:
    codes = list(codes)
    if not codes:
        return
    cache.set_many({generation_key(code): secrets.token_hex(8) for code in codes}, timeout=None)
    cache.delete_many([tree_key(code) for code in codes])


def invalidate_products(*, product_pks: Iterable[int]) -> None:
    """Forget the cached T1 of these products (by primary key)."""
    pks = list(product_pks)
    if not pks:
        return
    invalidate_codes(Product.objects.filter(pk__in=pks).values_list("code", flat=True))
