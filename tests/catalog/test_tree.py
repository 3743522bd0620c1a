"""The tree rules (catalog.tree), the importer/exporter and their commands."""

from __future__ import annotations

import copy
import io
import json

import pytest
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.models import Option, OptionGroup, OptionRelation, OptionSubGroup, Product, StockHold
from catalog.selectors import tree_export
from catalog.services import option_tree_import
from catalog.tree import TreeInvalid, tree_errors
from tests.support.trees import guide_tree, simple_tree


def one_error(data: dict, *needles: str) -> str:
    errors = tree_errors(data)
    assert errors, "expected the tree to be refused"
    text = "\n".join(errors)
    for needle in needles:
        assert needle in text, text
    return text


# --- valid trees ---------------------------------------------------------------------------------


def test_guide_sample_and_simple_tree_are_valid():
    assert tree_errors(guide_tree()) == []
    assert tree_errors(simple_tree()) == []


# --- every rule ----------------------------------------------------------------------------------


def test_group_ids_unique_within_product_including_added_groups():
    data = simple_tree()
    data["option_groups"][1]["id"] = "size"
    one_error(data, "그룹 'size'", "group ids must be unique")
    data = simple_tree()
    data["option_groups"][0]["option_sub_groups"][0]["options"][0]["added_option_groups"] = [
        {"id": "memo", "name": "x", "type": "TEXT"}
    ]
    one_error(data, "group ids must be unique")


def test_sub_group_ids_unique_within_product():
    data = simple_tree()
    data["option_groups"][1]["option_sub_groups"][0]["id"] = "size"
    one_error(data, "하위그룹 'size'", "sub-group ids must be unique")


def test_option_ids_unique_within_sub_group_but_may_repeat_across_sub_groups():
    data = simple_tree()
    data["option_groups"][0]["option_sub_groups"][0]["options"][1]["id"] = "S"
    one_error(data, "옵션 'S'", "unique within a sub-group")
    # the guide's sample repeats "A" across nine sub-groups of a chain target: allowed
    assert tree_errors(guide_tree()) == []


def test_option_ids_unique_across_sub_groups_shown_together():
    data = simple_tree()
    data["option_groups"][0]["option_sub_groups"].append({"id": "size2", "options": [{"id": "S", "value": "S"}]})
    one_error(data, "'S'", "shown together")


def test_simple_and_related_options_never_mixed():
    data = guide_tree()
    data["option_groups"].insert(
        3,
        {"id": "gift", "name": "포장", "type": "SELECT", "option_sub_groups": [{"id": "gift", "options": [{"id": "y", "value": "예"}]}]},
    )
    one_error(data, "그룹 'gift'", "simple and related options cannot be mixed")


def test_one_chain_only():
    data = simple_tree()
    groups = data["option_groups"]
    # size → topping is one chain; a second chain color → shape is refused
    for option in groups[0]["option_sub_groups"][0]["options"]:
        option["relate_option_groups"] = [{"group_id": "topping", "sub_group_id": "topping"}]
    assert tree_errors(data) == []
    groups.insert(2, {"id": "color", "name": "색", "type": "SELECT", "option_sub_groups": [{"id": "color", "options": [{"id": "r", "value": "r", "relate_option_groups": [{"group_id": "shape", "sub_group_id": "shape"}]}]}]})
    groups.insert(3, {"id": "shape", "name": "모양", "type": "SELECT", "option_sub_groups": [{"id": "shape", "options": [{"id": "o", "value": "o"}]}]})
    one_error(data, "one related chain")
    # one option pointing to two sub-groups is a second chain too
    data = guide_tree()
    size_s = data["option_groups"][0]["option_sub_groups"][0]["options"][1]
    size_s["relate_option_groups"].append({"group_id": "색상2", "sub_group_id": "M:색상2"})
    one_error(data, "옵션 'S'", "one chain only")


def test_related_target_exists():
    data = guide_tree()
    data["option_groups"][0]["option_sub_groups"][0]["options"][0]["relate_option_groups"] = [
        {"group_id": "색상2", "sub_group_id": "XL:색상2"}
    ]
    one_error(data, "옵션 'S12'", "'XL:색상2'", "does not exist")
    data = guide_tree()
    data["option_groups"][0]["option_sub_groups"][0]["options"][0]["relate_option_groups"] = [
        {"group_id": "없는그룹", "sub_group_id": "S12:색상2"}
    ]
    one_error(data, "'없는그룹'", "related group does not exist")


