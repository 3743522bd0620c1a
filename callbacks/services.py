"""Writes of the callbacks app: receive and process OTP callbacks, Kakao Sync sign-ups, retention.

Order of things for a callback (dj-stripe's webhook log): the POST is stored as a
:class:`CallbackEvent` first, validated (untrusted OTP URL), de-duplicated, answered; the fetch task
then GETs the OTP URL, stores Kakao's answer on the event in its own transaction (an OTP may work
only once: what we got is never lost to a later failure), and applies it in another.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from kakaoplugin import browser_tokens
from kakaoplugin.clients import kakao_login, otp
from kakaoplugin.log_context import bind as bind_log_context
from kakaoplugin.metrics import CALLBACK_FETCHES
from kakaoplugin.models import Customer, KakaoApp
from kakaoplugin.services import customer_get_or_create

from .models import (
    CallbackEvent,
    CallbackKind,
    Consent,
    FetchAttempt,
    KakaoSyncSignup,
    LocationRecord,
    MemberProfile,
    PurgeRun,
    SecureImage,
    SecureImageSet,
    ShippingAddress,
)

logger = logging.getLogger(__name__)

DONE = {
    CallbackEvent.Status.PROCESSED,
    CallbackEvent.Status.REJECTED,
    CallbackEvent.Status.DUPLICATE,
}
SKIPPED_HEADERS = {"HTTP_COOKIE", "HTTP_AUTHORIZATION", "HTTP_PROXY_AUTHORIZATION"}


class TryAgain(Exception):
    """A temporary failure: the task retries later."""


# --- helpers ------------------------------------------------------------------------------------


def ci_hash(ci: str) -> str:
    """HMAC-SHA256 of the CI with ``CI_HASH_KEY``: matches members, cannot be turned back into a CI."""
    return hmac.new(settings.CI_HASH_KEY.encode(), ci.encode(), hashlib.sha256).hexdigest()


def _text(value: Any, limit: int) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return str(value).strip()[:limit]


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.UTC)
    return parsed


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


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


# --- receiving a callback -----------------------------------------------------------------------


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
    from .tasks import fetch_callback

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


# --- processing a callback ----------------------------------------------------------------------


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


def _reported_customer(event: CallbackEvent) -> Customer | None:
    """The member the callback's X-Kakao-AppUserId names (location and images carry no id)."""
    if not event.app_user_id:
        return None
    return customer_get_or_create(kakao_app=event.kakao_app, app_user_id=event.app_user_id)


# --- profiles -----------------------------------------------------------------------------------

PROFILE_FIELDS = {
    "nickname": 100,
    "profile_image_url": 1000,
    "phone_number": 40,
    "email": 254,
    "age_range": 20,
    "birthyear": 4,
    "birthday": 4,
    "gender": 10,
}


CI_HMAC_KEY = "_ci_hmac_sha256"  # where a redacted raw answer keeps the CI's keyed hash


def redact_raw_response(data: dict[str, Any]) -> dict[str, Any]:
    """Kakao's answer as we store it: everything, unknown keys included, except the raw CI
    (CONTRACTS section 1), which becomes its keyed hash before it ever reaches the database."""
    if "ci" not in data:
        return data
    redacted = {k: v for k, v in data.items() if k != "ci"}
    if isinstance(data["ci"], str) and data["ci"]:
        redacted[CI_HMAC_KEY] = ci_hash(data["ci"])
    return redacted


