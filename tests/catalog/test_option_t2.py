"""Option T2: the selection validator and the order sheet it yields."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.cache import invalidate_products
from catalog.models import Option
from catalog.services import option_tree_import
from kakaoplugin.models import Customer
from orders.models import OrderSheet
from tests.support.options import GUIDE_OPTION_T2, option_t2_refused, post_option_t2
from tests.support.trees import guide_tree, simple_tree


@pytest.fixture
def simple(db):
    return option_tree_import(data=simple_tree(max_quantity=5))


def option_t2_body(**changes):
    body = json.loads(json.dumps(GUIDE_OPTION_T2))
    body.update(changes)
    return body


def test_guide_option_t2_sample_yields_an_order_sheet(client, plugin_base, kakao_app, guide):
    r = post_option_t2(client, plugin_base, GUIDE_OPTION_T2)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == 200 and body["data"].startswith("os_") and len(body["data"]) > 20
    sheet = OrderSheet.objects.get(pk=body["data"])
    assert (sheet.kakao_app, sheet.app_user_id, sheet.relay_id) == (kakao_app, "app-user-1", "relay-9")
    assert (sheet.product_code, sheet.product_name, sheet.quantity, sheet.total_amount) == ("101:10013529", "윈터펠테스트11", 1, 0)
    assert sheet.expires_at - timezone.now() > timedelta(hours=23)
    lines = list(sheet.lines.values_list("group_id", "sub_group_id", "option_id", "option_value", "add_price", "extra"))
    assert lines == [
        ("사이즈2", "사이즈2", "S12", "S12", 0, None),
        ("색상2", "S12:색상2", "R23", "R23", 0, None),
        ("추가옵션", "S12:R23:추가옵션", "A", "A", 0, "12848"),
    ]
    leaf = sheet.lines.get(option_id="A")
    assert leaf.catalog_option == Option.objects.get(sub_group__sub_group_id="S12:R23:추가옵션")  # stock row
    assert sheet.lines.get(option_id="S12").catalog_option is None  # unlimited: no stock to take


def test_priced_selection_with_text_answer_and_snapshot_survives_catalog_edit(client, plugin_base, db):
    data = guide_tree()
    data["price"] = 12000
    data["max_quantity"] = 3
    option_tree_import(data=data)
    body = option_t2_body(price=12000, quantity=2)
    body["option_groups"] = [
        {"option_group_id": "사이즈2", "option_id": "M"},
        {"option_group_id": "색상2", "option_id": "R"},
        {"option_group_id": "추가옵션", "option_id": "A", "add_price": 300, "extra": "12851"},
        {"option_group_id": "주관식", "text": "선물 포장해 주세요"},
    ]
    r = post_option_t2(client, plugin_base, body)
    sheet = OrderSheet.objects.get(pk=r.json()["data"])
    assert sheet.total_amount == 2 * (12000 + 300) and sheet.unit_price == 12000
    assert sheet.lines.get(group_id="주관식").text == "선물 포장해 주세요"
    assert sheet.lines.get(option_id="A").amount == 600
    # later catalog edits do not change what the sheet says
    data["option_groups"][2]["option_sub_groups"][3]["options"][0]["add_price"] = 999
    data["name"] = "새 이름"
    option_tree_import(data=data)
    sheet.refresh_from_db()
    assert sheet.product_name == "윈터펠테스트11" and sheet.lines.get(option_id="A").add_price == 300


def test_wrong_chain_is_refused(client, plugin_base, guide):
    body = option_t2_body()
    body["option_groups"][0]["option_id"] = "S"
    message = option_t2_refused(post_option_t2(client, plugin_base, body), "'색상2'", "R23", "사이즈2=S", "G, B")
    assert "not offered after the previous choices" in message


def test_missing_required_group(client, plugin_base, guide):
    body = option_t2_body()
    body["option_groups"] = body["option_groups"][:2]
    option_t2_refused(post_option_t2(client, plugin_base, body), "필수 옵션 '추가옵션'", "required group not answered")
    body = option_t2_body()
    body["option_groups"] = []
    option_t2_refused(post_option_t2(client, plugin_base, body), "'사이즈2'")


def test_group_not_shown_cannot_be_answered(client, plugin_base, simple):
    body = {"id": "P1", "price": 10000, "option_groups": [
        {"option_group_id": "size", "option_id": "S"}, {"option_group_id": "days", "text": "3"},
        {"option_group_id": "phone", "text": "01012345678"}, {"option_group_id": "nope", "option_id": "x"}]}  # fmt: skip
    option_t2_refused(post_option_t2(client, plugin_base, body), "'nope'", "unknown option group")


def simple_body(*extra, **product):
    return {
        "id": "P1",
        "price": 10000,
        "quantity": 1,
        **product,
        "option_groups": [
            {"option_group_id": "size", "option_id": "M", "add_price": 500},
            {"option_group_id": "phone", "text": "01012345678"},
            {"option_group_id": "days", "text": "30"},
            *extra,
        ],
    }


def test_simple_selection_total(client, plugin_base, simple):
    body = simple_body(
        {"option_group_id": "topping", "option_id": "a", "add_price": 1000},
        {"option_group_id": "topping", "option_id": "b", "quantity": 1},
        {"option_group_id": "date", "text": "20240229"},
        quantity=3,
    )
    r = post_option_t2(client, plugin_base, body)
    sheet = OrderSheet.objects.get(pk=r.json()["data"])
    # 3 × (10000 + 500 + 1000) + 1500 × 1 (b chosen with its own quantity)
    assert sheet.total_amount == 3 * 11500 + 1500
    assert {line.group_id: line.text for line in sheet.lines.all() if line.text} == {
        "phone": "01012345678", "days": "30", "date": "20240229"
    }  # fmt: skip


def test_too_many_multi_select_picks(client, plugin_base, simple):
    body = simple_body(*({"option_group_id": "topping", "option_id": o} for o in "abc"))
    option_t2_refused(post_option_t2(client, plugin_base, body), "'토핑'", "1~2개", "3개")


def test_select_twice_and_duplicates(client, plugin_base, simple):
    body = simple_body({"option_group_id": "size", "option_id": "S"})
    option_t2_refused(post_option_t2(client, plugin_base, body), "'사이즈'", "하나만")
    body = simple_body({"option_group_id": "topping", "option_id": "a"}, {"option_group_id": "topping", "option_id": "a"})
    option_t2_refused(post_option_t2(client, plugin_base, body), "두 번")


def test_integer_out_of_range(client, plugin_base, simple):
    body = simple_body()
    body["option_groups"][2]["text"] = "366"
    option_t2_refused(post_option_t2(client, plugin_base, body), "'기간'", "1~365", "366")
    body["option_groups"][2]["text"] = "abc"
    option_t2_refused(post_option_t2(client, plugin_base, body), "정수")


def test_numbers_length(client, plugin_base, simple):
    body = simple_body()
    body["option_groups"][1]["text"] = "010123456"  # 9 digits for a 10–11 rule
    option_t2_refused(post_option_t2(client, plugin_base, body), "'휴대폰'", "10~11자리", "9자리")
    body["option_groups"][1]["text"] = "010-1234-5678"
    option_t2_refused(post_option_t2(client, plugin_base, body), "숫자만")


def test_impossible_date(client, plugin_base, simple):
    body = simple_body({"option_group_id": "date", "text": "20230230"})
    option_t2_refused(post_option_t2(client, plugin_base, body), "'예약일'", "20230230", "not a valid date")


def test_tampered_prices_and_extra(client, plugin_base, guide):
    body = option_t2_body()
    body["option_groups"][2]["add_price"] = -1000
    option_t2_refused(post_option_t2(client, plugin_base, body), "'추가옵션'의 'A'", "add_price differs")
    body = option_t2_body(price=1)
    option_t2_refused(post_option_t2(client, plugin_base, body), "price differs")
    body = option_t2_body()
    body["option_groups"][2]["extra"] = "99999"
    option_t2_refused(post_option_t2(client, plugin_base, body), "extra differs")


def _stock_set(value: int) -> None:
    """The leaf's stock changed (as the catalog's services change it: the product's cached trees,
    option T1's body and option T2's tree alike, are renewed)."""
    leaf = Option.objects.filter(sub_group__sub_group_id="S12:R23:추가옵션")
    leaf.update(stock=value)
    invalidate_products(product_pks=leaf.values_list("product_id", flat=True))


def test_zero_stock_and_short_stock(client, plugin_base, guide):
    _stock_set(0)
    option_t2_refused(post_option_t2(client, plugin_base, option_t2_body()), "'추가옵션'의 'A'", "품절", "sold out")
    _stock_set(2)
    body = option_t2_body()
    body["option_groups"][2]["quantity"] = 3
    option_t2_refused(post_option_t2(client, plugin_base, body), "남은 수량 2개")


def test_quantities(client, plugin_base, guide):
    option_t2_refused(post_option_t2(client, plugin_base, option_t2_body(quantity=2)), "구매 수량은 1~1개")  # max_quantity defaults to 1
    body = option_t2_body()
    body["option_groups"][2]["quantity"] = 100  # max_quantity 99
    option_t2_refused(post_option_t2(client, plugin_base, body), "수량은 1~99개")


def test_not_on_sale_unknown_product_and_malformed(client, plugin_base, db):
    option_tree_import(data=guide_tree(), product_settings={"on_sale": False})
    option_t2_refused(post_option_t2(client, plugin_base, option_t2_body()), "판매 중인 상품이 아닙니다")
    option_t2_refused(post_option_t2(client, plugin_base, option_t2_body(id="zzz")), "'zzz'", "unknown product")
    r = post_option_t2(client, plugin_base, option_t2_body(quantity="one"))
    assert r.status_code == 400 and r.json()["status"] == 400 and "quantity" in r.json()["message"]
    r = client.post(f"{plugin_base}option", data="{not json", content_type="application/json")
    assert r.status_code == 400 and r.json()["status"] == 400
    r = post_option_t2(client, plugin_base, {"name": "no id"})
    assert r.status_code == 400 and "id" in r.json()["message"]


def test_blocked_user_is_refused(client, plugin_base, kakao_app, guide):
    Customer.objects.create(kakao_app=kakao_app, app_user_id="app-user-1", blocked=True)
    option_t2_refused(post_option_t2(client, plugin_base, GUIDE_OPTION_T2), "제한된 사용자")


def test_order_sheet_ids_are_unguessable_and_distinct(client, plugin_base, guide):
    ids = {post_option_t2(client, plugin_base, GUIDE_OPTION_T2).json()["data"] for _ in range(5)}
    assert len(ids) == 5 and all(len(i) >= 24 for i in ids)


def test_added_option_groups_are_shown_only_when_their_option_is_picked(client, plugin_base, db):
    data = simple_tree()
    data["option_groups"][0]["option_sub_groups"][0]["options"][1]["added_option_groups"] = [
        {"id": "sleeve", "name": "소매", "type": "SELECT", "option_sub_groups": [{"id": "sleeve", "options": [{"id": "long", "value": "긴팔", "add_price": 2000}]}]}
    ]
    option_tree_import(data=data)
    # M picked: sleeve is shown and required
    option_t2_refused(post_option_t2(client, plugin_base, simple_body()), "필수 옵션 '소매'")
    r = post_option_t2(client, plugin_base, simple_body({"option_group_id": "sleeve", "option_id": "long"}))
    assert OrderSheet.objects.get(pk=r.json()["data"]).total_amount == 10000 + 500 + 2000
    OrderSheet.objects.all().delete()
    # S picked: sleeve is not shown, so it cannot be answered
    body = simple_body({"option_group_id": "sleeve", "option_id": "long"})
    body["option_groups"][0] = {"option_group_id": "size", "option_id": "S"}
    option_t2_refused(post_option_t2(client, plugin_base, body), "'소매'", "not shown")


def test_a_warm_option_t2_reads_no_tree_and_a_stock_change_is_seen_at_once(client, plugin_base, guide,
                                                                           django_capture_on_commit_callbacks):
    """Option T2 validates against the tree this process loaded under the product's current
    generation (catalog.cache): no query of the tree's five while nothing changed; a hold taken by
    payment T2 (catalog.stock) renews the generation, so the next option T2 sees the stock left."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from catalog.stock import StockItem, stock_hold

    assert post_option_t2(client, plugin_base, option_t2_body()).json()["status"] == 200
    with CaptureQueriesContext(connection) as queries:
        assert post_option_t2(client, plugin_base, option_t2_body()).json()["status"] == 200
    tree_tables = ("catalog_product", "catalog_optiongroup", "catalog_optionsubgroup", "catalog_option", "catalog_optionrelation")
    assert not [q["sql"] for q in queries.captured_queries if any(f'FROM "{t}"' in q["sql"] for t in tree_tables)]
    leaf = Option.objects.get(sub_group__sub_group_id="S12:R23:추가옵션")
    _stock_set(1)
    with django_capture_on_commit_callbacks(execute=True):  # the hold's commit renews the generation
        stock_hold(reference="hold-1", items=[StockItem(option_pk=leaf.pk, product_pk=None, quantity=1)],
                   expires_at=timezone.now() + timedelta(minutes=5), livemode=True)  # fmt: skip
    refused = post_option_t2(client, plugin_base, option_t2_body()).json()
    assert refused["status"] == 400 and "'추가옵션'의 'A'은(는) 품절" in refused["message"], refused
