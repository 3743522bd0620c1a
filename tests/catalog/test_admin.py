"""The merchant's admin: the nested tree page, the generator, the grid and CSV, import, preview."""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.forms.renderers import DjangoTemplates
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.admin import GroupForm, OptionForm
from catalog.admin.fast_widgets import FAST_RENDERER
from catalog.admin.tree_rows import AdminTree
from catalog.models import Option, OptionGroup, OptionRelation, OptionSubGroup, Product
from catalog.selectors import tree_export
from catalog.services import option_tree_import
from tests.support.admin_forms import field_named, form_data, form_errors
from tests.support.trees import guide_tree, simple_tree, thousand_option_product


@pytest.fixture
def merchant(admin_client):
    return admin_client


@pytest.fixture
def guide_product(db):
    return option_tree_import(data=guide_tree())


def change_url(product):
    return reverse("admin:catalog_product_change", args=[product.pk])


def test_change_page_shows_the_whole_tree(merchant, guide_product):
    r = merchant.get(change_url(guide_product))
    assert r.status_code == 200
    html = r.content.decode()
    for text in ("사이즈2", "S12:색상2", "S12:R23:추가옵션", "12848", "주관식", "T1 미리보기", "조합 생성기"):
        assert text in html


def test_admin_edit_saves_validates_and_invalidates_option_t1(merchant, guide_product, client, plugin_base):
    before = client.get(f"{plugin_base}options", {"id": guide_product.code}).json()["data"]
    assert before["option_groups"][2]["option_sub_groups"][0]["options"][0]["add_price"] == 0
    page = merchant.get(change_url(guide_product)).content.decode()
    data = form_data(page)
    extra = field_named(data, "-extra", "12848")
    data[extra.replace("-extra", "-add_price")] = "2500"
    data[field_named(data, "-description", "주관식을 입력해 주세요.")] = "요청 사항"
    r = merchant.post(change_url(guide_product), data)
    assert r.status_code == 302, form_errors(r)
    after = client.get(f"{plugin_base}options", {"id": guide_product.code}).json()["data"]
    assert after["option_groups"][2]["option_sub_groups"][0]["options"][0]["add_price"] == 2500
    assert after["option_groups"][3]["description"] == "요청 사항"
    # the rest of the tree is exactly as it was
    after["option_groups"][2]["option_sub_groups"][0]["options"][0]["add_price"] = 0
    after["option_groups"][3]["description"] = "주관식을 입력해 주세요."
    assert after == before


def test_admin_refuses_a_tree_that_breaks_a_rule_and_saves_nothing(merchant, guide_product):
    page = merchant.get(change_url(guide_product)).content.decode()
    data = form_data(page)
    # point S12 at a sub-group of an earlier group: the validator names it
    s12 = field_named(data, "-option_id", "S12")
    target = OptionSubGroup.objects.get(sub_group_id="사이즈2").pk
    data[s12.replace("-option_id", "-next_sub_group")] = str(target)
    r = merchant.post(change_url(guide_product), data)
    assert r.status_code == 200
    html = r.content.decode()
    assert "related target must be a later group" in html and "옵션 &#x27;S12&#x27;" in html
    # the page comes back with the refused value still picked (it is not one the picker offers)
    assert re.search(rf'name="{s12.replace("-option_id", "-next_sub_group")}".*?<option value="{target}" selected>', html, re.S)
    assert OptionRelation.objects.get(option__option_id="S12").target.sub_group_id == "S12:색상2"
    assert tree_export(code=guide_product.code) == guide_tree()


def test_admin_duplicate_ids_across_groups_are_a_message_not_a_500(merchant, guide_product):
    data = form_data(merchant.get(change_url(guide_product)).content.decode())
    data[field_named(data, "-sub_group_id", "S12:R23:추가옵션")] = "사이즈2"
    r = merchant.post(change_url(guide_product), data)
    assert r.status_code == 200
    assert "sub-group ids must be unique" in r.content.decode() or "duplicate id" in r.content.decode()
    assert tree_export(code=guide_product.code) == guide_tree()


def new_group_forms(prefix: str) -> dict:
    sub = f"{prefix}-0-sub_groups"
    return {f"{sub}-TOTAL_FORMS": "0", f"{sub}-INITIAL_FORMS": "0", f"{sub}-MIN_NUM_FORMS": "0", f"{sub}-MAX_NUM_FORMS": "1000"}