def profile_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The profile fields present in ``data`` (absent keys are left unchanged); CI → keyed hash."""
    fields: dict[str, Any] = {}
    for name, limit in PROFILE_FIELDS.items():
        if name in data and data[name] is not None:
            fields[name] = _text(data[name], limit)
    ci = data.get("ci")
    if isinstance(ci, str) and ci:
        fields["ci_hash"] = ci_hash(ci)
    elif isinstance(data.get(CI_HMAC_KEY), str):
        fields["ci_hash"] = data[CI_HMAC_KEY][:64]
    if "ci_hash" in fields:
        fields["ci_authenticated_at"] = _when(data.get("ci_authenticated_at"))
    return fields


def member_profile_upsert(*, customer: Customer, fields: dict[str, Any], source: str) -> MemberProfile:
    now = timezone.now()
    profile = MemberProfile.objects.select_for_update().filter(customer=customer).first()
    if profile is None:
        profile = MemberProfile(customer=customer)
    for name, value in fields.items():
        setattr(profile, name, value)
    profile.source = source
    profile.collected_at = now
    profile.purged_at = None
    profile.save()
    return profile


def shipping_address_upsert(*, customer: Customer, data: Any) -> ShippingAddress | None:
    if not isinstance(data, dict) or not data:
        return None
    values = {
        "base_address": _text(data.get("base_address"), 300),
        "detail_address": _text(data.get("detail_address"), 300),
        "receiver_name": _text(data.get("receiver_name"), 100),
        "receiver_mobile_number": _text(data.get("receiver_mobile_number"), 40),
        "post_no": _text(data.get("post_no"), 10),
        "zone_code": _text(data.get("zone_code"), 10),
        "collected_at": timezone.now(),
    }
    kakao_id = _text(data.get("id"), 64)  # a Long in the table, a string in the sample: keep as text
    if kakao_id:
        address, _ = ShippingAddress.objects.update_or_create(
            customer=customer, kakao_address_id=kakao_id, defaults=values
        )
        return address
    same = {k: v for k, v in values.items() if k != "collected_at"}
    address = ShippingAddress.objects.filter(customer=customer, kakao_address_id="", **same).first()
    if address is None:
        return ShippingAddress.objects.create(customer=customer, **values)
    address.collected_at = values["collected_at"]
    address.save(update_fields=["collected_at"])
    return address


def profile_apply_callback(*, kakao_app: KakaoApp, data: dict[str, Any]) -> Customer | None:
    """Upsert the member Kakao's profile answer names (by its ``app_user_id``).

    The callback's own X-Kakao-AppUserId header is not used here: anyone could POST someone
    else's id with their own valid OTP URL and overwrite that member's phone and address.
    """
    app_user_id = _text(data.get("app_user_id"), 64)
    if not app_user_id:
        return None
    customer = customer_get_or_create(kakao_app=kakao_app, app_user_id=app_user_id)
    member_profile_upsert(customer=customer, fields=profile_fields(data), source=MemberProfile.Source.CALLBACK)
    shipping_address_upsert(customer=customer, data=data.get("shipping_address"))
    return customer


# --- locations ----------------------------------------------------------------------------------


def location_record_create(*, event: CallbackEvent, data: dict[str, Any]) -> LocationRecord:
    customer = _reported_customer(event)
    record = LocationRecord(event=event, kakao_app=event.kakao_app, customer=customer, relay_id=event.relay_id)
    if data.get("is_usable_user") is False:
        record.usable = False
        record.save()
        return record
    land = data.get("land_address") if isinstance(data.get("land_address"), dict) else {}
    road = data.get("road_address") if isinstance(data.get("road_address"), dict) else None
    record.latitude = _number(data.get("latitude"))
    record.longitude = _number(data.get("longitude"))
    record.land_address = land
    record.road_address = road
    record.land_address_name = _text(land.get("address_name"), 300)
    record.road_address_name = _text((road or {}).get("address_name"), 300)
    record.zone_no = _text((road or {}).get("zone_no"), 10)
    record.detail = _text(data.get("detail"), 300)
    record.usable = record.latitude is not None and record.longitude is not None
    record.save()
    return record


# --- secure images ------------------------------------------------------------------------------


def secure_image_set_create(*, event: CallbackEvent, data: dict[str, Any]) -> SecureImageSet:
    image_set = SecureImageSet.objects.create(
        event=event,
        kakao_app=event.kakao_app,
        customer=_reported_customer(event),
        relay_id=event.relay_id,
        expire=_when(data.get("expire")),
    )
    urls = data.get("secure_urls") if isinstance(data.get("secure_urls"), list) else []
    sizes = [s for s in settings.SECURE_IMAGE_SIZES if s in SecureImage.Size.values] or ["original"]
    images = []
    for position, entry in enumerate(urls[:10]):  # the plugin allows 10 images
        if not isinstance(entry, dict):
            continue
        for size in sizes:
            url = entry.get(size)
            if isinstance(url, str) and url:
                images.append(SecureImage(image_set=image_set, position=position, size=size, source_url=url[:2048]))
    SecureImage.objects.bulk_create(images)
    if not images:
        image_set.status = SecureImageSet.Status.EMPTY
        image_set.save(update_fields=["status"])
    else:
        from .tasks import download_secure_images

        set_id = image_set.pk
        transaction.on_commit(lambda: download_secure_images.delay(set_id))
    return image_set


def secure_image_set_download(*, image_set_id: int, final_attempt: bool = False) -> str:
    """Download the set's pending images before ``expire``; mark those that miss it.

    Raises :class:`TryAgain` while some image failed temporarily, attempts remain and there is time.
    """
    with transaction.atomic():
        # One download run per set at a time (a redelivered task skips, the lock is held meanwhile).
        image_set = SecureImageSet.objects.select_for_update(skip_locked=True).filter(pk=image_set_id).first()
        if image_set is None:
            return "busy"
        image_set.attempts += 1
        retry = False
        for image in image_set.images.filter(status=SecureImage.Status.PENDING):
            retry |= _download_one(image, image_set.expire, final_attempt)
        image_set.status = _set_status(image_set)
        image_set.download_requested_at = timezone.now()  # it ran: the sweep leaves it to its retry
        image_set.save(update_fields=["attempts", "status", "download_requested_at"])
    if retry:
        raise TryAgain("some images failed temporarily")
    return image_set.status


def _download_one(image: SecureImage, expire: datetime | None, final_attempt: bool) -> bool:
    """True when it is worth trying this image again later."""
    now = timezone.now()
    if expire is not None and now >= expire:
        _mark_expired(image, expire)
        return False
    try:
        result = otp.fetch_image(image.source_url, max_bytes=settings.SECURE_IMAGE_MAX_BYTES)
    except otp.UrlRefused as exc:
        CALLBACK_FETCHES.labels("secure_image_file", "failed").inc()
        image.status = SecureImage.Status.FAILED
        image.error = f"URL refused: {exc}"
        image.save(update_fields=["status", "error"])
        return False
    except otp.FetchError as exc:
        image.error = str(exc)[:2000]
        if exc.temporary and not final_attempt:
            CALLBACK_FETCHES.labels("secure_image_file", "retry").inc()
            image.save(update_fields=["error"])
            return True
        CALLBACK_FETCHES.labels("secure_image_file", "failed").inc()
        image.status = SecureImage.Status.FAILED
        image.save(update_fields=["status", "error"])
        return False
    CALLBACK_FETCHES.labels("secure_image_file", "ok").inc()
    image.file.save(result.extension, ContentFile(result.content), save=False)
    image.content_type = result.content_type
    image.bytes = len(result.content)
    image.sha256 = hashlib.sha256(result.content).hexdigest()
    image.status = SecureImage.Status.STORED
    image.error = ""
    image.fetched_at = now
    image.save()
    return False


def _mark_expired(image: SecureImage, expire: datetime) -> None:
    image.status = SecureImage.Status.EXPIRED
    image.error = (image.error + "; " if image.error else "") + f"URL expired at {expire.isoformat()}"
    image.save(update_fields=["status", "error"])


def _set_status(image_set: SecureImageSet) -> str:
    statuses = list(image_set.images.values_list("status", flat=True))
    if not statuses:
        return SecureImageSet.Status.EMPTY
    if SecureImage.Status.PENDING in statuses:
        return SecureImageSet.Status.DOWNLOADING
    stored = statuses.count(SecureImage.Status.STORED)
    if stored == len(statuses):
        return SecureImageSet.Status.COMPLETE
    return SecureImageSet.Status.PARTIAL if stored else SecureImageSet.Status.EMPTY


def secure_image_set_download_again(*, image_set: SecureImageSet) -> int:
    """Staff's "try again" on failed images still before ``expire``: how many were queued."""
    from .tasks import download_secure_images

    if image_set.expire is not None and timezone.now() >= image_set.expire:
        return 0
    count = image_set.images.filter(status=SecureImage.Status.FAILED).update(status=SecureImage.Status.PENDING)
    if count:
        image_set.status = SecureImageSet.Status.DOWNLOADING
        image_set.download_requested_at = timezone.now()
        image_set.save(update_fields=["status", "download_requested_at"])
        download_secure_images.delay_on_commit(image_set.pk)
    return count


