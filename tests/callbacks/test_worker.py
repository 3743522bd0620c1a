"""Each OTP plugin end to end through a real Celery worker (PostgreSQL + Redis; skipped on SQLite)."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from callbacks.models import CallbackEvent, FetchAttempt, LocationRecord, MemberProfile, SecureImageSet
from fakekakao.kakao import seed_otp_url
from tests.conftest import wait_until
from tests.support.callbacks import LOCATION_SAMPLE, PROFILE_SAMPLE, post_callback

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _event_done(pk):
    return lambda: CallbackEvent.objects.filter(pk=pk, status__in=["processed", "failed"]).first()


def test_profile_through_worker(celery_worker, client, plugin_base, kakao_app, fake_kakao):
    url = seed_otp_url(fake_kakao.url, "onetimeprofile", PROFILE_SAMPLE, rest_api_key=kakao_app.rest_api_key)
    assert post_callback(client, plugin_base, "onetimeprofile", url).json() == {"status": 200}
    event = CallbackEvent.objects.get()
    event = wait_until(_event_done(event.pk), message="profile processed")
    assert event.status == "processed", event.last_error
    profile = MemberProfile.objects.get(customer__app_user_id="10000000")
    assert profile.nickname == "lukas" and profile.ci_hash and profile.customer.shipping_addresses.count() == 1


def test_location_through_worker(celery_worker, client, plugin_base, kakao_app, fake_kakao):
    url = seed_otp_url(fake_kakao.url, "current_location", LOCATION_SAMPLE)
    assert post_callback(client, plugin_base, "current_location", url, relay_id="chat-7").json() == {"status": 200}
    event = wait_until(_event_done(CallbackEvent.objects.get().pk), message="location processed")
    assert event.status == "processed", event.last_error
    record = LocationRecord.objects.get(event=event)
    assert record.relay_id == "chat-7" and record.zone_no == "13494"
    assert fake_kakao.calls("otp")[0]["params"]["version"] == "v2"


def test_secure_images_through_worker(celery_worker, client, plugin_base, kakao_app, fake_kakao):
    url = seed_otp_url(fake_kakao.url, "secure_image", images=2)
    assert post_callback(client, plugin_base, "secure_image", url).json() == {"status": 200}
    event = wait_until(_event_done(CallbackEvent.objects.get().pk), message="secure image event processed")
    assert event.status == "processed", event.last_error
    image_set = wait_until(lambda: SecureImageSet.objects.filter(event=event).exclude(status="downloading").first(), message="images downloaded")
    assert image_set.status == "complete"
    names = [i.file.name for i in image_set.images.all()]
    try:
        assert len(names) == 2 and all(default_storage.exists(n) for n in names)
    finally:
        for name in names:
            default_storage.delete(name)


def test_retry_through_worker_is_visible(celery_worker, client, admin_client, plugin_base, kakao_app, fake_kakao):
    url = seed_otp_url(fake_kakao.url, "current_location", {"is_usable_user": False})
    fake_kakao.fault("otp", "error500", times=1)
    assert post_callback(client, plugin_base, "current_location", url).json() == {"status": 200}
    event = wait_until(_event_done(CallbackEvent.objects.get().pk), timeout=30, message="location processed after a retry")
    assert event.status == "processed" and event.attempts == 2
    assert list(FetchAttempt.objects.filter(event=event).values_list("http_status", "ok")) == [(500, False), (200, True)]
    assert LocationRecord.objects.get(event=event).usable is False
    page = admin_client.get(f"/admin/callbacks/callbackevent/{event.pk}/change/").content.decode()
    assert "HTTP 500" in page
