"""Staff in a real browser on the callbacks admin: the event log filtered by kind, an event's raw
payload, "Fetch again" on a failed event, and members' personal data masked unless the staff user
has ``kakaoplugin.view_personal_data``.

Callbacks reach the live server over HTTP the way Kakao sends them, with OTP URLs seeded on the
fake Kakao; their fetch tasks run in the server's process (``eager_tasks``) against the fake.
"""

from __future__ import annotations

import copy
import json

import pytest
import requests

from callbacks.models import CallbackEvent, MemberProfile
from fakekakao.kakao import seed_otp_url
from tests.support.callbacks import LOCATION_SAMPLE, PATHS, PROFILE_SAMPLE

from .conftest import admin_login, make_staff

EVENTS = "/admin/callbacks/callbackevent/"
EVENT_PERMS = ("callbacks.view_callbackevent", "callbacks.view_fetchattempt")
MEMBER_PERMS = (
    "kakaoplugin.view_customer", "callbacks.view_memberprofile", "callbacks.view_shippingaddress",
    "callbacks.view_consent", "callbacks.view_locationrecord", "callbacks.view_secureimageset",
)  # fmt: skip
PERSONAL = "kakaoplugin.view_personal_data"

PHONE, EMAIL, NAME = "+82 10-1234-5678", "hong.gildong@example.com", "홍길동"
STREET = "서울특별시 강남구 테헤란로 1"


@pytest.fixture(autouse=True)
def _callbacks(settings, tmp_path, eager_tasks, fake_kakao):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CALLBACKS_RETRY_BASE_SECONDS = 0.01


def kakao_calls_back(live_server, kakao_app, kind: str, otp_url: str, *, relay_id: str, app_user_id: str = "") -> CallbackEvent:
    """POST a callback to the live server as Kakao does; the event it stored."""
    headers = {"Content-Type": "application/json", "X-Kakao-Plugin-Relay-Id": relay_id}
    if app_user_id:
        headers["X-Kakao-AppUserId"] = app_user_id
    url = f"{live_server.url}/plugin/{kakao_app.plugin_key}/{PATHS[kind]}"
    r = requests.post(url, data=json.dumps({"otp": otp_url}), headers=headers, timeout=30)
    assert r.status_code == 200 and r.json() == {"status": 200}, r.text
    return CallbackEvent.objects.get(relay_id=relay_id)


def test_event_log_filtered_by_kind_and_an_events_raw_payload(page, shot, live_server, kakao_app, fake_kakao):
    profile_url = seed_otp_url(fake_kakao.url, "onetimeprofile", PROFILE_SAMPLE, rest_api_key=kakao_app.rest_api_key)
    location_url = seed_otp_url(fake_kakao.url, "current_location", LOCATION_SAMPLE)
    profile = kakao_calls_back(live_server, kakao_app, "onetimeprofile", profile_url, relay_id="relay-profile")
    location = kakao_calls_back(live_server, kakao_app, "current_location", location_url, relay_id="relay-location", app_user_id="10000000")
    assert {profile.status, location.status} == {"processed"}, (profile.last_error, location.last_error)

    admin_login(page, make_staff("callback-staff", *EVENT_PERMS, PERSONAL))
    page.click("#content-main tr.model-callbackevent th a")
    page.wait_for_url(f"**{EVENTS}")
    rows = page.locator("#result_list tbody tr")
    rows.first.wait_for()
    shot("all-events")
    assert rows.count() == 2

    page.click("#changelist-filter a[href*='kind__exact=current_location']")
    page.wait_for_url("**kind__exact=current_location")
    shot("location-events")
    assert rows.count() == 1
    row = rows.first.inner_text()
    assert "relay-location" in row and "relay-profile" not in row and "processed" in row

    page.click(f"#result_list th.field-id a:text-is('{location.pk}')")
    page.wait_for_url(f"**{EVENTS}{location.pk}/change/**")
    shot("location-event")
    assert page.inner_text(".field-relay_id .readonly") == "relay-location"
    assert location_url in page.inner_text(".field-body")  # the POST as Kakao sent it
    raw = page.inner_text(".field-raw_response_pretty pre")
    assert json.loads(raw) == location.raw_response and json.loads(raw)["detail"] == "8층 카카오"
    attempts = page.locator(".inline-group tbody tr.has_original, .inline-group tbody tr.form-row:not(.empty-form)")
    assert attempts.count() == 1 and "200" in attempts.first.inner_text()

    # a staff member without the personal-data permission sees the answer's keys, not its values
    page.context.clear_cookies()
    admin_login(page, make_staff("callback-viewer", *EVENT_PERMS))
    page.goto(f"{EVENTS}{location.pk}/change/")
    shot("location-event-masked")
    masked = page.inner_text(".field-masked_raw_response_pretty")
    assert "latitude" in masked and "needs the" in masked
    assert "8층 카카오" not in page.content() and "판교역로 235" not in page.content()