@dataclass
class SweepResult:
    expired: int = 0  # images marked expired
    requeued: int = 0  # sets whose download was queued again
    skipped: int = 0  # sets locked by a download (or another sweep) running now


def secure_images_sweep(*, now: datetime | None = None, limit: int = 500) -> SweepResult:
    """Images nobody fetched in time: a download task that never ran (a lost broker message, a
    worker down) leaves them pending forever, so every minute (CELERY_BEAT_SCHEDULE) this

    - marks the pending images of sets past ``expire`` expired, and updates the set's status, as the
      download task would (it can no longer fetch them: Kakao's URLs have stopped working);
    - queues the download again for sets still before ``expire`` whose download was last queued (or
      last ran) more than SECURE_IMAGE_REQUEUE_SECONDS ago: longer than the task's retry backoff
      (at most 36 s), so a set whose task is alive and retrying is left to it.

    Safe to run twice or concurrently: each set is handled under its row lock, skipped when locked
    (a download running holds it: it marks what expires itself), its state read again under the
    lock, and a requeue moves ``download_requested_at`` to now, so the next sweep leaves it alone.
    """
    from .tasks import download_secure_images

    now = now or timezone.now()
    stale_before = now - timedelta(seconds=settings.SECURE_IMAGE_REQUEUE_SECONDS)
    pending_sets = SecureImage.objects.filter(status=SecureImage.Status.PENDING).values("image_set_id")
    due = SecureImageSet.objects.filter(pk__in=pending_sets).filter(
        Q(expire__lte=now) | Q(download_requested_at__lt=stale_before)
    )
    result = SweepResult()
    for set_id in due.order_by("pk").values_list("pk", flat=True)[:limit]:
        with transaction.atomic():
            image_set = SecureImageSet.objects.select_for_update(skip_locked=True).filter(pk=set_id).first()
            if image_set is None:
                result.skipped += 1
                continue
            pending = list(image_set.images.filter(status=SecureImage.Status.PENDING))
            if not pending:
                continue  # a download finished them meanwhile
            if image_set.expire is not None and now >= image_set.expire:
                for image in pending:
                    _mark_expired(image, image_set.expire)
                result.expired += len(pending)
                image_set.status = _set_status(image_set)
                image_set.save(update_fields=["status"])
            elif image_set.download_requested_at < stale_before:
                image_set.status = SecureImageSet.Status.DOWNLOADING
                image_set.download_requested_at = now
                image_set.save(update_fields=["status", "download_requested_at"])
                download_secure_images.delay_on_commit(image_set.pk)
                result.requeued += 1
    if result.expired or result.requeued:
        logger.info("secure images sweep: %s", result)
    return result


