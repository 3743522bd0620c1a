"""OTP URLs are untrusted: refused ones never cause a request, and our key only goes to Kakao."""

from __future__ import annotations

import pytest
import responses

from callbacks.models import CallbackEvent
from kakaoplugin.clients import otp
from tests.support.callbacks import post_callback

KAKAO = "https://talk-plugin.kakao.com"

REFUSED = [
    ("https://evil.example/otp/abc/onetimeprofile", "another host"),
    ("http://talk-plugin.kakao.com/otp/abc/onetimeprofile", "http"),
    ("https://203.0.113.7/otp/abc/onetimeprofile", "IPv4 literal"),
    ("https://[::1]/otp/abc/onetimeprofile", "IPv6 literal"),
    ("https://2130706433/otp/abc/onetimeprofile", "decimal IP"),
    ("https://0x7f.1/otp/abc/onetimeprofile", "hex IP"),
    ("https://talk-plugin.kakao.com@evil.example/otp/abc/onetimeprofile", "user info look-alike"),
    ("https://talk-plugin.kakao.com:443@evil.example/otp/abc/onetimeprofile", "user info with port"),
    ("https://talk-plugin.kakao.com\\@evil.example/otp/abc/onetimeprofile", "backslash"),
    ("https://talk-plugin.kakao.com.evil.example/otp/abc/onetimeprofile", "suffix look-alike"),
    ("https://talk-plugin-kakao.com/otp/abc/onetimeprofile", "dash look-alike"),
    ("https://evil-talk-plugin.kakao.com/otp/abc/onetimeprofile", "other subdomain"),
    ("https://tаlk-plugin.kakao.com/otp/abc/onetimeprofile", "Cyrillic a"),
    ("https://talk-plugin.kakao.com:8443/otp/abc/onetimeprofile", "other port"),
    ("https://talk-plugin.kakao.com/otp/abc/current_location", "wrong kind"),
    ("https://talk-plugin.kakao.com/otp/abc/../../admin/onetimeprofile", "dot segments"),
    ("https://talk-plugin.kakao.com/kakaopay/callback", "not an otp path"),
    ("https://talk-plugin.kakao.com/otp/abc/onetimeprofile#x", "fragment"),
    ("https://talk-plugin.kakao.com/otp/a%2Fb/onetimeprofile", "encoded slash in token"),
    ("file:///etc/passwd", "file scheme"),
    ("gopher://talk-plugin.kakao.com/otp/abc/onetimeprofile", "gopher"),
    ("//talk-plugin.kakao.com/otp/abc/onetimeprofile", "no scheme"),
    ("https://talk-plugin.kakao.com/otp/abc/onetimeprofile ", "trailing space"),
]


@pytest.fixture
def kakao_only(settings):
    settings.KAKAO_OTP_HOSTS = ["talk-plugin.kakao.com"]
    settings.KAKAO_ALLOW_HTTP = False
    settings.KAKAO_IMAGE_HOSTS = ["*.kakaocdn.net"]


@pytest.mark.parametrize("url,why", REFUSED, ids=[w for _, w in REFUSED])
def test_validator_refuses(kakao_only, url, why):
    with pytest.raises(otp.UrlRefused):
        otp.validate_otp_url(url, "onetimeprofile")


def test_validator_accepts_kakao_and_rebuilds(kakao_only):
    safe = otp.validate_otp_url("HTTPS://Talk-Plugin.Kakao.com/otp/5fcf3cfe00a6950dc026b/onetimeprofile", "onetimeprofile")
    assert safe.url() == "https://talk-plugin.kakao.com/otp/5fcf3cfe00a6950dc026b/onetimeprofile"
    assert otp.validate_otp_url("https://talk-plugin.kakao.com:443/otp/x/secure_image", "secure_image")


def test_ip_literal_only_when_named_exactly(settings):
    settings.KAKAO_OTP_HOSTS = ["127.0.0.1:8701"]
    settings.KAKAO_ALLOW_HTTP = True
    assert otp.validate_otp_url("http://127.0.0.1:8701/otp/t/onetimeprofile", "onetimeprofile")
    for url in ("http://127.0.0.1/otp/t/onetimeprofile", "http://127.0.0.2:8701/otp/t/onetimeprofile", "http://localhost:8701/otp/t/onetimeprofile"):
        with pytest.raises(otp.UrlRefused):
            otp.validate_otp_url(url, "onetimeprofile")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [u for u, _ in REFUSED if not u.startswith("//")] + [None, 42, ""],
)
def test_refused_callback_is_400_stored_and_nothing_leaves(client, plugin_base, kakao_only, django_capture_on_commit_callbacks, url):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:  # any request would fail loudly
        with django_capture_on_commit_callbacks(execute=True) as queued:
            r = post_callback(client, plugin_base, "onetimeprofile", url)
        assert mock.calls == [] or len(mock.calls) == 0
    assert r.status_code == 400
    assert r.json()["status"] == 400 and r.json()["message"]
    event = CallbackEvent.objects.get()
    assert event.status == CallbackEvent.Status.REJECTED
    assert event.last_error and event.attempts == 0
    assert queued == []  # no fetch was even queued


