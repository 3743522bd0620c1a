"""Merchant API authentication: ``Authorization: Bearer kp_<prefix>_<secret>``, scoped to one app."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from rest_framework import authentication, exceptions, permissions, throttling

from kakaoplugin.models import KakaoApp

from .models import MerchantApiKey
from .services import api_key_authenticate


@dataclass(frozen=True)
class ApiClient:
    """``request.user`` of a merchant API call: the key and the Kakao app it is scoped to."""

    api_key: MerchantApiKey

    is_authenticated = True
    is_anonymous = False

    @property
    def kakao_app(self) -> KakaoApp:
        return self.api_key.kakao_app

    def has_scope(self, scope: str) -> bool:
        return scope in (self.api_key.scopes or [])


class MerchantKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme != self.keyword or not token.strip():
            raise exceptions.AuthenticationFailed("Authorization: Bearer <API key> expected")
        key = api_key_authenticate(plain=token.strip())
        if key is None:
            raise exceptions.AuthenticationFailed("invalid or revoked API key")
        return ApiClient(key), key

    def authenticate_header(self, request):
        return self.keyword


class HasScope(permissions.BasePermission):
    """The view's ``required_scope`` must be among the key's scopes."""

    message = "this API key lacks the scope this endpoint needs"

    def has_permission(self, request, view):
        user = request.user
        if not isinstance(user, ApiClient):
            return False
        scope = getattr(view, "required_scope", None)
        return scope is None or user.has_scope(scope)


class MerchantKeyThrottle(throttling.SimpleRateThrottle):
    """Requests per API key (``MERCHANT_API_RATE``, e.g. ``600/minute``; empty: unlimited), counted in
    the shared cache (Redis) so every web process sees the same count. Over it: a 429 envelope.

    A fixed window counted with the cache's atomic ``incr`` (one small key per key and window), not
    DRF's default list of timestamps: concurrent requests from several processes cannot undercount,
    and a request costs two tiny cache round trips whatever the rate."""

    scope = "merchant_key"

    def get_rate(self):
        return getattr(settings, "MERCHANT_API_RATE", "") or None

    def get_cache_key(self, request, view):
        user = request.user
        if not isinstance(user, ApiClient):
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.api_key.pk}

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.key = f"{ident}_{window}"
        self.window_end = (window + 1) * self.duration
        self.cache.add(self.key, 0, timeout=self.duration + 1)
        try:
            count = self.cache.incr(self.key)
        except ValueError:  # expired between add and incr: this request opens the window again
            self.cache.add(self.key, 1, timeout=self.duration + 1)
            count = 1
        return count <= self.num_requests

    def wait(self):
        return max(0.0, self.window_end - self.timer())
