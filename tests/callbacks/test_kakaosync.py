"""Kakao Sync's plugin redirect: code → token → user and terms → member, consents; error pages."""

from __future__ import annotations

import urllib.parse

import pytest

from callbacks.models import Consent, KakaoSyncSignup, MemberProfile
from callbacks.services import ci_hash, kakaosync_state_issue
from fakekakao.kakao import seed_kakao_user
from kakaoplugin.models import Customer

pytestmark = pytest.mark.django_db

ACCOUNT = {
    "profile": {"nickname": "홍길동", "profile_image_url": "https://k.kakaocdn.net/dn/p/img.jpg"},
    "email": "hong@example.com",
    "phone_number": "+82 10-1234-5678",
    "age_range": "20~29",
    "birthyear": "1999",
    "birthday": "0101",
    "gender": "female",
    "ci": "CI-RAW-VALUE-abcdefghijklmnop",
    "ci_authenticated_at": "2021-03-04T05:06:07Z",
    "has_email": True,
    "some_new_flag": True,
}
TERMS = [
    {"tag": "service_2023", "required": True, "agreed_at": "2024-05-01T01:02:03Z"},
    {"tag": "marketing", "required": False, "agreed_at": "2024-05-01T01:02:04Z"},
    {"tag": "optional_unagreed", "agreed": False},
]


@pytest.fixture
def redirect_path(kakao_app):
    return f"/sync/{kakao_app.pk}/redirect"  # fixed per app, no plugin key (issue 11)


@pytest.fixture
def state(kakao_app):
    """A state we issued for this app (the merchant API's Kakao Sync launch link carries it)."""
    return kakaosync_state_issue(kakao_app=kakao_app)


@pytest.fixture
def redirect_uri(redirect_path, settings):
    settings.PUBLIC_BASE_URL = "https://shop.example.com"
    return "https://shop.example.com" + redirect_path


def _user(fake_kakao, kakao_app, redirect_uri, **over):
    return seed_kakao_user(
        fake_kakao.url,
        **{
            "id": 123456789,
            "kakao_account": ACCOUNT,
            "service_terms": TERMS,
            "client_id": kakao_app.rest_api_key,
            "client_secret": "client-secret-0123456789",
            "redirect_uri": redirect_uri,
            **over,
        },
    )


def test_happy_path_creates_member_profile_and_consents(client, kakao_app, fake_kakao, redirect_path, state, redirect_uri):
    code = _user(fake_kakao, kakao_app, redirect_uri)
    cont = "https://talk-plugin.kakao.com/plugin/continue?x=1"
    r = client.get(redirect_path, {"code": code, "state": state, "continue": cont})
    assert r.status_code == 302 and r["Location"] == cont

    token_call = fake_kakao.calls("oauth_token")[0]["params"]
    assert token_call == {
        "grant_type": "authorization_code",
        "client_id": "test-rest-api-key",
        "redirect_uri": redirect_uri,
        "code": code,
        "client_secret": "client-secret-0123456789",
    }
    assert fake_kakao.calls("user_me")[0]["headers"]["Authorization"].startswith("Bearer ")
    assert len(fake_kakao.calls("service_terms")) == 1

    customer = Customer.objects.get(kakao_app=kakao_app, app_user_id="123456789")
    profile = customer.profile
    assert profile.source == "kakaosync"
    assert (profile.nickname, profile.email, profile.phone_number, profile.gender) == ("홍길동", "hong@example.com", "+82 10-1234-5678", "female")
    assert profile.ci_hash == ci_hash(ACCOUNT["ci"])
    assert not MemberProfile.objects.filter(ci_hash=ACCOUNT["ci"]).exists()
    consents = {c.tag: c.agreed_at.isoformat() for c in Consent.objects.filter(customer=customer)}
    assert consents == {"service_2023": "2024-05-01T01:02:03+00:00", "marketing": "2024-05-01T01:02:04+00:00"}
    signup = KakaoSyncSignup.objects.get()
    assert signup.status == "done" and signup.customer == customer and signup.created_customer and signup.state == state.split(":")[0] and state not in signup.state


def test_done_page_when_continue_is_not_kakao(client, kakao_app, fake_kakao, redirect_path, state, redirect_uri):
    for cont in ("https://evil.example/phish", "https://kakao.com.evil.example/", "http://talk-plugin.kakao.com/x", "javascript:alert(1)", ""):
        code = _user(fake_kakao, kakao_app, redirect_uri)
        r = client.get(redirect_path, {"code": code, "state": state, "continue": cont})
        assert r.status_code == 200, cont
        assert r["Content-Type"].startswith("text/html")
        assert "가입 완료" in r.content.decode()
    assert Customer.objects.count() == 1  # same Kakao user each time: updated, not duplicated


