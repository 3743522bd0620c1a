"""Writes of the demo app: the flash-sale product the simulator's load mode sells."""

from __future__ import annotations

from django.db.models import Max, Q, Sum

from catalog.models import Product, StockHold
from catalog.services import option_tree_import

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
    return option_tree_import(
        data=tree,
        product_settings={"on_sale": True, "kind": "commerce", "tax_type": "taxable", "needs_shipping": True},
    )
