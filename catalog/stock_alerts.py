"""Stock webhooks: ``product.sold_out`` and ``option.low_stock``, once per crossing.

Every change of live stock ends in :func:`stock_crossings_check`, inside the transaction that made
it: stock holds and their returns (:mod:`catalog.stock`) name the rows they moved; every other
write (the admin, the CSV, ``PUT /api/v1/products``, ``PATCH /api/v1/stock``) goes through
:func:`catalog.services.product_tree_changed`, which checks its products whole.  The check compares
the stock now with what was last announced, stored on the rows:

- ``Option.low_stock_notified_at``: set when the option's stock fell to the product's
  ``low_stock_threshold`` or below (``option.low_stock`` sent), cleared when it rises above it
  again (or the threshold is emptied): one event per crossing, re-armed by a restock;
- ``ProductStockState.sold_out_at``: set when the product's sellable units reached 0
  (``product.sold_out`` sent), cleared when restocked.  Sellable units: the stocked options
  (``stock`` not empty) when the product has any, else the product's own ``stock``;
- ``ProductStockState.low_stock_at``: ``option.low_stock`` for the own stock of a product without
  stocked options (``data.option`` is then null).

Only live stock (``stock``) counts: a test order moves ``test_stock`` and emits nothing.  Events go
to every active Kakao app with an active endpoint subscribed to the type (the catalog is shared by
the merchant's apps), with ``livemode`` true; the idempotency key names the app, the row and the
moment of the crossing, so one crossing is one event per app.

Cost on a buyer's hold: one indexed query (the rows moved, joined to their product and state);
anything more only when a row is at a crossing.  Races: an option's flag is written under the row
lock its stock change took; a product's sold-out state is settled under the lock of its
``ProductStockState`` row (taken last, in primary-key order, never while waiting for anything
else), after which it re-reads every option, so two buyers taking the last unit of two options
at once emit exactly one ``product.sold_out``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from kakaoplugin.models import KakaoApp, WebhookEndpoint
from kakaoplugin.services import webhook_emit_many

from .models import Option, Product, ProductStockState
from .selectors import option_paths

PRODUCT_SOLD_OUT = "product.sold_out"
OPTION_LOW_STOCK = "option.low_stock"
STOCK_EVENT_TYPES = (PRODUCT_SOLD_OUT, OPTION_LOW_STOCK)

_OPTION_FIELDS = (
    "pk", "product_id", "stock", "low_stock_notified_at", "product__low_stock_threshold",
    "product__stock_state__sold_out_at",
)  # fmt: skip


def _is_low(stock: int | None, threshold: int | None) -> bool:
    return stock is not None and threshold is not None and stock <= threshold


def stock_crossings_check(*, product_pks: Iterable[int] = (), option_pks: Iterable[int] = ()) -> None:
    """Emit what the live stock of these rows has crossed since last announced; re-arm the rest.

    ``option_pks``: just these options (a hold moved them). ``product_pks``: these products whole
    (their own stock and every option: a bulk write, or a threshold changed).  Call inside the
    transaction that changed the stock, after the change.
    """
    product_pks, option_pks = sorted(set(product_pks)), sorted(set(option_pks))
    rows: list[tuple] = []
    products: list[dict] = []
    if option_pks:
        rows += Option.objects.filter(pk__in=option_pks).values_list(*_OPTION_FIELDS)
    if product_pks:
        watched = Option.objects.filter(product=OuterRef("pk")).filter(
            Q(stock__isnull=False) | Q(low_stock_notified_at__isnull=False)
        )
        products = list(
            Product.objects.filter(pk__in=product_pks)
            .annotate(watched=Exists(watched))
            .values("pk", "stock", "low_stock_threshold", "stock_state__sold_out_at", "stock_state__low_stock_at", "watched")
        )
        with_options = [p["pk"] for p in products if p["watched"]]
        if with_options:
            rows += (
                Option.objects.filter(product_id__in=with_options)
                .filter(Q(stock__isnull=False) | Q(low_stock_notified_at__isnull=False))
                .values_list(*_OPTION_FIELDS)
            )
    emitter = _Emitter()
    # 1. options' low stock (each option row is locked by the change, or is locked here)
    crossed, rearmed = [], []
    for pk, _product, stock, notified, threshold, _sold_out in rows:
        low = _is_low(stock, threshold)
        if low and notified is None:
            crossed.append(pk)
        elif not low and notified is not None:
            rearmed.append(pk)
    if rearmed:
        Option.objects.filter(pk__in=rearmed, low_stock_notified_at__isnull=False).update(low_stock_notified_at=None)
    if crossed:
        _options_low(crossed, emitter)
    # 2. products: settled under their state row's lock when anything may differ from what was said
    unsettled = set()
    moved = set(option_pks)
    stocked: dict[int, list[int]] = {}
    for pk, product, stock, _notified, _threshold, sold_out in rows:
        if stock is not None:
            stocked.setdefault(product, []).append(stock)
        if pk in moved and (stock == 0) != (sold_out is not None):
            unsettled.add(product)
    for p in products:
        units = stocked.get(p["pk"])
        sold_out = (max(units) == 0) if units else p["stock"] == 0
        own_low = not units and _is_low(p["stock"], p["low_stock_threshold"])
        if sold_out != (p["stock_state__sold_out_at"] is not None) or own_low != (p["stock_state__low_stock_at"] is not None):
            unsettled.add(p["pk"])
    if unsettled:
        _products_settle(sorted(unsettled), emitter)
    emitter.flush()


def _options_low(pks: list[int], emitter: _Emitter) -> None:
    # Lock and read again (a concurrent writer may have announced it or moved the stock meanwhile).
    now = timezone.now()
    found = list(
        Option.objects.select_for_update(of=("self",))
        .filter(pk__in=pks, low_stock_notified_at__isnull=True)
        .order_by("pk")
        .values_list("pk", "product_id", "option_id", "sub_group__sub_group_id", "stock", "product__low_stock_threshold",
                     "product__code", "product__name")
    )  # fmt: skip
    found = [row for row in found if _is_low(row[4], row[5])]
    if not found:
        return
    Option.objects.filter(pk__in=[row[0] for row in found]).update(low_stock_notified_at=now)
    paths: dict[int, dict[int, str]] = {}
    for pk, product_pk, option_id, sub_group_id, stock, threshold, code, name in found:
        if product_pk not in paths:
            paths[product_pk] = option_paths(product_pk)
        option = {"id": option_id, "sub_group_id": sub_group_id, "path": paths[product_pk].get(pk, "")}
        emitter.emit(
            OPTION_LOW_STOCK,
            subject=f"o{pk}",
            at=now,
            data={"product": {"id": code, "name": name}, "option": option, "stock": stock, "threshold": threshold},
        )


def _products_settle(pks: list[int], emitter: _Emitter) -> None:
    ProductStockState.objects.bulk_create([ProductStockState(product_id=pk) for pk in pks], ignore_conflicts=True)
    states = {s.product_id: s for s in ProductStockState.objects.select_for_update().filter(product_id__in=pks).order_by("pk")}
    # Read after the lock: a concurrent settler of the same product has committed by now.
    counts = {
        row["product_id"]: row
        for row in Option.objects.filter(product_id__in=pks, stock__isnull=False)
        .values("product_id")
        .annotate(n=Count("pk"), sellable=Count("pk", filter=Q(stock__gt=0)))
    }
    now = timezone.now()
    for p in Product.objects.filter(pk__in=pks).values("pk", "code", "name", "stock", "low_stock_threshold"):
        state, options = states[p["pk"]], counts.get(p["pk"])
        sold_out = options["sellable"] == 0 if options else p["stock"] == 0
        own_low = options is None and _is_low(p["stock"], p["low_stock_threshold"])
        product = {"id": p["code"], "name": p["name"]}
        changed = []
        if sold_out and state.sold_out_at is None:
            state.sold_out_at = now
            stock = 0 if options else p["stock"]
            emitter.emit(PRODUCT_SOLD_OUT, subject=f"p{p['pk']}", at=now,
                         data={"product": product, "stock": stock, "stocked_options": options["n"] if options else 0})  # fmt: skip
            changed.append("sold_out_at")
        elif not sold_out and state.sold_out_at is not None:
            state.sold_out_at = None
            changed.append("sold_out_at")
        if own_low and state.low_stock_at is None:
            state.low_stock_at = now
            emitter.emit(OPTION_LOW_STOCK, subject=f"p{p['pk']}", at=now,
                         data={"product": product, "option": None, "stock": p["stock"], "threshold": p["low_stock_threshold"]})  # fmt: skip
            changed.append("low_stock_at")
        elif not own_low and state.low_stock_at is not None:
            state.low_stock_at = None
            changed.append("low_stock_at")
        if changed:
            state.save(update_fields=changed)


class _Emitter:
    """One event per subscribed app; the subscribed apps are read once, when first needed."""

    def __init__(self) -> None:
        self._apps: list[tuple[KakaoApp, list]] | None = None
        self._pending: dict[str, list[tuple[str, dict[str, Any]]]] = {}

    def _subscribed(self, event_type: str) -> list[KakaoApp]:
        if self._apps is None:
            endpoints = WebhookEndpoint.objects.filter(is_active=True, kakao_app__is_active=True).values_list(
                "kakao_app_id", "event_types"
            )
            types: dict[int, list] = {}
            for app_pk, event_types in endpoints:
                types.setdefault(app_pk, []).append(event_types or [])
            apps = KakaoApp.objects.filter(pk__in=types).order_by("pk").only("pk")  # no secrets decrypted
            self._apps = [(app, types[app.pk]) for app in apps]
        return [app for app, lists in self._apps if any(not t or event_type in t for t in lists)]

    def emit(self, event_type: str, *, subject: str, at: datetime, data: dict[str, Any]) -> None:
        self._pending.setdefault(event_type, []).append((f"{subject}:{int(at.timestamp() * 1_000_000)}", data))

    def flush(self) -> None:
        """Record what was emitted: a few queries per app and type, whatever the number of events."""
        for event_type, events in self._pending.items():
            for app in self._subscribed(event_type):
                webhook_emit_many(
                    kakao_app=app, event_type=event_type, livemode=True,
                    events=[(f"{event_type}:{app.pk}:{key}", data) for key, data in events],
                )  # fmt: skip
        self._pending.clear()
