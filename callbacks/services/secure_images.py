"""Secure images: the set a callback names, its downloads before ``expire``, staff's "try again",
and the sweep for downloads that never ran."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from kakaoplugin.clients import otp
from kakaoplugin.metrics import CALLBACK_FETCHES

from ..models import CallbackEvent, SecureImage, SecureImageSet
from .common import TryAgain, reported_customer, when_value

logger = logging.getLogger(__name__)


def secure_image_set_create(*, event: CallbackEvent, data: dict[str, Any]) -> SecureImageSet:
    image_set = SecureImageSet.objects.create(
        event=event,
        kakao_app=event.kakao_app,
        customer=reported_customer(event),
        relay_id=event.relay_id,
        expire=when_value(data.get("expire")),
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
        from ..tasks import download_secure_images

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
    from ..tasks import download_secure_images

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
    from ..tasks import download_secure_images

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
