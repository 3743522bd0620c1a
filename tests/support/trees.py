"""Option trees the catalog and option plugin tests share: the guide's sample, a small tree, a 1,000-option product."""

from __future__ import annotations

import json
from pathlib import Path

from catalog.models import Option, Product
from catalog.services import combinations_generate

FIXTURE = Path(__file__).resolve().parents[2] / "catalog" / "fixtures" / "demo_product.json"


def demo_tree() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def guide_tree() -> dict:
    """The guide's T1 sample (chapter 05), typos corrected: price 0 as in the guide."""
    data = demo_tree()
    data["price"] = 0
    return data


def simple_tree(**product) -> dict:
    return {
        "id": "P1",
        "name": "티셔츠",
        "price": 10000,
        **product,
        "option_groups": [
            {
                "id": "size",
                "name": "사이즈",
                "type": "SELECT",
                "option_sub_groups": [
                    {
                        "id": "size",
                        "options": [{"id": "S", "value": "S"}, {"id": "M", "value": "M", "add_price": 500}],
                    }
                ],
            },
            {
                "id": "topping",
                "name": "토핑",
                "type": "MULTI_SELECT",
                "required": False,
                "option_sub_groups": [
                    {
                        "id": "topping",
                        "min_select": 1,
                        "max_select": 2,
                        "options": [
                            {"id": "a", "value": "치즈", "add_price": 1000, "stock": 5},
                            {"id": "b", "value": "햄", "add_price": 1500},
                            {"id": "c", "value": "콘"},
                        ],
                    }
                ],
            },
            {
                "id": "phone",
                "name": "휴대폰",
                "type": "NUMBERS",
                "min_length": 10,
                "max_length": 11,
                "placeholder": "01012345678",
            },
            {"id": "days", "name": "기간", "type": "INTEGER", "min_value": 1, "max_value": 365},
            {"id": "date", "name": "예약일", "type": "DATE", "required": False},
            {"id": "memo", "name": "요청사항", "type": "TEXT", "required": False},
        ],
    }


def thousand_option_product() -> Product:
    """A chain of 10 × 100: 10 + 1,000 options, 11 sub-groups, 1,000 leaves with price and stock."""
    product = Product.objects.create(code="big:1", name="큰 상품", price=1000)
    axes = [("색상", [f"c{i}" for i in range(10)]), ("사이즈", [f"s{i}" for i in range(100)])]
    combinations_generate(product=product, axes=axes, add_price=100, stock=5)
    assert Option.objects.filter(product=product).count() == 1010
    return product