def test_replayed_code_shows_error_page_and_changes_nothing(client, kakao_app, fake_kakao, redirect_path, state, redirect_uri):
    code = _user(fake_kakao, kakao_app, redirect_uri)
    assert client.get(redirect_path, {"code": code, "state": state}).status_code == 200
    profile_before = MemberProfile.objects.values().get()
    r = client.get(redirect_path, {"code": code, "state": state})
    assert r.status_code == 400 and r["Content-Type"].startswith("text/html")
    assert "이미 사용된" in r.content.decode()
    assert len(fake_kakao.calls("oauth_token")) == 1  # refused before calling Kakao
    assert MemberProfile.objects.values().get() == profile_before
    assert KakaoSyncSignup.objects.get().replays == 1


def test_code_rejected_by_kakao_leaves_nothing(client, kakao_app, fake_kakao, redirect_path, state, redirect_uri):
    r = client.get(redirect_path, {"code": "never-issued", "state": state})
    assert r.status_code == 400 and "유효하지 않거나" in r.content.decode()
    assert not Customer.objects.exists() and not Consent.objects.exists() and not MemberProfile.objects.exists()
    signup = KakaoSyncSignup.objects.get()
    assert signup.status == "failed" and "KOE320" in signup.error


def test_failure_after_token_leaves_nothing_half_made(client, kakao_app, fake_kakao, redirect_path, state, redirect_uri):
    code = _user(fake_kakao, kakao_app, redirect_uri)
    fake_kakao.fault("service_terms", "error500")
    r = client.get(redirect_path, {"code": code, "state": state})
    assert r.status_code == 400 and r["Content-Type"].startswith("text/html")
    assert len(fake_kakao.calls("user_me")) == 1
    assert not Customer.objects.exists() and not MemberProfile.objects.exists() and not Consent.objects.exists()
    assert KakaoSyncSignup.objects.get().status == "failed"


def test_redirect_uri_mismatch_is_an_error_page(client, kakao_app, fake_kakao, redirect_path, state, redirect_uri):
    code = _user(fake_kakao, kakao_app, redirect_uri + "-other")
    r = client.get(redirect_path, {"code": code, "state": state})
    assert r.status_code == 400
    assert "KOE303" in KakaoSyncSignup.objects.get().error


def test_v1_terms_fallback(client, kakao_app, fake_kakao, redirect_path, state, redirect_uri):
    code = _user(fake_kakao, kakao_app, redirect_uri)
    fake_kakao.fault("service_terms", "status", status=404, body={"msg": "not found"})
    assert client.get(redirect_path, {"code": code, "state": state}).status_code == 200
    assert len(fake_kakao.calls("service_terms_v1")) == 1
    assert set(Consent.objects.values_list("tag", flat=True)) == {"service_2023", "marketing"}


def test_missing_code_and_user_cancel(client, kakao_app, redirect_path, state):
    r = client.get(redirect_path, {"state": state})
    assert r.status_code == 400 and r["Content-Type"].startswith("text/html")
    r = client.get(redirect_path + "?" + urllib.parse.urlencode({"error": "access_denied", "error_description": "User denied access"}))
    assert r.status_code == 400 and "취소" in r.content.decode()
    assert not KakaoSyncSignup.objects.exists()


def test_updates_existing_member(client, kakao_app, fake_kakao, redirect_path, state, redirect_uri):
    existing = Customer.objects.create(kakao_app=kakao_app, app_user_id="123456789", blocked=True)
    code = _user(fake_kakao, kakao_app, redirect_uri)
    assert client.get(redirect_path, {"code": code, "state": state}).status_code == 200
    existing.refresh_from_db()
    assert existing.blocked and existing.profile.nickname == "홍길동"
    assert not KakaoSyncSignup.objects.get().created_customer


# --- issue 11: the redirect URI carries no plugin key; the state we issued authorises a visit ----


def test_redirect_uri_is_fixed_per_app_without_the_plugin_key(client, kakao_app, fake_kakao, redirect_path, state, redirect_uri):
    from kakaoplugin.plugin_paths import plugin_urls
    from kakaoplugin.services import kakao_app_rotate_plugin_key

    old_key = kakao_app.plugin_key
    assert plugin_urls("https://shop.example.com", old_key, app_id=kakao_app.pk)["kakaosync_redirect"] == redirect_uri
    assert old_key not in redirect_uri
    kakao_app_rotate_plugin_key(kakao_app=kakao_app)  # the registration in Kakao Developers stays right
    code = _user(fake_kakao, kakao_app, redirect_uri)
    r = client.get(redirect_path, {"code": code, "state": state, "continue": "https://talk-plugin.kakao.com/c"})
    assert r.status_code == 302
    assert fake_kakao.calls("oauth_token")[0]["params"]["redirect_uri"] == redirect_uri
    # the old plugin-key URL is gone
    r = client.get(f"/plugin/{kakao_app.plugin_key}/kakaosync/redirect", {"code": "x", "state": state})
    assert r.status_code == 404 and r.json()["status"] == 404