def test_related_target_is_a_later_group_so_no_cycles():
    data = guide_tree()
    leaf = data["option_groups"][2]["option_sub_groups"][0]["options"][0]
    leaf["relate_option_groups"] = [{"group_id": "사이즈2", "sub_group_id": "사이즈2"}]
    one_error(data, "옵션 'A'", "later group")


def test_every_option_of_a_chain_group_leads_on_and_every_target_sub_group_is_reachable():
    data = guide_tree()
    del data["option_groups"][0]["option_sub_groups"][0]["options"][0]["relate_option_groups"]  # S12
    text = one_error(data, "옵션 'S12'", "must point to the next group")
    assert "S12:색상2" in text and "no option points to this sub-group" in text


def test_type_specific_fields():
    data = simple_tree()
    del data["option_groups"][2]["max_length"]
    one_error(data, "그룹 'phone'", "NUMBERS needs both lengths")
    data = simple_tree()
    data["option_groups"][2]["min_length"] = 12
    one_error(data, "min_length exceeds max_length")
    data = simple_tree()
    del data["option_groups"][3]["min_value"]
    one_error(data, "그룹 'days'", "INTEGER needs both bounds")
    data = simple_tree()
    data["option_groups"][3]["min_value"] = 400
    one_error(data, "min_value exceeds max_value")
    data = simple_tree()
    data["option_groups"][0]["min_value"] = 1
    one_error(data, "그룹 'size'", "does not apply to SELECT")
    data = simple_tree()
    data["option_groups"][5]["placeholder"] = "x"
    one_error(data, "그룹 'memo'", "placeholder does not apply to TEXT")
    data = simple_tree()
    data["option_groups"][0]["type"] = "COUNT"
    one_error(data, "unknown type")


def test_default_option_id_exists():
    data = simple_tree()
    data["option_groups"][0]["option_sub_groups"][0]["default_option_id"] = "M"
    assert tree_errors(data) == []
    data["option_groups"][0]["option_sub_groups"][0]["default_option_id"] = "XL"
    one_error(data, "하위그룹 'size'", "default_option_id must name an option")


def test_non_negative_prices_and_stock():
    data = simple_tree(price=-1)
    one_error(data, "상품", "price must not be negative")
    data = simple_tree()
    data["option_groups"][1]["option_sub_groups"][0]["options"][0]["add_price"] = -100
    one_error(data, "옵션 'a'", "add_price must not be negative")
    data = simple_tree()
    data["option_groups"][1]["option_sub_groups"][0]["options"][0]["stock"] = -1
    one_error(data, "옵션 'a'", "stock must not be negative")


def test_text_groups_carry_no_sub_groups_and_choice_groups_need_them():
    data = simple_tree()
    data["option_groups"][5]["option_sub_groups"] = [{"id": "x", "options": [{"id": "x", "value": "x"}]}]
    one_error(data, "그룹 'memo'", "TEXT groups carry no sub-groups")
    data = simple_tree()
    data["option_groups"][0]["option_sub_groups"] = []
    one_error(data, "그룹 'size'", "needs sub-groups")


def test_select_counts_and_quantities():
    data = simple_tree(min_quantity=3, max_quantity=2)
    one_error(data, "min_quantity exceeds max_quantity")
    data = simple_tree(max_quantity=5, default_quantity=9)
    one_error(data, "default_quantity outside")
    data = simple_tree()
    data["option_groups"][0]["option_sub_groups"][0]["max_select"] = 2
    one_error(data, "SELECT picks one")
    data = simple_tree()
    data["option_groups"][1]["option_sub_groups"][0]["min_select"] = 4
    one_error(data, "min_select above option count")


def test_missing_and_mistyped_fields_are_named():
    data = simple_tree()
    del data["option_groups"][0]["option_sub_groups"][0]["options"][0]["value"]
    one_error(data, "옵션 'S'", "value is required")
    data = simple_tree()
    data["option_groups"][0]["option_sub_groups"][0]["options"][0]["add_price"] = "100"
    one_error(data, "add_price must be a whole number")
    assert tree_errors([]) and "OptionResponse" in tree_errors([])[0]


