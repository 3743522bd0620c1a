"""The example client (examples/catalog_sync.py) syncs a 1,000-option product from a CSV and its
stock from another, over HTTP against a live server, and a second run changes nothing."""

from __future__ import annotations

import csv
import importlib.util
import io

import pytest

from catalog.models import Option, Product
from merchant.services import api_key_create
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db(transaction=True)

SIZES = [f"S{i}" for i in range(10)]
COLOURS = [f"C{j:02d}" for j in range(100)]


def _example():
    spec = importlib.util.spec_from_file_location("catalog_sync", ROOT / "examples" / "catalog_sync.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_1000_option_product_and_its_stock_from_csv(live_server, kakao_app, tmp_path):
    _, key = api_key_create(kakao_app=kakao_app, name="erp", scopes=["catalog"])
    products = tmp_path / "products.csv"
    with products.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["product_id", "product_name", "price", "size", "color", "add_price", "stock", "sku"])
        for size in SIZES:
            for colour in COLOURS:
                w.writerow(["ERP-1", "ERP 티셔츠", 15000, size, colour, 500 if colour == "C00" else 0, 5, f"ERP-1-{size}-{colour}"])
    example = _example()
    out = io.StringIO()
    assert example.main(["--base", live_server.url, "--key", key, "products", str(products)], out) == 0
    assert "ERP-1: created (1000 options)" in out.getvalue()
    product = Product.objects.get(code="ERP-1")
    assert Option.objects.filter(product=product).count() == 1010
    leaf = Option.objects.get(product=product, sub_group__sub_group_id="S3:색상", option_id="C00")
    assert (leaf.add_price, leaf.stock, leaf.extra) == (500, 5, "ERP-1-S3-C00")
    pks = set(Option.objects.filter(product=product).values_list("pk", flat=True))

    out = io.StringIO()
    assert example.main(["--base", live_server.url, "--key", key, "products", str(products)], out) == 0
    assert "ERP-1: already sent, unchanged (the server replayed its answer 201)" in out.getvalue()
    assert set(Option.objects.filter(product=product).values_list("pk", flat=True)) == pks  # identity kept

    stock = tmp_path / "stock.csv"
    with stock.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["sku", "stock"])
        for size in SIZES:
            for j, colour in enumerate(COLOURS):
                w.writerow([f"ERP-1-{size}-{colour}", j])
    out = io.StringIO()
    assert example.main(["--base", live_server.url, "--key", key, "stock", str(stock)], out) == 0
    assert "stock rows 1–1000: set" in out.getvalue()
    assert Option.objects.get(pk=leaf.pk).stock == 0
    assert Option.objects.get(product=product, sub_group__sub_group_id="S9:색상", option_id="C99").stock == 99

    with stock.open("a", newline="", encoding="utf-8") as f:
        csv.writer(f).writerow(["NO-SUCH-SKU", 1])
    out = io.StringIO()
    assert example.main(["--base", live_server.url, "--key", key, "stock", str(stock)], out) == 1
    assert "line 1002 (NO-SUCH-SKU): sku 'NO-SUCH-SKU': no option has it" in out.getvalue()
