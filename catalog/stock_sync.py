"""Stock set from the merchant's own systems (the catalog API's ``PATCH /api/v1/stock``).

Up to :data:`MAX_ROWS` rows in one transaction: each row names an option (by its product and its
path through the tree — the same "S / R / A" path the admin's grid and CSV show —, by its sub-group
and option id, or by its ``extra`` SKU) or a product without options, and either ``set`` (the units
available beside what is held for unfinished payments: holds have already been taken from the
count) or ``adjust`` (±). Every row is checked before anything is written; one bad row and nothing
is (the answer says which rows and why). Rows are locked in primary-key order (no deadlock with
stock holds, which lock the same way), written with one UPDATE per table, and option T1's cache is
renewed for exactly the products touched, after the commit.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, IntegerField, Value, When

from .models import Option, Product
from .services import option_paths, product_tree_changed

MAX_ROWS = 1000
MAX_STOCK = 2_000_000_000  # the column is a 32-bit integer


@dataclass
class RowResult:
    index: int
    ok: bool
    stock: int | None = None
    previous: int | None = None
    error: str = ""
    product_pk: int | None = None
    option_pk: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "ok": self.ok}
        if self.ok:
            out.update(stock=self.stock, previous=self.previous)
        else:
            out["error"] = self.error
        return out


class StockRowsRefused(Exception):
    def __init__(self, results: list[RowResult]):
        super().__init__(f"{sum(not r.ok for r in results)} row(s) refused")
        self.results = results


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _resolve(rows: list[dict]) -> list[RowResult]:
    """Find each row's option or product (a few queries whatever the number of rows)."""
    results = [RowResult(index=i, ok=True) for i in range(len(rows))]
    codes = {str(r.get("product_id")) for r in rows if r.get("product_id") is not None}
    products = {p.code: p for p in Product.objects.filter(code__in=codes)}
    skus = {str(r["sku"]) for r in rows if r.get("sku") is not None}
    by_sku: dict[str, list[tuple[int, int]]] = defaultdict(list)  # sku → [(option pk, product pk)]
    for pk, product_pk, sku in Option.objects.filter(extra__in=skus).values_list("pk", "product_id", "extra"):
        by_sku[sku].append((pk, product_pk))
    paths: dict[int, dict[str, list[int]]] = {}
    ids: dict[int, dict[tuple[str, str], int]] = {}
    has_options = set(Option.objects.filter(product__in=products.values()).values_list("product_id", flat=True).distinct())

    def fail(result: RowResult, message: str) -> None:
        result.ok, result.error = False, message

    for row, result in zip(rows, results, strict=True):
        if not isinstance(row, dict):
            fail(result, "a row must be an object")
            continue
        set_to, adjust = row.get("set"), row.get("adjust")
        if (set_to is None) == (adjust is None):
            fail(result, "give exactly one of set or adjust")
            continue
        if _int(set_to if adjust is None else adjust) is None:
            fail(result, "set / adjust must be whole numbers")
            continue
        if row.get("sku") is not None:
            found = by_sku.get(str(row["sku"]), [])
            if len(found) != 1:
                fail(result, f"sku {row['sku']!r}: {'no option has it' if not found else 'several options have it'}")
                continue
            result.option_pk, result.product_pk = found[0]
            continue
        product = products.get(str(row.get("product_id")))
        if product is None:
            fail(result, f"no product {row.get('product_id')!r}")
            continue
        result.product_pk = product.pk
        if row.get("option_path") is not None:
            if product.pk not in paths:
                paths[product.pk] = defaultdict(list)
                for pk, path in option_paths(product.pk).items():
                    paths[product.pk][path].append(pk)
            found_pks = paths[product.pk].get(str(row["option_path"]), [])
            if len(found_pks) != 1:
                fail(result, f"option path {row['option_path']!r}: {'not in the tree' if not found_pks else 'ambiguous'}")
                continue
            result.option_pk = found_pks[0]
        elif row.get("option_id") is not None:
            if product.pk not in ids:
                ids[product.pk] = {
                    (sg, oid): pk
                    for pk, sg, oid in Option.objects.filter(product=product).values_list("pk", "sub_group__sub_group_id", "option_id")
                }
            pk = ids[product.pk].get((str(row.get("sub_group_id")), str(row["option_id"])))
            if pk is None:
                fail(result, f"no option {row.get('sub_group_id')!r} / {row['option_id']!r} in {product.code}")
                continue
            result.option_pk = pk
        elif product.pk in has_options:
            fail(result, f"{product.code} has options: name one (option_path, sub_group_id + option_id, or sku)")
    return results


def _write_stock(model: type[Option] | type[Product], changed: dict[int, int | None]) -> None:
    """One UPDATE for every changed row.  On PostgreSQL the new values travel as two arrays
    (``UPDATE ... FROM unnest(ids, stocks)``): the ORM's ``CASE WHEN`` of 1,000 branches took
    ~0.3 s just to compile in Python (bench/stock_patch.py), the arrays take none."""
    if connection.vendor == "postgresql":
        table, column = connection.ops.quote_name(model._meta.db_table), connection.ops.quote_name("stock")
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS t SET {column} = v.stock FROM unnest(%s::bigint[], %s::integer[]) AS v(id, stock) "
                "WHERE t.id = v.id",
                [list(changed), list(changed.values())],
            )
        return
    model.objects.filter(pk__in=changed).update(
        stock=Case(*(When(pk=pk, then=Value(v)) for pk, v in changed.items()), output_field=IntegerField())
    )


@transaction.atomic
def stock_apply(*, rows: list[dict]) -> list[RowResult]:
    """Apply every row or none (raises :class:`StockRowsRefused` with each row's result)."""
    if not isinstance(rows, list) or not rows or len(rows) > MAX_ROWS:
        raise ValueError(f"rows: a list of 1 to {MAX_ROWS} rows")
    results = _resolve(rows)
    if not all(r.ok for r in results):
        raise StockRowsRefused(results)
    option_pks = sorted({r.option_pk for r in results if r.option_pk})
    product_pks = sorted({r.product_pk for r in results if not r.option_pk})
    current = {("o", pk): stock for pk, stock in Option.objects.select_for_update().filter(pk__in=option_pks).order_by("pk").values_list("pk", "stock")}
    current |= {("p", pk): stock for pk, stock in Product.objects.select_for_update().filter(pk__in=product_pks).order_by("pk").values_list("pk", "stock")}
    new: dict[tuple[str, int], int | None] = dict(current)
    for row, result in zip(rows, results, strict=True):
        key = ("o", result.option_pk) if result.option_pk else ("p", result.product_pk)
        before = new[key]
        if row.get("set") is not None:
            after = row["set"]
        elif before is None:
            result.ok, result.error = False, "unlimited stock (empty) cannot be adjusted: set a number"
            continue
        else:
            after = before + row["adjust"]
        if not 0 <= after <= MAX_STOCK:
            result.ok, result.error = False, f"stock would be {after}: it must stay between 0 and {MAX_STOCK:,}"
            continue
        result.previous, result.stock = before, after
        new[key] = after
    if not all(r.ok for r in results):
        raise StockRowsRefused(results)
    for model, kind in ((Option, "o"), (Product, "p")):
        changed = {pk: stock for (k, pk), stock in new.items() if k == kind and stock != current[(k, pk)]}
        if changed:
            _write_stock(model, changed)
    product_tree_changed(product_pks={r.product_pk for r in results})
    return results
