"""Kakao Sync's plugin redirect: code → token → user and terms → member, consents; error pages."""

from __future__ import annotations

import urllib.parse

import pytest

from callbacks.models import Consent, KakaoSyncSignup, MemberProfile
from callbacks.services import ci_hash
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
def redirect_path(plugin_base):
    return plugin_base + "kakaosync/redirect"


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


def test_happy_path_creates_member_profile_and_consents(client, kakao_app, fake_kakao, redirect_path, redirect_uri):
    code = _user(fake_kakao, kakao_app, redirect_uri)
    cont = "https://talk-plugin.kakao.com/plugin/continue?x=1"
    r = client.get(redirect_path, {"code": code, "state": "s-1", "continue": cont})
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
    assert signup.status == "done" and signup.customer == customer and signup.created_customer and signup.state == "s-1"


def test_done_page_when_continue_is_not_kakao(client, kakao_app, fake_kakao, redirect_path, redirect_uri):
    for cont in ("https://evil.example/phish", "https://kakao.com.evil.example/", "http://talk-plugin.kakao.com/x", "javascript:alert(1)", ""):
        code = _user(fake_kakao, kakao_app, redirect_uri)
        r = client.get(redirect_path, {"code": code, "continue": cont})
        assert r.status_code == 200, cont
        assert r["Content-Type"].startswith("text/html")
        assert "가입 완료" in r.content.decode()
    assert Customer.objects.count() == 1  # same Kakao user each time: updated, not duplicated


def test_replayed_code_shows_error_page_and_changes_nothing(client, kakao_app, fake_kakao, redirect_path, redirect_uri):
    code = _user(fake_kakao, kakao_app, redirect_uri)
    assert client.get(redirect_path, {"code": code}).status_code == 200
    profile_before = MemberProfile.objects.values().get()
    r = client.get(redirect_path, {"code": code})
    assert r.status_code == 400 and r["Content-Type"].startswith("text/html")
    assert "이미 사용된" in r.content.decode()
    assert len(fake_kakao.calls("oauth_token")) == 1  # refused before calling Kakao
    assert MemberProfile.objects.values().get() == profile_before
    assert KakaoSyncSignup.objects.get().replays == 1


def test_code_rejected_by_kakao_leaves_nothing(client, kakao_app, fake_kakao, redirect_path, redirect_uri):
    r = client.get(redirect_path, {"code": "never-issued"})
    assert r.status_code == 400 and "유효하지 않거나" in r.content.decode()
    assert not Customer.objects.exists() and not Consent.objects.exists() and not MemberProfile.objects.exists()
    signup = KakaoSyncSignup.objects.get()
    assert signup.status == "failed" and "KOE320" in signup.error


def test_failure_after_token_leaves_nothing_half_made(client, kakao_app, fake_kakao, redirect_path, redirect_uri):
    code = _user(fake_kakao, kakao_app, redirect_uri)
    fake_kakao.fault("service_terms", "error500")
    r = client.get(redirect_path, {"code": code})
    assert r.status_code == 400 and r["Content-Type"].startswith("text/html")
    assert len(fake_kakao.calls("user_me")) == 1
    assert not Customer.objects.exists() and not MemberProfile.objects.exists() and not Consent.objects.exists()
    assert KakaoSyncSignup.objects.get().status == "failed"


def test_redirect_uri_mismatch_is_an_error_page(client, kakao_app, fake_kakao, redirect_path, redirect_uri):
    code = _user(fake_kakao, kakao_app, redirect_uri + "-other")
    r = client.get(redirect_path, {"code": code})
    assert r.status_code == 400
    assert "KOE303" in KakaoSyncSignup.objects.get().error


def test_v1_terms_fallback(client, kakao_app, fake_kakao, redirect_path, redirect_uri):
    code = _user(fake_kakao, kakao_app, redirect_uri)
    fake_kakao.fault("service_terms", "status", status=404, body={"msg": "not found"})
    assert client.get(redirect_path, {"code": code}).status_code == 200
    assert len(fake_kakao.calls("service_terms_v1")) == 1
    assert set(Consent.objects.values_list("tag", flat=True)) == {"service_2023", "marketing"}


def test_missing_code_and_user_cancel(client, kakao_app, redirect_path):
    r = client.get(redirect_path)
    assert r.status_code == 400 and r["Content-Type"].startswith("text/html")
    r = client.get(redirect_path + "?" + urllib.parse.urlencode({"error": "access_denied", "error_description": "User denied access"}))
    assert r.status_code == 400 and "취소" in r.content.decode()
    assert not KakaoSyncSignup.objects.exists()


def test_updates_existing_member(client, kakao_app, fake_kakao, redirect_path, redirect_uri):
    existing = Customer.objects.create(kakao_app=kakao_app, app_user_id="123456789", blocked=True)
    code = _user(fake_kakao, kakao_app, redirect_uri)
    assert client.get(redirect_path, {"code": code}).status_code == 200
    existing.refresh_from_db()
    assert existing.blocked and existing.profile.nickname == "홍길동"
    assert not KakaoSyncSignup.objects.get().created_customer
