"""Logins and rate limits (issue 11): failed admin logins lock the username out from that address
(django-axes); merchant API keys are rate limited per key, answering a 429 envelope."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.support.merchant import Api, key_for

pytestmark = pytest.mark.django_db

PASSWORD = "right-pw-0123456789"


def login(client: Client, username: str, password: str, address: str = "198.51.100.7"):
    return client.post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def logged_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


def test_failed_admin_logins_lock_the_username_out_from_that_address(settings):
    settings.AXES_FAILURE_LIMIT = 3
    User.objects.create_user("owner", password=PASSWORD, is_staff=True)
    attacker = Client()
    for _ in range(2):
        r = login(attacker, "owner", "guess")
        assert r.status_code == 200 and not logged_in(attacker)  # the form again, with its error
    r = login(attacker, "owner", "guess")  # the third failure locks
    assert r.status_code == 429
    # now even the right password is refused from that address, and nobody is logged in
    r = login(attacker, "owner", PASSWORD)
    assert r.status_code == 429 and not logged_in(attacker)

    # the owner from another address still gets in (a lockout is per username and address)
    owner = Client()
    r = login(owner, "owner", PASSWORD, address="203.0.113.9")
    assert r.status_code == 302 and logged_in(owner)


def test_a_successful_login_resets_the_failure_count(settings):
    settings.AXES_FAILURE_LIMIT = 3
    User.objects.create_user("clerk", password=PASSWORD, is_staff=True)
    client = Client()
    for _ in range(2):
        login(client, "clerk", "typo")
    assert login(client, "clerk", PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        assert login(client, "clerk", "typo").status_code == 200
    assert login(client, "clerk", PASSWORD).status_code == 302


def test_merchant_api_keys_are_rate_limited_per_key_with_a_429_envelope(settings, kakao_app):
    settings.MERCHANT_API_RATE = "3/hour"  # an hour: the test never straddles a window
    busy = Api(key_for(kakao_app, "orders"))
    for _ in range(3):
        assert busy.get("orders").status_code == 200
    r = busy.get("orders")
    assert r.status_code == 429
    assert r.json()["status"] == 429 and "too many requests" in r.json()["message"]
    assert 1 <= int(r["Retry-After"]) <= 3600
    # another key of the same app is counted apart
    assert Api(key_for(kakao_app, "orders")).get("orders").status_code == 200
    # no key at all is still a 401, not a 429
    assert Api(None).get("orders").status_code == 401


def test_the_rate_limit_is_counted_in_the_shared_cache(settings, kakao_app):
    """Every web process sees the same count: it lives in the default cache (Redis when CACHE_URL is set)."""
    from django.core.cache import cache

    from merchant.authentication import MerchantKeyThrottle
    from merchant.services import api_key_create

    settings.MERCHANT_API_RATE = "2/hour"
    key, plain = api_key_create(kakao_app=kakao_app, name="erp", scopes=["orders"])
    api = Api(plain)
    api.get("orders")
    api.get("orders")
    throttle = MerchantKeyThrottle()
    assert throttle.cache is cache
    window = int(throttle.timer() // 3600)
    counted = f"{throttle.cache_format % {'scope': throttle.scope, 'ident': key.pk}}_{window}"
    assert cache.get(counted) == 2  # what another process reads and increments
    assert api.get("orders").status_code == 429
    cache.delete(counted)  # as if the hour had passed
    assert api.get("orders").status_code == 200


def test_an_empty_rate_means_unlimited(settings, kakao_app):
    settings.MERCHANT_API_RATE = ""
    api = Api(key_for(kakao_app, "orders"))
    assert all(api.get("orders").status_code == 200 for _ in range(5))
