"""A merchant in a real browser on the catalog admin: adds a product, builds its option tree with
the combination generator, edits leaf prices and stock in the grid (a bad cell refused, then
fixed), previews T1; option T1 over HTTP on the live server then serves the new prices and stock
(the cached answer it served before the edit was forgotten)."""

from __future__ import annotations

import json

import requests

from catalog.models import Option, Product

from .conftest import admin_login, make_staff

CATALOG_PERMS = (
    "catalog.view_product", "catalog.add_product", "catalog.change_product",
    *(f"catalog.{action}_{model}" for model in ("optiongroup", "optionsubgroup", "option")
      for action in ("view", "add", "change", "delete")),
)  # fmt: skip
CODE = "101:20250001"
AXES = "사이즈: S, M, L\n색상: R, G, B"
COMBINATIONS = [f"{size} / {color}" for size in "SML" for color in "RGB"]


def option_t1(live_server, kakao_app, code: str = CODE) -> dict:
    """Option T1 as Kakao calls it: GET /plugin/<key>/options?id=<product id>."""
    r = requests.get(f"{live_server.url}/plugin/{kakao_app.plugin_key}/options", params={"id": code}, timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == 200, body
    return body


def leaves(t1: dict) -> dict[str, dict]:
    """The leaf options of a T1 answer (the 색상 group's sub-groups) by combination: "S / R" → option."""
    groups = {g["id"]: g for g in t1["data"]["option_groups"]}
    out = {}
    for sub_group in groups["색상"]["option_sub_groups"]:
        size = sub_group["id"].split(":")[0]
        for option in sub_group["options"]:
            out[f"{size} / {option['value']}"] = option
    return out


def grid_row(page, combination: str):
    row = page.locator("form[method=post] tbody tr").filter(has=page.locator(f"td:text-is('{combination}')"))
    assert row.count() == 1, combination
    return row


def set_cells(page, combination: str, **cells: str) -> None:
    row = grid_row(page, combination)
    for field, value in cells.items():
        row.locator(f"input[name^='{field}-']").fill(value)


def test_merchant_builds_a_product_with_the_generator_edits_the_grid_and_previews_option_t1(page, shot, live_server, kakao_app):
    admin_login(page, make_staff("merchant", *CATALOG_PERMS))

    # --- a new product -------------------------------------------------------------------------
    page.click("#content-main tr.model-product th a")
    page.wait_for_url("**/admin/catalog/product/")
    page.click("#content-main a.addlink")
    page.wait_for_url("**/admin/catalog/product/add/")
    page.fill("#id_code", CODE)
    page.fill("#id_name", "반팔 티셔츠")
    page.fill("#id_price", "19000")
    page.fill("#id_product_url", "https://shop.example.com/p/tee")
    shot("add-product")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    product = Product.objects.get(code=CODE)
    page.wait_for_url(f"**/admin/catalog/product/{product.pk}/change/")
    shot("product-saved")
    assert (product.name, product.price, product.on_sale) == ("반팔 티셔츠", 19000, True)
    assert not product.option_groups.exists()

    # --- the combination generator --------------------------------------------------------------
    page.click(f"#content .object-tools a[href$='/{product.pk}/combinations/']")
    page.wait_for_url(f"**/{product.pk}/combinations/")
    page.fill("#id_axes", "사이즈 S M L")  # no colon: refused, said why
    page.click("#content input[type=submit].default")
    page.wait_for_selector("#content .errorlist")
    shot("generator-refuses")
    assert "line 1: write 'name: a, b'" in page.inner_text("#content .errorlist")
    assert not product.option_groups.exists()

    page.fill("#id_axes", AXES)
    page.fill("#id_stock", "10")
    shot("generator")
    page.click("#content input[type=submit].default")
    page.wait_for_url(f"**/{product.pk}/grid/")
    message = page.inner_text(".messagelist .success")
    shot("grid-generated")
    assert "Generated 9 combination(s)" in message
    rows = page.locator("form[method=post] tbody tr")
    assert rows.count() == 9  # the leaves: one per combination
    assert [rows.nth(i).locator("td").first.inner_text().strip() for i in range(9)] == COMBINATIONS
    assert Option.objects.filter(product=product).count() == 3 + 9
    assert all(o.stock == 10 and o.add_price is None for o in Option.objects.filter(product=product, sub_group__group__group_id="색상"))

    # Kakao asks for the tree now: the generated one (and T1 caches it)
    before = leaves(option_t1(live_server, kakao_app))
    assert sorted(before) == sorted(COMBINATIONS)
    assert before["M / G"] == {"id": "G", "value": "G", "stock": 10}

    # --- prices and stock in the grid: a bad cell is refused, nothing saved ----------------------
    set_cells(page, "M / G", add_price="1,000", stock="3")
    set_cells(page, "L / B", add_price="2000", stock="-1")
    page.click("form[method=post] input[type=submit].default")
    page.wait_for_selector("#content ul.errorlist")
    shot("grid-refuses-negative-stock")
    assert "stock must not be negative" in page.inner_text("#content ul.errorlist")
    assert Option.objects.get(product=product, sub_group__sub_group_id="M:색상", option_id="G").stock == 10

    set_cells(page, "M / G", add_price="1,000", stock="3")  # the page came back as stored: type again
    set_cells(page, "L / B", add_price="2000", stock="0")
    set_cells(page, "S / R", stock="", extra="SKU-SR")  # empty stock: unlimited
    shot("grid-edited")
    page.click("form[method=post] input[type=submit].default")
    page.wait_for_selector(".messagelist .success")
    shot("grid-saved")
    assert "Updated 3 option(s)" in page.inner_text(".messagelist .success")
    assert grid_row(page, "M / G").locator("input[name^='add_price-']").input_value() == "1000"
    assert grid_row(page, "L / B").locator("input[name^='stock-']").input_value() == "0"
    leaf = {
        path: Option.objects.get(product=product, sub_group__sub_group_id=f"{path[0]}:색상", option_id=path[-1])
        for path in ("M / G", "L / B", "S / R")
    }
    assert (leaf["M / G"].add_price, leaf["M / G"].stock) == (1000, 3)
    assert (leaf["L / B"].add_price, leaf["L / B"].stock) == (2000, 0)
    assert (leaf["S / R"].stock, leaf["S / R"].extra) == (None, "SKU-SR")

    # --- the T1 preview: the chain and the JSON ---------------------------------------------------
    page.click(f"#content .object-tools a[href$='/{product.pk}/preview/']")
    page.wait_for_url(f"**/{product.pk}/preview/")
    shot("t1-preview")
    assert page.locator("#content > h2").first.inner_text() == f"반팔 티셔츠 [{CODE}]"  # the product, under the title
    content = page.inner_text("#content")
    assert "The tree follows every rule" in content
    chain = {}
    for tr in page.locator("#content table tbody tr").all():
        steps, add, unit, stock, extra = (td.inner_text().strip() for td in tr.locator("td").all())
        chain[steps] = (add, unit, stock, extra)
    assert len(chain) == 9
    assert chain["사이즈=M → 색상=G"] == ("1000", "20000", "3", "")
    assert chain["사이즈=L → 색상=B"] == ("2000", "21000", "0", "")
    assert chain["사이즈=S → 색상=R"] == ("0", "19000", "∞", "SKU-SR")
    assert chain["사이즈=S → 색상=G"] == ("0", "19000", "10", "")
    shown = json.loads(page.inner_text("#content pre:below(h2:text-is('T1 answer'))"))

    # --- and Kakao gets the new tree: the cached answer was forgotten ------------------------------
    served = option_t1(live_server, kakao_app)
    assert served == shown  # the preview shows exactly what T1 serves
    after = leaves(served)
    assert after["M / G"] == {"id": "G", "value": "G", "add_price": 1000, "stock": 3}
    assert after["L / B"] == {"id": "B", "value": "B", "add_price": 2000, "stock": 0}
    assert after["S / R"] == {"id": "R", "value": "R", "extra": "SKU-SR"}  # no stock: unlimited
    assert after["S / G"] == before["S / G"] == {"id": "G", "value": "G", "stock": 10}
    data = served["data"]
    assert (data["id"], data["name"], data["price"]) == (CODE, "반팔 티셔츠", 19000)
    size = data["option_groups"][0]
    assert size["id"] == "사이즈" and [o["value"] for o in size["option_sub_groups"][0]["options"]] == ["S", "M", "L"]
    assert size["option_sub_groups"][0]["options"][1]["relate_option_groups"] == [{"group_id": "색상", "sub_group_id": "M:색상"}]

    # --- the tree on the product's page (nested inlines) ------------------------------------------
    page.click(f"#content .object-tools a[href$='/catalog/product/{product.pk}/change/']")
    page.wait_for_url(f"**/admin/catalog/product/{product.pk}/change/")
    page.wait_for_selector("input[value='M:색상']")
    shot("tree-page")
    assert page.locator("input[name$='-option_id'][value='G']").count() == 3


def test_merchant_edits_a_leaf_on_the_page_of_a_1000_option_product(page, shot, live_server):
    """The whole tree of 1,010 options on one page: it opens (nested-admin's scripts run over every
    row without an error), a leaf's stock is changed and the page saves (its ~11,000 fields were
    refused with a 400 before)."""
    from tests.support.trees import thousand_option_product

    product = thousand_option_product()
    admin_login(page, make_staff("merchant", *CATALOG_PERMS))
    # ~2 s to render on a quiet machine, far more on a loaded one: not a timing test, wait for it
    page.goto(f"/admin/catalog/product/{product.pk}/change/", timeout=90_000)
    leaf = Option.objects.get(product=product, sub_group__sub_group_id="c9:사이즈", option_id="s99")
    hidden_id = page.locator(f"input[name$='-id'][value='{leaf.pk}']")
    stock = page.locator(f"input[name='{hidden_id.get_attribute('name').removesuffix('-id')}-stock']")
    assert stock.input_value() == "5"
    assert page.locator("input[name$='-option_id']:not([name*='__prefix__'])").count() == 1010
    stock.fill("1")
    # Saving posts ~12,000 fields that the one tree validator checks: seconds on a quiet machine, more
    # on a shared 2-core one. This is not a timing test (bench/catalog_admin.py measures it): wait.
    page.click("input[name=_save]", no_wait_after=True)  # back to the list (a screenshot of 1,010 rows would time out)
    page.wait_for_url("**/admin/catalog/product/", timeout=90_000)
    page.wait_for_selector(".messagelist .success")
    shot("big-tree-saved")
    leaf.refresh_from_db()
    assert leaf.stock == 1
    assert Option.objects.filter(product=product, stock=5).count() == 999
