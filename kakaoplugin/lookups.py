"""Lookups by a unique key on the hot paths."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet


def one_or_none(queryset: QuerySet) -> Any:
    """The row (a model, a dict or a value, as the queryset yields) that a lookup by a unique key
    finds, or None: ``LIMIT 1`` without the ``ORDER BY`` that ``first()`` adds (the model's default
    ordering, else the primary key).  For one row the order means nothing, yet Django compiles it on
    every call and PostgreSQL sorts for it: on payment T1 and T2's own lookups that was a large
    part of the call's CPU."""
    return next(iter(queryset.order_by()[:1]), None)
