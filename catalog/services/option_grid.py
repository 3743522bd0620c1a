"""Bulk price and stock editing: the admin's grid and its CSV export / import."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.db import transaction

from ..models import Option, Product
from ..selectors import option_paths, tree_load
from ..tree import TreeInvalid
from .trees import product_tree_changed, product_tree_check

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
