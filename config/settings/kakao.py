"""Kakao and KakaoPay, the plugin gate, payments, subscriptions, the catalog and the callbacks."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from .base import env

# --- Kakao and KakaoPay's addresses -----------------------------------------------------------
KAKAOPAY_LEGACY_API_BASE = env.str("KAKAOPAY_LEGACY_API_BASE", default="https://kapi.kakao.com")
KAKAOPAY_OPEN_API_BASE = env.str("KAKAOPAY_OPEN_API_BASE", default="https://open-api.kakaopay.com")
KAKAO_AUTH_BASE = env.str("KAKAO_AUTH_BASE", default="https://kauth.kakao.com")
KAKAO_API_BASE = env.str("KAKAO_API_BASE", default="https://kapi.kakao.com")
KAKAO_OTP_HOSTS = env.list("KAKAO_OTP_HOSTS", default=["talk-plugin.kakao.com"])
KAKAO_IMAGE_HOSTS = env.list("KAKAO_IMAGE_HOSTS", default=["*.kakaocdn.net"])
KAKAO_ALLOW_HTTP = env.bool("KAKAO_ALLOW_HTTP", default=False)
KAKAO_APPROVAL_RELAY_TEMPLATE = env.str(
    "KAKAO_APPROVAL_RELAY_TEMPLATE",
    default="https://talk-plugin.kakao.com/kakaopay/callback?approval_url={url}",
)
KAKAO_HTTP_TIMEOUT = env.float("KAKAO_HTTP_TIMEOUT", default=10.0)

# --- the plugin gate (kakaoplugin.gate; its body limit: security.py) ----------------------------
# How long a process keeps a looked-up Kakao app (seconds): key rotation takes effect within it.
PLUGIN_APP_CACHE_SECONDS = env.float("PLUGIN_APP_CACHE_SECONDS", default=5.0)
# Payment T4's status cache (orders.status_cache): an entry lives this long after the database read
# it holds, so a lost publication leaves T4 behind for at most this long; 0 turns the cache off.
T4_STATUS_CACHE_SECONDS = env.float("T4_STATUS_CACHE_SECONDS", default=5.0)
# Retry-After (seconds) of the 503 envelope a plugin path answers when the database is unreachable.
PLUGIN_RETRY_AFTER_SECONDS = env.int("PLUGIN_RETRY_AFTER_SECONDS", default=2)
# Stored plugin calls (kakaoplugin.InboundCall) keep their bodies this many days, then only metadata.
INBOUND_CALL_RETENTION_DAYS = env.int("INBOUND_CALL_RETENTION_DAYS", default=30)

# --- orders and payments (orders app) ---------------------------------------------------------
ORDER_SHEET_TTL_SECONDS = env.int("ORDER_SHEET_TTL_SECONDS", default=24 * 3600)
# How long T2 holds stock for a buyer who has not finished paying (KakaoPay's tid lives 15 min).
PAYMENT_HOLD_SECONDS = env.int("PAYMENT_HOLD_SECONDS", default=15 * 60)
# An approve/refund runner owns an order this long; past it, another runner may take over (after
# asking KakaoPay what happened). Longer than any KakaoPay call can take.
PAYMENT_LEASE_SECONDS = env.int("PAYMENT_LEASE_SECONDS", default=60)
# First retry delay after an unknown outcome; doubles per retry up to a minute.
PAYMENT_RETRY_BASE_SECONDS = env.float("PAYMENT_RETRY_BASE_SECONDS", default=1.0)
# T1-served orders that never got a tid are failed after this.
PAYMENT_PENDING_TTL_SECONDS = env.int("PAYMENT_PENDING_TTL_SECONDS", default=3600)
# HELD orders with both tid and pg_token but no approval after this are re-enqueued (lost task).
PAYMENT_STALLED_SECONDS = env.int("PAYMENT_STALLED_SECONDS", default=30)

# KakaoPay's amounts and quantities are 32-bit integers (at most 2,147,483,647). A selection
# (option T2, merchant API) or payment T1 above these is refused with a 400 envelope
# (docs/security.md "Input limits").
KAKAOPAY_MAX_INTEGER = 2_147_483_647
ORDER_MAX_AMOUNT = env.int("ORDER_MAX_AMOUNT", default=100_000_000)
ORDER_MAX_QUANTITY = env.int("ORDER_MAX_QUANTITY", default=9_999)
if not 0 < ORDER_MAX_AMOUNT <= KAKAOPAY_MAX_INTEGER or not 0 < ORDER_MAX_QUANTITY <= KAKAOPAY_MAX_INTEGER:
    raise ImproperlyConfigured("ORDER_MAX_AMOUNT and ORDER_MAX_QUANTITY must be within 1..2147483647 (KakaoPay's limit)")

# --- subscriptions (정기결제, orders app) ----------------------------------------------------------
# An installment falls due at this hour (Asia/Seoul) of its date; the charging task runs every
# SUBSCRIPTION_CHARGE_EVERY_SECONDS and charges what is due.
SUBSCRIPTION_CHARGE_HOUR = env.int("SUBSCRIPTION_CHARGE_HOUR", default=9)
SUBSCRIPTION_CHARGE_EVERY_SECONDS = env.float("SUBSCRIPTION_CHARGE_EVERY_SECONDS", default=300.0)
# A declined charge is tried again after each of these delays (hours, counted from the decline);
# declined once more after the last, the installment fails and the subscription is suspended.
SUBSCRIPTION_RETRY_HOURS = env.list("SUBSCRIPTION_RETRY_HOURS", cast=int, default=[24, 48, 72])

# --- catalog ------------------------------------------------------------------------------------
# How long a serialized option tree stays cached; edits, imports and stock moves invalidate it at once.
CATALOG_T1_CACHE_SECONDS = env.int("CATALOG_T1_CACHE_SECONDS", default=24 * 3600)
# Product pictures (chatbot commerce cards): uploads larger than this are refused.
PRODUCT_IMAGE_MAX_BYTES = env.int("PRODUCT_IMAGE_MAX_BYTES", default=2 * 1024 * 1024)

# --- callbacks: OTP callbacks, secure images, Kakao Sync, retention ------------------------------
# Personal data (profiles, addresses, locations, images) is purged this many days after it was
# last collected; raw callback bodies and OTP answers after CALLBACKS_RAW_RETENTION_DAYS.
CALLBACKS_PERSONAL_RETENTION_DAYS = env.int("CALLBACKS_PERSONAL_RETENTION_DAYS", default=365)
CALLBACKS_RAW_RETENTION_DAYS = env.int("CALLBACKS_RAW_RETENTION_DAYS", default=30)
# OTP fetch retries: attempt n waits CALLBACKS_RETRY_BASE_SECONDS * 2**(n-1) (capped at 120 s).
CALLBACKS_FETCH_MAX_RETRIES = env.int("CALLBACKS_FETCH_MAX_RETRIES", default=5)
CALLBACKS_RETRY_BASE_SECONDS = env.float("CALLBACKS_RETRY_BASE_SECONDS", default=5.0)
# Which secure-image sizes to keep: any of original, img_1m, img_3m (docs/contracts.md).
SECURE_IMAGE_SIZES = env.list("SECURE_IMAGE_SIZES", default=["original"])
SECURE_IMAGE_MAX_BYTES = env.int("SECURE_IMAGE_MAX_BYTES", default=20 * 1024 * 1024)
# Secure images whose download task never ran (a lost broker message, a worker down) are queued
# again this long after their download was last queued or last ran (longer than the download
# task's own retry backoff, at most 36 s); past `expire` they are marked expired.
SECURE_IMAGE_REQUEUE_SECONDS = env.int("SECURE_IMAGE_REQUEUE_SECONDS", default=60)
# Kakao Sync: the `continue` URL is followed only to these hosts (https).
KAKAO_CONTINUE_HOSTS = env.list("KAKAO_CONTINUE_HOSTS", default=["kakao.com", "*.kakao.com"])
# Kakao Sync: how long a `state` we issued (merchant API /api/v1/kakaosync/launch-link) opens the
# redirect URI (docs/security.md, "Browser-facing endpoints").
KAKAOSYNC_STATE_MAX_AGE_SECONDS = env.int("KAKAOSYNC_STATE_MAX_AGE_SECONDS", default=24 * 3600)
