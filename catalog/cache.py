"""The cache of option T1's serialized trees (bytes), one entry per product.

Whatever changes a product's tree or stock calls :func:`invalidate_products`.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.cache import cache

from .models import Product


def tree_key(product_code: str) -> str:
    return f"catalog:t1:{product_code}"


def invalidate_products(*, product_pks: Iterable[int]) -> None:
    """Forget the cached T1 of these products (by primary key)."""
    pks = list(product_pks)
    if not pks:
        return
    codes = Product.objects.filter(pk__in=pks).values_list("code", flat=True)
    cache.delete_many([tree_key(code) for code in codes])
