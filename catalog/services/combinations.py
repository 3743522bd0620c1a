"""The combination generator: axes (``사이즈: S, M, L``) → a related chain with one leaf per
combination, imported as the product's tree."""

from __future__ import annotations

from django.db import transaction

from ..models import Product
from ..selectors import tree_load, tree_response
from ..tree import ANSWER_TYPES
from .trees import option_tree_import


def parse_axes(text: str) -> list[tuple[str, list[str]]]:
    """``사이즈: S, M, L`` one axis per line → [("사이즈", ["S", "M", "L"]), ...]; ValueError says why."""
    axes: list[tuple[str, list[str]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, values_text = line.partition(":")
        name = name.strip()
        values = [v.strip() for v in values_text.replace("\n", ",").split(",") if v.strip()]
        if not sep or not name or not values:
            raise ValueError(f"{number}번째 줄: '이름: 값1, 값2' 형식으로 적어 주세요 (line {number}: write 'name: a, b')")
        if len(set(values)) != len(values):
            raise ValueError(f"'{name}': 같은 값이 두 번 있습니다 (duplicate value)")
        if any(n == name for n, _ in axes):
            raise ValueError(f"'{name}': 같은 이름의 축이 두 번 있습니다 (duplicate axis)")
        axes.append((name, values))
    if not axes:
        raise ValueError("축을 하나 이상 적어 주세요 (name at least one axis)")
    return axes


def combination_count(axes: list[tuple[str, list[str]]]) -> int:
    count = 1
    for _name, values in axes:
        count *= len(values)
    return count


MAX_COMBINATIONS = 5000


def combinations_tree(
    *,
    product: Product,
    axes: list[tuple[str, list[str]]],
    add_price: int | None = None,
    stock: int | None = None,
) -> dict:
    """The T1 tree of ``product`` with its choice groups replaced by a related chain over ``axes``
    (one leaf per combination).  Answer groups (TEXT, NUMBERS, INTEGER, DATE) are kept after the
    chain; leaves that existed before keep their price, stock, extra and quantities."""
    if combination_count(axes) > MAX_COMBINATIONS:
        raise ValueError(f"조합이 너무 많습니다 (최대 {MAX_COMBINATIONS}개; too many combinations)")
    tree = tree_load(pk=product.pk)
    current = tree_response(tree)
    old_options: dict[tuple[str, str], dict] = {}
    for g in current["option_groups"]:
        for s in g.get("option_sub_groups") or []:
            for o in s["options"]:
                old_options[(s["id"], o["id"])] = o

    groups: list[dict] = []
    prefixes: list[list[str]] = [[]]
    for depth, (name, values) in enumerate(axes):
        last = depth == len(axes) - 1
        sub_groups = []
        next_prefixes = []
        for prefix in prefixes:
            sid = name if depth == 0 else ":".join([*prefix, name])
            options = []
            for value in values:
                option: dict = {"id": value, "value": value}
                if last:
                    old = old_options.get((sid, value), {})
                    for key in ("add_price", "min_quantity", "max_quantity", "stock", "extra"):
                        if key in old:
                            option[key] = old[key]
                    if "add_price" not in old and add_price is not None:
                        option["add_price"] = add_price
                    if "stock" not in old and stock is not None:
                        option["stock"] = stock
                else:
                    next_name = axes[depth + 1][0]
                    option["relate_option_groups"] = [
                        {"group_id": next_name, "sub_group_id": ":".join([*prefix, value, next_name])}
                    ]
                    next_prefixes.append([*prefix, value])
                options.append(option)
            sub_groups.append({"id": sid, "options": options})
        groups.append(
            {
                "id": name,
                "name": name,
                "option_sub_groups": sub_groups,
                "description": f"{name}을(를) 선택해 주세요.",
                "type": "SELECT",
            }
        )
        prefixes = next_prefixes
    answers = [g for g in current["option_groups"] if g["type"] in ANSWER_TYPES]
    current["option_groups"] = groups + answers
    return current


@transaction.atomic
def combinations_generate(
    *,
    product: Product,
    axes: list[tuple[str, list[str]]],
    add_price: int | None = None,
    stock: int | None = None,
) -> Product:
    data = combinations_tree(product=product, axes=axes, add_price=add_price, stock=stock)
    return option_tree_import(data=data)