def test_admin_adds_a_product_with_groups(merchant, db):
    add = reverse("admin:catalog_product_add")
    data = form_data(merchant.get(add).content.decode())
    data.update({"code": "new:1", "name": "새 상품", "price": "5000", "kind": "commerce", "tax_type": "taxable", "on_sale": "on", "needs_shipping": "on"})
    prefix = next(n for n in data if n.endswith("-TOTAL_FORMS")).rsplit("-TOTAL_FORMS", 1)[0]
    data[f"{prefix}-TOTAL_FORMS"] = "1"
    data.update(new_group_forms(prefix))
    data.update({f"{prefix}-0-group_id": "memo", f"{prefix}-0-name": "메모", f"{prefix}-0-type": "TEXT", f"{prefix}-0-position": "0"})
    r = merchant.post(add, data)
    assert r.status_code == 302, form_errors(r)
    assert tree_export(code="new:1") == {
        "id": "new:1", "name": "새 상품", "price": 5000,
        "option_groups": [{"id": "memo", "name": "메모", "type": "TEXT"}],
    }  # fmt: skip
    # a NUMBERS group without lengths is refused by the validator
    data = form_data(merchant.get(add).content.decode())
    data.update({"code": "new:2", "name": "x", "kind": "commerce", "tax_type": "taxable"})
    data[f"{prefix}-TOTAL_FORMS"] = "1"
    data.update(new_group_forms(prefix))
    data.update({f"{prefix}-0-group_id": "phone", f"{prefix}-0-name": "폰", f"{prefix}-0-type": "NUMBERS", f"{prefix}-0-position": "0"})
    r = merchant.post(add, data)
    assert r.status_code == 200 and "NUMBERS needs both lengths" in r.content.decode()
    assert not Product.objects.filter(code="new:2").exists()


def test_combination_generator_then_grid_then_csv(merchant, db, client, plugin_base):
    product = option_tree_import(data=simple_tree())
    url = reverse("admin:catalog_product_combinations", args=[product.pk])
    assert "사이즈: S, M" in merchant.get(url).content.decode()  # current axes prefilled
    r = merchant.post(url, {"axes": "사이즈: S, M, L\n색상: R, G, B\n추가옵션: A", "stock": "10"})
    assert r.status_code == 302 and r["Location"].endswith("/grid/")
    data = tree_export(code="P1")
    assert [g["id"] for g in data["option_groups"]] == ["사이즈", "색상", "추가옵션", "phone", "days", "date", "memo"]
    leaves = data["option_groups"][2]["option_sub_groups"]
    assert len(leaves) == 9 and leaves[4]["id"] == "M:G:추가옵션" and leaves[4]["options"][0]["stock"] == 10
    assert data["option_groups"][0]["option_sub_groups"][0]["options"][1]["relate_option_groups"] == [
        {"group_id": "색상", "sub_group_id": "M:색상"}
    ]

    grid = reverse("admin:catalog_product_grid", args=[product.pk])
    html = merchant.get(grid).content.decode()
    assert "M / G / A" in html
    leaf = Option.objects.get(sub_group__sub_group_id="M:G:추가옵션")
    post = {"option": [str(leaf.pk)], f"value-{leaf.pk}": "A", f"add_price-{leaf.pk}": "1,500", f"stock-{leaf.pk}": "",
            f"min_quantity-{leaf.pk}": "", f"max_quantity-{leaf.pk}": "5", f"extra-{leaf.pk}": "SKU-MG"}  # fmt: skip
    assert merchant.post(grid, post).status_code == 302
    leaf.refresh_from_db()
    assert (leaf.add_price, leaf.stock, leaf.max_quantity, leaf.extra) == (1500, None, 5, "SKU-MG")
    t1 = client.get(f"{plugin_base}options", {"id": "P1"}).json()["data"]
    assert t1["option_groups"][2]["option_sub_groups"][4]["options"][0]["extra"] == "SKU-MG"
    post[f"stock-{leaf.pk}"] = "-3"
    r = merchant.post(grid, post)
    assert r.status_code == 200 and "stock must not be negative" in r.content.decode()

    csv_text = merchant.get(reverse("admin:catalog_product_grid_csv", args=[product.pk])).content.decode("utf-8-sig")
    lines = csv_text.splitlines()
    assert lines[0] == "group_id,sub_group_id,option_id,path,value,add_price,stock,min_quantity,max_quantity,extra,test_stock"
    edited = [line.replace(",A,,10,,,", ",A,700,3,,,") if line.startswith("추가옵션,L:B:추가옵션") else line for line in lines]
    upload = SimpleUploadedFile("o.csv", ("\n".join(edited) + "\n").encode("utf-8-sig"), content_type="text/csv")
    assert merchant.post(grid, {"csv": upload}).status_code == 302
    lb = Option.objects.get(sub_group__sub_group_id="L:B:추가옵션")
    assert (lb.add_price, lb.stock) == (700, 3)
    # regenerating with one more color keeps what was entered
    merchant.post(url, {"axes": "사이즈: S, M, L\n색상: R, G, B, W\n추가옵션: A"})
    lb.refresh_from_db()
    assert (lb.add_price, lb.stock) == (700, 3)
    assert OptionSubGroup.objects.filter(sub_group_id="L:W:추가옵션").exists()


