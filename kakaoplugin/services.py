"""Writes of the Kakao layer."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from . import signing
from .clients import outbound
from .inserts import insert_unless_exists
from .metrics import WEBHOOK_DELIVERIES
from .models import (
    Customer,
    InboundCall,
    KakaoApp,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WorkerHeartbeat,
    new_plugin_key,
    validate_webhook_url,
)
from .outbox import send_after_commit
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


# --- order webhooks ------------------------------------------------------------------------------

WEBHOOK_RETRY_WINDOW = timedelta(days=1)
WEBHOOK_TIMEOUT_SECONDS = 10
WEBHOOK_BURST = 20  # more deliveries than this from one write are sent to the broker as one message
WEBHOOK_ANSWER_MAX_BYTES = 1024  # a receiver's answer is read this far (its status is what counts)


def webhook_endpoint_create(*, kakao_app: KakaoApp, url: str, event_types: list[str] | None = None) -> WebhookEndpoint:
    """Raises ValidationError for a URL we will not call (http, a private or unresolvable host)."""
    validate_webhook_url(url)
    return WebhookEndpoint.objects.create(
        kakao_app=kakao_app, url=url, secret="whsec_" + secrets.token_urlsafe(32), event_types=event_types or []
    )


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new signing secret; the old one stops verifying at once."""
    endpoint.secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint.save(update_fields=["secret"])
    return endpoint


def webhook_emit(
    *, kakao_app: KakaoApp, event_type: str, data: dict[str, Any], idempotency_key: str, livemode: bool | None = None
) -> WebhookEvent | None:
    """Record an event and a delivery per subscribed endpoint; sent by Celery after commit.

    ``livemode`` (false: a test app's event, e.g. a test order's) is in the payload; by default
    the app's mode now.  Order events pass the order's own.

    The same ``idempotency_key`` twice records one event (a task that runs twice emits once).
    Call inside the transaction that makes the change, so the event exists iff the change does.
    """
    created = webhook_emit_many(
        kakao_app=kakao_app, event_type=event_type, events=[(idempotency_key, data)], livemode=livemode
    )
    return created[0] if created else None


def webhook_emit_many(
    *, kakao_app: KakaoApp, event_type: str, events: list[tuple[str, dict[str, Any]]], livemode: bool | None = None
) -> list[WebhookEvent]:
    """:func:`webhook_emit` for many events of one app and type, ``(idempotency key, data)`` each,
    in a fixed number of queries (a stock write that crosses 1,000 options' thresholds at once).
    Returns the events recorded now (a key recorded before is skipped)."""
    from .tasks import deliver_webhook, deliver_webhooks

    if not events:
        return []
    created_at = timezone.now()
    livemode = kakao_app.livemode if livemode is None else livemode

    def event(key: str, data: dict[str, Any]) -> WebhookEvent:
        event_id = "evt_" + secrets.token_urlsafe(16)
        payload = {"id": event_id, "type": event_type, "created_at": created_at.isoformat(), "livemode": livemode, "data": data}
        return WebhookEvent(id=event_id, kakao_app=kakao_app, type=event_type, idempotency_key=key, payload=payload,
                            created_at=created_at)  # fmt: skip

    # No savepoint (two round trips on every order's transition): the events and their deliveries
    # commit or roll back with the caller's transaction (or this one's, outside any), and a
    # database error here fails the caller's transaction; callers do not catch one and go on.
    with transaction.atomic(savepoint=False):
        if len(events) == 1:  # an order's transition: one INSERT … ON CONFLICT DO NOTHING
            one = event(*events[0])
            created = [one] if insert_unless_exists(one, unique="idempotency_key") else []
        else:
            known = set(
                WebhookEvent.objects.filter(idempotency_key__in=[key for key, _ in events]).values_list("idempotency_key", flat=True)
            )
            rows, seen = [], set()
            for key, data in events:
                if key in known or key in seen:
                    continue
                seen.add(key)
                rows.append(event(key, data))
            # A concurrent writer of the same key wins: its row stays, ours is skipped (and not returned).
            WebhookEvent.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
            recorded = set(WebhookEvent.objects.filter(pk__in=[r.pk for r in rows]).values_list("pk", flat=True))
            created = [r for r in rows if r.pk in recorded]
        if not created:
            return []
        endpoints = [
            e
            for e in WebhookEndpoint.objects.filter(kakao_app=kakao_app, is_active=True).only("pk", "event_types")
            if not e.event_types or event_type in e.event_types
        ]
        deliveries = WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(event=event, endpoint=e, next_attempt_at=created_at, give_up_at=created_at + WEBHOOK_RETRY_WINDOW)
                for event in created
                for e in endpoints
            ],
            batch_size=500,
        )
    ids = [d.pk for d in deliveries]
    if len(ids) <= WEBHOOK_BURST:
        for delivery_id in ids:
            send_after_commit(task=deliver_webhook, args=[delivery_id])  # the sweep retries it
    else:  # one message per chunk, fanned out by a worker: the request does not wait for 1,000 sends
        for start in range(0, len(ids), 1000):
            send_after_commit(task=deliver_webhooks, args=[ids[start : start + 1000]])
    return created


