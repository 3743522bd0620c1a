"""``python manage.py export_option_tree PRODUCT_ID``: print a product's tree as T1 serves it."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from catalog.selectors import tree_export


class Command(BaseCommand):
    help = "Export a product's option tree in option T1's OptionResponse JSON format."

    def add_arguments(self, parser):
        parser.add_argument("product_id", help="the product's id as Kakao sends it (e.g. 101:10013529)")
        parser.add_argument("--output", "-o", help="write to this file instead of standard output")

    def handle(self, *args, **options):
        data = tree_export(code=options["product_id"])
        if data is None:
            raise CommandError(f"no product with id {options['product_id']!r}")
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8") as fh:
                fh.write(text)
        else:
            self.stdout.write(text, ending="")