# --- Kakao Sync ---------------------------------------------------------------------------------


class SignupRefused(Exception):
    def __init__(self, message: str, *, signup: KakaoSyncSignup | None = None):
        super().__init__(message)
        self.message = message
        self.signup = signup


KAKAOSYNC_STATE_PURPOSE = "kakaosync"
MSG_BAD_STATE = "가입 요청이 유효하지 않거나 만료되었습니다. 채팅방에서 다시 시도해 주세요. (invalid or expired sign-up request)"


def kakaosync_state_issue(*, kakao_app: KakaoApp) -> str:
    """A ``state`` for one launch of the app's Kakao Sync plugin: the redirect URI is fixed per
    app, so this is what authorises a visit (valid ``KAKAOSYNC_STATE_MAX_AGE_SECONDS``)."""
    return browser_tokens.state_issue(purpose=KAKAOSYNC_STATE_PURPOSE, app_id=kakao_app.pk)


def kakaosync_state_refusal(*, kakao_app: KakaoApp, state: str) -> str | None:
    """None when ``state`` is one we issued for this app and still valid; else the buyer's message."""
    why = browser_tokens.state_check(
        state, purpose=KAKAOSYNC_STATE_PURPOSE, app_id=kakao_app.pk, max_age=settings.KAKAOSYNC_STATE_MAX_AGE_SECONDS
    )
    if why is None:
        return None
    logger.info("Kakao Sync redirect refused for app %s: %s", kakao_app.pk, why)
    return MSG_BAD_STATE