def webhook_backoff(attempts: int) -> timedelta:
    """base, 2×base, 4×base, ... capped at 1 h (base 30 s: about 30 attempts within the day)."""
    base = settings.WEBHOOK_RETRY_BASE_SECONDS
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), 3600))


def webhook_deliver(*, delivery_id: int) -> WebhookDelivery | None:
    """One attempt: POST the signed event. Returns the delivery, or None when nothing was due.

    At least once: a receiver may see an event twice (say, a worker lost after the POST) and
    deduplicates on the event id.
    """
    now = timezone.now()
    # Claim the attempt (pending and due): two workers do not POST the same attempt at once.
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + timedelta(seconds=WEBHOOK_TIMEOUT_SECONDS * 3), attempts=F("attempts") + 1)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    body = orjson.dumps(delivery.event.payload)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "kakaoplugin-webhooks/1",
        signing.SIGNATURE_HEADER: signing.signature(delivery.endpoint.secret, timestamp, body),
        signing.EVENT_ID_HEADER: delivery.event.id,
        signing.EVENT_TYPE_HEADER: delivery.event.type,
    }
    started = time.monotonic()
    status_code, error = None, ""
    try:
        # resolved and checked again now (DNS may have changed since the endpoint was saved), then
        # sent to the checked address only; no redirects; the answer's first KB at most
        checked = outbound.check_public_url(delivery.endpoint.url, allow_local=settings.WEBHOOK_ALLOW_LOCAL)
        answer = outbound.post_pinned(
            checked, body=body, headers=headers, timeout=WEBHOOK_TIMEOUT_SECONDS, max_bytes=WEBHOOK_ANSWER_MAX_BYTES
        )
        status_code = answer.status
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except outbound.UrlRefused as exc:
        error = f"refused: {exc}"[:1000]
    except outbound.OutboundError as exc:
        error = str(exc)[:1000]
    duration = int((time.monotonic() - started) * 1000)
    WebhookAttempt.objects.create(
        delivery=delivery, number=delivery.attempts, status_code=status_code, error=error, duration_ms=duration,
    )  # fmt: skip
    delivery.last_status_code, delivery.last_error = status_code, error
    if not error:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = WebhookDelivery.Status.DELIVERED, timezone.now(), None
    else:
        next_at = timezone.now() + webhook_backoff(delivery.attempts)
        if next_at > delivery.give_up_at:
            delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
        else:
            delivery.next_attempt_at = next_at
    delivery.save(update_fields=["status", "delivered_at", "next_attempt_at", "last_status_code", "last_error"])
    outcome = {WebhookDelivery.Status.DELIVERED: "delivered", WebhookDelivery.Status.FAILED: "gave_up"}
    WEBHOOK_DELIVERIES.labels(outcome.get(delivery.status, "retrying")).inc()
    return delivery


def webhook_resend(*, delivery: WebhookDelivery) -> None:
    """Staff's "resend": deliver again now (also after success or giving up)."""
    from .tasks import deliver_webhook

    now = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.PENDING, next_attempt_at=now, give_up_at=max(delivery.give_up_at, now + timedelta(hours=1))
    )
    send_after_commit(task=deliver_webhook, args=[delivery.pk])  # the sweep retries it


def webhook_due_delivery_ids(*, limit: int = 500) -> list[int]:
    return list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


# --- the inbound call log ------------------------------------------------------------------------

INBOUND_HEADERS = ("HTTP_X_KAKAO_APPUSERID", "HTTP_X_KAKAO_PLUGIN_RELAY_ID", "CONTENT_TYPE", "CONTENT_LENGTH",
                   "HTTP_USER_AGENT", "HTTP_X_FORWARDED_FOR", "HTTP_X_REQUEST_ID")  # fmt: skip