# --- importer ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_import_refuses_invalid_trees_and_writes_nothing():
    data = simple_tree()
    data["option_groups"][1]["id"] = "size"
    with pytest.raises(TreeInvalid):
        option_tree_import(data=data)
    assert not Product.objects.exists() and not OptionGroup.objects.exists()


@pytest.mark.django_db
def test_reimport_updates_in_place_keeping_option_identity():
    option_tree_import(data=guide_tree())
    leaf = Option.objects.get(sub_group__sub_group_id="M:R:추가옵션", option_id="A")
    data = guide_tree()
    data["option_groups"][2]["option_sub_groups"][3]["options"][0]["add_price"] = 700
    data["option_groups"][3]["description"] = "메모"
    option_tree_import(data=data)
    leaf.refresh_from_db()
    assert leaf.add_price == 700
    assert tree_export(code="101:10013529") == data


@pytest.mark.django_db
def test_reimport_cannot_drop_an_option_with_held_stock():
    from datetime import timedelta

    from django.utils import timezone

    option_tree_import(data=guide_tree())
    leaf = Option.objects.get(sub_group__sub_group_id="S12:R23:추가옵션", option_id="A")
    StockHold.objects.create(reference="o1", livemode=True, option=leaf, quantity=1, expires_at=timezone.now() + timedelta(hours=1))
    data = guide_tree()
    data["option_groups"][2]["option_sub_groups"][0]["options"][0]["id"] = "B"
    with pytest.raises(TreeInvalid, match="stock is held"):
        option_tree_import(data=data)
    assert Option.objects.filter(pk=leaf.pk).exists()


@pytest.mark.django_db
def test_commands_round_trip(tmp_path):
    path = tmp_path / "tree.json"
    path.write_text(json.dumps({"status": 200, "data": guide_tree()}, ensure_ascii=False), encoding="utf-8")
    call_command("import_option_tree", str(path), "--not-on-sale", "--tax-type", "tax_free", stdout=io.StringIO())
    product = Product.objects.get(code="101:10013529")
    assert product.on_sale is False and product.tax_type == "tax_free"
    out = io.StringIO()
    call_command("export_option_tree", "101:10013529", stdout=out)
    assert json.loads(out.getvalue()) == guide_tree()
    bad = tmp_path / "bad.json"
    broken = guide_tree()
    broken["option_groups"][2]["option_sub_groups"][0]["options"][0]["stock"] = -5
    bad.write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(CommandError, match="stock must not be negative"):
        call_command("import_option_tree", str(bad), stdout=io.StringIO())
    with pytest.raises(CommandError, match="no product"):
        call_command("export_option_tree", "nope", stdout=io.StringIO())


# --- round trip, property-tested -------------------------------------------------------------------

ids = st.text(alphabet="abcdefgh가나다:-_ ", min_size=1, max_size=6).filter(lambda s: s.strip() == s and s)
def texts(**kw):
    return st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), **kw)


maybe_int = st.one_of(st.none(), st.integers(0, 10**6))
maybe_text = st.one_of(st.none(), texts(max_size=12))


@st.composite
def options_list(draw, *, leaf=True):
    names = draw(st.lists(ids, min_size=1, max_size=4, unique=True))
    out = []
    for name in names:
        low = draw(st.one_of(st.none(), st.integers(1, 3)))
        option = {"id": name, "value": draw(texts(min_size=1, max_size=10).filter(str.strip))}
        for key, value in (
            ("add_price", draw(maybe_int)),
            ("min_quantity", low),
            ("max_quantity", None if low is None else draw(st.one_of(st.none(), st.integers(low, 99))) if low == 1 else draw(st.integers(low, 99))),
            ("stock", draw(maybe_int)),
            ("extra", draw(maybe_text)),
        ):
            if value is not None:
                option[key] = value
        out.append(option)
    return out


