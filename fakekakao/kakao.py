"""Fake Kakao: plugin OTP URLs, a secure-image CDN, and Kakao Login (for Kakao Sync).

Seed through control routes (JSON), then let the project call the Kakao-shaped routes:

- ``POST /fake/otp`` ``{"kind": "onetimeprofile|current_location|secure_image", "data": {...},
  "rest_api_key": "...", "single_use": false, "images": 2, "expire_in": 600}`` →
  ``{"token", "url"}``. ``images: n`` (secure_image) puts n generated PNGs on the CDN, with the
  three sizes each, and answers ``secure_urls`` and ``expire`` (``expire_in`` seconds from now;
  negative: already expired) unless ``data`` gives them.
- ``GET /otp/<token>/<kind>?rest_api_key=...[&version=v2]`` (op ``otp``): 401 for a wrong key,
  404 for an unknown (or used single-use) token, the v1 shape for a location without ``version=v2``.
- ``POST /fake/cdn`` ``{"content_type": "image/png", "body_b64": "...", "size": 1234}`` → ``{"url"}``;
  ``GET /cdn/<name>/<file>`` (op ``cdn``) serves it, 403 once its ``expires`` passed.
- ``POST /fake/kakao_login/user`` ``{"id": 123, "kakao_account": {...}, "service_terms": [...],
  "client_id": "...", "client_secret": "...", "redirect_uri": "..."}`` → ``{"code"}`` (a new code each
  call). ``POST /oauth/token`` (op ``oauth_token``), ``GET /v2/user/me`` (op ``user_me``),
  ``GET /v2/user/service_terms`` (op ``service_terms``), ``GET /v1/user/service/terms``
  (op ``service_terms_v1``): a used or unknown code is ``invalid_grant`` / KOE320.

Faults (``POST /__fake__/faults``) for every op above: ``error500``, ``status`` (with ``status`` and
``body``), ``delay`` (``delay`` seconds, then the normal answer), ``lost`` (connection closed),
``redirect`` (302 to ``location``), ``body`` (200 with ``body``), ``content_type`` (CDN: serve with
that ``content_type``). ``match`` may name ``token`` or ``kind`` for the OTP op.
"""

from __future__ import annotations

import base64
import secrets
import struct
import time
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from .server import FakeState, Request, Response, drop_connection, route

NS = "kakao"


