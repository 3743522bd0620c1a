"""Writes of the orders app."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kakaoplugin.models import KakaoApp

from .models import OrderSheet, OrderSheetLine


@dataclass(frozen=True)
class SheetLine:
    group_id: str
    group_name: str
    group_type: str
    sub_group_id: str = ""
    option_id: str = ""
    option_value: str = ""
    option_pk: int | None = None  # catalog.Option whose stock this line takes
    add_price: int = 0
    quantity: int | None = None
    amount: int = 0
    extra: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class SheetDraft:
    """What a validated selection (option T2, merchant API) turns into: a sheet to store."""

    product_pk: int | None
    product_code: str
    product_name: str
    unit_price: int
    quantity: int
    total_amount: int
    tax_free_amount: int = 0
    use_shipping: bool = True
    product_url: str = ""
    lines: list[SheetLine] = field(default_factory=list)


@transaction.atomic
def order_sheet_create(
    *,
    kakao_app: KakaoApp,
    draft: SheetDraft,
    app_user_id: str | None,
    relay_id: str | None,
    ttl_seconds: int | None = None,
) -> OrderSheet:
    ttl = settings.ORDER_SHEET_TTL_SECONDS if ttl_seconds is None else ttl_seconds
    sheet = OrderSheet.objects.create(
        kakao_app=kakao_app,
        app_user_id=app_user_id,
        relay_id=relay_id,
        product_id=draft.product_pk,
        product_code=draft.product_code,
        product_name=draft.product_name,
        product_url=draft.product_url,
        unit_price=draft.unit_price,
        quantity=draft.quantity,
        total_amount=draft.total_amount,
        tax_free_amount=draft.tax_free_amount,
        use_shipping=draft.use_shipping,
        expires_at=timezone.now() + timedelta(seconds=ttl),
    )
    OrderSheetLine.objects.bulk_create(
        OrderSheetLine(
            sheet=sheet,
            position=i,
            group_id=line.group_id,
            group_name=line.group_name,
            group_type=line.group_type,
            sub_group_id=line.sub_group_id,
            option_id=line.option_id,
            option_value=line.option_value,
            catalog_option_id=line.option_pk,
            add_price=line.add_price,
            quantity=line.quantity,
            amount=line.amount,
            extra=line.extra,
            text=line.text,
        )
        for i, line in enumerate(draft.lines)
    )
    return sheet
