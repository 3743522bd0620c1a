"""Reads of the Kakao layer."""

from __future__ import annotations

import threading
import time

from django.conf import settings

from .generations import LocalCopies, generation_current
from .models import Customer, KakaoApp

_app_cache: dict[str, tuple[float, KakaoApp | None]] = {}
_app_by_pk: dict[int, tuple[float, KakaoApp | None]] = {}
_app_cache_lock = threading.Lock()


def kakao_app_for_plugin_key(plugin_key: str) -> KakaoApp | None:
    """The active app owning ``plugin_key``, or None.

    Kakao polls T4 every 0.5 s per buyer, so each process keeps a looked-up app for
    ``PLUGIN_APP_CACHE_SECONDS``: a rotated or deactivated key stops working within that time.
    Unknown keys are cached too (a scan of random keys costs one query per key per period).
    """
    return _kept(_app_cache, plugin_key, lambda: KakaoApp.objects.filter(plugin_key=plugin_key, is_active=True).first())


def kakao_app_active(pk: int) -> KakaoApp | None:
    """The active app ``pk``, or None; kept per process as :func:`kakao_app_for_plugin_key` keeps
    it (a deactivated app stops being served within ``PLUGIN_APP_CACHE_SECONDS``), in a dict of its
    own: a path's plugin key is anyone's text, never an id."""
    return _kept(_app_by_pk, pk, lambda: KakaoApp.objects.filter(pk=pk, is_active=True).first())


def _kept(store: dict, key, load):
    now = time.monotonic()
    hit = store.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    app = load()
    with _app_cache_lock:
        if len(store) > 10_000:
            store.clear()
        store[key] = (now + settings.PLUGIN_APP_CACHE_SECONDS, app)
    return app


def kakao_app_for_sync_ref(ref: str) -> KakaoApp | None:
    """The active app of Kakao Sync's redirect URI ``/sync/<app id>/redirect``, or None."""
    if not (ref.isascii() and ref.isdigit()) or len(ref) > 18:
        return None
    return KakaoApp.objects.filter(pk=int(ref), is_active=True).first()


def forget_plugin_keys() -> None:
    """Drop this process's cache (after a rotation, and between tests)."""
    with _app_cache_lock:
        _app_cache.clear()
        _app_by_pk.clear()


def customer_get(*, kakao_app: KakaoApp, app_user_id: str) -> Customer | None:
    return Customer.objects.filter(kakao_app=kakao_app, app_user_id=app_user_id).first()


# Option T2 and payment T1/T2 each ask whether the member is blocked: each process keeps the app's
# blocked members under the app's generation (kakaoplugin.generations), renewed after any member
# change commits (:func:`watch_blocked_members`); a minute at most if a renewal is lost.
_BLOCKED = LocalCopies(limit=256, max_age=60.0)


def _blocked_key(kakao_app_id: int) -> str:
    return f"kakaoplugin:blocked:{kakao_app_id}"


def customer_is_blocked(*, kakao_app: KakaoApp, app_user_id: str | None) -> bool:
    if not app_user_id:
        return False
    token = generation_current(_blocked_key(kakao_app.pk))  # None while the cache is unavailable
    blocked = _BLOCKED.get(kakao_app.pk, token)
    if blocked is None:
        blocked = frozenset(Customer.objects.filter(kakao_app=kakao_app, blocked=True).values_list("app_user_id", flat=True))
        _BLOCKED.keep(kakao_app.pk, token, blocked)
    return app_user_id in blocked


def _member_saved(sender, instance, created=False, update_fields=None, **kwargs) -> None:
    if created and not instance.blocked:
        return  # a new member who is not blocked changes no one's answer (sign-ups, callbacks)
    if update_fields is not None and "blocked" not in update_fields:
        return
    _BLOCKED.renew_after_commit(instance.kakao_app_id, _blocked_key(instance.kakao_app_id))


def _member_deleted(sender, instance, **kwargs) -> None:
    if instance.blocked:
        _BLOCKED.renew_after_commit(instance.kakao_app_id, _blocked_key(instance.kakao_app_id))


def watch_blocked_members() -> None:
    """Connect the renewals (KakaopluginConfig.ready)."""
    from django.db.models.signals import post_delete, post_save

    post_save.connect(_member_saved, sender=Customer, dispatch_uid="kakaoplugin.blocked.saved")
    post_delete.connect(_member_deleted, sender=Customer, dispatch_uid="kakaoplugin.blocked.deleted")


def webhook_attempted_since(since):
    """A delivery attempted since ``since`` (an ``Exists`` for filters): a failed delivery makes
    no attempt after giving up, so a failed one attempted since then gave up since then."""
    from django.db.models import Exists, OuterRef

    from .models import WebhookAttempt

    return Exists(WebhookAttempt.objects.filter(delivery=OuterRef("pk"), at__gte=since))


def failed_webhooks_count(*, since) -> int:
    """Webhook deliveries that gave up since ``since``."""
    from .models import WebhookDelivery

    return WebhookDelivery.objects.filter(webhook_attempted_since(since), status=WebhookDelivery.Status.FAILED).count()