def test_a_state_we_did_not_issue_for_this_app_is_refused_before_kakao(client, kakao_app, fake_kakao, redirect_path, redirect_uri, settings):
    from django.core import signing

    from kakaoplugin.browser_tokens import state_issue
    from kakaoplugin.models import InboundCall, KakaoApp

    other = KakaoApp.objects.create(name="other-app", rest_api_key="other-rest-key")
    forged = signing.TimestampSigner(salt="someone-else").sign_object({"a": kakao_app.pk, "n": "x"})
    bad_states = {
        "missing": None,
        "made up": "sim-1700000000",
        "forged": forged,
        "another app's": kakaosync_state_issue(kakao_app=other),
        "another purpose's": state_issue(purpose="other", app_id=kakao_app.pk),
        "tampered": kakaosync_state_issue(kakao_app=kakao_app)[:-2] + "xx",
    }
    for what, bad in bad_states.items():
        code = _user(fake_kakao, kakao_app, redirect_uri)
        params = {"code": code} | ({"state": bad} if bad is not None else {})
        r = client.get(redirect_path, params)
        assert r.status_code == 400 and r["Content-Type"].startswith("text/html"), what
        assert "유효하지 않거나 만료" in r.content.decode(), what
    settings.KAKAOSYNC_STATE_MAX_AGE_SECONDS = -1  # every state has expired
    r = client.get(redirect_path, {"code": _user(fake_kakao, kakao_app, redirect_uri), "state": kakaosync_state_issue(kakao_app=kakao_app)})
    assert r.status_code == 400
    assert fake_kakao.calls("oauth_token") == []  # no code was exchanged
    assert not KakaoSyncSignup.objects.exists() and not Customer.objects.exists()
    calls = InboundCall.objects.filter(endpoint="kakaosync_redirect")
    assert calls.count() == len(bad_states) + 1 and {c.http_status for c in calls} == {400}
    assert all(c.query.get("code") == "***" and c.query.get("state", "***") == "***" for c in calls)
    # an unknown or inactive app's redirect URI: a 404, nothing stored
    assert client.get("/sync/999999/redirect", {"code": "c"}).status_code == 404
    assert client.get("/sync/abc/redirect", {"code": "c"}).status_code == 404


def test_the_buyers_browser_is_never_refused_by_the_allowed_networks(client, kakao_app, fake_kakao, redirect_path, state, redirect_uri):
    kakao_app.allowed_networks = "10.20.0.0/16"  # Kakao's servers; the buyer's phone is elsewhere
    kakao_app.save(update_fields=["allowed_networks"])
    code = _user(fake_kakao, kakao_app, redirect_uri)
    r = client.get(redirect_path, {"code": code, "state": state}, REMOTE_ADDR="203.0.113.9")
    assert r.status_code == 200 and "가입 완료" in r.content.decode()
    assert KakaoSyncSignup.objects.get().status == "done"


def test_the_merchant_api_issues_the_state_and_the_launch_link(client, kakao_app, fake_kakao, redirect_path, redirect_uri):
    from merchant.services import api_key_create

    _, plain = api_key_create(kakao_app=kakao_app, name="chatbot", scopes=["orders"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {plain}"}
    r = client.post("/api/v1/kakaosync/launch-link", **auth)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["redirect_uri"] == redirect_uri and body["plugin_id"] == "" and body["launch_link"] is None
    assert body["expires_in"] == 24 * 3600
    kakao_app.kakaosync_plugin_id = "sync-plugin-1"
    kakao_app.save(update_fields=["kakaosync_plugin_id"])
    again = client.post("/api/v1/kakaosync/launch-link", **auth).json()
    assert again["state"] != body["state"]
    link = urllib.parse.urlsplit(again["launch_link"])
    assert link.scheme == "kakaotalk" and urllib.parse.parse_qs(link.query) == {"plugin_id": ["sync-plugin-1"], "state": [again["state"]]}
    code = _user(fake_kakao, kakao_app, redirect_uri)
    assert client.get(redirect_path, {"code": code, "state": body["state"]}).status_code == 200
