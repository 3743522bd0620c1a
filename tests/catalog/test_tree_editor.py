"""The option tree editor (the product's change page): rule errors at the field that broke them,
what the type switch needs, the chain picker in words, the T1 preview in its dialog, and no state
left on the request between the two passes of a refused save."""

from __future__ import annotations

import html as html_lib
import json
import re

import pytest
from django.urls import reverse

from catalog.models import OptionRelation, OptionSubGroup
from catalog.selectors import tree_export
from catalog.services import option_tree_import
from catalog.tree import TYPE_FIELDS, TreeInvalid, check_tree
from tests.support.admin_forms import field_named, form_data, form_errors
from tests.support.catalog_trees import chain_tree


@pytest.fixture
def product(db):
    return option_tree_import(data=chain_tree())


def change_url(product):
    return reverse("admin:catalog_product_change", args=[product.pk])


def cell(html: str, field_name: str) -> str:
    """The HTML of the table cell / form line holding the input named ``field_name``."""
    at = html.index(f'name="{field_name}"')
    start = max(html.rfind("<td", 0, at), html.rfind('<div class="form-row', 0, at))
    return html[start:at]


def test_the_validator_locates_each_problem():
    tree = chain_tree()
    tree["option_groups"][0]["option_sub_groups"][0]["options"][1]["add_price"] = -5
    tree["option_groups"][2].pop("max_length")
    tree["option_groups"][1]["option_sub_groups"][1]["max_select"] = 2
    with pytest.raises(TreeInvalid) as caught:
        check_tree(tree)
    located = {(p.group_id, p.sub_group_id, p.option_id, p.field) for p in caught.value.problems}
    assert located == {
        ("size", "size", "M", "add_price"),
        ("phone", None, None, "max_length"),
        ("color", "M:color", None, "max_select"),
    }
    assert caught.value.errors == [str(p) for p in caught.value.problems]  # the messages as before
    assert any(e.startswith("그룹 'size' › 하위그룹 'size' › 옵션 'M': 'add_price'") for e in caught.value.errors)


def test_a_refused_save_shows_each_rule_error_at_its_field(admin_client, product):
    stored = tree_export(code="tree:1")
    data = form_data(admin_client.get(change_url(product)).content.decode())
    # the NUMBERS group loses its max_length; a SELECT sub-group may pick two
    data[field_named(data, "-group_id", "phone").replace("-group_id", "-max_length")] = ""
    data[field_named(data, "-sub_group_id", "M:color").replace("-sub_group_id", "-max_select")] = "2"
    response = admin_client.post(change_url(product), data)
    assert response.status_code == 200, form_errors(response)
    html = response.content.decode()
    max_length = field_named(data, "-group_id", "phone").replace("-group_id", "-max_length")
    assert "NUMBERS needs both lengths" in cell(html, max_length)
    max_select = field_named(data, "-sub_group_id", "M:color").replace("-sub_group_id", "-max_select")
    assert "SELECT picks one" in cell(html, max_select)
    # every message is still listed above the form too
    summary = html[html.index('class="errorlist nonfield"') :]
    assert "NUMBERS needs both lengths" in summary[:5000]
    # nothing saved; and the two passes left nothing on the request
    assert tree_export(code="tree:1") == stored
    assert not [name for name in vars(response.wsgi_request) if name.startswith("_catalog")]


def test_a_problem_of_a_whole_row_sits_at_the_top_of_its_row(admin_client, product):
    stored = tree_export(code="tree:1")
    data = form_data(admin_client.get(change_url(product)).content.decode())
    # M (사이즈) leads to S's sub-group too: the sub-group M:color is then shown by no option
    m_next = field_named(data, "-option_id", "M").replace("-option_id", "-next_sub_group")
    data[m_next] = str(OptionSubGroup.objects.get(sub_group_id="S:color").pk)
    html = admin_client.post(change_url(product), data).content.decode()
    sub_group_id = field_named(data, "-sub_group_id", "M:color")
    row_start = html.index(f'id="{sub_group_id.removesuffix("-sub_group_id")}"')
    row_head = html[row_start : html.index(f'name="{sub_group_id}"')]
    assert "no option points to this sub-group" in row_head
    assert tree_export(code="tree:1") == stored


def test_a_field_error_in_an_option_row_sits_in_its_cell(admin_client, product):
    stored = tree_export(code="tree:1")
    data = form_data(admin_client.get(change_url(product)).content.decode())
    r_of_m = [n for n, v in data.items() if n.endswith("-option_id") and v == "R"][1]
    # 색상 › M:color › R points back to an earlier group's sub-group
    data[r_of_m.replace("-option_id", "-next_sub_group")] = str(OptionSubGroup.objects.get(sub_group_id="size").pk)
    html = admin_client.post(change_url(product), data).content.decode()
    picker = r_of_m.replace("-option_id", "-next_sub_group")
    assert "related target must be a later group" in cell(html, picker)
    assert OptionRelation.objects.filter(option__sub_group__sub_group_id="M:color").count() == 0
    assert tree_export(code="tree:1") == stored


def test_the_type_switch_and_the_chain_picker_are_written_by_the_server(admin_client, product):
    html = admin_client.get(change_url(product)).content.decode()
    data = form_data(html)
    type_select = field_named(data, "-group_id", "phone").replace("-group_id", "-type")
    tag = re.search(rf'<select name="{type_select}"[^>]*>', html).group(0)
    fields = json.loads(re.search(r'data-type-fields="([^"]*)"', tag).group(1).replace("&quot;", '"'))
    assert fields == {name: list(types) for name, types in TYPE_FIELDS.items()}
    assert 'src="/static/catalog/tree_editor.js"' in html or "catalog/tree_editor.js" in html
    # S's "next sub-group" offers the 색상 sub-groups by the group's name and their values
    picker = field_named(data, "-option_id", "S").replace("-option_id", "-next_sub_group")
    select = re.search(rf'<select name="{picker}"[^>]*>(.*?)</select>', html, re.S).group(1)
    labels = re.findall(r"<option [^>]*>([^<]*)</option>", select)
    assert labels == ["---------", "색상 › S:color (빨강, 초록)", "색상 › M:color (빨강)"]


def test_the_t1_preview_opens_in_the_editors_dialog(admin_client, product):
    html = admin_client.get(change_url(product)).content.decode()
    preview = reverse("admin:catalog_product_preview", args=[product.pk])
    assert f'id="tree-preview" data-src="{preview}"' in html
    assert html.count("tree-preview-open") == 2  # the object tool and the button under the form
    popup = admin_client.get(preview, {"_popup": "1"}).content.decode()
    assert 'id="header"' not in popup  # the page without the admin's header, in the dialog's frame
    assert '"sub_group_id": "M:color"' in html_lib.unescape(popup)  # the T1 JSON
