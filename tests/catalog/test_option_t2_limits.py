"""Option T2 input limits (issue 11): answers, quantities and totals are capped; a T2 body never
gets a 5xx (a hypothesis property test over T2 bodies)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from catalog.services import option_tree_import
from orders.models import OrderSheet
from tests.support.options import option_t2_refused, post_option_t2
from tests.support.trees import simple_tree

BIG = 10**12  # the catalog's largest price (catalog.tree.MAX_PRICE)
HUGE_QUANTITY = 2_147_483_647  # the catalog's largest max_quantity


def limits_tree(**product) -> dict:
    tree = simple_tree(**product)
    tree["option_groups"].append(
        {
            "id": "gift",
            "name": "선물",
            "type": "SELECT",
            "required": False,
            "option_sub_groups": [
                {
                    "id": "gift",
                    "options": [
                        {"id": "gold", "value": "금", "add_price": BIG, "max_quantity": HUGE_QUANTITY},
                        {"id": "card", "value": "카드", "add_price": 1000, "max_quantity": HUGE_QUANTITY},
                    ],
                }
            ],
        }
    )
    return tree


@pytest.fixture
def tree(db):
    return option_tree_import(data=limits_tree(max_quantity=HUGE_QUANTITY))


def body(quantity=1, days="30", extra_groups=()):
    return {
        "id": "P1",
        "quantity": quantity,
        "option_groups": [
            {"option_group_id": "size", "option_id": "S"},
            {"option_group_id": "phone", "text": "01012345678"},
            {"option_group_id": "days", "text": days},
            *extra_groups,
        ],
    }


@pytest.mark.django_db
def test_integer_answer_of_thousands_of_digits_is_a_400(client, plugin_base, tree):
    """The reproduction: int() of a 5,000-digit answer raised ValueError (a 500)."""
    option_t2_refused(post_option_t2(client, plugin_base, body(days="9" * 5000)), "text too long")
    option_t2_refused(post_option_t2(client, plugin_base, body(days="9" * 1999)), "기간", "digits")
    r = post_option_t2(client, plugin_base, body(days="-" + "1" * 19))
    option_t2_refused(r, "digits")
    option_t2_refused(post_option_t2(client, plugin_base, body(days="1" * 18)), "1~365")  # long enough to compare


@pytest.mark.django_db
def test_add_price_times_quantity_beyond_the_column_is_a_400(client, plugin_base, tree):
    """The reproduction: add_price × quantity (10^12 × 10^7) overflowed the bigint column (a 500)."""
    gold = {"option_group_id": "gift", "option_id": "gold", "quantity": 10_000_000}
    option_t2_refused(post_option_t2(client, plugin_base, body(extra_groups=[gold])), "quantity over the order limit")
    gold["quantity"] = 2
    option_t2_refused(post_option_t2(client, plugin_base, body(extra_groups=[gold])), "over the order limit of 100000000 KRW")
    # the product quantity the catalog allows, beyond the order limit
    option_t2_refused(post_option_t2(client, plugin_base, body(quantity=10_000_000)), "quantity over the order limit")


@pytest.mark.django_db
def test_the_largest_order_amount_is_accepted_and_one_more_won_is_not(client, plugin_base, tree, settings):
    settings.ORDER_MAX_AMOUNT = 10_000 * 3 + 1000 * 7  # 3 shirts (10,000) and 7 cards (1,000)
    card = {"option_group_id": "gift", "option_id": "card", "quantity": 7}
    r = post_option_t2(client, plugin_base, body(quantity=3, extra_groups=[card]))
    assert r.json()["status"] == 200, r.json()
    assert OrderSheet.objects.get().total_amount == settings.ORDER_MAX_AMOUNT
    settings.ORDER_MAX_AMOUNT -= 1
    OrderSheet.objects.all().delete()
    option_t2_refused(post_option_t2(client, plugin_base, body(quantity=3, extra_groups=[card])), "주문 한도")


@pytest.mark.django_db
def test_overlong_ids_extras_and_texts_are_refused(client, plugin_base, tree):
    option_t2_refused(post_option_t2(client, plugin_base, body(extra_groups=[{"option_group_id": "g" * 201, "option_id": "x"}])), "too long")
    option_t2_refused(post_option_t2(client, plugin_base, body(extra_groups=[{"option_group_id": "gift", "option_id": "x" * 201}])), "too long")
    option_t2_refused(
        post_option_t2(client, plugin_base, body(extra_groups=[{"option_group_id": "gift", "option_id": "card", "extra": "e" * 501}])),
        "too long",
    )
    option_t2_refused(post_option_t2(client, plugin_base, body(extra_groups=[{"option_group_id": "memo", "text": " " * 5000}])), "too long")


# --- property: no T2 body gets a 5xx ------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**64 - 1), st.floats(allow_nan=False),
    st.text(max_size=30), st.text(alphabet="0123456789+-", min_size=1, max_size=6000),
)  # fmt: skip
group_ids = st.sampled_from(["size", "topping", "phone", "days", "date", "memo", "gift", "nope", ""])
option_ids = st.sampled_from(["S", "M", "a", "b", "c", "gold", "card", "x"])
picks = st.fixed_dictionaries(
    {"option_group_id": st.one_of(group_ids, scalars)},
    optional={
        "option_id": st.one_of(option_ids, scalars),
        "quantity": st.one_of(st.integers(min_value=-5, max_value=2**40), scalars),
        "add_price": st.one_of(st.sampled_from([0, 500, 1000, BIG]), scalars),
        "text": scalars,
        "extra": scalars,
    },
)
# hypothesis favours small numbers: the lengths and quantities around the limits are offered outright
digit_runs = st.one_of(st.sampled_from([18, 19, 2000, 2001, 4301, 6000]), st.integers(min_value=1, max_value=6000)).map(
    lambda n: "9" * n
)
big_quantities = st.one_of(
    st.sampled_from([9_999, 10_000, 10_000_000, HUGE_QUANTITY]), st.integers(min_value=1, max_value=HUGE_QUANTITY)
)
# bodies close to a valid one (each part valid or not), so the checks past the first few are reached
near_valid = st.builds(
    lambda quantity, size, phone, days, gift, extra: {
        "id": "P1", "quantity": quantity,
        "option_groups": [size, {"option_group_id": "phone", "text": phone}, {"option_group_id": "days", "text": days}, *gift, *extra],
    },
    quantity=st.one_of(big_quantities, scalars),
    size=st.fixed_dictionaries({"option_group_id": st.just("size"), "option_id": st.sampled_from(["S", "M", "x"])}),
    phone=st.one_of(st.just("01012345678"), digit_runs, scalars),
    days=st.one_of(st.integers(min_value=-400, max_value=400).map(str), digit_runs, scalars),
    gift=st.lists(
        st.fixed_dictionaries({
            "option_group_id": st.just("gift"), "option_id": st.sampled_from(["gold", "card"]),
            "quantity": st.one_of(big_quantities, scalars),
        }),
        max_size=2,
    ),
    extra=st.lists(picks, max_size=3),
)  # fmt: skip
bodies = st.one_of(
    near_valid,
    st.fixed_dictionaries(
        {"id": st.one_of(st.just("P1"), scalars)},
        optional={
            "quantity": st.one_of(st.integers(min_value=-5, max_value=2**63 - 1), scalars),
            "price": st.one_of(st.just(10000), scalars),
            "option_groups": st.one_of(st.lists(picks, max_size=8), scalars, st.lists(scalars, max_size=3)),
        },
    ),
    st.lists(scalars, max_size=3),
    scalars,
)


@pytest.mark.django_db
@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(payload=bodies)
def test_no_option_t2_body_gets_a_5xx(client, plugin_base, tree, payload):
    r = client.post(
        f"{plugin_base}option", data=json.dumps(payload), content_type="application/json",
        HTTP_X_KAKAO_APPUSERID="app-user-1",
    )  # fmt: skip
    assert r.status_code < 500, r.content
    answer = r.json()
    assert answer["status"] in (200, 400), answer
    if answer["status"] == 200:
        sheet = OrderSheet.objects.get(pk=answer["data"])
        assert 0 <= sheet.total_amount <= 100_000_000


# --- payment T1: the total with delivery is capped too -------------------------------------------


@pytest.mark.django_db
def test_payment_t1_refuses_a_total_over_the_limit_once_delivery_is_added(kakao_app, plugin_base, fake_kakao, settings):
    from orders.models import Order, StoreRules
    from tests.support.payments import Buyer, make_product, make_sheet

    StoreRules.objects.create(kakao_app=kakao_app, enforce_business_hours=False, shipping_base_fee=3000)
    product, option = make_product(price=10000)
    settings.ORDER_MAX_AMOUNT = 12000  # the sheet's 10,000 passes; with the 3,000 delivery it does not
    buyer = Buyer(plugin_base, fake_kakao.url)
    body = buyer.t1(make_sheet(kakao_app, product, option).pk)
    assert body["status"] == 400 and "한도" in body["message"], body
    assert not Order.objects.exists()
    settings.ORDER_MAX_AMOUNT = 13000
    assert buyer.t1(make_sheet(kakao_app, product, option).pk)["data"]["total_amount"] == 13000
