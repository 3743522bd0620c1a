"""The OTP callbacks end to end against the fake Kakao, the fetch task run in this process."""

from __future__ import annotations

import copy

import pytest
from django.db import connection

from callbacks.models import (
    CallbackEvent,
    FetchAttempt,
    LocationRecord,
    MemberProfile,
    SecureImageSet,
    ShippingAddress,
)
from callbacks.services import ci_hash
from fakekakao.kakao import seed_otp_url
from kakaoplugin.models import Customer
from tests.support.callbacks import LOCATION_SAMPLE, PROFILE_SAMPLE, post_callback, run_downloads, run_fetch

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CALLBACKS_RETRY_BASE_SECONDS = 0.01


def _receive(client, plugin_base, kind, url, **kw):
    r = post_callback(client, plugin_base, kind, url, **kw)
    assert r.status_code == 200, r.content
    assert r.json() == {"status": 200}
    return CallbackEvent.objects.order_by("-id").first()


def test_profile_happy_path(client, plugin_base, kakao_app, fake_kakao):
    sample = copy.deepcopy(PROFILE_SAMPLE) | {"brand_new_field": {"x": 1}}
    url = seed_otp_url(fake_kakao.url, "onetimeprofile", sample, rest_api_key=kakao_app.rest_api_key)
    event = _receive(client, plugin_base, "onetimeprofile", url)
    assert event.status == "received" and event.relay_id == "relay-1" and event.otp_url == url
    assert event.headers["X-Kakao-Plugin-Relay-Id"] == "relay-1"
    assert event.body.startswith('{"otp"')

    run_fetch(event.pk)

    event.refresh_from_db()
    assert event.status == "processed", event.last_error
    assert event.attempts == 1
    calls = fake_kakao.calls("otp")
    assert len(calls) == 1 and calls[0]["params"] == {"rest_api_key": "test-rest-api-key"}
    customer = Customer.objects.get(kakao_app=kakao_app, app_user_id="10000000")
    assert event.customer == customer
    profile = customer.profile
    assert (profile.nickname, profile.phone_number, profile.email) == ("lukas", "+86 10-0000-0000", "xxxxx@xxxxxxx.xxx")
    assert (profile.age_range, profile.birthyear, profile.birthday, profile.gender) == ("30~49", "19XX", "XXXX", "male")
    assert profile.profile_image_url == sample["profile_image_url"]
    assert profile.ci_hash == ci_hash(sample["ci"]) and len(profile.ci_hash) == 64
    assert profile.ci_authenticated_at.isoformat() == "2017-01-20T04:37:26+00:00"
    address = ShippingAddress.objects.get(customer=customer)
    assert (address.kakao_address_id, address.base_address, address.detail_address, address.zone_code, address.post_no) == (
        "AAAAAA", "경기도 성남시 분당구", "H스퀘어 6층", "22222", "111111",
    )  # fmt: skip
    # unknown keys kept in the stored raw answer; the raw CI is not
    assert event.raw_response["brand_new_field"] == {"x": 1}
    assert "ci" not in event.raw_response


def test_ci_is_never_stored_raw(client, plugin_base, kakao_app, fake_kakao, settings):
    ci = "RAWCI-" + "q" * 80
    url = seed_otp_url(fake_kakao.url, "onetimeprofile", {"app_user_id": "77", "ci": ci, "ci_authenticated_at": "2020-01-01T00:00:00Z"})
    event = _receive(client, plugin_base, "onetimeprofile", url)
    run_fetch(event.pk)
    assert MemberProfile.objects.get(customer__app_user_id="77").ci_hash == ci_hash(ci)
    # Search every text-ish column of every callbacks and kakaoplugin table for the CI.
    hits = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            if not table.startswith(("callbacks_", "kakaoplugin_")):
                continue
            for column in connection.introspection.get_table_description(cursor, table):
                cursor.execute(f'SELECT COUNT(*) FROM "{table}" WHERE CAST("{column.name}" AS TEXT) LIKE %s', ["%RAWCI-%"])
                if cursor.fetchone()[0]:
                    hits.append((table, column.name))
    assert hits == []
    # a keyed hash: another key gives another value, so the hash is not a plain digest of the CI
    settings.CI_HASH_KEY = "another-key"
    assert ci_hash(ci) != MemberProfile.objects.get(customer__app_user_id="77").ci_hash


