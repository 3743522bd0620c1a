"""``python manage.py import_option_tree FILE.json``: create or update products from T1 JSON.

The file holds one OptionResponse (or a captured T1 answer ``{"status":200,"data":{...}}``), or a
list of them.  Every tree is checked by the one validator first; nothing is written when any fails.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from catalog.models import Product
from catalog.services import option_tree_import, unwrap
from catalog.tree import TreeInvalid


class Command(BaseCommand):
    help = "Import option trees in option T1's OptionResponse JSON format (create or update by id)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="JSON file ('-' for standard input)")
        sale = parser.add_mutually_exclusive_group()
        sale.add_argument("--on-sale", dest="on_sale", action="store_true", default=None)
        sale.add_argument("--not-on-sale", dest="on_sale", action="store_false")
        parser.add_argument("--kind", choices=Product.Kind.values)
        parser.add_argument("--tax-type", choices=Product.TaxType.values)
        ship = parser.add_mutually_exclusive_group()
        ship.add_argument("--shipping", dest="needs_shipping", action="store_true", default=None)
        ship.add_argument("--no-shipping", dest="needs_shipping", action="store_false")
        parser.add_argument("--product-url")

    def handle(self, *args, **options):
        try:
            if options["file"] == "-":
                import sys

                data = json.load(sys.stdin)
            else:
                with open(options["file"], encoding="utf-8") as fh:
                    data = json.load(fh)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read {options['file']}: {exc}") from exc
        trees = [unwrap(t) for t in data] if isinstance(data, list) else [unwrap(data)]
        settings = {
            key: options[key]
            for key in ("on_sale", "kind", "tax_type", "needs_shipping", "product_url")
            if options.get(key) is not None
        }
        try:
            with transaction.atomic():
                products = [option_tree_import(data=tree, product_settings=settings) for tree in trees]
        except TreeInvalid as exc:
            raise CommandError("option tree refused:\n  " + "\n  ".join(exc.errors)) from exc
        for product in products:
            self.stdout.write(f"imported {product.code} ({product.name})")
