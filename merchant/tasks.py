"""Celery tasks of the merchant API (thin)."""

from __future__ import annotations

from celery import shared_task

from .idempotency import idempotency_purge


@shared_task(ignore_result=True)
def purge_idempotency_keys() -> int:
    """Daily (beat): forget idempotency keys past IDEMPOTENCY_KEY_HOURS."""
    return idempotency_purge()