def _ns(state: FakeState) -> dict:
    ns = state.ns(NS)
    for key in ("otps", "cdn", "users", "codes", "tokens"):
        ns.setdefault(key, {})
    return ns


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (254, 229, 0)) -> bytes:
    """A small valid PNG (Kakao yellow by default)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _common_fault(fault: dict | None) -> Response | None:
    if fault is None:
        return None
    kind = fault.get("kind")
    if kind == "error500":
        return Response(500, {"code": -500, "msg": "internal error (fault)"})
    if kind == "status":
        return Response(int(fault.get("status", 500)), fault.get("body") or {"msg": "fault"})
    if kind == "delay":
        time.sleep(float(fault.get("delay", 1.0)))
        return None
    if kind == "lost":
        drop_connection()
    if kind == "redirect":
        return Response(302, b"", headers={"Location": fault.get("location", "")}, content_type="text/plain")
    if kind == "body":
        body = fault.get("body")
        return Response(200, body.encode() if isinstance(body, str) else body)
    return None


# --- control: seeding ---------------------------------------------------------------------------


def _cdn_put(state: FakeState, base_url: str, name: str, body: bytes, content_type: str, expires_at: float) -> str:
    _ns(state)["cdn"][name] = {"body": body, "content_type": content_type, "expires_at": expires_at}
    ms = int(expires_at * 1000)
    return f"{base_url}/cdn/{name}/img.png?credential=fake&expires={ms}&signature={secrets.token_hex(8)}"


@route("POST", r"/fake/otp", "fake_seed_otp")
def seed_otp(state: FakeState, req: Request) -> Response:
    kind = req.params.get("kind")
    if kind not in ("onetimeprofile", "current_location", "secure_image"):
        return Response(400, {"error": "kind must be onetimeprofile, current_location or secure_image"})
    token = secrets.token_hex(12)
    data = dict(req.params.get("data") or {})
    if kind == "secure_image" and "secure_urls" not in data:
        expires_at = time.time() + float(req.params.get("expire_in", 600))
        urls = []
        for i in range(int(req.params.get("images", 1))):
            entry = {}
            for n, size in enumerate(("original", "img_1m", "img_3m")):
                body = png(8 + n, 8 + n, (40 * i % 256, 120, 200 - 10 * n))
                entry[size] = _cdn_put(state, req.base_url, f"{token}-{i}-{size}", body, "image/png", expires_at)
            urls.append(entry)
        data["secure_urls"] = urls
        data.setdefault("expire", _iso(expires_at))
    with state.lock:
        _ns(state)["otps"][token] = {
            "kind": kind,
            "data": data,
            "rest_api_key": req.params.get("rest_api_key"),
            "single_use": bool(req.params.get("single_use", False)),
            "used": 0,
            "v1_data": req.params.get("v1_data"),
        }
    return Response(200, {"token": token, "url": f"{req.base_url}/otp/{token}/{kind}"})


@route("POST", r"/fake/cdn", "fake_seed_cdn")
def seed_cdn(state: FakeState, req: Request) -> Response:
    if req.params.get("body_b64"):
        body = base64.b64decode(req.params["body_b64"])
    else:
        body = png()
        if req.params.get("size"):
            body = body + b"\x00" * max(0, int(req.params["size"]) - len(body))
    name = secrets.token_hex(8)
    expires_at = time.time() + float(req.params.get("expire_in", 600))
    with state.lock:
        url = _cdn_put(state, req.base_url, name, body, req.params.get("content_type", "image/png"), expires_at)
    return Response(200, {"url": url, "expires_at": _iso(expires_at)})


@route("POST", r"/fake/kakao_login/user", "fake_seed_user")
def seed_user(state: FakeState, req: Request) -> Response:
    user_id = req.params.get("id") or int(time.time() * 1000) % 10**10
    code = secrets.token_urlsafe(24)
    with state.lock:
        ns = _ns(state)
        ns["users"][str(user_id)] = {
            "id": user_id,
            "kakao_account": req.params.get("kakao_account") or {},
            "service_terms": req.params.get("service_terms") or [],
        }
        ns["codes"][code] = {
            "user_id": str(user_id),
            "used": False,
            "client_id": req.params.get("client_id"),
            "client_secret": req.params.get("client_secret"),
            "redirect_uri": req.params.get("redirect_uri"),
        }
    return Response(200, {"code": code, "id": user_id})


# --- the plugin OTP URLs ------------------------------------------------------------------------


def _location_v1(data: dict) -> dict:
    """The deprecated v1 shape (what Kakao answers without version=v2)."""
    land = data.get("land_address") or {}
    return {
        "latitude": data.get("latitude"),
        "longitude": data.get("longitude"),
        "address": land.get("address_name"),
        "zip_code": "463400",
    }


@route("GET", r"/otp/(?P<token>[^/]+)/(?P<kind>onetimeprofile|current_location|secure_image)", "otp")
def otp(state: FakeState, req: Request) -> Response:
    token, kind = req.match["token"], req.match["kind"]
    failed = _common_fault(state.take_fault("otp", {**req.params, "token": token, "kind": kind}))
    if failed is not None:
        return failed
    with state.lock:
        entry = _ns(state)["otps"].get(token)
        if entry is None or entry["kind"] != kind or (entry["single_use"] and entry["used"]):
            return Response(404, {"code": -404, "msg": "otp not found or expired"})
        expected = entry["rest_api_key"]
        key = req.query.get("rest_api_key")
        if not key or (expected and key != expected):
            return Response(401, {"code": -401, "msg": "invalid rest_api_key"})
        entry["used"] += 1
        data = entry["data"]
        if kind == "current_location" and req.query.get("version") != "v2":
            data = entry["v1_data"] or _location_v1(data)
    return Response(200, data)


@route("GET", r"/cdn/(?P<name>[^/]+)/(?P<file>[^/]+)", "cdn")
def cdn(state: FakeState, req: Request) -> Response:
    fault = state.take_fault("cdn", {**req.params, "name": req.match["name"]})
    content_type = None
    if fault is not None and fault.get("kind") == "content_type":
        content_type = fault.get("content_type", "text/html")
    else:
        failed = _common_fault(fault)
        if failed is not None:
            return failed
    with state.lock:
        item = _ns(state)["cdn"].get(req.match["name"])
    if item is None:
        return Response(404, b"not found", content_type="text/plain")
    if time.time() > item["expires_at"]:
        return Response(403, b"expired", content_type="text/plain")
    return Response(200, item["body"], content_type=content_type or item["content_type"])


# --- Kakao Login --------------------------------------------------------------------------------


def _token_error(status: int, error: str, code: str, description: str) -> Response:
    return Response(status, {"error": error, "error_description": description, "error_code": code})


@route("POST", r"/oauth/token", "oauth_token")
def oauth_token(state: FakeState, req: Request) -> Response:
    failed = _common_fault(state.take_fault("oauth_token", req.params))
    if failed is not None:
        return failed
    p = req.params
    if p.get("grant_type") != "authorization_code":
        return _token_error(400, "unsupported_grant_type", "KOE310", "grant_type must be authorization_code")
    with state.lock:
        ns = _ns(state)
        entry = ns["codes"].get(p.get("code") or "")
        if entry is None or entry["used"]:
            return _token_error(400, "invalid_grant", "KOE320", f"authorization code not found for code={p.get('code')}")
        if entry["client_id"] and p.get("client_id") != entry["client_id"]:
            return _token_error(401, "invalid_client", "KOE101", "invalid client_id")
        if entry["client_secret"] and p.get("client_secret") != entry["client_secret"]:
            return _token_error(401, "invalid_client", "KOE010", "Bad client credentials")
        if entry["redirect_uri"] and p.get("redirect_uri") != entry["redirect_uri"]:
            return _token_error(400, "invalid_grant", "KOE303", "Redirect URI mismatch.")
        entry["used"] = True
        token = secrets.token_urlsafe(32)
        ns["tokens"][token] = entry["user_id"]
    return Response(
        200,
        {
            "access_token": token,
            "token_type": "bearer",
            "refresh_token": secrets.token_urlsafe(32),
            "expires_in": 21599,
            "scope": "account_email profile",
            "refresh_token_expires_in": 5183999,
        },
    )


def _user_for(state: FakeState, req: Request) -> dict | None:
    auth = req.headers.get("Authorization") or req.headers.get("authorization") or ""
    if not auth.startswith("Bearer "):
        return None
    with state.lock:
        ns = _ns(state)
        user_id = ns["tokens"].get(auth[len("Bearer ") :])
        return ns["users"].get(user_id) if user_id else None


def _unauthorized() -> Response:
    return Response(401, {"msg": "this access token does not exist", "code": -401})


def _authorized_user(state: FakeState, req: Request, op: str) -> tuple[dict | None, Response | None]:
    """An armed fault's answer, or the bearer token's user (401 when there is none)."""
    failed = _common_fault(state.take_fault(op, req.params))
    if failed is not None:
        return None, failed
    user = _user_for(state, req)
    return (user, None) if user is not None else (None, _unauthorized())


@route("GET", r"/v2/user/me", "user_me")
def user_me(state: FakeState, req: Request) -> Response:
    user, refused = _authorized_user(state, req, "user_me")
    if refused is not None:
        return refused
    return Response(200, {"id": user["id"], "connected_at": _iso(time.time()), "kakao_account": user["kakao_account"]})


@route("GET", r"/v2/user/service_terms", "service_terms")
def service_terms(state: FakeState, req: Request) -> Response:
    user, refused = _authorized_user(state, req, "service_terms")
    if refused is not None:
        return refused
    terms = [
        {"tag": t["tag"], "required": t.get("required", False), "agreed": t.get("agreed", True),
         "revocable": t.get("revocable", False), "agreed_at": t.get("agreed_at") or _iso(time.time())}
        for t in user["service_terms"]
    ]  # fmt: skip
    return Response(200, {"id": user["id"], "service_terms": terms})


@route("GET", r"/v1/user/service/terms", "service_terms_v1")
def service_terms_v1(state: FakeState, req: Request) -> Response:
    user, refused = _authorized_user(state, req, "service_terms_v1")
    if refused is not None:
        return refused
    allowed = [
        {"tag": t["tag"], "agreed_at": t.get("agreed_at") or _iso(time.time())}
        for t in user["service_terms"]
        if t.get("agreed", True)
    ]
    return Response(200, {"user_id": user["id"], "allowed_service_terms": allowed})


# --- a client for tests, the demo and the simulator ---------------------------------------------


def seed_otp_url(base_url: str, kind: str, data: dict[str, Any] | None = None, **options: Any) -> str:
    """Seed an OTP on the fake at ``base_url``; the URL Kakao would POST to our callback."""
    import requests

    r = requests.post(f"{base_url.rstrip('/')}/fake/otp", json={"kind": kind, "data": data or {}, **options}, timeout=5)
    r.raise_for_status()
    return r.json()["url"]


def seed_kakao_user(base_url: str, **user: Any) -> str:
    """Seed a Kakao Login user; returns a fresh authorization code for them."""
    import requests

    r = requests.post(f"{base_url.rstrip('/')}/fake/kakao_login/user", json=user, timeout=5)
    r.raise_for_status()
    return r.json()["code"]


def expired_iso(seconds_ago: float = 60) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
