"""Writes of the merchant API."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

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
from .models import MerchantApiKey

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


# --- merchant API keys ---------------------------------------------------------------------------

API_KEY_PREFIX = "kp_"


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, kakao_app: KakaoApp, name: str, scopes: list[str], created_by: str = "") -> tuple[MerchantApiKey, str]:
    """A new key; the plain key is returned once and never stored."""
    unknown = set(scopes) - set(MerchantApiKey.Scope.values)
    if unknown:
        raise ValueError(f"unknown scopes: {sorted(unknown)}")
    prefix = secrets.token_hex(6)
    plain = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = MerchantApiKey.objects.create(
        kakao_app=kakao_app, name=name, prefix=prefix, key_hash=_key_hash(plain), scopes=scopes, created_by=created_by
    )
    return key, plain


def api_key_revoke(*, api_key: MerchantApiKey) -> None:
    MerchantApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def api_key_authenticate(*, plain: str) -> MerchantApiKey | None:
    """The active key ``plain`` is, or None (constant-time compare; last use recorded per minute)."""
    if not plain.startswith(API_KEY_PREFIX) or plain.count("_") < 2:
        return None
    prefix = plain[len(API_KEY_PREFIX) :].split("_", 1)[0]
    key = MerchantApiKey.objects.select_related("kakao_app").filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.key_hash, _key_hash(plain)):
        return None
    if key.revoked_at is not None or not key.kakao_app.is_active:
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        MerchantApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