def kakao_account_fields(me: dict[str, Any]) -> dict[str, Any]:
    """Kakao Login's ``/v2/user/me`` as the profile fields the OTP profile answer uses."""
    account = me.get("kakao_account") if isinstance(me.get("kakao_account"), dict) else {}
    profile = account.get("profile") if isinstance(account.get("profile"), dict) else {}
    flat: dict[str, Any] = {
        "nickname": profile.get("nickname"),
        "profile_image_url": profile.get("profile_image_url"),
    }
    for name in ("email", "phone_number", "age_range", "birthyear", "birthday", "gender", "ci", "ci_authenticated_at"):
        flat[name] = account.get(name)
    return profile_fields({k: v for k, v in flat.items() if v is not None})


def continue_target(url: str) -> str | None:
    """Where to send the browser after sign-up: ``continue`` rebuilt when it is an https URL on a
    Kakao host (KAKAO_CONTINUE_HOSTS), else None (no open redirect)."""
    if not url:
        return None
    try:
        return otp.validate_url_on_hosts(url, settings.KAKAO_CONTINUE_HOSTS, https_only=True).url()
    except otp.UrlRefused:
        return None


def kakaosync_signup(
    *,
    kakao_app: KakaoApp,
    code: str,
    state: str,
    continue_url: str,
    redirect_uri: str,
    source_ip: str | None,
) -> KakaoSyncSignup:
    """Exchange the code, read the user and their terms, then create or update the member, its
    profile and its consents in one transaction. Raises :class:`SignupRefused` (nothing made)."""
    code_hash = hashlib.sha256(code.encode()).hexdigest()
    try:
        with transaction.atomic():
            signup = KakaoSyncSignup.objects.create(
                kakao_app=kakao_app,
                code_hash=code_hash,
                state=state[:500],
                continue_url=continue_url[:2048],
                source_ip=source_ip or None,
            )
    except IntegrityError:
        KakaoSyncSignup.objects.filter(code_hash=code_hash).update(replays=F("replays") + 1)
        previous = KakaoSyncSignup.objects.filter(code_hash=code_hash).first()
        raise SignupRefused("이미 사용된 인증 코드입니다 (this sign-up code was already used)", signup=previous)

    try:
        token = kakao_login.exchange_code(
            rest_api_key=kakao_app.rest_api_key,
            code=code,
            redirect_uri=redirect_uri,
            client_secret=kakao_app.kakao_client_secret,
        )
        me = kakao_login.user_me(token)
        terms = kakao_login.service_terms(token)
    except kakao_login.KakaoLoginError as exc:
        _signup_failed(signup, f"Kakao Login: {exc} ({exc.error_code or exc.error or exc.http_status})")
        if exc.bad_code:
            raise SignupRefused("인증 코드가 유효하지 않거나 만료되었습니다 (invalid or expired code)", signup=signup)
        raise SignupRefused("카카오 로그인 서버와 통신하지 못했습니다 (Kakao Login unavailable)", signup=signup)

    app_user_id = _text(me.get("id"), 64)
    try:
        with transaction.atomic():
            customer, created = Customer.objects.get_or_create(kakao_app=kakao_app, app_user_id=app_user_id)
            member_profile_upsert(
                customer=customer, fields=kakao_account_fields(me), source=MemberProfile.Source.KAKAOSYNC
            )
            for term in terms:
                Consent.objects.update_or_create(
                    customer=customer,
                    tag=term.tag[:100],
                    defaults={"agreed_at": _when(term.agreed_at), "source": "kakaosync"},
                )
            signup.status = KakaoSyncSignup.Status.DONE
            signup.kakao_user_id = app_user_id
            signup.customer = customer
            signup.created_customer = created
            signup.terms = [{"tag": t.tag, "agreed_at": t.agreed_at} for t in terms]
            signup.finished_at = timezone.now()
            signup.save()
    except Exception as exc:
        logger.exception("Kakao Sync sign-up %s failed while saving", signup.pk)
        _signup_failed(signup, f"saving failed: {exc!r}")
        raise SignupRefused("가입 처리 중 오류가 발생했습니다 (sign-up could not be saved)", signup=signup)
    return signup


