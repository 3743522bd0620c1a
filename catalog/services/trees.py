"""A product's option tree written: imported whole (upsert by the tree's own ids), checked, and
forgotten from the T1 cache (:func:`product_tree_changed`, where every catalog write ends)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError

from kakaoplugin.outbox import outbox_add

from ..cache import invalidate_codes, invalidate_products
from ..models import Option, OptionGroup, OptionRelation, OptionSubGroup, Product
from ..selectors import tree_load, tree_response
from ..stock_alerts import stock_crossings_check
from ..tasks import forget_cached_trees
from ..tree import TreeInvalid, check_tree, tree_errors

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
