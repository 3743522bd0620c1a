"""The admin index's dashboard: today's and this week's sales, orders needing attention, failed
callbacks and webhooks of the last 24 hours, stock running out. Each number links to the admin
list filtered on the same predicate (the apps' selectors and list filters share it).

A card is built only for staff who may view its rows; the numbers cost one query each (orders: two),
whatever the data size: five queries at most (tests/backoffice/test_dashboard.py counts them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from callbacks.selectors import failed_callbacks_count
from catalog.selectors import stock_dashboard
from kakaoplugin.selectors import failed_webhooks_count
from orders.selectors import order_dashboard


@dataclass
class Figure:
    key: str
    label: str
    value: int
    url: str
    money: int | None = None  # KRW beside the count
    alert: bool = False  # above zero, something needs a person


@dataclass
class Card:
    key: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    note: str = ""


def _list(name: str, **params: str) -> str:
    return reverse(f"admin:{name}_changelist") + ("?" + urlencode(params) if params else "")


def _sales(now: datetime) -> tuple[Card, Card]:
    n = order_dashboard(now=now)
    sales = Card("sales", _("Sales (live orders)"), note=_("Paid orders and revenue net of refunds; test apps' orders excluded"))
    for period, label in (("today", _("Today")), ("week", _("This week"))):
        sales.figures.append(
            Figure(period, label, n[f"{period}_orders"], _list("orders_order", sales=period), money=n[f"{period}_revenue"])
        )
    attention = Card("attention", _("Orders needing attention"))
    for key, label in (
        ("stuck", _("Approval stuck")), ("refund_owed", _("Refund owed")), ("mismatch", _("KakaoPay answer mismatch")),
        ("any", _("All needing attention")),
    ):  # fmt: skip
        param = "yes" if key == "any" else key
        attention.figures.append(Figure(key, label, n[f"attention_{key}"], _list("orders_order", attention=param), alert=True))
    return sales, attention


def dashboard_cards(user, *, now: datetime | None = None) -> list[Card]:
    """The cards ``user`` may see (by each list's view permission), in reading order."""
    now = now or timezone.now()
    cards: list[Card] = []
    if user.has_perm("orders.view_order"):
        cards.extend(_sales(now))
    failures = Card("failures", _("Failures in the last 24 hours"))
    since = now - timedelta(hours=24)
    if user.has_perm("callbacks.view_callbackevent"):
        url = _list("callbacks_callbackevent", status__exact="failed", received_at_within="24h")
        failures.figures.append(Figure("callbacks", _("Callbacks failed"), failed_callbacks_count(since=since), url, alert=True))
    if user.has_perm("kakaoplugin.view_webhookdelivery"):
        url = _list("kakaoplugin_webhookdelivery", status__exact="failed", attempted_within="24h")
        failures.figures.append(Figure("webhooks", _("Webhooks given up"), failed_webhooks_count(since=since), url, alert=True))
    if failures.figures:
        cards.append(failures)
    if user.has_perm("catalog.view_product"):
        n = stock_dashboard()
        cards.append(
            Card("stock", _("Live stock"), [
                Figure("sold_out", _("Products with an option sold out"), n["sold_out"], _list("catalog_product", stock_alert="sold_out"), alert=True),
                Figure("low", _("Products running low"), n["low"], _list("catalog_product", stock_alert="low"), alert=True),
            ])  # fmt: skip
        )
    return cards
