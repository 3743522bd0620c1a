"""Writes of the catalog: import an option tree, generate combinations, edit prices and stock in
bulk.  Every write validates the resulting tree with :mod:`catalog.tree` (the one validator) inside
its transaction and forgets the product's cached T1 (:func:`product_tree_changed`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError

from kakaoplugin.outbox import outbox_add

from .cache import invalidate_codes, invalidate_products
from .models import Option, OptionGroup, OptionRelation, OptionSubGroup, Product
from .selectors import option_paths, tree_load, tree_response
from .stock_alerts import stock_crossings_check
from .tasks import forget_cached_trees
from .tree import ANSWER_TYPES, TreeInvalid, check_tree, tree_errors

PRODUCT_SETTINGS = (
    "on_sale", "kind", "tax_type", "needs_shipping", "product_url", "stock", "category", "list_price",
    "low_stock_threshold",
)  # fmt: skip


class OptionHeld(TreeInvalid):
    """An option the new tree drops still has stock held for an unfinished payment."""


def product_tree_changed(*, product_pks: Iterable[int], old_codes: Iterable[str] = ()) -> None:
    """Forget the cached T1 of these products now and again once the transaction commits (a T1
    read racing the write cannot then keep serving the old tree).

    Every write of the catalog ends here, so this is also where the stock webhooks of those
    products are settled (:func:`catalog.stock_alerts.stock_crossings_check`, in the same
    transaction): a stock or threshold changed by the admin, the CSV or the catalog API."""
    pks, codes = list(product_pks), list(old_codes)
    if pks:
        stock_crossings_check(product_pks=pks)
    invalidate_products(product_pks=pks)
    invalidate_codes(codes)
    outbox_add(task=forget_cached_trees, args=[pks, codes], inline=True)  # again, after the commit


def product_tree_check(*, product_pk: int) -> None:
    """Validate the stored tree of a product (after an admin edit): raise TreeInvalid."""
    tree = tree_load(pk=product_pk)
    if tree is not None:
        check_tree(tree_response(tree))


def product_tree_problems(*, product_pk: int) -> list[str]:
    tree = tree_load(pk=product_pk)
    return [] if tree is None else tree_errors(tree_response(tree))


# --- import (upsert by the tree's own ids) -------------------------------------------------------


def unwrap(data: Any) -> Any:
    """Accept a T1 answer as captured (``{"status": 200, "data": {...}}``) as well as the tree."""
    if isinstance(data, dict) and "data" in data and "status" in data and "option_groups" not in data:
        return data["data"]
    return data


@dataclass
class _Flat:
    groups: list[tuple[dict, tuple[str, str] | None, int]]  # (group, parent option key, position)
    sub_groups: list[tuple[dict, str, int]]  # (sub-group, group id, position)
    options: list[tuple[dict, str, int]]  # (option, sub-group id, position)
    relations: list[tuple[tuple[str, str], str, int]]  # (option key, target sub-group id, position)


def _flatten(data: dict) -> _Flat:
    flat = _Flat([], [], [], [])

    def group(g: dict, parent: tuple[str, str] | None, position: int) -> None:
        flat.groups.append((g, parent, position))
        for sp, s in enumerate(g.get("option_sub_groups") or []):
            flat.sub_groups.append((s, g["id"], sp))
            for op, o in enumerate(s["options"]):
                flat.options.append((o, s["id"], op))
                key = (s["id"], o["id"])
                for rp, r in enumerate(o.get("relate_option_groups") or []):
                    flat.relations.append((key, r["sub_group_id"], rp))
                for ap, added in enumerate(o.get("added_option_groups") or []):
                    group(added, key, ap)

    for position, g in enumerate(data["option_groups"]):
        group(g, None, position)
    return flat


def _int(value):
    return int(value) if isinstance(value, float) else value


GROUP_VALUE_FIELDS = (
    "name", "required", "description", "type", "min_length", "max_length", "min_value", "max_value", "placeholder",
)  # fmt: skip
SUB_GROUP_VALUE_FIELDS = ("min_select", "max_select", "default_option_id")
OPTION_VALUE_FIELDS = ("value", "add_price", "min_quantity", "max_quantity", "stock", "extra")


@transaction.atomic
def option_tree_import(*, data: Any, product_settings: dict | None = None) -> Product:
    """Create or update the product ``data["id"]`` so that T1 serves exactly ``data``.

    Rows are matched by their ids (group id; sub-group id; sub-group id + option id) and updated
    in place, so options keep their primary keys (stock holds and order lines point at them).
    An option that disappears while stock is held for it cannot be deleted: TreeInvalid says so.
    """
    data = unwrap(data)
    check_tree(data)
    product = Product.objects.select_for_update().filter(code=data["id"]).first() or Product(code=data["id"])
    product.name = data["name"]
    for key in ("price", "min_quantity", "max_quantity", "default_quantity"):
        setattr(product, key, _int(data.get(key)))
    for key, value in (product_settings or {}).items():
        if key not in PRODUCT_SETTINGS:
            raise ValueError(f"unknown product setting {key}")
        setattr(product, key, value)
    product.save()

    flat = _flatten(data)
    groups = {g.group_id: g for g in OptionGroup.objects.filter(product=product)}
    sub_groups = {s.sub_group_id: s for s in OptionSubGroup.objects.filter(product=product)}
    options = {(o.sub_group_id, o.option_id): o for o in Option.objects.filter(product=product)}

    def upsert(model, existing: dict, key, values: dict, new: list, changed: list):
        row = existing.get(key)
        if row is None:
            row = model(product=product, **values)
            new.append(row)
            existing[key] = row
        else:
            if any(getattr(row, f) != v for f, v in values.items()):
                changed.append(row)
            for f, v in values.items():
                setattr(row, f, v)
        return row

    new: list = []
    changed: list = []
    for g, _parent, position in flat.groups:
        values = {f: _int(g.get(f)) for f in GROUP_VALUE_FIELDS}
        values.update(position=position, group_id=g["id"])
        upsert(OptionGroup, groups, g["id"], values, new, changed)
    _save(OptionGroup, new, changed, [*GROUP_VALUE_FIELDS, "position"])

    new, changed = [], []
    for s, gid, position in flat.sub_groups:
        values = {f: s.get(f) for f in SUB_GROUP_VALUE_FIELDS}
        values.update(position=position, sub_group_id=s["id"], group_id=groups[gid].pk)
        upsert(OptionSubGroup, sub_groups, s["id"], values, new, changed)
    _save(OptionSubGroup, new, changed, [*SUB_GROUP_VALUE_FIELDS, "position", "group_id"])

    new, changed = [], []
    keep_options: set[int] = set()
    for o, sid, position in flat.options:
        sub_pk = sub_groups[sid].pk
        values = {f: _int(o.get(f)) for f in OPTION_VALUE_FIELDS}
        values.update(position=position, option_id=o["id"], sub_group_id=sub_pk)
        row = upsert(Option, options, (sub_pk, o["id"]), values, new, changed)
        if row.pk is not None:
            keep_options.add(row.pk)
    _save(Option, new, changed, [*OPTION_VALUE_FIELDS, "position", "sub_group_id"])
    keep_options.update(o.pk for o in new)

    def option_pk(key: tuple[str, str]) -> int:
        return options[(sub_groups[key[0]].pk, key[1])].pk

    # Added groups hang off options: set their parents now that every option has a primary key.
    parents = []
    for g, parent, _position in flat.groups:
        row = groups[g["id"]]
        parent_pk = None if parent is None else option_pk(parent)
        if row.parent_option_id != parent_pk:
            row.parent_option_id = parent_pk
            parents.append(row)
    OptionGroup.objects.bulk_update(parents, ["parent_option"], batch_size=500)

    OptionRelation.objects.filter(product=product).delete()
    OptionRelation.objects.bulk_create(
        [
            OptionRelation(product=product, option_id=option_pk(key), target_id=sub_groups[target].pk, position=position)
            for key, target, position in flat.relations
        ],
        batch_size=500,
    )

    # What the tree no longer has goes, children first (kept rows were re-parented above).
    keep_sub_groups = {s["id"] for s, _g, _p in flat.sub_groups}
    keep_groups = {g["id"] for g, _p, _q in flat.groups}
    try:
        Option.objects.filter(product=product).exclude(pk__in=keep_options).delete()
    except ProtectedError as exc:
        # the protecting rows are the stock holds (and order lines) pointing at the options
        pks = {getattr(o, "option_id", None) for o in exc.protected_objects} - {None}
        names = Option.objects.filter(pk__in=pks).values_list("sub_group__sub_group_id", "option_id")
        held = sorted({f"'{option}' ({sub_group})" for sub_group, option in names} or {"?"})
        raise OptionHeld(
            [f"옵션 {', '.join(held)}은(는) 진행 중인 주문의 재고가 잡혀 있어 지울 수 없습니다 (stock is held for it: cannot delete)"]
        ) from None
    OptionSubGroup.objects.filter(product=product).exclude(sub_group_id__in=keep_sub_groups).delete()
    OptionGroup.objects.filter(product=product).exclude(group_id__in=keep_groups).delete()

    product_tree_changed(product_pks=[product.pk])
    return product


def _save(model, new: list, changed: list, fields: list[str]) -> None:
    if new:
        model.objects.bulk_create(new, batch_size=500)
    if changed:
        model.objects.bulk_update(changed, fields, batch_size=500)


# --- combination generator ------------------------------------------------------------------------


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


# --- bulk price / stock editing ---------------------------------------------------------------------

GRID_FIELDS = ("value", "add_price", "stock", "min_quantity", "max_quantity", "extra", "test_stock")
NUMBER_FIELDS = ("add_price", "stock", "min_quantity", "max_quantity", "test_stock")
CSV_COLUMNS = ("group_id", "sub_group_id", "option_id", "path", *GRID_FIELDS)


def parse_cell(field: str, text: str | None, where: str) -> Any:
    """A grid or CSV cell: empty means unset; numbers must be whole."""
    text = (text or "").strip()
    if text == "":
        if field == "value":
            raise TreeInvalid([f"{where}: 'value'가 비어 있습니다 (value must not be empty)"])
        return None
    if field in NUMBER_FIELDS:
        try:
            return int(text.replace(",", ""))
        except ValueError:
            raise TreeInvalid([f"{where}: '{field}' 값 '{text}'은(는) 정수가 아닙니다 (not a whole number)"]) from None
    return text


@transaction.atomic
def options_bulk_update(*, product: Product, changes: dict[int, dict[str, Any]]) -> int:
    """Set fields of options of ``product`` (option pk → {field: value}); validate; invalidate.
    Returns how many options changed."""
    rows = Option.objects.select_for_update().filter(product=product, pk__in=list(changes))
    changed = []
    for row in rows:
        values = changes[row.pk]
        if any(getattr(row, f) != v for f, v in values.items()):
            for f, v in values.items():
                if f not in GRID_FIELDS:
                    raise ValueError(f"not an editable option field: {f}")
                setattr(row, f, v)
            changed.append(row)
    if len(rows) != len(changes):
        raise TreeInvalid(["다른 상품의 옵션이거나 삭제된 옵션입니다 (unknown option)"])
    if changed:
        # Negative numbers would fail at the database: check them first, the validator says where.
        _check_numbers(changed)
        Option.objects.bulk_update(changed, list(GRID_FIELDS), batch_size=500)
        product_tree_check(product_pk=product.pk)
        product_tree_changed(product_pks=[product.pk])
    return len(changed)


def _check_numbers(rows: list[Option]) -> None:
    errors = []
    for row in rows:
        for f in NUMBER_FIELDS:
            v = getattr(row, f)
            if v is not None and v < 0:
                errors.append(f"옵션 '{row.option_id}' ({row.pk}): '{f}'는 0 이상이어야 합니다 ({f} must not be negative)")
    if errors:
        raise TreeInvalid(errors)


def options_csv_export(*, product: Product) -> str:
    tree = tree_load(pk=product.pk)
    paths = option_paths(product.pk)
    # The tree carries the live counter as ``stock``; the test counter is read beside it.
    test_stock = dict(Option.objects.filter(product=product).values_list("pk", "test_stock"))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)

    def rows(group):
        for s in group.sub_groups:
            for o in s.options:
                values = {f: test_stock.get(o.pk) if f == "test_stock" else getattr(o, f) for f in GRID_FIELDS}
                writer.writerow(
                    [group.id, s.id, o.id, paths.get(o.pk, "")] + ["" if v is None else v for v in values.values()]
                )
                for added in o.added_groups:
                    rows(added)

    for group in tree.groups:
        rows(group)
    return out.getvalue()


@transaction.atomic
def options_csv_import(*, product: Product, text: str) -> int:
    """Apply a CSV written by :func:`options_csv_export` (edited in a spreadsheet): rows are found
    by sub_group_id + option_id; columns absent from the file are left alone."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or not {"sub_group_id", "option_id"} <= set(reader.fieldnames):
        raise TreeInvalid(["CSV에 sub_group_id, option_id 열이 필요합니다 (CSV needs sub_group_id and option_id columns)"])
    fields = [f for f in GRID_FIELDS if f in reader.fieldnames]
    options = {
        (sid, oid): pk
        for pk, sid, oid in Option.objects.filter(product=product).values_list("pk", "sub_group__sub_group_id", "option_id")
    }
    changes: dict[int, dict] = {}
    errors: list[str] = []
    for line, row in enumerate(reader, start=2):
        key = ((row.get("sub_group_id") or "").strip(), (row.get("option_id") or "").strip())
        where = f"{line}번째 줄 (line {line}) 옵션 '{key[1]}' / 하위그룹 '{key[0]}'"
        pk = options.get(key)
        if pk is None:
            errors.append(f"{where}: 이 상품에 없는 옵션입니다 (no such option in this product)")
            continue
        try:
            changes[pk] = {f: parse_cell(f, row.get(f), where) for f in fields}
        except TreeInvalid as exc:
            errors.extend(exc.errors)
    if errors:
        raise TreeInvalid(errors)
    return options_bulk_update(product=product, changes=changes)