# Query parameters that are credentials for a moment (Kakao Sync's authorization code and state).
INBOUND_MASKED_PARAMS = frozenset({"code", "rest_api_key", "access_token", "pg_token", "state"})


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def inbound_call_start(
    *, kakao_app: KakaoApp, endpoint: str, method: str, meta: dict, query: dict[str, str], body: bytes | None,
    source_ip: str, app_user_id: str | None, relay_id: str | None,
) -> InboundCall:  # fmt: skip
    """Store a plugin call as it arrives (its own commit: it is kept whatever the view does next)."""
    call = InboundCall(
        kakao_app=kakao_app,
        endpoint=endpoint[:40],
        method=method[:10],
        query={k: ("***" if k in INBOUND_MASKED_PARAMS else _text(v.encode())[:500]) for k, v in query.items()},
        headers={k: _text(str(meta[k]).encode())[:300] for k in INBOUND_HEADERS if k in meta},
        body=_text(body) if body is not None else "",
        source_ip=source_ip[:45],
        app_user_id=(app_user_id or "")[:64],
        relay_id=(relay_id or "")[:200],
        received_at=timezone.now(),
    )  # fmt: skip
    if _one_statement():
        columns = ("kakao_app_id", "endpoint", "method", "query", "headers", "body", "source_ip", "app_user_id",
                   "relay_id", "received_at", "result_message")  # fmt: skip
        values = [getattr(call, c) for c in columns]
        values[3:5] = orjson.dumps(call.query).decode(), orjson.dumps(call.headers).decode()
        with connection.cursor() as cursor:
            cursor.execute(_log_sql("insert", columns), values)
            call.pk = cursor.fetchone()[0]
        call._state.adding = False
        return call
    with transaction.atomic():
        call.save(force_insert=True)
    return call


def inbound_call_finish(*, call: InboundCall, http_status: int, content: bytes, is_json: bool, duration_ms: int) -> None:
    """Complete the stored call with what we answered (the envelope's status and message)."""
    result_status, message = http_status, ""
    if is_json:
        try:
            answer = orjson.loads(content)
        except orjson.JSONDecodeError:
            answer = None
        if isinstance(answer, dict) and isinstance(answer.get("status"), int):
            result_status, message = answer["status"], str(answer.get("message") or "")
    fields = {"http_status": http_status, "result_status": result_status, "result_message": message[:2000],
              "duration_ms": duration_ms}  # fmt: skip
    if _one_statement():
        with connection.cursor() as cursor:
            cursor.execute(_log_sql("update", tuple(fields)), [*fields.values(), call.pk])
        return
    InboundCall.objects.filter(pk=call.pk).update(**fields)


# The call log is written on every plugin call, twice: each write is one statement in a transaction
# of its own that commits without waiting for the disk (PostgreSQL's ``synchronous_commit`` off for
# that transaction only, by ``set_config(..., true)`` inside the statement). A synchronous commit
# costs a WAL flush (1–10 ms on a busy host), and the ORM's BEGIN / SET LOCAL / INSERT / COMMIT four
# round trips: T3, T2 and the callbacks paid that twice before any view ran or answered. The row is
# still durable as soon as the view's own commit (synchronous) flushes the log after it; what a
# database crash can lose is at most the last ~0.6 s of log rows of calls whose view wrote nothing
# (refusals), never a payment's own rows. Elsewhere (SQLite, inside a caller's transaction) the ORM.
_LOG_SQL: dict[tuple, str] = {}


def _one_statement() -> bool:
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def _log_sql(kind: str, columns: tuple[str, ...]) -> str:
    key = (kind, columns)
    if key not in _LOG_SQL:
        table = connection.ops.quote_name(InboundCall._meta.db_table)
        names = [connection.ops.quote_name(InboundCall._meta.get_field(c).column) for c in columns]
        async_commit = "(SELECT set_config('synchronous_commit', 'off', true)) AS async_commit"
        if kind == "insert":
            casts = ["%s::jsonb" if c in ("query", "headers") else "%s" for c in columns]
            _LOG_SQL[key] = (f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(casts)} "  # noqa: S608
                             f"FROM {async_commit} RETURNING id")  # fmt: skip
        else:
            sets = ", ".join(f"{n} = %s" for n in names)
            _LOG_SQL[key] = f"UPDATE {table} SET {sets} FROM {async_commit} WHERE {table}.id = %s"  # noqa: S608
    return _LOG_SQL[key]


def inbound_calls_purge(*, older_than_days: int) -> int:
    """Empty the bodies and queries of calls older than the retention (they may hold personal data)."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    return InboundCall.objects.filter(received_at__lt=cutoff, body_purged_at__isnull=True).update(
        body="", query={}, body_purged_at=timezone.now()
    )


def worker_heartbeat(*, worker: str) -> None:
    WorkerHeartbeat.objects.update_or_create(worker=worker[:200], defaults={"seen_at": timezone.now()})