def test_profile_upsert_keeps_absent_fields_and_tolerates_missing(client, plugin_base, kakao_app, fake_kakao):
    first = seed_otp_url(fake_kakao.url, "onetimeprofile", {"app_user_id": 5, "nickname": "a", "email": "a@example.com"})
    run_fetch(_receive(client, plugin_base, "onetimeprofile", first).pk)
    second = seed_otp_url(fake_kakao.url, "onetimeprofile", {"app_user_id": 5, "nickname": "b", "phone_number": None})
    run_fetch(_receive(client, plugin_base, "onetimeprofile", second).pk)
    profile = MemberProfile.objects.get(customer__app_user_id="5")
    assert (profile.nickname, profile.email, profile.phone_number) == ("b", "a@example.com", "")
    assert Customer.objects.filter(app_user_id="5").count() == 1


def test_profile_without_app_user_id_is_not_linked_to_the_header(client, plugin_base, kakao_app, fake_kakao):
    url = seed_otp_url(fake_kakao.url, "onetimeprofile", {"nickname": "attacker", "phone_number": "010-9999-9999"})
    event = _receive(client, plugin_base, "onetimeprofile", url, app_user_id="victim")
    run_fetch(event.pk)
    event.refresh_from_db()
    assert event.status == "processed" and "no app_user_id" in event.last_error
    assert not MemberProfile.objects.exists()


def test_duplicate_callback_is_processed_once(client, plugin_base, kakao_app, fake_kakao):
    url = seed_otp_url(fake_kakao.url, "onetimeprofile", {"app_user_id": 9, "nickname": "x"})
    first = _receive(client, plugin_base, "onetimeprofile", url)
    again = _receive(client, plugin_base, "onetimeprofile", url)
    assert again.status == "duplicate" and again.duplicate_of == first
    run_fetch(first.pk)
    run_fetch(first.pk)  # a redelivered task
    run_fetch(again.pk)
    assert len(fake_kakao.calls("otp")) == 1
    assert CallbackEvent.objects.count() == 2
    assert CallbackEvent.objects.get(pk=first.pk).attempts == 1


def test_location_happy_path(client, plugin_base, kakao_app, fake_kakao):
    url = seed_otp_url(fake_kakao.url, "current_location", LOCATION_SAMPLE)
    extra = {"extra": {"app": {"name": "플러그인 데모", "company": "wuhu wuhu"}}}
    event = _receive(client, plugin_base, "current_location", url, app_user_id="4242", extra=extra)
    run_fetch(event.pk)
    event.refresh_from_db()
    assert event.status == "processed"
    assert fake_kakao.calls("otp")[0]["params"] == {"rest_api_key": "test-rest-api-key", "version": "v2"}
    record = LocationRecord.objects.get(event=event)
    assert record.usable
    assert (record.latitude, record.longitude) == (37.40201073377386, 127.10849451749681)
    assert record.land_address_name == "경기 성남시 분당구 삼평동 681"
    assert record.road_address_name == "경기도 성남시 분당구 판교역로 235" and record.zone_no == "13494"
    assert record.detail == "8층 카카오" and record.land_address["mountain_yn"] == "N"
    assert record.customer.app_user_id == "4242" and record.relay_id == "relay-1"


def test_location_without_road_address(client, plugin_base, kakao_app, fake_kakao):
    data = {k: v for k, v in LOCATION_SAMPLE.items() if k not in ("road_address", "detail")}
    event = _receive(client, plugin_base, "current_location", seed_otp_url(fake_kakao.url, "current_location", data))
    run_fetch(event.pk)
    record = LocationRecord.objects.get(event=event)
    assert record.usable and record.road_address is None and record.road_address_name == "" and record.customer is None


