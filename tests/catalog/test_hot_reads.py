"""Payment T1's subscription plan read from the process's copy under the product's generation
(catalog.hot_reads): no query while nothing changed; a committed plan change renews the generation
in the shared cache, so every process reads it again."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.cache import generation_key
from catalog.hot_reads import subscription_plan_active
from kakaoplugin.generations import generation
from tests.support.subscriptions import make_plan


@pytest.mark.django_db(transaction=True)
def test_the_plan_is_kept_per_process_and_a_committed_change_renews_every_copy():
    plan = make_plan(code="SUB-HOT")
    product = plan.product
    assert subscription_plan_active(product=product) == plan
    with CaptureQueriesContext(connection) as queries:
        assert subscription_plan_active(product=product) == plan
    assert queries.captured_queries == []
    token = generation(generation_key(product.code))
    plan.active = False
    plan.save()  # committed: the product's generation renewed after it
    assert generation(generation_key(product.code)) not in (None, token)
    assert subscription_plan_active(product=product) is None  # sold as a single payment again
    plan.delete()
    assert subscription_plan_active(product=product) is None


@pytest.mark.django_db(transaction=True)
def test_a_plan_moved_to_another_product_renews_both_and_a_product_save_is_seen_at_once():
    plan = make_plan(code="SUB-A")
    other = make_plan(code="SUB-B").product
    other.subscription_plan.delete()
    first = plan.product
    assert subscription_plan_active(product=first) == plan and subscription_plan_active(product=other) is None
    plan.product = other
    plan.save()
    assert subscription_plan_active(product=first) is None
    assert subscription_plan_active(product=other) == plan
    tokens = generation(generation_key(other.code))
    other.name = "renamed"
    other.save()  # a plain model save renews the product's generation after its commit
    assert generation(generation_key(other.code)) not in (None, tokens)