def test_generator_refuses_bad_axes(merchant, guide_product):
    url = reverse("admin:catalog_product_combinations", args=[guide_product.pk])
    r = merchant.post(url, {"axes": "사이즈 S M L"})
    assert r.status_code == 200 and "name: a, b" in r.content.decode()
    r = merchant.post(url, {"axes": "사이즈: S, S"})
    assert "duplicate value" in r.content.decode()


def test_import_view_export_action_and_preview(merchant, db):
    url = reverse("admin:catalog_product_import")
    assert "옵션 트리 가져오기" in merchant.get(reverse("admin:catalog_product_changelist")).content.decode()
    upload = SimpleUploadedFile("t.json", json.dumps(guide_tree(), ensure_ascii=False).encode(), content_type="application/json")
    r = merchant.post(url, {"file": upload})
    product = Product.objects.get(code="101:10013529")
    assert r.status_code == 302 and r["Location"] == reverse("admin:catalog_product_preview", args=[product.pk])
    preview = merchant.get(r["Location"]).content.decode()
    assert "사이즈2=S12 → 색상2=R23 → 추가옵션=A" in preview and "모든 규칙을 지킵니다" in preview
    assert "S12:R23:추가옵션" in preview  # the T1 JSON
    bad = guide_tree()
    bad["option_groups"][3]["option_sub_groups"] = [{"id": "x", "options": [{"id": "x", "value": "x"}]}]
    r = merchant.post(url, {"text": json.dumps(bad)})
    assert r.status_code == 200 and "TEXT groups carry no sub-groups" in r.content.decode()
    r = merchant.post(url, {"text": "{oops"})
    assert "올바른 JSON이 아닙니다" in r.content.decode()  # the admin speaks Korean by default
    r = merchant.post(
        reverse("admin:catalog_product_changelist"), {"action": "export_trees", "_selected_action": [product.pk]}
    )
    assert r.status_code == 200 and json.loads(r.content) == guide_tree()


def test_deleting_a_product_forgets_its_option_t1(merchant, guide_product, client, plugin_base):
    assert client.get(f"{plugin_base}options", {"id": guide_product.code}).status_code == 200
    r = merchant.post(reverse("admin:catalog_product_delete", args=[guide_product.pk]), {"post": "yes"})
    assert r.status_code == 302
    assert client.get(f"{plugin_base}options", {"id": guide_product.code}).status_code == 404
    assert not OptionGroup.objects.exists()


# --- a big tree: constant queries, a page of reasonable size, pickers that offer what is valid ---------


def picker(html: str, name: str) -> list[tuple[str, str, bool]]:
    """The options (value, label, selected) of the <select> named ``name``."""
    select = re.search(rf'<select name="{re.escape(name)}"[^>]*>(.*?)</select>', html, re.S)
    assert select, name
    return [
        (value, label, bool(selected))
        for value, selected, label in re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select.group(1))
    ]


