"""Option T1: shape, cache, query counts, invalidation."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog import cache as tree_cache
from catalog.cache import invalidate_products
from catalog.models import Option
from catalog.selectors import option_t1_body, tree_load
from catalog.services import option_tree_import
from tests.support.trees import guide_tree, simple_tree, thousand_option_product


def get_option_t1(client, plugin_base, code):
    return client.get(f"{plugin_base}options", {"id": code}, HTTP_X_KAKAO_APPUSERID="u1")


@pytest.mark.django_db
def test_option_t1_serves_the_guide_sample_exactly(client, plugin_base):
    option_tree_import(data=guide_tree())
    r = get_option_t1(client, plugin_base, "101:10013529")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/json")
    body = json.loads(r.content)
    assert body == {"status": 200, "data": guide_tree()}
    data = body["data"]
    # contract order, unset keys omitted (no nulls anywhere)
    assert list(data) == ["id", "name", "price", "option_groups"]
    assert list(data["option_groups"][0]) == ["id", "name", "option_sub_groups", "description", "type"]
    assert list(data["option_groups"][3]) == ["id", "name", "required", "description", "type"]
    leaf = data["option_groups"][2]["option_sub_groups"][0]["options"][0]
    assert list(leaf) == ["id", "value", "add_price", "max_quantity", "stock", "extra"]
    assert b"null" not in r.content
    assert [s["id"] for s in data["option_groups"][1]["option_sub_groups"]] == ["S12:색상2", "S:색상2", "M:색상2", "L:색상2"]
    assert "윈터펠테스트11".encode() in r.content  # UTF-8, not \u escapes


@pytest.mark.django_db
def test_option_t1_answer_groups_and_quantities(client, plugin_base):
    option_tree_import(data=simple_tree(min_quantity=1, max_quantity=5, default_quantity=2))
    data = get_option_t1(client, plugin_base, "P1").json()["data"]
    assert (data["min_quantity"], data["max_quantity"], data["default_quantity"]) == (1, 5, 2)
    phone = data["option_groups"][2]
    assert phone == {
        "id": "phone", "name": "휴대폰", "option_sub_groups": [], "type": "NUMBERS", "min_length": 10,
        "max_length": 11, "placeholder": "01012345678",
    }  # fmt: skip
    assert "option_sub_groups" not in data["option_groups"][5]  # TEXT


@pytest.mark.django_db
def test_option_t1_errors(client, plugin_base):
    r = client.get(f"{plugin_base}options")
    assert r.status_code == 400 and r.json()["status"] == 400 and "id" in r.json()["message"]
    r = get_option_t1(client, plugin_base, "nope")
    assert r.status_code == 404 and r.json()["status"] == 404
    r = get_option_t1(client, plugin_base, "x" * 5000)
    assert r.status_code == 404
    option_tree_import(data=guide_tree(), product_settings={"on_sale": False})
    r = get_option_t1(client, plugin_base, "101:10013529")
    assert r.status_code == 200 and r.json()["status"] == 400 and "판매 중" in r.json()["message"]
    r = client.post(f"{plugin_base}options?id=101:10013529")
    assert r.status_code == 405 and r.json()["status"] == 405


@pytest.mark.django_db
def test_option_t1_query_counts_cold_and_warm_on_1000_options(client, plugin_base, kakao_app):
    product = thousand_option_product()
    client.get(f"{plugin_base}options", {"id": "warm-the-gate"})  # the gate caches the app per process
    tree_cache.invalidate_codes([product.code])
    with CaptureQueriesContext(connection) as cold:
        r = get_option_t1(client, plugin_base, product.code)
    assert r.status_code == 200
    assert len(r.json()["data"]["option_groups"][1]["option_sub_groups"]) == 10
    assert len(cold) == 5, [q["sql"] for q in cold]  # product, groups, sub-groups, options, relations
    with CaptureQueriesContext(connection) as warm:
        again = get_option_t1(client, plugin_base, product.code)
    assert len(warm) == 0, [q["sql"] for q in warm]
    assert again.content == r.content


@pytest.mark.django_db
def test_cold_query_count_does_not_grow_with_the_tree(client, plugin_base):
    option_tree_import(data=simple_tree())
    client.get(f"{plugin_base}options", {"id": "warm-the-gate"})
    with CaptureQueriesContext(connection) as small:
        get_option_t1(client, plugin_base, "P1")
    option_tree_import(data=guide_tree())
    with CaptureQueriesContext(connection) as larger:
        get_option_t1(client, plugin_base, "101:10013529")
    assert len(small) == len(larger) == 5


@pytest.mark.django_db
def test_cache_invalidated_by_stock_moves_and_imports(client, plugin_base):
    product = option_tree_import(data=guide_tree())
    first = get_option_t1(client, plugin_base, "101:10013529").json()
    leaf = Option.objects.get(sub_group__sub_group_id="S12:R23:추가옵션")
    Option.objects.filter(pk=leaf.pk).update(stock=3)  # what a stock hold does, then:
    assert get_option_t1(client, plugin_base, "101:10013529").json() == first  # still the cached bytes
    invalidate_products(product_pks=[product.pk])
    data = get_option_t1(client, plugin_base, "101:10013529").json()["data"]
    assert data["option_groups"][2]["option_sub_groups"][0]["options"][0]["stock"] == 3
    changed = guide_tree()
    changed["name"] = "겨울 점퍼"
    option_tree_import(data=changed)
    assert get_option_t1(client, plugin_base, "101:10013529").json()["data"]["name"] == "겨울 점퍼"


@pytest.mark.django_db
def test_a_cold_read_racing_an_edit_cannot_leave_stale_bytes():
    product = option_tree_import(data=guide_tree())
    code = product.code
    body, generation = tree_cache.cached_body(code)  # a cold T1 starts: nothing cached
    assert body is None
    stale = option_t1_body(tree_load(code=code))
    invalidate_products(product_pks=[product.pk])  # an edit commits meanwhile
    tree_cache.store_body(code, generation, stale)  # the slow reader stores what it read
    assert tree_cache.cached_body(code)[0] is None  # ...and it is not served
