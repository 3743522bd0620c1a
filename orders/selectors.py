"""Reads of the orders app."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, F, Prefetch, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import Order, PaymentEvent, Subscription
from .status_cache import t4_row


def order_status_row(*, kakao_app_id: int, partner_order_id: str) -> tuple[str, str | None, str] | None:
    """T4's read: (W/S/F/C, owner app user id, message), or None for no such order of this app.

    From the T4 status cache when it holds the order (no database query), else one indexed query
    that fills it (orders.status_cache)."""
    return t4_row(kakao_app_id=kakao_app_id, partner_order_id=partner_order_id)


def orders_with_details(queryset=None):
    """Orders with what :class:`orders.serializers.OrderSerializer` reads, in three queries: the
    events without their KakaoPay requests and answers (JSON the shape never shows: decoding them
    was most of the cost of every order webhook)."""
    queryset = Order.objects.all() if queryset is None else queryset
    events = PaymentEvent.objects.only("order_id", "kind", "outcome", "message", "created_at")
    return queryset.select_related("sheet").prefetch_related("sheet__lines", Prefetch("events", queryset=events))


def t3_untried_pg_token(*, order: Order) -> str:
    """The latest pg_token a T3 brought for ``order`` that no approve has tried yet ('' if none)."""
    tried = {
        str((e or {}).get("pg_token") or "")
        for e in order.events.filter(kind=PaymentEvent.Kind.APPROVE_REQUEST).values_list("request", flat=True)
    }
    prefix = f"t3:{order.pk}:"
    keys = order.events.filter(
        kind=PaymentEvent.Kind.T3_RECEIVED, outcome=PaymentEvent.Outcome.OK, idempotency_key__startswith=prefix
    ).order_by("-id").values_list("idempotency_key", flat=True)
    for key in keys:
        token = key[len(prefix):]
        if token and token not in tried:
            return token
    return ""


# --- the admin's dashboard, order page and member page (read by backoffice) ------------------------

# An approval the reconciler (every minute) has not settled in this long needs a person.
STUCK_AFTER = timedelta(minutes=5)
# A payment is approved within the hold of its creation (minutes): this bound lets the created_at
# index narrow the sales query; an order approved later than this after its creation is not counted.
APPROVED_WITHIN = timedelta(days=1)
SOLD = (Order.Status.PAID, Order.Status.CANCELLED)  # approved and kept (a full refund later included)


def store_periods(now: datetime | None = None) -> dict[str, tuple[datetime, datetime]]:
    """``today`` and ``week`` (from Monday) in the store's time zone, as [start, end) instants."""
    local = (now or timezone.now()).astimezone(ZoneInfo(settings.STORE_TIME_ZONE))
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow = today + timedelta(days=1)
    return {"today": (today, tomorrow), "week": (today - timedelta(days=today.weekday()), tomorrow)}


def sales_q(period: str, now: datetime | None = None) -> Q:
    """Live orders approved in ``period`` (``today`` / ``week``) and kept: paid, or refunded since."""
    start, end = store_periods(now)[period]
    return Q(
        livemode=True, status__in=SOLD, approved_at__gte=start, approved_at__lt=end,
        created_at__gte=start - APPROVED_WITHIN,
    )  # fmt: skip


ATTENTION_KINDS = ("stuck", "refund_owed", "mismatch", "any")


def attention_q(kind: str = "any", now: datetime | None = None) -> Q:
    """Orders a person must look at. ``stuck``: an approval unsettled for STUCK_AFTER (approving,
    or held with a T3 no approve has taken); ``refund_owed``: approved but not deliverable, the
    compensating cancel not done yet; ``mismatch``: KakaoPay's answer did not match the order;
    ``any``: those, any other review flag, or a failed/unknown refund call."""
    cutoff = (now or timezone.now()) - STUCK_AFTER
    stuck = Q(status=Order.Status.APPROVING, updated_at__lt=cutoff) | (
        Q(status=Order.Status.HELD, updated_at__lt=cutoff) & ~Q(pg_token="") & ~Q(tid="")
    )
    parts = {
        "stuck": stuck,
        "refund_owed": Q(status=Order.Status.REFUNDING),
        "mismatch": Q(flag=Order.Flag.ANSWER_MISMATCH),
    }
    if kind != "any":
        return parts[kind]
    bad_refunds = PaymentEvent.objects.filter(
        kind__in=[PaymentEvent.Kind.CANCEL_FAILURE, PaymentEvent.Kind.CANCEL_UNKNOWN]
    ).values("order_id")
    return parts["stuck"] | parts["refund_owed"] | Q(flag__gt="") | Q(pk__in=bad_refunds)


def order_dashboard(*, now: datetime | None = None) -> dict[str, int]:
    """The dashboard's order numbers in two queries, each reading only the rows it counts through
    an index (so its cost follows the week's orders and the few needing attention, not the whole
    history): paid orders and net revenue (approved minus refunded) today and this week; how many
    orders need attention, by kind and in all."""
    now = now or timezone.now()
    net = F("approved_amount") - F("refunded_amount")
    sales = {}
    for period in ("today", "week"):
        q = sales_q(period, now)
        sales[f"{period}_orders"] = Count("pk", filter=q)
        sales[f"{period}_revenue"] = Coalesce(Sum(net, filter=q), 0)
        sales[f"{period}_refunded"] = Coalesce(Sum("refunded_amount", filter=q), 0)
    numbers = Order.objects.filter(sales_q("week", now)).aggregate(**sales)  # the created_at index
    # A union of ids found by the status and flag indexes and the events' kind index: no OR with a
    # subquery, which would turn the whole into a table scan.
    candidates = (
        Order.objects.filter(status__in=[Order.Status.APPROVING, Order.Status.HELD, Order.Status.REFUNDING])
        .values("pk")
        .union(
            Order.objects.filter(flag__gt="").values("pk"),
            PaymentEvent.objects.filter(kind__in=[PaymentEvent.Kind.CANCEL_FAILURE, PaymentEvent.Kind.CANCEL_UNKNOWN])
            .values("order_id"),
        )
    )  # fmt: skip
    attention = {f"attention_{kind}": Count("pk", filter=attention_q(kind, now)) for kind in ATTENTION_KINDS}
    return numbers | Order.objects.filter(pk__in=candidates).aggregate(**attention)


def order_page_get(*, pk: int) -> Order | None:
    """An order with all its page shows (sheet and its lines, stock lines, events, subscription)."""
    return (
        Order.objects.select_related("kakao_app", "sheet", "subscription", "subscription_installment__subscription")
        .prefetch_related("sheet__lines", "lines", "events")
        .filter(pk=pk)
        .first()
    )


def member_orders(*, kakao_app_id: int, app_user_id: str, limit: int = 10) -> tuple[dict[str, int], list[Order]]:
    """A member's order numbers (all, paid live, paid total net of refunds) and latest orders."""
    orders = Order.objects.filter(kakao_app_id=kakao_app_id, app_user_id=app_user_id)
    paid = Q(livemode=True, status__in=SOLD)
    totals = orders.aggregate(
        count=Count("pk"), paid=Count("pk", filter=paid),
        spent=Coalesce(Sum(F("approved_amount") - F("refunded_amount"), filter=paid), 0),
    )  # fmt: skip
    return totals, list(orders.order_by("-created_at")[:limit])


def member_subscriptions(*, kakao_app_id: int, app_user_id: str, limit: int = 10) -> list[Subscription]:
    return list(
        Subscription.objects.filter(kakao_app_id=kakao_app_id, app_user_id=app_user_id).order_by("-created_at")[:limit]
    )
