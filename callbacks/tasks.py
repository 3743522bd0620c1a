"""Celery tasks of the callbacks app: thin wrappers taking ids (the work is in services)."""

from __future__ import annotations

import random

from celery import shared_task
from django.conf import settings

from . import services


def backoff(retries: int, *, cap: float = 120.0) -> float:
    """Seconds before retry ``retries + 1``: exponential from CALLBACKS_RETRY_BASE_SECONDS, jittered."""
    base = settings.CALLBACKS_RETRY_BASE_SECONDS * (2**retries)
    return min(cap, base) * random.uniform(0.8, 1.2)


@shared_task(bind=True, name="callbacks.fetch_callback", max_retries=None)
def fetch_callback(self, event_id: int) -> str:
    """GET the event's OTP URL and apply the answer; retried with backoff on temporary failures."""
    final = self.request.retries >= settings.CALLBACKS_FETCH_MAX_RETRIES
    try:
        return services.callback_event_process(event_id=event_id, final_attempt=final)
    except services.TryAgain as exc:
        raise self.retry(exc=exc, countdown=backoff(self.request.retries))


@shared_task(bind=True, name="callbacks.download_secure_images", max_retries=None)
def download_secure_images(self, image_set_id: int) -> str:
    """Download a set's secure images before they expire (short backoff: they live 10 minutes)."""
    final = self.request.retries >= settings.CALLBACKS_FETCH_MAX_RETRIES
    try:
        return services.secure_image_set_download(image_set_id=image_set_id, final_attempt=final)
    except services.TryAgain as exc:
        raise self.retry(exc=exc, countdown=backoff(self.request.retries, cap=30.0))


@shared_task(name="callbacks.retention_purge")
def retention_purge() -> int:
    """The daily retention purge (CELERY_BEAT_SCHEDULE, registered in CallbacksConfig.ready)."""
    return services.retention_purge(triggered_by="celery beat").pk


@shared_task(name="callbacks.secure_images_sweep")
def secure_images_sweep() -> dict:
    """Every minute (CELERY_BEAT_SCHEDULE): expire or queue again images nobody fetched in time."""
    result = services.secure_images_sweep()
    return {"expired": result.expired, "requeued": result.requeued, "skipped": result.skipped}
