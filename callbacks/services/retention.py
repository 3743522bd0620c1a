"""Retention: personal data and raw payloads past their days are purged, the run logged."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import (
    CallbackEvent,
    LocationRecord,
    MemberProfile,
    PurgeRun,
    SecureImage,
    SecureImageSet,
    ShippingAddress,
)
from .profiles import PROFILE_FIELDS

logger = logging.getLogger(__name__)


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
