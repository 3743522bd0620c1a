"""Writes of the Kakao layer."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from .models import Customer, KakaoApp, new_plugin_key
from .selectors import forget_plugin_keys

SECRET_FIELDS = ("kakaopay_admin_key", "kakaopay_secret_key", "cid_secret", "kakao_client_secret")


@transaction.atomic
def kakao_app_create_or_update(*, name: str, **fields: Any) -> tuple[KakaoApp, bool]:
    """Create the app called ``name`` or update the given fields of it (None means unchanged)."""
    app = KakaoApp.objects.select_for_update().filter(name=name).first()
    created = app is None
    if created:
        app = KakaoApp(name=name)
    for field, value in fields.items():
        if value is not None:
            setattr(app, field, value)
    app.full_clean()
    app.save()
    return app, created


@transaction.atomic
def kakao_app_rotate_plugin_key(*, kakao_app: KakaoApp) -> str:
    """A new plugin key: every plugin URL of the app changes; re-register them with Kakao."""
    kakao_app.plugin_key = new_plugin_key()
    kakao_app.plugin_key_rotated_at = timezone.now()
    kakao_app.save(update_fields=["plugin_key", "plugin_key_rotated_at", "updated_at"])
    forget_plugin_keys()  # this process at once; others within PLUGIN_APP_CACHE_SECONDS
    transaction.on_commit(forget_plugin_keys)
    return kakao_app.plugin_key


def customer_get_or_create(*, kakao_app: KakaoApp, app_user_id: str) -> Customer:
    customer, _ = Customer.objects.get_or_create(kakao_app=kakao_app, app_user_id=app_user_id)
    return customer


def customer_set_blocked(*, customer: Customer, blocked: bool, reason: str = "") -> Customer:
    customer.blocked = blocked
    customer.blocked_reason = reason if blocked else ""
    customer.save(update_fields=["blocked", "blocked_reason", "updated_at"])
    return customer
