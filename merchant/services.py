"""Writes of the merchant API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from callbacks.services import kakaosync_state_issue
from catalog.models import Product
from catalog.selection import SelectionError
from kakaoplugin.envelope import PluginError
from kakaoplugin.models import KakaoApp
from kakaoplugin.plugin_paths import kakaosync_redirect_url
from kakaoplugin.selectors import customer_is_blocked
from orders.models import OrderSheet
from orders.rules import shipping_fee, store_rules
from orders.sheets import order_sheet_create_from_choices

from .links import bizplugin_link

UNPROCESSABLE = 422


@dataclass(frozen=True)
class LaunchableSheet:
    sheet: OrderSheet
    plugin_id: str
    launch_link: str
    shipping_fee: int


def sheet_launch(*, sheet: OrderSheet) -> LaunchableSheet:
    """The payment plugin's launch link for a sheet, and the store's base shipping fee for it."""
    app = sheet.kakao_app
    link = bizplugin_link(plugin_id=app.payment_plugin_id, oneclick_id=sheet.pk)
    fee = shipping_fee(store_rules(app), goods_amount=sheet.total_amount, use_shipping=sheet.use_shipping, zip_code=None)
    return LaunchableSheet(sheet=sheet, plugin_id=app.payment_plugin_id, launch_link=link, shipping_fee=fee)


def merchant_order_sheet_create(
    *, kakao_app: KakaoApp, choices: dict[str, Any], app_user_id: str | None, relay_id: str | None,
    ttl_seconds: int | None,
) -> LaunchableSheet:  # fmt: skip
    """An order sheet for a payment-only launch (guide 9.2.3): the choices are validated by option
    T2's code (``order_sheet_create_from_choices``).  Refused with 409 when the app has no payment
    plugin id (nothing is created), 422 when the choices or the member are refused."""
    if not kakao_app.payment_plugin_id:
        bizplugin_link(plugin_id="")  # raises the 409 saying what to configure
    if app_user_id and customer_is_blocked(kakao_app=kakao_app, app_user_id=app_user_id):
        raise PluginError(UNPROCESSABLE, "사용이 제한된 사용자입니다 (this member is blocked)", http_status=UNPROCESSABLE)
    try:
        with transaction.atomic():
            sheet = order_sheet_create_from_choices(
                kakao_app=kakao_app, choices=choices, app_user_id=app_user_id, relay_id=relay_id,
                ttl_seconds=ttl_seconds,
            )  # fmt: skip
    except SelectionError as exc:
        status = 400 if exc.malformed else UNPROCESSABLE
        raise PluginError(status, exc.message, http_status=status) from None
    return sheet_launch(sheet=sheet)


@dataclass(frozen=True)
class KakaoSyncLaunch:
    state: str
    expires_in: int
    redirect_uri: str
    plugin_id: str
    launch_link: str | None


def kakaosync_launch(*, kakao_app: KakaoApp, base_url: str) -> KakaoSyncLaunch:
    """A fresh ``state`` for one launch of the Kakao Sync plugin (the redirect URI only admits the
    states we issued), and the launch link carrying it when the app has a Kakao Sync plugin id."""
    state = kakaosync_state_issue(kakao_app=kakao_app)
    plugin_id = kakao_app.kakaosync_plugin_id
    return KakaoSyncLaunch(
        state=state,
        expires_in=settings.KAKAOSYNC_STATE_MAX_AGE_SECONDS,
        redirect_uri=kakaosync_redirect_url(base_url, kakao_app.pk),
        plugin_id=plugin_id,
        launch_link=bizplugin_link(plugin_id=plugin_id, state=state) if plugin_id else None,
    )


def product_launch_link(*, kakao_app: KakaoApp, product: Product) -> tuple[str, str]:
    """The option plugin's launch link for a product: (plugin id, link)."""
    return kakao_app.option_plugin_id, bizplugin_link(plugin_id=kakao_app.option_plugin_id, product_id=product.code)
