"""Retention: personal data and raw payloads past their days go; what must stay stays; logged."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from callbacks.models import (
    CallbackEvent,
    Consent,
    LocationRecord,
    MemberProfile,
    PurgeRun,
    SecureImage,
    SecureImageSet,
    ShippingAddress,
)
from callbacks.services import retention_purge
from fakekakao.kakao import png
from kakaoplugin.models import Customer

pytestmark = pytest.mark.django_db


def _member(kakao_app, app_user_id, age_days):
    at = timezone.now() - timedelta(days=age_days)
    customer = Customer.objects.create(kakao_app=kakao_app, app_user_id=app_user_id)
    MemberProfile.objects.create(customer=customer, nickname=f"n{app_user_id}", phone_number="010-1111-2222", email="a@b.c", ci_hash="f" * 64, source="callback", collected_at=at)
    ShippingAddress.objects.create(customer=customer, kakao_address_id="1", base_address="서울", collected_at=at)
    Consent.objects.create(customer=customer, tag="service", agreed_at=at)
    event = CallbackEvent.objects.create(kind="current_location", kakao_app=kakao_app, body='{"otp": "x"}', headers={"A": "b"}, raw_response={"latitude": 1.0}, status="processed")
    CallbackEvent.objects.filter(pk=event.pk).update(received_at=at)
    location = LocationRecord.objects.create(event=event, kakao_app=kakao_app, customer=customer, latitude=1.0, longitude=2.0)
    LocationRecord.objects.filter(pk=location.pk).update(created_at=at)
    img_event = CallbackEvent.objects.create(kind="secure_image", kakao_app=kakao_app, status="processed")
    CallbackEvent.objects.filter(pk=img_event.pk).update(received_at=at)
    image_set = SecureImageSet.objects.create(event=img_event, kakao_app=kakao_app, customer=customer, status="complete")
    SecureImageSet.objects.filter(pk=image_set.pk).update(created_at=at)
    image = SecureImage(image_set=image_set, position=0, size="original", status="stored")
    image.file.save(".png", ContentFile(png()), save=True)
    return customer, image.file.name


def test_purge_removes_what_it_should_and_nothing_else(kakao_app, settings, tmp_path, django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path
    settings.CALLBACKS_PERSONAL_RETENTION_DAYS = 90
    settings.CALLBACKS_RAW_RETENTION_DAYS = 30
    old, old_file = _member(kakao_app, "old", 100)
    mid, mid_file = _member(kakao_app, "mid", 45)  # raw payloads go, personal data stays
    new, new_file = _member(kakao_app, "new", 1)

    with django_capture_on_commit_callbacks(execute=True):  # files go once the rows are gone
        run = retention_purge(triggered_by="test")

    assert run.counts == {"event_payloads": 4, "profiles": 1, "shipping_addresses": 1, "locations": 1, "image_sets": 1, "image_files": 1}
    old_profile = MemberProfile.objects.get(customer=old)
    assert (old_profile.nickname, old_profile.phone_number, old_profile.email, old_profile.ci_hash) == ("", "", "", "")
    assert old_profile.purged_at is not None
    assert not ShippingAddress.objects.filter(customer=old).exists()
    assert not LocationRecord.objects.filter(customer=old).exists()
    assert not SecureImageSet.objects.filter(customer=old).exists()
    assert not default_storage.exists(old_file)
    # kept: the member, its consents (proof), the event log's metadata
    assert Customer.objects.filter(pk=old.pk).exists()
    assert Consent.objects.filter(customer=old).exists()
    assert CallbackEvent.objects.count() == 6
    for customer, keeps_raw in ((mid, False), (new, True)):
        profile = MemberProfile.objects.get(customer=customer)
        assert profile.nickname and profile.phone_number and profile.purged_at is None
        assert ShippingAddress.objects.filter(customer=customer).exists()
        assert LocationRecord.objects.filter(customer=customer).exists()
        event = LocationRecord.objects.get(customer=customer).event
        assert (event.raw_response is not None) is keeps_raw
        assert (event.body != "") is keeps_raw
    assert default_storage.exists(mid_file) and default_storage.exists(new_file)
    # a second run finds nothing more
    assert set(retention_purge(triggered_by="test").counts.values()) == {0}


def test_command_dry_run_and_log(kakao_app, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.CALLBACKS_PERSONAL_RETENTION_DAYS = 10
    _member(kakao_app, "old", 20)
    out = StringIO()
    call_command("purge_personal_data", "--dry-run", stdout=out)
    assert "would purge" in out.getvalue() and "profiles: 1" in out.getvalue()
    assert MemberProfile.objects.get().nickname == "nold"
    call_command("purge_personal_data", stdout=StringIO())
    assert MemberProfile.objects.get().nickname == ""
    runs = list(PurgeRun.objects.order_by("started_at").values_list("dry_run", "triggered_by"))
    assert runs == [(True, "manage.py purge_personal_data"), (False, "manage.py purge_personal_data")]


def test_purge_is_scheduled_daily_and_visible(admin_client, settings):
    entry = settings.CELERY_BEAT_SCHEDULE["callbacks-retention-purge"]
    assert entry["task"] == "callbacks.retention_purge"
    from config.celery import app

    app.loader.import_default_modules()  # what a worker or beat does at start: autodiscovery
    assert "callbacks.retention_purge" in app.tasks
    retention_purge(triggered_by="celery beat")
    assert "celery beat" in admin_client.get("/admin/callbacks/purgerun/").content.decode()
