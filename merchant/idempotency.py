"""Idempotency keys on every write of the merchant API (Stripe's model).

A write sent with ``Idempotency-Key: <up to 255 printable characters>``:
- the first time, runs and its answer (any status but a 5xx) is kept for ``IDEMPOTENCY_KEY_HOURS``
  (24 h) for that API key;
- again with the same method, path and body: the first answer is replayed (``Idempotent-Replayed:
  true``), nothing runs twice;
- again with a different body: 422, nothing runs;
- while the first is still running: the second waits for it (up to ``IDEMPOTENCY_WAIT_SECONDS``)
  and replays its answer, or gets 409 — never two writes.

The claim is a row inserted in its own transaction (a unique constraint on API key + key decides
who runs); a run that died (its lock expired) is taken over. The write and the answer kept for it
commit in one transaction. A 5xx answer or an unexpected error releases the key so that a retry
runs again.
"""

from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.response import Response

from kakaoplugin.envelope import PluginError, dumps, json_response

from .models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
LOCK_SECONDS = 120  # a first request running longer than this is presumed dead


@dataclass(frozen=True)
class Claim:
    record: IdempotencyKey | None  # ours to complete; None when replaying
    replay: HttpResponse | None = None


def fingerprint(*, method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join([method.encode(), path.encode(), body])).hexdigest()


def _replay(record: IdempotencyKey) -> HttpResponse:
    response = json_response(record.response_content.encode(), http_status=record.response_status)
    response[REPLAYED] = "true"
    return response


def idempotency_claim(*, api_key, key: str, fingerprint: str) -> Claim:
    if not key or len(key) > 255 or not key.isprintable():
        raise PluginError(400, f"{HEADER} must be 1–255 printable characters", http_status=400)
    deadline = time.monotonic() + settings.IDEMPOTENCY_WAIT_SECONDS
    while True:
        now = timezone.now()
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    api_key=api_key, key=key, fingerprint=fingerprint, locked_until=now + timedelta(seconds=LOCK_SECONDS)
                )
            return Claim(record)
        except IntegrityError:
            pass
        record = IdempotencyKey.objects.filter(api_key=api_key, key=key).first()
        if record is None:
            continue  # released meanwhile: try again
        if record.created_at < now - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS):
            IdempotencyKey.objects.filter(pk=record.pk, created_at=record.created_at).delete()  # expired
            continue
        if record.fingerprint != fingerprint:
            raise PluginError(
                422, f"this {HEADER} was used with another request (method, path or body): use a new key",
                http_status=422,
            )  # fmt: skip
        if record.response_status is not None:
            return Claim(None, _replay(record))
        if record.locked_until and record.locked_until < now:
            # the first run died: take it over (one taker wins the conditional update)
            taken = IdempotencyKey.objects.filter(pk=record.pk, locked_until=record.locked_until).update(
                locked_until=now + timedelta(seconds=LOCK_SECONDS)
            )
            if taken:
                record.refresh_from_db()
                return Claim(record)
        if time.monotonic() > deadline:
            raise PluginError(409, f"a request with this {HEADER} is still running: retry later", http_status=409)
        time.sleep(0.05)


def idempotency_complete(*, record: IdempotencyKey, response) -> None:
    """Keep the answer as sent: a DRF Response's data rendered as its renderer will, or an envelope."""
    content = dumps(response.data) if isinstance(response, Response) else response.content
    IdempotencyKey.objects.filter(pk=record.pk).update(
        response_status=response.status_code, response_content=content.decode(), locked_until=None
    )


def idempotency_release(*, record: IdempotencyKey) -> None:
    IdempotencyKey.objects.filter(pk=record.pk).delete()


def idempotency_purge() -> int:
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def idempotent(handler):
    """Decorate a write handler (``post``/``put``/``patch``/``delete``) of a merchant API view."""

    @functools.wraps(handler)
    def wrapped(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        claim = idempotency_claim(
            api_key=request.user.api_key, key=key,
            fingerprint=fingerprint(method=request.method, path=request.path, body=request.body),
        )  # fmt: skip
        if claim.replay is not None:
            return claim.replay
        try:
            # the write and the answer kept for it commit together: a crash in between loses both,
            # and the retry that takes the key over runs the write once
            with transaction.atomic():
                response = handler(view, request, *args, **kwargs)
                if response.status_code < 500:
                    idempotency_complete(record=claim.record, response=response)
        except Exception as exc:
            try:
                response = view.handle_exception(exc)  # a refusal (4xx) is an answer to keep
            except Exception:
                idempotency_release(record=claim.record)
                raise
            idempotency_complete(record=claim.record, response=response)
        if response.status_code >= 500:
            idempotency_release(record=claim.record)
        return response

    return wrapped
