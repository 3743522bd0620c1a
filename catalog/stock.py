"""Stock operations: hold, renew, release, sell, restock. Every one is idempotent per ``reference``.

The holder is named by a string ``reference`` (an order's ``partner_order_id``): catalog knows no
orders.  A hold takes stock at once (the row's ``stock`` goes down) and keeps one
:class:`~catalog.models.StockHold` row per stocked row, so a release returns exactly what was
taken, once.  Rows with ``stock`` NULL are unlimited and need no hold.

Test and live mode: a test order (its Kakao app is a test app) takes ``test_stock`` instead of
``stock``.  The mode is given once, to :func:`stock_hold`, and stored on each hold row
(``StockHold.livemode``); renew, release, sell and restock read it from there, so whatever later
touches a reference moves the counter that was taken.  ``catalog.models.stock_field`` maps the
mode to the column; nothing else here branches on it.

How stock is taken: one atomic conditional decrement per row,
``UPDATE ... SET stock = stock - q WHERE id = %s AND stock >= q``, in primary-key order, inside one
transaction.  Why:

- the check and the write are one statement: under READ COMMITTED PostgreSQL re-checks the WHERE
  on the newest row version after waiting for a concurrent writer, so two buyers can never both
  take the last unit and stock never goes below zero (the column's CHECK >= 0 is the backstop);
- no ``SELECT ... FOR UPDATE`` round trip and no lock held while we think: a hot SKU takes
  thousands of holds a second;
- the row locks the UPDATEs take live until commit, so two holds touching the same rows take them
  in the same (primary-key) order: they queue, they never deadlock.  Releases and restocks add in
  the same order for the same reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F

from kakaoplugin.outbox import outbox_add

from .models import Option, Product, StockHold, stock_field
from .stock_alerts import stock_crossings_check
from .tasks import forget_cached_trees


@dataclass(frozen=True)
class StockItem:
    """Take ``quantity`` of an option (``option_pk``) or of a product without stocked options."""

    quantity: int
    option_pk: int | None = None
    product_pk: int | None = None
    label: str = ""  # what to call it in an OutOfStock message

    def __post_init__(self) -> None:
        if (self.option_pk is None) == (self.product_pk is None):
            raise ValueError("a StockItem names exactly one of option_pk / product_pk")
        if self.quantity <= 0:
            raise ValueError("a StockItem's quantity must be positive")

    @property
    def key(self) -> tuple[int, int]:
        # Products first, then options; primary-key order within each: the one lock order.
        return (0, self.product_pk) if self.product_pk is not None else (1, self.option_pk)  # type: ignore[return-value]


class OutOfStock(Exception):
    """Not enough stock for ``item`` (``available`` units were left when we looked)."""

    def __init__(self, item: StockItem, available: int | None):
        self.item = item
        self.available = available
        name = item.label or (f"option {item.option_pk}" if item.option_pk else f"product {item.product_pk}")
        super().__init__(f"out of stock: {name} (wanted {item.quantity}, available {available or 0})")


def _merge(items: Iterable[StockItem]) -> list[StockItem]:
    merged: dict[tuple[int, int], StockItem] = {}
    for item in items:
        prev = merged.get(item.key)
        if prev is not None:
            item = StockItem(
                quantity=prev.quantity + item.quantity,
                option_pk=item.option_pk,
                product_pk=item.product_pk,
                label=prev.label or item.label,
            )
        merged[item.key] = item
    return [merged[k] for k in sorted(merged)]


def _target(option_pk: int | None, product_pk: int | None) -> tuple[type[Product] | type[Option], int]:
    return (Option, option_pk) if option_pk is not None else (Product, product_pk)  # type: ignore[return-value]


# PostgreSQL: the conditional decrement and, when it takes nothing, what the row holds, in one
# statement (a flash sale's thousands of refused payment T2s each save a round trip); a row taken
# returns its product's pk (no query for it while the row is locked).  The read sees the
# statement's snapshot, older than the UPDATE's verdict when that waited for a concurrent holder:
# it decides alone only when it shows too few units; "unlimited", or enough, is read again.
_TAKE_SQL = """WITH taken AS (UPDATE {table} SET {col} = {col} - %s WHERE id = %s AND {col} >= %s RETURNING {product})
SELECT (SELECT {product} FROM taken), cur.{col}, cur.id FROM (SELECT 1) one LEFT JOIN {table} cur ON cur.id = %s"""


def _take(item: StockItem, *, livemode: bool) -> int | None:
    """Decrement atomically: the product's pk when taken (the row's own, or its option's product),
    None when the row is unlimited (nothing to hold); OutOfStock otherwise."""
    model, pk = _target(item.option_pk, item.product_pk)
    column = stock_field(livemode=livemode)
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        quote = connection.ops.quote_name
        product = quote("product_id" if model is Option else "id")
        sql = _TAKE_SQL.format(table=quote(model._meta.db_table), col=quote(column), product=product)
        with connection.cursor() as cursor:
            cursor.execute(sql, [item.quantity, pk, item.quantity, pk])
            product_pk, left, found = cursor.fetchone()
        if product_pk is not None:
            return product_pk
        if found is not None and left is not None and left < item.quantity:
            raise OutOfStock(item, left)  # (else the snapshot is older than the refusal: read again)
    elif model.objects.filter(pk=pk, **{f"{column}__gte": item.quantity}).update(**{column: F(column) - item.quantity}):
        return pk if model is Product else Option.objects.filter(pk=pk).values_list("product_id", flat=True)[0]
    row = model.objects.filter(pk=pk).values_list(column, flat=True)
    if row and row[0] is None:
        return None  # unlimited: nothing to hold
    raise OutOfStock(item, row[0] if row else None)


def _retake(hold: StockHold) -> None:
    _take(
        StockItem(quantity=hold.quantity, option_pk=hold.option_id, product_pk=hold.product_id),
        livemode=hold.livemode,
    )


def _give_back(hold: StockHold) -> None:
    model, pk = _target(hold.option_id, hold.product_id)
    column = stock_field(livemode=hold.livemode)
    model.objects.filter(pk=pk, **{f"{column}__isnull": False}).update(**{column: F(column) + hold.quantity})


def _hold_key(hold: StockHold) -> tuple[int, int]:
    return (0, hold.product_id) if hold.product_id is not None else (1, hold.option_id)


def _product_pks(holds: Sequence[StockHold]) -> set[int]:
    pks = {h.product_id for h in holds if h.product_id}
    option_pks = [h.option_id for h in holds if h.option_id]
    if option_pks:
        pks |= set(Option.objects.filter(pk__in=option_pks).values_list("product_id", flat=True))
    return pks


def _crossings_check(holds: Sequence[StockHold]) -> None:
    """Stock webhooks for the rows these holds moved; live stock only (test stock emits nothing)."""
    live = [h for h in holds if h.livemode]
    if live:
        stock_crossings_check(
            option_pks=[h.option_id for h in live if h.option_id], product_pks=[h.product_id for h in live if h.product_id]
        )


def _invalidate_after_commit(product_pks: set[int]) -> None:
    if product_pks:
        outbox_add(task=forget_cached_trees, args=[sorted(product_pks)], inline=True)


def _locked_holds(reference: str, *states: str) -> list[StockHold]:
    # Hold rows belong to one reference (one order): locking them serialises concurrent calls for
    # that reference (a T2 replay racing the sweeper) without touching anyone else's rows.
    rows = list(StockHold.objects.select_for_update().filter(reference=reference).order_by("pk"))
    rows.sort(key=_hold_key)
    return [r for r in rows if not states or r.state in states]


def stock_hold(
    *, reference: str, items: Iterable[StockItem], expires_at: datetime, livemode: bool, fresh: bool = False
) -> list[StockHold]:
    """Take stock for ``reference`` until ``expires_at``; all or nothing.

    ``livemode`` false takes the test counter (``test_stock``): a test order never touches the
    real stock.  The rows remember it for every later step.

    Raises :class:`OutOfStock` naming the first item short (nothing is taken then).  Called again
    for a reference that already holds: the same as :func:`stock_renew` (nothing taken twice).
    ``fresh``: the caller knows ``reference`` holds nothing (a pending order, in the transaction
    that locks it), so that is not looked up.
    """
    with _transaction():
        if not fresh and StockHold.objects.filter(reference=reference).exists():
            return stock_renew(reference=reference, expires_at=expires_at)
        merged = _merge(items)  # primary-key order: see the module docstring
        # All or nothing: with several rows, a savepoint gives back what was taken before the one
        # short (one row: its refused conditional UPDATE took nothing; no savepoint, three round
        # trips fewer on every payment T2 of a single item, a flash sale's)
        taken: list[StockItem] = []
        product_pks: set[int] = set()
        with transaction.atomic() if len(merged) > 1 else nullcontext():
            for item in merged:
                product_pk = _take(item, livemode=livemode)  # OutOfStock propagates
                if product_pk is not None:
                    taken.append(item)
                    product_pks.add(product_pk)
        holds = StockHold.objects.bulk_create(
            StockHold(reference=reference, livemode=livemode, option_id=item.option_pk, product_id=item.product_pk,
                      quantity=item.quantity, expires_at=expires_at)
            for item in taken
        )  # fmt: skip
        _crossings_check(holds)
        _invalidate_after_commit(product_pks)
    return holds


def _transaction():
    """The caller's transaction when there is one (no savepoint: two more round trips on the
    approval's path, T3 → S), else one of its own."""
    return nullcontext() if transaction.get_connection().in_atomic_block else transaction.atomic()