def test_change_page_of_a_1000_option_product_is_constant_in_queries_and_reasonably_small(merchant, guide_product):
    with CaptureQueriesContext(connection) as small:
        assert merchant.get(change_url(guide_product)).status_code == 200
    product = thousand_option_product()
    with CaptureQueriesContext(connection) as big:
        r = merchant.get(change_url(product))
    assert r.status_code == 200
    # session, user, product, then the tree in four queries (groups, sub-groups, options, relations):
    # the same on a 1,010-option tree as on the guide's 20-option one (it was 2,054: one per row and picker)
    assert len(big) == len(small) <= 8, [q["sql"][:80] for q in big.captured_queries]
    assert len(r.content) < 4_000_000  # 7.9 MB before: whitespace and a long picker in every row
    html = r.content.decode()
    data = form_data(html)
    assert len([n for n in data if n.endswith("-option_id")]) == 1010  # every option row is there
    # a 색상 option leads on to one of the 10 sub-groups of 사이즈; a 사이즈 leaf (last group) nowhere
    c3 = field_named(data, "-option_id", "c3").replace("-option_id", "-next_sub_group")
    choices = picker(html, c3)
    # in words: the group's name, the sub-group and its first values
    assert [label for _, label, _ in choices] == ["---------", *(f"사이즈 › c{i}:사이즈 (s0, s1, s2, …)" for i in range(10))]
    assert [label for _, label, selected in choices if selected] == ["사이즈 › c3:사이즈 (s0, s1, s2, …)"]
    leaf = next(n for n, v in data.items() if n.endswith("-option_id") and v == "s42")
    assert picker(html, leaf.replace("-option_id", "-next_sub_group")) == [("", "---------", True)]


def test_change_page_of_a_1000_option_product_saves(merchant):
    """Its ~11,000 fields were refused (400) by Django's default DATA_UPLOAD_MAX_NUMBER_FIELDS."""
    product = thousand_option_product()
    data = form_data(merchant.get(change_url(product)).content.decode())
    assert len(data) > 10_000
    leaf = Option.objects.get(product=product, sub_group__sub_group_id="c7:사이즈", option_id="s55")
    stock = next(n for n, v in data.items() if n.endswith("-id") and v == str(leaf.pk)).replace("-id", "-stock")
    data[stock] = "2"
    r = merchant.post(change_url(product), data)
    assert r.status_code == 302, form_errors(r)
    leaf.refresh_from_db()
    assert leaf.stock == 2
    assert Option.objects.filter(product=product, stock=5).count() == 999  # nothing else moved
    assert OptionRelation.objects.filter(product=product).count() == 10


def test_parent_option_picker_shows_and_keeps_an_added_group(merchant, db):
    tree = simple_tree()
    tree["option_groups"][1]["option_sub_groups"][0]["options"][0]["added_option_groups"] = [
        {"id": "sauce", "name": "소스", "type": "TEXT"}
    ]
    product = option_tree_import(data=tree)
    before = tree_export(code="P1")
    assert before["option_groups"][1]["option_sub_groups"][0]["options"][0]["added_option_groups"][0]["id"] == "sauce"
    html = merchant.get(change_url(product)).content.decode()
    data = form_data(html)
    sauce = field_named(data, "-group_id", "sauce").replace("-group_id", "-parent_option")
    choices = picker(html, sauce)
    assert len(choices) == 1 + 5  # every option of the product
    assert [label for _, label, selected in choices if selected] == ["topping › topping › 치즈"]
    r = merchant.post(change_url(product), data)
    assert r.status_code == 302, form_errors(r)
    assert tree_export(code="P1") == before


@pytest.mark.parametrize("bound", [False, True])
def test_rows_render_the_same_html_as_djangos_widget_templates(db, bound):
    product = option_tree_import(data=guide_tree())
    tree = AdminTree(product.pk)
    option = next(o for o in tree.option_by_pk.values() if o.option_id == "S12")
    group = next(g for g in tree.groups if g.group_id == "사이즈2")
    data = None
    if bound:  # what a merchant typed, escaped; a posted picker value the tree does not hold
        data = {"o-option_id": "S<12>", "o-value": 'a "b" & c', "o-add_price": "", "o-next_sub_group": "x",
                "g-group_id": "<g>", "g-type": "SELECT", "g-parent_option": str(option.pk)}  # fmt: skip
    fast_forms = []
    for form_class, kwargs in ((OptionForm, {"instance": option, "prefix": "o", "parent": option.sub_group}),
                               (GroupForm, {"instance": group, "prefix": "g"})):  # fmt: skip
        fast = form_class(data, renderer=FAST_RENDERER, tree=tree, **kwargs)
        slow = form_class(data, renderer=DjangoTemplates(), tree=tree, **kwargs)
        for name in fast.fields:
            assert str(fast[name]) == str(slow[name]), name
        fast_forms.append(fast)
    option_form, group_form = fast_forms
    if bound:
        assert 'value="S&lt;12&gt;"' in str(option_form["option_id"])
        assert 'value="a &quot;b&quot; &amp; c"' in str(option_form["value"])
        assert f'<option value="{option.pk}" selected>' in str(group_form["parent_option"])
    else:
        assert f'<option value="{tree.next_target[option.pk]}" selected>' in str(option_form["next_sub_group"])
