"""Writes of the demo app: the flash-sale product the simulator's load mode sells, and the
merchant API key its chatbot uses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction
from django.db.models import Max, Q, Sum

from catalog.cache import invalidate_products
from catalog.models import Option, Product, StockHold
from catalog.services import option_tree_import
from kakaoplugin.models import KakaoApp
from merchant.models import MerchantApiKey
from merchant.services import api_key_create, api_key_revoke

FLASH_PRODUCT = "sim:flash-sale"


class StockStillHeld(Exception):
    """Units of the product are held by unfinished payments: a new count would be wrong later
    (a released hold gives its units back on top of it)."""


def flash_sale_product_set(*, code: str = FLASH_PRODUCT, stock: int) -> Product:
    """Create or update the flash-sale product with ``stock`` units (one option holds them).

    Imported like any option tree (``catalog.services.option_tree_import``), which renews the
    product's option-T1 cache generation: with a shared cache (Redis) every server process sees
    the new stock at once.  (On the embedded default the cache is per process: a server that
    already served this product's T1 may show the old count in T1 until its next stock move; T2
    and the stock holds always read the database.)

    Refused (:class:`StockStillHeld`) while units are held by unfinished payments of an earlier
    sale: they expire after ``PAYMENT_HOLD_SECONDS`` and the sweeper gives them back.

    Both counters get ``stock``: the real one and the test one a test app's orders use (the demo
    app is a test app), so the sale runs the same through either kind of app.
    """
    held = StockHold.objects.filter(
        Q(product__code=code) | Q(option__product__code=code), state=StockHold.State.HELD
    ).aggregate(units=Sum("quantity"), until=Max("expires_at"))
    if held["units"]:
        raise StockStillHeld(
            f"{held['units']} units of {code} are still held by unfinished payments (until {held['until']:%H:%M:%S} UTC); "
            "the sweeper releases them when they expire"
        )
    tree = {
        "id": code,
        "name": "라이언 한정판 인형 (플래시 세일)",
        "price": 9900,
        "option_groups": [
            {
                "id": "한정판",
                "name": "한정판",
                "type": "SELECT",
                "description": "한 사람당 하나",
                "option_sub_groups": [
                    {
                        "id": "한정판",
                        "options": [{"id": "ryan-limited", "value": "라이언 한정판", "stock": stock}],
                    }
                ],
            }
        ],
    }
    with transaction.atomic():
        product = option_tree_import(
            data=tree,
            product_settings={"on_sale": True, "kind": "commerce", "tax_type": "taxable", "needs_shipping": True},
        )
        Option.objects.filter(product=product).update(test_stock=stock)
        transaction.on_commit(lambda: invalidate_products(product_pks=[product.pk]))
    return product


SIMULATOR_KEY_NAME = "kakao_simulate (one run)"


@contextmanager
def simulator_api_key(*, kakao_app: KakaoApp) -> Iterator[tuple[MerchantApiKey, str]]:
    """A merchant API key (scope ``orders``) for one simulator run, revoked when the run ends.

    Keys are stored hashed (the plain key is shown once), so a key an earlier run made cannot be
    read back: each run makes its own and revokes it after, leaving no usable key behind.  A
    merchant who wants the runs to use a key of theirs passes it (``--api-key``)."""
    key, plain = api_key_create(
        kakao_app=kakao_app, name=SIMULATOR_KEY_NAME, scopes=["orders"], created_by="kakao_simulate"
    )
    try:
        yield key, plain
    finally:
        api_key_revoke(api_key=key)
