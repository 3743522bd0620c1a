"""Celery tasks of the catalog (thin: ids in, the work in catalog.cache)."""

from __future__ import annotations

from celery import shared_task

from .cache import invalidate_codes, invalidate_products


@shared_task(ignore_result=True)
def forget_cached_trees(product_pks: list[int], codes: list[str] | None = None) -> None:
    """Renew the cached T1 of these products (and of these product ids, a code that changed).

    Owed after a commit through the outbox (kakaoplugin.outbox, run inline by the committing
    process): a cache that is down then delays the renewal instead of failing the call.
    """
    invalidate_products(product_pks=product_pks)
    invalidate_codes(codes or [])