def test_location_is_usable_user_false(client, plugin_base, kakao_app, fake_kakao):
    url = seed_otp_url(fake_kakao.url, "current_location", {"is_usable_user": False})
    event = _receive(client, plugin_base, "current_location", url)
    run_fetch(event.pk)
    event.refresh_from_db()
    record = LocationRecord.objects.get(event=event)
    assert event.status == "processed"
    assert record.usable is False and record.latitude is None


def test_secure_images_downloaded(client, plugin_base, kakao_app, fake_kakao, settings):
    settings.SECURE_IMAGE_SIZES = ["original", "img_1m", "img_3m"]
    url = seed_otp_url(fake_kakao.url, "secure_image", images=2)
    event = _receive(client, plugin_base, "secure_image", url, app_user_id="55")
    run_fetch(event.pk)
    image_set = SecureImageSet.objects.get(event=event)
    assert image_set.expire is not None and image_set.customer.app_user_id == "55"
    run_downloads(image_set.pk)
    image_set.refresh_from_db()
    assert image_set.status == "complete"
    images = list(image_set.images.all())
    assert [(i.position, i.size) for i in images] == [(p, s) for p in (0, 1) for s in ("img_1m", "img_3m", "original")]
    for image in images:
        assert image.status == "stored" and image.content_type == "image/png"
        with image.file.open("rb") as fh:
            content = fh.read()
        assert content.startswith(b"\x89PNG") and len(content) == image.bytes
        assert str(settings.MEDIA_ROOT) in image.file.path
    assert len(fake_kakao.calls("cdn")) == 6
    # the CDN never gets our REST API key
    assert all("rest_api_key" not in c["params"] for c in fake_kakao.calls("cdn"))


def test_secure_images_original_only_by_default(client, plugin_base, kakao_app, fake_kakao):
    event = _receive(client, plugin_base, "secure_image", seed_otp_url(fake_kakao.url, "secure_image", images=3))
    run_fetch(event.pk)
    image_set = SecureImageSet.objects.get(event=event)
    run_downloads(image_set.pk)
    assert list(image_set.images.values_list("size", "status")) == [("original", "stored")] * 3


def test_secure_images_past_expire_are_marked_and_not_fetched(client, plugin_base, kakao_app, fake_kakao):
    event = _receive(client, plugin_base, "secure_image", seed_otp_url(fake_kakao.url, "secure_image", images=2, expire_in=-30))
    run_fetch(event.pk)
    image_set = SecureImageSet.objects.get(event=event)
    run_downloads(image_set.pk)
    image_set.refresh_from_db()
    assert image_set.status == "empty"
    assert set(image_set.images.values_list("status", flat=True)) == {"expired"}
    assert "expired" in image_set.images.first().error
    assert fake_kakao.calls("cdn") == []


def test_secure_image_partial_when_one_fails(client, plugin_base, kakao_app, fake_kakao):
    event = _receive(client, plugin_base, "secure_image", seed_otp_url(fake_kakao.url, "secure_image", images=2))
    run_fetch(event.pk)
    image_set = SecureImageSet.objects.get(event=event)
    first = image_set.images.get(position=0)
    name = first.source_url.split("/cdn/")[1].split("/")[0]
    fake_kakao.fault("cdn", "content_type", content_type="text/html", match={"name": name})
    run_downloads(image_set.pk)
    image_set.refresh_from_db()
    assert image_set.status == "partial"
    first.refresh_from_db()
    assert first.status == "failed" and "image" in first.error
    assert image_set.images.get(position=1).status == "stored"


def test_image_on_a_host_off_the_allowlist_is_refused(client, plugin_base, kakao_app, fake_kakao):
    data = {"secure_urls": [{"original": "https://169.254.169.254/latest/meta-data/"}], "expire": "2999-01-01T00:00:00Z"}
    event = _receive(client, plugin_base, "secure_image", seed_otp_url(fake_kakao.url, "secure_image", data))
    run_fetch(event.pk)
    image_set = SecureImageSet.objects.get(event=event)
    run_downloads(image_set.pk)
    image = image_set.images.get()
    assert image.status == "failed" and "refused" in image.error


