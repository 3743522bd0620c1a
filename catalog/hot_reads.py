"""The catalog's reads on the plugins' hot paths, served from what each process keeps under the
product's generation (catalog.cache, kakaoplugin.generations; docs/architecture.md, "What each
process keeps"): option T1's answer, option T2's tree, payment T1's subscription plan."""

from __future__ import annotations

import logging

from django.db import transaction

from kakaoplugin.generations import LocalCopies
from kakaoplugin.lookups import one_or_none

from . import cache as tree_cache
from .models import Product, SubscriptionPlan
from .selectors import LoadedTree, option_t1_body, tree_load

logger = logging.getLogger(__name__)


def tree_load_cached(*, code: str, livemode: bool = True) -> LoadedTree | None:
    """Option T2's tree: the one this process loaded under the product's current generation (one
    small cache read, no query), else :func:`tree_load`, kept under the generation read before it.
    As fresh as T1's cached body: every change of the tree or its stock renews the generation."""
    generation = tree_cache.tree_generation(code)  # None while the cache is unavailable
    if generation is not None:
        tree = tree_cache.trees.get((code, livemode), generation)
        if tree is not None:
            return tree
    tree = tree_load(code=code, livemode=livemode)
    if tree is not None and generation is not None:
        tree_cache.trees.keep((code, livemode), generation, tree)
    return tree


# Payment T1 asks each product's active plan (정기결제) on every call: each process keeps it under
# the product's generation, renewed when a plan is saved or deleted (:func:`watch_subscription_plans`;
# a minute at most if a renewal is lost). The copy is shared by the process's threads: read it only.
_PLANS = LocalCopies(limit=1024, max_age=60.0)


def subscription_plan_active(*, product: Product) -> SubscriptionPlan | None:
    """The product's active subscription plan, or None (the product sells as a single payment)."""
    token = tree_cache.tree_generation(product.code)  # None while the cache is unavailable
    kept = _PLANS.get(product.pk, token)
    if kept is not None:
        return kept[0]
    plan = one_or_none(SubscriptionPlan.objects.filter(product=product, active=True))
    _PLANS.keep(product.pk, token, (plan,))
    return plan


def _plan_before_save(sender, instance, **kwargs) -> None:
    """Remember the product a plan had (a plan moved to another product changes both answers)."""
    instance._product_before = (
        None if instance.pk is None
        else SubscriptionPlan.objects.filter(pk=instance.pk).values_list("product_id", flat=True).first()
    )  # fmt: skip


def _plan_saved(sender, instance, **kwargs) -> None:
    product_pks = {instance.product_id, getattr(instance, "_product_before", None)} - {None}
    for pk, code in Product.objects.filter(pk__in=product_pks).values_list("pk", "code"):
        _PLANS.renew_after_commit(pk, tree_cache.generation_key(code))


def _product_saved(sender, instance, **kwargs) -> None:
    """A product saved through its model (price, on sale, name: what option T1 and T2 read): this
    process's copies at once, every process's answer after the commit (catalog.cache). The
    catalog's services renew it as well; this covers a plain ``save()``."""
    code = instance.code
    for livemode in (True, False):
        tree_cache.trees.forget((code, livemode))
    _PLANS.forget(instance.pk)
    transaction.on_commit(lambda: tree_cache.invalidate_codes([code]), robust=True)


def watch_catalog_writes() -> None:
    """Connect the renewals (CatalogConfig.ready)."""
    from django.db.models.signals import post_delete, post_save, pre_save

    pre_save.connect(_plan_before_save, sender=SubscriptionPlan, dispatch_uid="catalog.plans.before")
    post_save.connect(_plan_saved, sender=SubscriptionPlan, dispatch_uid="catalog.plans.saved")
    post_delete.connect(_plan_saved, sender=SubscriptionPlan, dispatch_uid="catalog.plans.deleted")
    post_save.connect(_product_saved, sender=Product, dispatch_uid="catalog.products.saved")
    post_delete.connect(_product_saved, sender=Product, dispatch_uid="catalog.products.deleted")


def option_t1_body_cached(code: str, *, livemode: bool = True) -> bytes | None:
    """T1's body for this product id: from the cache (no query) or built and cached (five
    queries); None when no such product exists.  A test app's (``livemode`` false) shows the
    test stock, cached apart from the live answer."""
    try:
        body, generation = tree_cache.cached_body(code, livemode=livemode)
    except Exception:  # the cache is down: answer from the database rather than fail
        logger.exception("T1 cache unavailable")
        body, generation = None, None
    if body is not None:
        return body
    tree = tree_load(code=code, livemode=livemode)
    if tree is None:
        return None
    body = option_t1_body(tree)
    if generation is not None:
        try:
            tree_cache.store_body(code, generation, body, livemode=livemode)
        except Exception:
            logger.exception("T1 cache unavailable")
    return body