def _signup_failed(signup: KakaoSyncSignup, error: str) -> None:
    KakaoSyncSignup.objects.filter(pk=signup.pk).update(
        status=KakaoSyncSignup.Status.FAILED, error=error[:2000], finished_at=timezone.now()
    )
    signup.status = KakaoSyncSignup.Status.FAILED
    signup.error = error


# --- retention ----------------------------------------------------------------------------------


def retention_purge(*, triggered_by: str, now: datetime | None = None, dry_run: bool = False) -> PurgeRun:
    """Purge personal data and raw payloads past their retention; log the run as a PurgeRun.

    Kept: members (orders refer to them), consents (proof of consent), the event log's metadata
    (kind, status, time, relay id, errors), and everything in orders (they keep their own copy of
    what a delivery needs).
    """
    now = now or timezone.now()
    personal_cutoff = now - timedelta(days=settings.CALLBACKS_PERSONAL_RETENTION_DAYS)
    raw_cutoff = now - timedelta(days=settings.CALLBACKS_RAW_RETENTION_DAYS)
    run = PurgeRun.objects.create(
        triggered_by=triggered_by[:100], dry_run=dry_run, personal_cutoff=personal_cutoff, raw_cutoff=raw_cutoff
    )
    counts: dict[str, int] = {}
    try:
        with transaction.atomic():
            events = CallbackEvent.objects.filter(received_at__lt=raw_cutoff, payload_purged_at__isnull=True)
            profiles = MemberProfile.objects.filter(collected_at__lt=personal_cutoff, purged_at__isnull=True)
            addresses = ShippingAddress.objects.filter(collected_at__lt=personal_cutoff)
            locations = LocationRecord.objects.filter(created_at__lt=personal_cutoff)
            image_sets = SecureImageSet.objects.filter(created_at__lt=personal_cutoff)
            images = SecureImage.objects.filter(image_set__in=image_sets)
            counts = {
                "event_payloads": events.count(),
                "profiles": profiles.count(),
                "shipping_addresses": addresses.count(),
                "locations": locations.count(),
                "image_sets": image_sets.count(),
                "image_files": images.exclude(file="").count(),
            }
            if not dry_run:
                files = list(images.exclude(file="").values_list("file", flat=True))
                events.update(body="", headers={}, raw_response=None, payload_purged_at=now)
                profiles.update(
                    **{name: "" for name in PROFILE_FIELDS},
                    ci_hash="",
                    ci_authenticated_at=None,
                    purged_at=now,
                )
                addresses.delete()
                locations.delete()
                image_sets.delete()
                transaction.on_commit(lambda: _delete_files(files))
    except Exception as exc:
        run.error = repr(exc)[:2000]
        run.finished_at = timezone.now()
        run.save(update_fields=["error", "finished_at"])
        raise
    run.counts = counts
    run.finished_at = timezone.now()
    run.save(update_fields=["counts", "finished_at"])
    logger.info("retention purge %s (%s): %s", run.pk, triggered_by, counts)
    return run


def _delete_files(names: list[str]) -> None:
    from django.core.files.storage import default_storage

    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete purged image file %s", name)
