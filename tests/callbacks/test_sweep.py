"""Secure images nobody fetched in time: the periodic sweep queues a lost download again, and marks
what is past ``expire`` expired; run twice or concurrently it does the work once.

A download task that never ran is simulated the way it happens: the callback is processed, the set
and its images are stored, and the download task queued on commit is never executed (its on-commit
callback is dropped, as a lost broker message would be)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import requests
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.utils import timezone

from callbacks import services
from callbacks.models import CallbackEvent, SecureImage, SecureImageSet
from callbacks.tasks import secure_images_sweep
from fakekakao.kakao import seed_otp_url
from tests.support.callbacks import post_callback, run_downloads, run_fetch


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CALLBACKS_RETRY_BASE_SECONDS = 0.01


def lost_download(client, plugin_base, fake_kakao, *, images: int = 2, expire_in: int = 600) -> SecureImageSet:
    """A secure-image callback fetched and applied, whose download task never ran."""
    url = seed_otp_url(fake_kakao.url, "secure_image", images=images, expire_in=expire_in)
    assert post_callback(client, plugin_base, "secure_image", url).status_code == 200
    event = CallbackEvent.objects.order_by("-id").first()
    run_fetch(event.pk)  # in this process; the download it queues on commit is never run
    image_set = SecureImageSet.objects.get(event=event)
    assert image_set.status == "downloading" and image_set.attempts == 0
    assert set(image_set.images.values_list("status", flat=True)) == {"pending"}
    return image_set


def sweep(capture) -> dict:
    """The beat task, its queued downloads run in this process when its transactions commit."""
    with capture(execute=True):
        return secure_images_sweep.apply().get()


def backdate(image_set: SecureImageSet, seconds: int) -> None:
    SecureImageSet.objects.filter(pk=image_set.pk).update(
        download_requested_at=timezone.now() - timedelta(seconds=seconds)
    )


def test_the_sweep_runs_every_minute_from_celery_beat():
    from config.celery import app

    entry = django_settings.CELERY_BEAT_SCHEDULE["callbacks-secure-images-sweep"]
    assert entry == {"task": "callbacks.secure_images_sweep", "schedule": 60.0}
    assert "callbacks.secure_images_sweep" in app.tasks
    assert "callbacks-retention-purge" in django_settings.CELERY_BEAT_SCHEDULE  # the entry beside it stays


@pytest.mark.django_db
def test_a_lost_download_is_queued_again_after_a_minute_then_left_alone(
    client, plugin_base, fake_kakao, eager_tasks, django_capture_on_commit_callbacks
):
    image_set = lost_download(client, plugin_base, fake_kakao)
    # queued a moment ago: its task may still be on its way
    assert sweep(django_capture_on_commit_callbacks) == {"expired": 0, "requeued": 0, "skipped": 0}
    assert fake_kakao.calls("cdn") == []
    backdate(image_set, 50)
    assert sweep(django_capture_on_commit_callbacks)["requeued"] == 0

    backdate(image_set, 90)  # over a minute: the message was lost
    assert sweep(django_capture_on_commit_callbacks) == {"expired": 0, "requeued": 1, "skipped": 0}
    image_set.refresh_from_db()
    assert image_set.status == "complete" and image_set.attempts == 1
    assert list(image_set.images.values_list("status", flat=True)) == ["stored", "stored"]
    assert all(image.file.read(4) == b"\x89PNG" for image in image_set.images.all())
    assert len(fake_kakao.calls("cdn")) == 2

    # run again (and again, later): nothing left to do, nothing fetched twice
    assert sweep(django_capture_on_commit_callbacks) == {"expired": 0, "requeued": 0, "skipped": 0}
    backdate(image_set, 3600)
    assert sweep(django_capture_on_commit_callbacks) == {"expired": 0, "requeued": 0, "skipped": 0}
    assert len(fake_kakao.calls("cdn")) == 2


@pytest.mark.django_db
def test_a_requeue_that_is_lost_too_is_queued_again_once_per_minute(
    client, plugin_base, fake_kakao, django_capture_on_commit_callbacks
):
    image_set = lost_download(client, plugin_base, fake_kakao, images=1)
    backdate(image_set, 120)
    with django_capture_on_commit_callbacks(execute=False) as queued:  # the requeue is lost as well
        assert services.secure_images_sweep().requeued == 1
        assert services.secure_images_sweep().requeued == 0  # twice in a row: queued once
    assert len(queued) == 1
    image_set.refresh_from_db()
    assert timezone.now() - image_set.download_requested_at < timedelta(seconds=5)
    later = timezone.now() + timedelta(seconds=61)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert services.secure_images_sweep(now=later).requeued == 1
    assert len(queued) == 1
    assert fake_kakao.calls("cdn") == []


@pytest.mark.django_db
def test_images_pending_past_expire_are_marked_expired_and_not_fetched(
    client, plugin_base, fake_kakao, eager_tasks, django_capture_on_commit_callbacks
):
    image_set = lost_download(client, plugin_base, fake_kakao, images=2, expire_in=-30)
    assert sweep(django_capture_on_commit_callbacks) == {"expired": 2, "requeued": 0, "skipped": 0}
    image_set.refresh_from_db()
    assert image_set.status == "empty"  # as the download task would have said: nothing kept
    images = list(image_set.images.all())
    assert [i.status for i in images] == ["expired", "expired"]
    assert all(i.error == f"URL expired at {image_set.expire.isoformat()}" for i in images)
    assert fake_kakao.calls("cdn") == []
    # again: nothing changes (the error is not written twice)
    assert sweep(django_capture_on_commit_callbacks) == {"expired": 0, "requeued": 0, "skipped": 0}
    assert [i.error for i in image_set.images.all()] == [i.error for i in images]


@pytest.mark.django_db
def test_expiry_keeps_what_was_stored_and_the_set_is_partial(
    client, plugin_base, fake_kakao, eager_tasks, django_capture_on_commit_callbacks
):
    image_set = lost_download(client, plugin_base, fake_kakao, images=2)
    run_downloads(image_set.pk)
    first, second = image_set.images.all()
    SecureImage.objects.filter(pk=second.pk).update(status="failed", error="HTTP 503")
    # staff's "download again": the set shows it is downloading; its task is lost too
    with django_capture_on_commit_callbacks(execute=False):
        assert services.secure_image_set_download_again(image_set=SecureImageSet.objects.get(pk=image_set.pk)) == 1
    image_set.refresh_from_db()
    assert image_set.status == "downloading"
    SecureImageSet.objects.filter(pk=image_set.pk).update(expire=timezone.now() - timedelta(seconds=1))

    assert sweep(django_capture_on_commit_callbacks) == {"expired": 1, "requeued": 0, "skipped": 0}
    image_set.refresh_from_db()
    assert image_set.status == "partial"
    second.refresh_from_db()
    first.refresh_from_db()
    assert (first.status, second.status) == ("stored", "expired")
    assert second.error.startswith("HTTP 503; URL expired at ")
    assert len(fake_kakao.calls("cdn")) == 2  # the first download's two fetches only


@pytest.mark.django_db
def test_a_download_that_ran_recently_is_left_to_its_own_retry(
    client, plugin_base, fake_kakao, eager_tasks, django_capture_on_commit_callbacks
):
    image_set = lost_download(client, plugin_base, fake_kakao, images=1)
    backdate(image_set, 3600)
    image = image_set.images.get()
    SecureImage.objects.filter(pk=image.pk).update(status="failed")
    run_downloads(image_set.pk)  # nothing pending: it runs and records that it ran
    image_set.refresh_from_db()
    assert timezone.now() - image_set.download_requested_at < timedelta(seconds=5)
    SecureImage.objects.filter(pk=image.pk).update(status="pending")  # as if its retry were scheduled
    assert sweep(django_capture_on_commit_callbacks)["requeued"] == 0


@pytest.mark.django_db(transaction=True)
def test_a_set_locked_by_a_running_download_is_skipped_without_waiting(kakao_app, fake_kakao, eager_tasks):
    """Concurrency on PostgreSQL: a download (or another sweep) holding the set's row is skipped
    at once, not waited for and not queued twice; once it is free, the next sweep queues it."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite has no SELECT ... FOR UPDATE)")
    cdn = requests.post(f"{fake_kakao.url}/fake/cdn", json={}, timeout=5).json()["url"]
    event = CallbackEvent.objects.create(kind="secure_image", kakao_app=kakao_app, status="processed")
    image_set = SecureImageSet.objects.create(
        event=event,
        kakao_app=kakao_app,
        expire=timezone.now() + timedelta(minutes=10),
        download_requested_at=timezone.now() - timedelta(minutes=5),
    )
    SecureImage.objects.create(image_set=image_set, position=0, size="original", source_url=cdn)

    locked, release = threading.Event(), threading.Event()

    def running_download():
        from django.db import connections

        try:
            with transaction.atomic():
                SecureImageSet.objects.select_for_update().get(pk=image_set.pk)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=running_download)
    holder.start()
    try:
        assert locked.wait(10)
        result = services.secure_images_sweep()
        assert (result.requeued, result.expired, result.skipped) == (0, 0, 1)
    finally:
        release.set()
        holder.join(10)
    assert fake_kakao.calls("cdn") == []
    result = services.secure_images_sweep()  # free now: queued (and, tasks being eager, downloaded)
    assert (result.requeued, result.skipped) == (1, 0)
    image_set.refresh_from_db()
    assert image_set.status == "complete"
    assert len(fake_kakao.calls("cdn")) == 1
    assert services.secure_images_sweep().requeued == 0
