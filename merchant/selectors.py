"""Reads of the merchant API, always within one Kakao app (another app's rows do not exist here)."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from catalog.models import Product
from kakaoplugin.models import Customer, KakaoApp
from orders.models import Order, OrderSheet
from orders.selectors import orders_with_details


def orders_filtered(*, kakao_app: KakaoApp, filters: dict[str, Any]) -> QuerySet[Order]:
    """The app's orders matching the order list's filters (validated by ``OrderFilterSerializer``)."""
    qs = Order.objects.filter(kakao_app=kakao_app)
    if filters.get("status"):
        qs = qs.filter(status__in=filters["status"])
    if filters.get("order_status"):
        qs = qs.filter(status__in=[s for s, t4 in Order.T4_STATUS.items() if t4 == filters["order_status"]])
    for name in ("relay_id", "app_user_id"):
        if filters.get(name):
            qs = qs.filter(**{name: filters[name]})
    if filters.get("order_sheet_id"):
        qs = qs.filter(sheet_id=filters["order_sheet_id"])
    if filters.get("created_after"):
        qs = qs.filter(created_at__gte=filters["created_after"])
    if filters.get("created_before"):
        qs = qs.filter(created_at__lt=filters["created_before"])
    if filters.get("updated_after"):
        qs = qs.filter(updated_at__gte=filters["updated_after"])
    return orders_with_details(qs)


def order_get(*, kakao_app: KakaoApp, partner_order_id: str) -> Order | None:
    return orders_with_details(Order.objects.filter(kakao_app=kakao_app, partner_order_id=partner_order_id)).first()


def order_latest_for_relay(*, kakao_app: KakaoApp, relay_id: str) -> Order | None:
    """The newest payment attempt of a chat session (a retry after a failure supersedes it)."""
    qs = Order.objects.filter(kakao_app=kakao_app, relay_id=relay_id).order_by("-created_at", "-id")
    return orders_with_details(qs).first()


def order_sheet_get(*, kakao_app: KakaoApp, sheet_id: str) -> OrderSheet | None:
    return OrderSheet.objects.filter(kakao_app=kakao_app, pk=sheet_id).prefetch_related("lines").first()


def product_get(*, product_id: str) -> Product | None:
    return Product.objects.filter(code=product_id).first()


def member_get(*, kakao_app: KakaoApp, app_user_id: str) -> Customer | None:
    from callbacks.models import Consent, ShippingAddress

    return (
        Customer.objects.filter(kakao_app=kakao_app, app_user_id=app_user_id)
        .select_related("profile")
        .prefetch_related(
            Prefetch("consents", queryset=Consent.objects.order_by("tag")),
            Prefetch("shipping_addresses", queryset=ShippingAddress.objects.order_by("-collected_at", "-id")),
        )
        .first()
    )


def member_paid_orders(*, kakao_app: KakaoApp, app_user_id: str) -> int:
    paid = (Order.Status.PAID, Order.Status.CANCELLED)
    return Order.objects.filter(kakao_app=kakao_app, app_user_id=app_user_id, status__in=paid).count()
