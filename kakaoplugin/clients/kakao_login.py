"""HTTP client for Kakao Login, as Kakao Sync's plugin redirect needs it (CONTRACTS section 2).

- ``exchange_code``: ``POST {KAKAO_AUTH_BASE}/oauth/token`` (form) → access token;
- ``user_me``: ``GET {KAKAO_API_BASE}/v2/user/me``;
- ``service_terms``: ``GET {KAKAO_API_BASE}/v2/user/service_terms``, falling back to v1
  ``/v1/user/service/terms`` when v2 is not there; both shapes parse to ``[(tag, agreed_at)]``.

Bases come from settings (operators configure them; they are not untrusted input) and redirects
are not followed, so the access token and client secret only go to those bases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings


class KakaoLoginError(Exception):
    """Kakao refused or could not be reached. ``error_code`` is Kakao's (e.g. KOE320), if any."""

    def __init__(self, message: str, *, http_status: int | None = None, error: str = "", error_code: str = ""):
        super().__init__(message)
        self.http_status = http_status
        self.error = error
        self.error_code = error_code

    @property
    def bad_code(self) -> bool:
        """The authorization code is invalid, expired or already used (the user must retry)."""
        return self.error == "invalid_grant" or self.error_code in ("KOE320", "KOE319")


@dataclass(frozen=True)
class Token:
    access_token: str
    token_type: str
    scope: str


@dataclass(frozen=True)
class AgreedTerm:
    tag: str
    agreed_at: str | None


def _call(method: str, url: str, **kwargs) -> dict[str, Any]:
    try:
        resp = requests.request(method, url, timeout=settings.KAKAO_HTTP_TIMEOUT, allow_redirects=False, **kwargs)
    except requests.RequestException as exc:
        raise KakaoLoginError(f"Kakao Login unreachable: {type(exc).__name__}") from exc
    try:
        data = resp.json()
    except ValueError:
        data = None
    if resp.status_code >= 300 or not isinstance(data, dict):
        data = data if isinstance(data, dict) else {}
        message = data.get("error_description") or data.get("msg") or f"HTTP {resp.status_code}"
        raise KakaoLoginError(
            str(message),
            http_status=resp.status_code,
            error=str(data.get("error") or ""),
            error_code=str(data.get("error_code") or data.get("code") or ""),
        )
    return data


def exchange_code(*, rest_api_key: str, code: str, redirect_uri: str, client_secret: str = "") -> Token:
    form = {
        "grant_type": "authorization_code",
        "client_id": rest_api_key,
        "redirect_uri": redirect_uri,
        "code": code,
    }
    if client_secret:
        form["client_secret"] = str(client_secret)
    data = _call(
        "POST",
        f"{settings.KAKAO_AUTH_BASE.rstrip('/')}/oauth/token",
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
    )
    token = data.get("access_token")
    if not isinstance(token, str) or not token:
        raise KakaoLoginError("Kakao answered without an access token")
    return Token(access_token=token, token_type=str(data.get("token_type") or "bearer"), scope=str(data.get("scope") or ""))


def _bearer(token: Token) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.access_token}"}


def user_me(token: Token) -> dict[str, Any]:
    data = _call("GET", f"{settings.KAKAO_API_BASE.rstrip('/')}/v2/user/me", headers=_bearer(token))
    if data.get("id") in (None, ""):
        raise KakaoLoginError("Kakao's user answer has no id")
    return data


def parse_service_terms(data: dict[str, Any]) -> list[AgreedTerm]:
    """Agreed terms from either answer: v2 ``service_terms`` [{tag, agreed, agreed_at}] or
    v1 ``allowed_service_terms`` [{tag, agreed_at}] (every listed term is agreed)."""
    terms: list[AgreedTerm] = []
    if isinstance(data.get("service_terms"), list):
        for item in data["service_terms"]:
            if isinstance(item, dict) and item.get("tag") and item.get("agreed", True):
                terms.append(AgreedTerm(str(item["tag"]), item.get("agreed_at")))
    elif isinstance(data.get("allowed_service_terms"), list):
        for item in data["allowed_service_terms"]:
            if isinstance(item, dict) and item.get("tag"):
                terms.append(AgreedTerm(str(item["tag"]), item.get("agreed_at")))
    return terms


def service_terms(token: Token) -> list[AgreedTerm]:
    base = settings.KAKAO_API_BASE.rstrip("/")
    try:
        data = _call("GET", f"{base}/v2/user/service_terms", headers=_bearer(token))
    except KakaoLoginError as exc:
        if exc.http_status != 404:
            raise
        data = _call("GET", f"{base}/v1/user/service/terms", headers=_bearer(token))
    return parse_service_terms(data)
