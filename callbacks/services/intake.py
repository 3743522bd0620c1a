"""Receiving and processing an OTP callback.

Order of things (dj-stripe's webhook log): the POST is stored as a :class:`CallbackEvent` first,
validated (untrusted OTP URL), de-duplicated, answered; the fetch task then GETs the OTP URL, stores
Kakao's answer on the event in its own transaction (an OTP may work only once: what we got is never
lost to a later failure), and applies it in another (profiles, locations, secure images)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from kakaoplugin.clients import otp
from kakaoplugin.log_context import bind as bind_log_context
from kakaoplugin.metrics import CALLBACK_FETCHES
from kakaoplugin.models import KakaoApp

from ..models import CallbackEvent, CallbackKind, FetchAttempt
from .common import TryAgain
from .locations import location_record_create
from .profiles import profile_apply_callback, redact_raw_response
from .secure_images import secure_image_set_create

logger = logging.getLogger(__name__)


DONE = {
    CallbackEvent.Status.PROCESSED,
    CallbackEvent.Status.REJECTED,
    CallbackEvent.Status.DUPLICATE,
}


SKIPPED_HEADERS = {"HTTP_COOKIE", "HTTP_AUTHORIZATION", "HTTP_PROXY_AUTHORIZATION"}


def request_headers(meta: dict[str, Any]) -> dict[str, str]:
    """The request's headers as sent (cookies and credentials left out)."""
    headers = {}
    for key, value in meta.items():
        if key.startswith("HTTP_") and key not in SKIPPED_HEADERS:
            headers[key[5:].replace("_", "-").title()] = str(value)[:1000]
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if meta.get(key):
            headers[key.replace("_", "-").title()] = str(meta[key])
    return headers


@dataclass(frozen=True)
class Received:
    event: CallbackEvent
    error: str | None  # a reason for a 400 answer, or None (answer {"status": 200})


def callback_receive(
    *,
    kind: str,
    kakao_app: KakaoApp,
    body: bytes,
    headers: dict[str, str],
    relay_id: str | None,
    app_user_id: str | None,
    source_ip: str | None,
) -> Received:
    """Store the POST, validate it, de-duplicate it and queue its fetch (after commit)."""
    event = CallbackEvent(
        kind=kind,
        kakao_app=kakao_app,
        relay_id=(relay_id or "")[:200],
        app_user_id=(app_user_id or "")[:64],
        headers=headers,
        body=body.decode("utf-8", "replace"),
        source_ip=source_ip or None,
    )
    error, safe = _validate_callback_body(body, kind, event)
    if error is not None:
        event.status = CallbackEvent.Status.REJECTED
        event.last_error = error
        event.save()
        logger.warning("callback %s rejected (event %s): %s", kind, event.pk, error)
        return Received(event, error)

    key = hashlib.sha256(f"{kakao_app.pk}|{kind}|{safe.url()}".encode()).hexdigest()
    try:
        with transaction.atomic():
            event.dedupe_key = key
            event.save()
    except IntegrityError:
        # The same OTP again (Kakao retried, or someone replays it): stored, never fetched twice.
        event.pk = None
        event._state.adding = True
        event.dedupe_key = None
        event.status = CallbackEvent.Status.DUPLICATE
        event.duplicate_of = CallbackEvent.objects.filter(dedupe_key=key).first()
        event.save()
        return Received(event, None)

    bind_log_context(callback_event_id=event.pk)  # on this request's lines and on its fetch task's
    _enqueue_fetch(event.pk)
    return Received(event, None)


def _validate_callback_body(body: bytes, kind: str, event: CallbackEvent) -> tuple[str | None, otp.SafeUrl | None]:
    try:
        data = orjson.loads(body) if body.strip() else None
    except orjson.JSONDecodeError:
        return "요청 본문이 올바른 JSON이 아닙니다 (body is not JSON)", None
    if not isinstance(data, dict):
        return "요청 본문은 JSON 객체여야 합니다 (body must be a JSON object)", None
    url = data.get("otp")
    if not isinstance(url, str) or not url:
        return "필수 항목이 없습니다: otp (missing field)", None
    event.otp_url = url[:2048]
    try:
        safe = otp.validate_otp_url(url, kind)
    except otp.UrlRefused as exc:
        return f"허용되지 않는 OTP 주소입니다 (OTP URL refused: {exc})", None
    return None, safe


def _enqueue_fetch(event_id: int) -> None:
    from ..tasks import fetch_callback

    transaction.on_commit(lambda: fetch_callback.delay(event_id))