def _retake_all(holds: list[StockHold]) -> None:
    """Take released rows again, all or none: a savepoint, so that :class:`OutOfStock` leaves
    nothing re-taken (only here: re-taking is rare, renewing and selling are not)."""
    if holds:
        with transaction.atomic():
            for hold in holds:
                _retake(hold)


def stock_renew(*, reference: str, expires_at: datetime) -> list[StockHold]:
    """Keep ``reference``'s stock until ``expires_at``.

    Held rows get the new expiry; released rows are taken again (conditional decrement, raising
    :class:`OutOfStock` and changing nothing when the stock is gone); sold rows stay sold.
    """
    with _transaction():
        rows = _locked_holds(reference)
        retaken = [hold for hold in rows if hold.state == StockHold.State.RELEASED]
        _retake_all(retaken)
        for hold in rows:
            if hold.state == StockHold.State.RELEASED:
                hold.state = StockHold.State.HELD
            if hold.state == StockHold.State.HELD:
                hold.expires_at = expires_at
                hold.save(update_fields=["state", "expires_at", "updated_at"])
        _crossings_check(retaken)
        _invalidate_after_commit(_product_pks(retaken))
    return rows


@transaction.atomic
def stock_release(*, reference: str) -> int:
    """Give back what ``reference`` holds (not what it bought); returns the units given back."""
    rows = _locked_holds(reference, StockHold.State.HELD)
    for hold in rows:
        _give_back(hold)
        hold.state = StockHold.State.RELEASED
        hold.save(update_fields=["state", "updated_at"])
    _crossings_check(rows)
    _invalidate_after_commit(_product_pks(rows))
    return sum(h.quantity for h in rows)