@pytest.mark.django_db
def test_refused_callback_makes_no_request_to_the_fake(client, plugin_base, fake_kakao, settings, django_capture_on_commit_callbacks):
    host = fake_kakao.url.split("://")[1]
    bad = [
        f"https://{host}/otp/t/onetimeprofile".replace("https", "ftp"),
        f"http://{host}@evil.example/otp/t/onetimeprofile",
        f"http://{host}/otp/t/current_location",
        f"http://{host}/otp/t/onetimeprofile/extra",
    ]
    for url in bad:
        with django_capture_on_commit_callbacks(execute=True):
            assert post_callback(client, plugin_base, "onetimeprofile", url).status_code == 400
    settings.KAKAO_ALLOW_HTTP = False
    with django_capture_on_commit_callbacks(execute=True):
        assert post_callback(client, plugin_base, "onetimeprofile", f"http://{host}/otp/t/onetimeprofile").status_code == 400
    assert fake_kakao.calls() == []
    assert CallbackEvent.objects.filter(status="rejected").count() == 5


@pytest.mark.django_db
def test_not_json_and_missing_otp_are_400_and_stored(client, plugin_base):
    r = post_callback(client, plugin_base, "current_location", None, raw=b"{not json")
    assert r.status_code == 400 and "JSON" in r.json()["message"]
    r = post_callback(client, plugin_base, "current_location", None, raw=b'{"extra": {}}')
    assert r.status_code == 400 and "otp" in r.json()["message"]
    assert list(CallbackEvent.objects.values_list("body", "status")) == [
        ('{"extra": {}}', "rejected"),
        ("{not json", "rejected"),
    ]


def test_redirect_to_another_host_is_not_followed_and_key_never_sent(kakao_only):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{KAKAO}/otp/abc/onetimeprofile", status=302, headers={"Location": "https://evil.example/otp/abc/onetimeprofile"})
        evil = mock.get("https://evil.example/otp/abc/onetimeprofile", json={"nickname": "x"})
        with pytest.raises(otp.FetchError) as info:
            otp.fetch_otp(f"{KAKAO}/otp/abc/onetimeprofile", "onetimeprofile", rest_api_key="SECRET-KEY")
        assert not info.value.temporary
        assert evil.call_count == 0
        assert len(mock.calls) == 1 and "rest_api_key=SECRET-KEY" in mock.calls[0].request.url


def test_redirect_to_look_alike_and_relative_redirects(kakao_only):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{KAKAO}/otp/a/onetimeprofile", status=302, headers={"Location": "https://talk-plugin.kakao.com@evil.example/otp/a/onetimeprofile"})
        mock.get(f"{KAKAO}/otp/b/onetimeprofile", status=307, headers={"Location": "/otp/c/onetimeprofile"})
        mock.get(f"{KAKAO}/otp/c/onetimeprofile", json={"nickname": "same host"})
        with pytest.raises(otp.FetchError):
            otp.fetch_otp(f"{KAKAO}/otp/a/onetimeprofile", "onetimeprofile", rest_api_key="k")
        result = otp.fetch_otp(f"{KAKAO}/otp/b/onetimeprofile", "onetimeprofile", rest_api_key="k")
        assert result.data == {"nickname": "same host"}
        assert [c.request.url.split("?")[0] for c in mock.calls] == [
            f"{KAKAO}/otp/a/onetimeprofile",
            f"{KAKAO}/otp/b/onetimeprofile",
            f"{KAKAO}/otp/c/onetimeprofile",
        ]


def test_location_sends_version_v2(kakao_only):
    with responses.RequestsMock() as mock:
        mock.get(f"{KAKAO}/otp/t/current_location", json={"is_usable_user": False})
        otp.fetch_otp(f"{KAKAO}/otp/t/current_location", "current_location", rest_api_key="k")
        assert "version=v2" in mock.calls[0].request.url


def test_image_hosts(kakao_only):
    assert otp.validate_image_url("http://k.kakaocdn.net/dna/a/img.jpg?x=1").url() == "https://k.kakaocdn.net/dna/a/img.jpg?x=1"
    for url in (
        "https://kakaocdn.net.evil.example/img.jpg",
        "https://k.kakaocdn.net@evil.example/img.jpg",
        "https://evilkakaocdn.net/img.jpg",
        "https://10.0.0.1/img.jpg",
    ):
        with pytest.raises(otp.UrlRefused):
            otp.validate_image_url(url)


def test_image_content_is_checked(kakao_only):
    from fakekakao.kakao import png

    with responses.RequestsMock() as mock:
        mock.get("https://k.kakaocdn.net/a.png", body=png(), content_type="image/png")
        mock.get("https://k.kakaocdn.net/b.png", body=b"<html>hi</html>", content_type="image/png")
        mock.get("https://k.kakaocdn.net/c.png", body=png(), content_type="text/html")
        mock.get("https://k.kakaocdn.net/d.png", body=png() + b"\0" * 5000, content_type="image/png")
        assert otp.fetch_image("https://k.kakaocdn.net/a.png", max_bytes=10_000).content_type == "image/png"
        for url in ("https://k.kakaocdn.net/b.png", "https://k.kakaocdn.net/c.png"):
            with pytest.raises(otp.FetchError):
                otp.fetch_image(url, max_bytes=10_000)
        with pytest.raises(otp.FetchError, match="larger"):
            otp.fetch_image("https://k.kakaocdn.net/d.png", max_bytes=1000)