def test_fetch_retried_then_succeeds(client, plugin_base, kakao_app, fake_kakao):
    url = seed_otp_url(fake_kakao.url, "onetimeprofile", {"app_user_id": 1, "nickname": "r"})
    fake_kakao.fault("otp", "error500", times=2)
    event = _receive(client, plugin_base, "onetimeprofile", url)
    run_fetch(event.pk)
    event.refresh_from_db()
    assert event.status == "processed" and event.attempts == 3
    attempts = list(FetchAttempt.objects.filter(event=event).values_list("number", "http_status", "ok"))
    assert attempts == [(1, 500, False), (2, 500, False), (3, 200, True)]


def test_fetch_keeps_failing_and_shows_in_admin(client, admin_client, plugin_base, kakao_app, fake_kakao, settings):
    settings.CALLBACKS_FETCH_MAX_RETRIES = 2
    url = seed_otp_url(fake_kakao.url, "onetimeprofile", {"app_user_id": 1})
    fake_kakao.fault("otp", "error500", times=10)
    event = _receive(client, plugin_base, "onetimeprofile", url)
    run_fetch(event.pk)
    event.refresh_from_db()
    assert event.status == "failed" and event.attempts == 3
    assert "HTTP 500" in event.last_error
    assert len(fake_kakao.calls("otp")) == 3
    page = admin_client.get("/admin/callbacks/callbackevent/?status__exact=failed")
    assert page.status_code == 200 and f">{event.pk}<" in page.content.decode() and "HTTP 500" in page.content.decode()
    detail = admin_client.get(f"/admin/callbacks/callbackevent/{event.pk}/change/").content.decode()
    assert detail.count("internal error (fault)") >= 3  # each attempt's error


def test_timeout_and_lost_connection_are_retried(client, plugin_base, kakao_app, fake_kakao, settings):
    settings.KAKAO_HTTP_TIMEOUT = 0.5
    url = seed_otp_url(fake_kakao.url, "current_location", {"is_usable_user": False})
    fake_kakao.fault("otp", "delay", delay=1.0)
    fake_kakao.fault("otp", "lost")
    event = _receive(client, plugin_base, "current_location", url)
    run_fetch(event.pk)
    event.refresh_from_db()
    assert event.status == "processed" and event.attempts == 3
    errors = list(FetchAttempt.objects.filter(event=event).values_list("error", flat=True))
    assert "timed out" in errors[0] and errors[1] and errors[2] == ""


def test_wrong_rest_api_key_fails_without_retry(client, plugin_base, kakao_app, fake_kakao):
    url = seed_otp_url(fake_kakao.url, "onetimeprofile", {"app_user_id": 1}, rest_api_key="someone-else")
    event = _receive(client, plugin_base, "onetimeprofile", url)
    run_fetch(event.pk)
    event.refresh_from_db()
    assert event.status == "failed" and event.attempts == 1 and "401" in event.last_error


def test_fetch_again_uses_the_stored_answer_of_a_single_use_otp(client, admin_client, plugin_base, kakao_app, fake_kakao, django_capture_on_commit_callbacks):
    url = seed_otp_url(fake_kakao.url, "onetimeprofile", {"app_user_id": 3, "nickname": "once"}, single_use=True)
    event = _receive(client, plugin_base, "onetimeprofile", url)
    # A fetch that got the answer, then failed applying it (simulated: the answer stored, status failed).
    run_fetch(event.pk)
    CallbackEvent.objects.filter(pk=event.pk).update(status="failed")
    MemberProfile.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        r = admin_client.post("/admin/callbacks/callbackevent/", {"action": "fetch_again", "_selected_action": [event.pk]})
    assert r.status_code == 302 and len(queued) == 1
    run_fetch(event.pk)
    event.refresh_from_db()
    assert event.status == "processed"
    assert MemberProfile.objects.get(customer__app_user_id="3").nickname == "once"
    assert len(fake_kakao.calls("otp")) == 1  # the single-use OTP was not fetched again
