"""Reads of the catalog: a product's whole option tree in a fixed number of queries.

:func:`tree_load` runs one query per table (product, groups, sub-groups, options, relations),
filtered by product, and assembles the tree in Python: five queries whatever the tree's size.
The same :class:`LoadedTree` serves option T1 (:func:`tree_response`), export, the admin's
preview and validation, and option T2's selection validator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from kakaoplugin.lookups import one_or_none

from .models import Option, OptionGroup, OptionRelation, OptionSubGroup, Product, stock_field

PRODUCT_FIELDS = (
    "id", "code", "name", "price", "min_quantity", "max_quantity", "default_quantity", "stock", "test_stock",
    "on_sale", "kind", "tax_type", "needs_shipping", "product_url",
)  # fmt: skip
GROUP_FIELDS = (
    "id", "parent_option_id", "position", "group_id", "name", "required", "description", "type", "min_length",
    "max_length", "min_value", "max_value", "placeholder",
)  # fmt: skip
SUB_GROUP_FIELDS = ("id", "group_id", "position", "sub_group_id", "min_select", "max_select", "default_option_id")
OPTION_FIELDS = (
    "id", "sub_group_id", "position", "option_id", "value", "add_price", "min_quantity", "max_quantity", "stock",
    "test_stock", "extra",
)  # fmt: skip


@dataclass(slots=True)
class TOption:
    pk: int
    id: str
    value: str
    add_price: int | None
    min_quantity: int | None
    max_quantity: int | None
    stock: int | None
    extra: str | None
    sub_group: TSubGroup
    relations: list[TSubGroup] = field(default_factory=list)
    added_groups: list[TGroup] = field(default_factory=list)
    # Limited in either mode: order lines name the option either way (the same lines and item
    # name in test and live mode); an unlimited counter is then simply not held.
    stocked: bool = False


@dataclass(slots=True)
class TSubGroup:
    pk: int
    id: str
    min_select: int | None
    max_select: int | None
    default_option_id: str | None
    group: TGroup
    options: list[TOption] = field(default_factory=list)


@dataclass(slots=True)
class TGroup:
    pk: int
    id: str
    name: str
    required: bool | None
    description: str | None
    type: str
    min_length: int | None
    max_length: int | None
    min_value: int | None
    max_value: int | None
    placeholder: str | None
    parent_option_pk: int | None
    sub_groups: list[TSubGroup] = field(default_factory=list)

    @property
    def is_required(self) -> bool:
        return self.required is not False


@dataclass(slots=True)
class LoadedTree:
    product: dict  # Product's fields (PRODUCT_FIELDS); "id" is the primary key, "code" Kakao's id
    groups: list[TGroup]  # first-level groups, in order
    all_groups: dict[str, TGroup]  # every group (added ones too) by id


def _sorted(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: (r["position"], r["id"]))


def tree_load(*, code: str | None = None, pk: int | None = None, livemode: bool = True) -> LoadedTree | None:
    """The product (by Kakao id or primary key) with its whole tree, or None: five queries.

    ``stock`` (the product's and each option's) is the counter of the mode: the real stock, or
    for ``livemode`` false the test stock (what a test app's T1 shows and its T2 checks against).
    """
    column = stock_field(livemode=livemode)
    products = Product.objects.all()
    products = products.filter(code=code) if code is not None else products.filter(pk=pk)
    product = one_or_none(products.values(*PRODUCT_FIELDS))
    if product is None:
        return None
    product["stock"] = product[column]
    ppk = product["id"]
    group_rows = _sorted(list(OptionGroup.objects.filter(product_id=ppk).order_by().values(*GROUP_FIELDS)))
    sub_rows = _sorted(list(OptionSubGroup.objects.filter(product_id=ppk).order_by().values(*SUB_GROUP_FIELDS)))
    option_rows = _sorted(list(Option.objects.filter(product_id=ppk).order_by().values(*OPTION_FIELDS)))
    relation_rows = sorted(
        OptionRelation.objects.filter(product_id=ppk).order_by().values_list("option_id", "target_id", "position", "id"),
        key=lambda r: (r[2], r[3]),
    )

    groups: dict[int, TGroup] = {}
    for r in group_rows:
        groups[r["id"]] = TGroup(
            pk=r["id"], id=r["group_id"], name=r["name"], required=r["required"], description=r["description"],
            type=r["type"], min_length=r["min_length"], max_length=r["max_length"], min_value=r["min_value"],
            max_value=r["max_value"], placeholder=r["placeholder"], parent_option_pk=r["parent_option_id"],
        )  # fmt: skip
    sub_groups: dict[int, TSubGroup] = {}
    for r in sub_rows:
        group = groups[r["group_id"]]
        sub_group = TSubGroup(
            pk=r["id"], id=r["sub_group_id"], min_select=r["min_select"], max_select=r["max_select"],
            default_option_id=r["default_option_id"], group=group,
        )  # fmt: skip
        sub_groups[r["id"]] = sub_group
        group.sub_groups.append(sub_group)
    options: dict[int, TOption] = {}
    for r in option_rows:
        sub_group = sub_groups[r["sub_group_id"]]
        option = TOption(
            pk=r["id"], id=r["option_id"], value=r["value"], add_price=r["add_price"],
            min_quantity=r["min_quantity"], max_quantity=r["max_quantity"], stock=r[column], extra=r["extra"],
            sub_group=sub_group, stocked=r["stock"] is not None or r["test_stock"] is not None,
        )  # fmt: skip
        options[r["id"]] = option
        sub_group.options.append(option)
    for option_pk, target_pk, _position, _id in relation_rows:
        options[option_pk].relations.append(sub_groups[target_pk])
    top: list[TGroup] = []
    for group in groups.values():
        if group.parent_option_pk is None:
            top.append(group)
        else:
            options[group.parent_option_pk].added_groups.append(group)
    return LoadedTree(product=product, groups=top, all_groups={g.id: g for g in groups.values()})


# --- the T1 OptionResponse ---------------------------------------------------------------------


def _put(out: dict, key: str, value) -> None:
    if value is not None:
        out[key] = value


def group_response(group: TGroup) -> dict:
    out: dict = {"id": group.id, "name": group.name}
    if group.type != OptionGroup.Type.TEXT:
        out["option_sub_groups"] = [sub_group_response(s) for s in group.sub_groups]
    _put(out, "required", group.required)
    _put(out, "description", group.description)
    out["type"] = group.type
    _put(out, "min_length", group.min_length)
    _put(out, "max_length", group.max_length)
    _put(out, "min_value", group.min_value)
    _put(out, "max_value", group.max_value)
    _put(out, "placeholder", group.placeholder)
    return out


def sub_group_response(sub_group: TSubGroup) -> dict:
    out: dict = {"id": sub_group.id}
    _put(out, "min_select", sub_group.min_select)
    _put(out, "max_select", sub_group.max_select)
    _put(out, "default_option_id", sub_group.default_option_id)
    out["options"] = [option_response(o) for o in sub_group.options]
    return out


def option_response(option: TOption) -> dict:
    out: dict = {"id": option.id, "value": option.value}
    _put(out, "add_price", option.add_price)
    _put(out, "min_quantity", option.min_quantity)
    _put(out, "max_quantity", option.max_quantity)
    _put(out, "stock", option.stock)
    if option.relations:
        out["relate_option_groups"] = [{"group_id": s.group.id, "sub_group_id": s.id} for s in option.relations]
    if option.added_groups:
        out["added_option_groups"] = [group_response(g) for g in option.added_groups]
    _put(out, "extra", option.extra)
    return out


def tree_response(tree: LoadedTree) -> dict:
    """The T1 ``OptionResponse``: contract field order, unset keys omitted."""
    p = tree.product
    out: dict = {"id": p["code"], "name": p["name"]}
    for key in ("price", "min_quantity", "max_quantity", "default_quantity"):
        _put(out, key, p[key])
    out["option_groups"] = [group_response(g) for g in tree.groups]
    return out


def tree_export(*, code: str) -> dict | None:
    """The product's tree as T1 serves it (the import/export format), or None."""
    tree = tree_load(code=code)
    return None if tree is None else tree_response(tree)


NOT_ON_SALE_MESSAGE = "판매 중인 상품이 아닙니다 (this product is not on sale)"


def option_t1_body(tree: LoadedTree) -> bytes:
    """The whole T1 answer: the envelope with the tree, or the refusal of a product not on sale."""
    if not tree.product["on_sale"]:
        return orjson.dumps({"status": 400, "message": NOT_ON_SALE_MESSAGE})
    return orjson.dumps({"status": 200, "data": tree_response(tree)})


def chain_paths(tree: LoadedTree) -> list[tuple[list[tuple[TGroup, TOption]], TSubGroup | None]]:
    """Every path through the related chain (for the admin's preview): the options picked in
    order, and the last sub-group reached.  A product without a chain has no paths."""
    if not any(o.relations for g in tree.groups for s in g.sub_groups for o in s.options):
        return []
    head = next(g for g in tree.groups if any(o.relations for s in g.sub_groups for o in s.options))
    paths: list = []

    def walk(sub_groups: list[TSubGroup], prefix: list) -> None:
        for sub_group in sub_groups:
            for option in sub_group.options:
                step = [*prefix, (sub_group.group, option)]
                if option.relations:
                    walk(option.relations[:1], step)
                else:
                    paths.append((step, sub_group))
                if len(paths) > 5000:
                    return

    walk(head.sub_groups, [])
    return paths


def option_paths(product_pk: int) -> dict[int, str]:
    """Option pk → the choices leading to it ("S / R / A") for the grid and the CSV."""
    tree = tree_load(pk=product_pk)
    if tree is None:
        return {}
    reached_by: dict[int, tuple] = {}  # sub-group pk → (previous option, its path)
    paths: dict[int, str] = {}

    def visit(group) -> None:
        for sub_group in group.sub_groups:
            before = reached_by.get(sub_group.pk)
            for option in sub_group.options:
                path = f"{before} / {option.value}" if before else option.value
                paths[option.pk] = path
                for target in option.relations:
                    reached_by[target.pk] = path
                for added in option.added_groups:
                    visit(added)

    for group in tree.groups:
        visit(group)
    return paths


# --- the admin's tools ---------------------------------------------------------------------------


def grid_rows(*, product_pk: int, leaves_only: bool, query: str = "") -> list[dict]:
    """The rows of the admin's price and stock grid: ``{"option", "path"}`` in tree order, only the
    options that end a choice when ``leaves_only``, only paths containing ``query`` (any case)."""
    paths = option_paths(product_pk)
    options = Option.objects.filter(product_id=product_pk).select_related("sub_group__group").order_by(
        "sub_group__group__position", "sub_group__group_id", "sub_group__position", "sub_group_id", "position", "id"
    )
    if leaves_only:
        options = options.filter(relations__isnull=True)
    rows = [{"option": o, "path": paths.get(o.pk, o.value)} for o in options]
    if query:
        rows = [r for r in rows if query.lower() in r["path"].lower()]
    return rows


def preview_rows(tree: LoadedTree, *, unit_price: int) -> list[dict]:
    """The T1 preview's table: each path through the chain with its added price, unit price, the
    last choice's stock ("∞": unlimited) and extra."""
    rows = []
    for steps, _last in chain_paths(tree):
        leaf = steps[-1][1]
        add = sum(o.add_price or 0 for _g, o in steps)
        rows.append(
            {
                "steps": " → ".join(f"{g.name}={o.value}" for g, o in steps),
                "add_price": add,
                "unit": unit_price + add,
                "stock": "∞" if leaf.stock is None else leaf.stock,
                "extra": leaf.extra or "",
            }
        )
    return rows


def current_axes(tree: LoadedTree) -> list[str]:
    """The combination generator's axes as the tree holds them now ("name: a, b" per choice group)."""
    axes = []
    for group in tree.groups:
        if group.type in ("SELECT", "MULTI_SELECT"):
            values: list[str] = []
            for s in group.sub_groups:
                values.extend(o.value for o in s.options if o.value not in values)
            axes.append(f"{group.name}: {', '.join(values)}")
    return axes


# --- live stock running out (the admin's dashboard and the product list's stock filter) -------------


def stock_alert_q(kind: str):
    """Products with live stock running out: ``sold_out``: an option (or, without stocked options,
    the product itself) at 0; ``low``: above 0 but at or below the product's ``low_stock_threshold``
    (the threshold of the ``option.low_stock`` webhook). Test stock never counts."""
    from django.db.models import F, Q

    stocked = Option.objects.filter(stock__isnull=False).values("product_id")
    if kind == "sold_out":
        options = Option.objects.filter(stock=0)
        own = Q(stock=0)
    else:
        options = Option.objects.filter(stock__gt=0, stock__lte=F("product__low_stock_threshold"))
        own = Q(stock__gt=0, stock__lte=F("low_stock_threshold"))
    return Q(pk__in=options.values("product_id")) | (own & ~Q(pk__in=stocked))


def stock_dashboard() -> dict[str, int]:
    """How many products have live stock sold out / running low, in one query."""
    from django.db.models import Count

    return Product.objects.aggregate(
        sold_out=Count("pk", filter=stock_alert_q("sold_out")), low=Count("pk", filter=stock_alert_q("low"))
    )
