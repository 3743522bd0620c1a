"""Order sheets: what option T2 (``orders.option_t2``) and the merchant API store from a buyer's
validated choices, later payment T1's ``ordersheet_id``.

A sheet is stored from :class:`catalog.selection.Selection` as it is (``SheetDraft`` and
``SheetLine`` are catalog's selection and its lines: one shape, no copy).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.selection import SelectedLine, Selection, selection_validate
from kakaoplugin.models import KakaoApp

from .models import OrderSheet, OrderSheetLine

SheetDraft = Selection  # what a validated selection (option T2, merchant API) turns into: a sheet to store
SheetLine = SelectedLine


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
        livemode=kakao_app.livemode,
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


def order_sheet_create_from_choices(
    *,
    kakao_app: KakaoApp,
    choices: dict[str, Any],
    app_user_id: str | None,
    relay_id: str | None,
    ttl_seconds: int | None = None,
) -> OrderSheet:
    """Validate a buyer's choices (option T2's body: ``id``, ``quantity``, ``option_groups``, ...)
    against the stored tree and store them as an order sheet.

    The one path from choices to a sheet: option T2 and the merchant API both call it.  Raises
    :class:`catalog.selection.SelectionError` saying what was wrong.
    """
    selection = selection_validate(payload=choices, livemode=kakao_app.livemode)
    return order_sheet_create(
        kakao_app=kakao_app,
        draft=selection,
        app_user_id=app_user_id,
        relay_id=relay_id,
        ttl_seconds=ttl_seconds,
    )