def callback_event_fetch_again(*, event: CallbackEvent) -> bool:
    """Staff's "fetch again": a failed event is queued anew (its stored answer is reused if any)."""
    with transaction.atomic():
        event = CallbackEvent.objects.select_for_update().get(pk=event.pk)
        if event.status not in (CallbackEvent.Status.FAILED, CallbackEvent.Status.RETRYING):
            return False
        event.status = CallbackEvent.Status.RECEIVED
        event.save(update_fields=["status"])
        _enqueue_fetch(event.pk)
    return True


def callback_event_process(*, event_id: int, final_attempt: bool = False) -> str:
    """Fetch the event's OTP URL once and apply what it says. Safe to run twice.

    Raises :class:`TryAgain` on a temporary failure when attempts remain.
    """
    bind_log_context(callback_event_id=event_id)
    with transaction.atomic():
        event = CallbackEvent.objects.select_for_update().select_related("kakao_app").get(pk=event_id)
        if event.status in DONE:
            return event.status
        if event.status == CallbackEvent.Status.PROCESSING and _recently_started(event):
            return "busy"  # another worker has it (a redelivered task)
        if event.fetched_at is not None:
            pass  # fetched before (a crash after the fetch, or "fetch again"): apply what we have
        else:
            event.status = CallbackEvent.Status.PROCESSING
            event.attempts += 1
            event.save(update_fields=["status", "attempts"])
            attempt = FetchAttempt.objects.create(event=event, number=event.attempts)

    if event.fetched_at is None:
        try:
            result = otp.fetch_otp(event.otp_url, event.kind, rest_api_key=event.kakao_app.rest_api_key)
        except (otp.UrlRefused, otp.FetchError) as exc:
            temporary = isinstance(exc, otp.FetchError) and exc.temporary
            CALLBACK_FETCHES.labels(event.kind, "retry" if temporary and not final_attempt else "failed").inc()
            _attempt_failed(event, attempt, exc, retry=temporary and not final_attempt)
            if temporary and not final_attempt:
                raise TryAgain(str(exc)) from exc
            return CallbackEvent.Status.FAILED
        CALLBACK_FETCHES.labels(event.kind, "ok").inc()
        with transaction.atomic():
            FetchAttempt.objects.filter(pk=attempt.pk).update(
                finished_at=timezone.now(), http_status=result.status, ok=True
            )
            CallbackEvent.objects.filter(pk=event.pk).update(
                raw_response=redact_raw_response(result.data), fetched_at=timezone.now()
            )

    try:
        with transaction.atomic():
            event = CallbackEvent.objects.select_for_update().select_related("kakao_app").get(pk=event_id)
            if event.status in DONE:
                return event.status
            _apply(event)
            event.status = CallbackEvent.Status.PROCESSED
            event.processed_at = timezone.now()
            event.save(update_fields=["status", "processed_at", "last_error", "customer"])
    except Exception as exc:
        logger.exception("applying callback event %s failed", event_id)
        CallbackEvent.objects.filter(pk=event_id).update(
            status=CallbackEvent.Status.FAILED, last_error=f"applying the answer failed: {exc!r}"[:2000]
        )
        return CallbackEvent.Status.FAILED
    return CallbackEvent.Status.PROCESSED


def _recently_started(event: CallbackEvent) -> bool:
    last = event.fetch_attempts.order_by("-number").first()
    limit = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    return last is not None and last.finished_at is None and timezone.now() - last.started_at < limit


def _attempt_failed(event: CallbackEvent, attempt: FetchAttempt, exc: Exception, *, retry: bool) -> None:
    message = str(exc)[:2000]
    with transaction.atomic():
        FetchAttempt.objects.filter(pk=attempt.pk).update(
            finished_at=timezone.now(), http_status=getattr(exc, "http_status", None), error=message
        )
        CallbackEvent.objects.filter(pk=event.pk).update(
            status=CallbackEvent.Status.RETRYING if retry else CallbackEvent.Status.FAILED,
            last_error=f"attempt {attempt.number}: {message}",
        )


def _apply(event: CallbackEvent) -> None:
    data = event.raw_response if isinstance(event.raw_response, dict) else {}
    event.last_error = ""
    if event.kind == CallbackKind.PROFILE:
        customer = profile_apply_callback(kakao_app=event.kakao_app, data=data)
        if customer is None:
            event.last_error = "no app_user_id in Kakao's answer: kept only in the raw response"
        event.customer = customer
    elif event.kind == CallbackKind.LOCATION:
        record = location_record_create(event=event, data=data)
        event.customer = record.customer
    elif event.kind == CallbackKind.SECURE_IMAGE:
        image_set = secure_image_set_create(event=event, data=data)
        event.customer = image_set.customer