def test_fetch_again_on_a_failed_event(page, shot, live_server, kakao_app, fake_kakao, settings):
    settings.CALLBACKS_FETCH_MAX_RETRIES = 0  # the first failure is final
    data = copy.deepcopy(PROFILE_SAMPLE) | {"app_user_id": 10000002, "nickname": "again"}
    url = seed_otp_url(fake_kakao.url, "onetimeprofile", data, rest_api_key=kakao_app.rest_api_key)
    fake_kakao.fault("otp", "error500", times=1)
    event = kakao_calls_back(live_server, kakao_app, "onetimeprofile", url, relay_id="relay-again")
    assert event.status == "failed" and "HTTP 500" in event.last_error

    # "Fetch again" changes things: it needs the change permission (the events stay read-only)
    admin_login(page, make_staff("fetch-staff", *EVENT_PERMS, "callbacks.change_callbackevent", PERSONAL))
    page.goto(EVENTS)
    page.click("#changelist-filter a[href*='status__exact=failed']")
    page.wait_for_url("**status__exact=failed")
    row = page.locator("#result_list tbody tr", has_text="relay-again")
    assert "HTTP 500" in row.inner_text()
    row.locator("input.action-select").check()
    page.select_option("select[name=action]", "fetch_again")
    shot("failed-event-selected")
    page.click("#changelist-form button[name=index]")
    message = page.wait_for_selector(".messagelist .info")
    shot("queued-again")
    assert message.inner_text() == "Queued 1 event(s) again; 0 not failed, left alone."
    assert page.locator("#result_list tbody tr", has_text="relay-again").count() == 0  # no longer failed

    event.refresh_from_db()
    assert event.status == "processed" and event.attempts == 2
    assert MemberProfile.objects.get(customer__app_user_id="10000002").nickname == "again"
    assert len(fake_kakao.calls("otp")) == 2

    page.goto(f"{EVENTS}{event.pk}/change/")
    shot("processed-event")
    assert page.inner_text(".field-status .readonly") == "processed"
    assert json.loads(page.inner_text(".field-raw_response_pretty pre"))["nickname"] == "again"
    attempts = page.inner_text(".inline-group")
    assert "internal error (fault)" in attempts  # the first attempt's error stays visible


def test_member_page_masks_personal_data_without_the_permission(page, shot, live_server, kakao_app, fake_kakao):
    profile = copy.deepcopy(PROFILE_SAMPLE) | {
        "app_user_id": 10000001, "nickname": NAME, "phone_number": PHONE, "email": EMAIL,
        "shipping_address": PROFILE_SAMPLE["shipping_address"] | {"base_address": STREET, "receiver_name": NAME},
    }  # fmt: skip
    url = seed_otp_url(fake_kakao.url, "onetimeprofile", profile, rest_api_key=kakao_app.rest_api_key)
    kakao_calls_back(live_server, kakao_app, "onetimeprofile", url, relay_id="relay-member")
    url = seed_otp_url(fake_kakao.url, "current_location", LOCATION_SAMPLE)
    kakao_calls_back(live_server, kakao_app, "current_location", url, relay_id="relay-where", app_user_id="10000001")
    member = MemberProfile.objects.get(customer__app_user_id="10000001").customer
    secrets = (PHONE, EMAIL, NAME, "테헤란로", "판교역로", "37.402")

    def open_member():
        page.click("#content-main tr.model-customer th a")
        page.wait_for_selector("#result_list")
        page.click("#result_list a:text-is('10000001')")
        page.wait_for_url(f"**/admin/kakaoplugin/customer/{member.pk}/change/")

    admin_login(page, make_staff("no-personal-data", *MEMBER_PERMS))
    open_member()
    shot("masked")
    html = page.content()
    for secret in secrets:
        assert secret not in html, secret
    text = page.inner_text("#content-main")
    assert "+** **-****-5678" in text and "ho***@example.com" in text and "홍*동" in text
    assert "서울특별시 ***" in text and "경기 ***" in text  # the street address and the location, masked

    page.context.clear_cookies()
    admin_login(page, make_staff("personal-data", *MEMBER_PERMS, PERSONAL))
    open_member()
    shot("full")
    text = page.inner_text("#content-main")
    for secret in secrets:
        assert secret in text, secret
    assert "ho***@example.com" not in text