@st.composite
def answer_group(draw, gid):
    kind = draw(st.sampled_from(["TEXT", "NUMBERS", "INTEGER", "DATE"]))
    group = {"id": gid, "name": draw(texts(min_size=1, max_size=8).filter(str.strip)), "type": kind}
    if draw(st.booleans()):
        group["required"] = draw(st.booleans())
    if draw(st.booleans()):
        group["description"] = draw(texts(max_size=20))
    if kind != "TEXT":
        group["option_sub_groups"] = []  # T1 sends the (required) list, empty, for NUMBERS/INTEGER/DATE
    if kind == "NUMBERS":
        low = draw(st.integers(1, 12))
        group.update(min_length=low, max_length=draw(st.integers(low, 15)))
    if kind == "INTEGER":
        low = draw(st.integers(-100, 100))
        group.update(min_value=low, max_value=draw(st.integers(low, 1000)))
    if kind != "TEXT" and draw(st.booleans()):
        group["placeholder"] = draw(texts(max_size=10))
    return group


@st.composite
def simple_group(draw, gid, *, allow_added=True):
    kind = draw(st.sampled_from(["SELECT", "MULTI_SELECT"]))
    opts = draw(options_list())
    sub = {"id": f"{gid}/s", "options": opts}
    if kind == "MULTI_SELECT" and draw(st.booleans()):
        sub.update(min_select=draw(st.integers(0, len(opts))), max_select=draw(st.integers(max(1, len(opts)), len(opts) + 2)))
    if draw(st.booleans()):
        sub["default_option_id"] = draw(st.sampled_from([o["id"] for o in opts]))
    group = {"id": gid, "name": gid, "option_sub_groups": [sub], "type": kind}
    if draw(st.booleans()):
        group["required"] = draw(st.booleans())
    if allow_added and draw(st.booleans()):
        opts[0]["added_option_groups"] = [draw(simple_group(f"{gid}+", allow_added=False))]
    return group


@st.composite
def chain_groups(draw):
    axes = draw(st.lists(st.lists(ids, min_size=1, max_size=3, unique=True), min_size=2, max_size=3))
    groups, prefixes = [], [[]]
    for depth, values in enumerate(axes):
        name = f"axis{depth}"
        subs, nxt = [], []
        for prefix in prefixes:
            sid = name if depth == 0 else "|".join([*prefix, name])
            options = []
            for value in values:
                option = {"id": value, "value": value}
                if depth < len(axes) - 1:
                    option["relate_option_groups"] = [{"group_id": f"axis{depth + 1}", "sub_group_id": "|".join([*prefix, value, f"axis{depth + 1}"])}]
                    nxt.append([*prefix, value])
                else:
                    for key, value_ in (("add_price", draw(maybe_int)), ("stock", draw(maybe_int)), ("extra", draw(maybe_text))):
                        if value_ is not None:
                            option[key] = value_
                options.append(option)
            subs.append({"id": sid, "options": options})
        groups.append({"id": name, "name": name, "option_sub_groups": subs, "type": "SELECT"})
        prefixes = nxt
    return groups


@st.composite
def valid_trees(draw):
    tree = {"id": draw(ids), "name": draw(texts(min_size=1, max_size=20).filter(str.strip))}
    if draw(st.booleans()):
        tree["price"] = draw(st.integers(0, 10**7))
    low = draw(st.one_of(st.none(), st.integers(1, 3)))
    if low is not None:
        tree["min_quantity"] = low
        high = draw(st.integers(max(low, 1), 20))
        tree["max_quantity"] = high
        if draw(st.booleans()):
            tree["default_quantity"] = draw(st.integers(low, high))
    if draw(st.booleans()):
        groups = draw(chain_groups())
    else:
        groups = [draw(simple_group(f"g{i}")) for i in range(draw(st.integers(0, 3)))]
    groups += [draw(answer_group(f"a{i}")) for i in range(draw(st.integers(0, 2)))]
    tree["option_groups"] = groups
    return tree


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(tree=valid_trees(), second=valid_trees())
def test_export_of_import_is_lossless(tree, second):
    assert tree_errors(tree) == [], tree_errors(tree)
    option_tree_import(data=copy.deepcopy(tree))
    assert tree_export(code=tree["id"]) == tree
    # importing another valid tree over the same product replaces it exactly, too
    assert tree_errors(second) == []
    second = {**second, "id": tree["id"]}
    option_tree_import(data=copy.deepcopy(second))
    assert tree_export(code=tree["id"]) == second
    assert OptionRelation.objects.filter(product__code=tree["id"]).count() == sum(
        len(o.get("relate_option_groups", [])) for g in second["option_groups"] for s in g.get("option_sub_groups", []) for o in s["options"]
    )
    Product.objects.all().delete()
    assert not OptionSubGroup.objects.exists()