def stock_sell(*, reference: str) -> list[StockHold]:
    """Turn ``reference``'s hold into a sale.

    A released row (should not happen: the caller's state machine prevents it) is taken again;
    if that stock is gone, :class:`OutOfStock` is raised and nothing changes, so the caller can
    refund instead of selling what it does not have.
    """
    with _transaction():
        rows = _locked_holds(reference)
        retaken = [hold for hold in rows if hold.state == StockHold.State.RELEASED]
        _retake_all(retaken)
        for hold in rows:
            if hold.state != StockHold.State.SOLD:
                hold.state = StockHold.State.SOLD
                hold.save(update_fields=["state", "updated_at"])
        _crossings_check(retaken)
        _invalidate_after_commit(_product_pks(retaken))
    return rows


@transaction.atomic
def stock_restock(*, reference: str) -> int:
    """Return what ``reference`` bought to stock (a refund); once.  Returns the units returned.

    Restocked rows end ``released``: a row in that state has given its stock back, whether it was
    held or sold before.
    """
    rows = _locked_holds(reference, StockHold.State.SOLD)
    for hold in rows:
        _give_back(hold)
        hold.state = StockHold.State.RELEASED
        hold.save(update_fields=["state", "updated_at"])
    _crossings_check(rows)
    _invalidate_after_commit(_product_pks(rows))
    return sum(h.quantity for h in rows)
