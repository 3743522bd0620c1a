"""HTTP client for the plugins' OTP URLs and the secure-image CDN (CONTRACTS sections 1, 3, 4).

OTP URLs arrive in callbacks that anyone who knows a plugin URL can send, so they are untrusted:

- only ``https`` (``http`` only when ``KAKAO_ALLOW_HTTP``), no user info, no backslashes, no
  whitespace or non-ASCII, an exact host (and port) from ``KAKAO_OTP_HOSTS``, IP literals only
  when an allowlist entry is that very literal, and the path ``/otp/<token>/<kind>`` whose kind
  matches the endpoint it came to;
- the request is rebuilt from the validated parts (what is checked is what is sent: no parser
  differential between this module and urllib3 can redirect it);
- redirects are never followed automatically: a ``Location`` is validated like the URL itself,
  at most a few hops, so our REST API key only ever goes to an allowlisted host.

Image URLs are checked against ``KAKAO_IMAGE_HOSTS`` (``*.kakaocdn.net`` style wildcards), fetched
without our key, size-capped while streaming, and their type checked by header and magic bytes.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

import orjson
import requests
from django.conf import settings

# The URL parsing is the project's one SSRF guard's (shared with the webhooks' public-URL check).
from .outbound import SafeUrl, UrlRefused
from .outbound import is_ip_literal as _is_ip_literal
from .outbound import split_url as _split

__all__ = [
    "OTP_KINDS", "FetchError", "ImageResult", "OtpResult", "SafeUrl", "UrlRefused", "fetch_image", "fetch_otp",
    "otp_token", "validate_image_url", "validate_otp_url", "validate_url_on_hosts",
]  # fmt: skip

OTP_KINDS = ("onetimeprofile", "current_location", "secure_image")
TOKEN_RE = re.compile(r"^[A-Za-z0-9_\-]{1,200}$")
MAX_REDIRECTS = 3
MAX_OTP_BYTES = 1024 * 1024

IMAGE_TYPES = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "image/heif": ".heif",
}


class FetchError(Exception):
    """A call that failed. ``temporary``: worth retrying (timeouts, 5xx, 429, lost connections)."""

    def __init__(self, message: str, *, temporary: bool, http_status: int | None = None):
        super().__init__(message)
        self.temporary = temporary
        self.http_status = http_status


@dataclass(frozen=True)
class OtpResult:
    url: str  # the URL finally answered, without our key
    status: int
    data: dict[str, Any]
    raw: bytes


def _entry(entry: str) -> tuple[str, int | None]:
    entry = entry.strip().lower().rstrip(".")
    if entry.startswith("["):  # [::1]:8701
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    if entry.count(":") == 1:
        host, port = entry.split(":")
        return host, int(port)
    return entry, None


def _host_allowed(host: str, port: int | None, scheme: str, allowlist: list[str]) -> bool:
    default_port = 443 if scheme == "https" else 80
    effective = port if port is not None else default_port
    for raw in allowlist:
        if not raw or not raw.strip():
            continue
        allowed_host, allowed_port = _entry(raw)
        if allowed_port is None:
            if effective != default_port:
                continue
        elif effective != allowed_port:
            continue
        if allowed_host.startswith("*."):
            suffix = allowed_host[1:]  # ".kakaocdn.net"
            if host.endswith(suffix) and len(host) > len(suffix) and not _is_ip_literal(host):
                return True
        elif host == allowed_host:
            return True  # an IP literal passes only when the allowlist names that literal
    return False


def _check_scheme(scheme: str) -> None:
    if scheme == "https":
        return
    if scheme == "http" and settings.KAKAO_ALLOW_HTTP:
        return
    raise UrlRefused(f"scheme {scheme or '(none)'} not allowed (https only)")


def validate_otp_url(url: str, kind: str) -> SafeUrl:
    """The OTP URL as a :class:`SafeUrl`, or :class:`UrlRefused` saying why."""
    if kind not in OTP_KINDS:
        raise ValueError(f"unknown OTP kind {kind}")
    scheme, host, port, path, query = _split(url)
    _check_scheme(scheme)
    if not _host_allowed(host, port, scheme, list(settings.KAKAO_OTP_HOSTS)):
        if _is_ip_literal(host):
            raise UrlRefused("IP literal hosts are not allowed")
        raise UrlRefused(f"host {host} is not an allowed OTP host")
    segments = path.split("/")
    if len(segments) != 4 or segments[0] != "" or segments[1] != "otp" or not TOKEN_RE.match(segments[2]):
        raise UrlRefused("path is not /otp/<token>/<kind>")
    if segments[3] != kind:
        raise UrlRefused(f"path kind {segments[3]!r} does not match this callback ({kind})")
    return SafeUrl(scheme, host, port, path, query)


def otp_token(safe: SafeUrl) -> str:
    return safe.path.split("/")[2]


def validate_image_url(url: str) -> SafeUrl:
    """A secure-image CDN URL, or :class:`UrlRefused`.

    The guide's samples give ``http://k.kakaocdn.net/...``: an ``http`` URL on an allowed host is
    upgraded to ``https`` (signed CDN URLs do not sign the scheme) unless ``KAKAO_ALLOW_HTTP``.
    """
    scheme, host, port, path, query = _split(url)
    if scheme == "http" and not settings.KAKAO_ALLOW_HTTP:
        scheme = "https"
        if port == 80:
            port = None
    _check_scheme(scheme)
    if not _host_allowed(host, port, scheme, list(settings.KAKAO_IMAGE_HOSTS)):
        raise UrlRefused(f"host {host} is not an allowed image host")
    return SafeUrl(scheme, host, port, path or "/", query)


def validate_url_on_hosts(url: str, hosts: list[str], *, https_only: bool = True) -> SafeUrl:
    """Any URL on ``hosts`` (entries as in KAKAO_OTP_HOSTS, ``*.`` wildcards allowed)."""
    scheme, host, port, path, query = _split(url, allow_fragment=True)
    if scheme != "https" and (https_only or scheme != "http"):
        raise UrlRefused(f"scheme {scheme or '(none)'} not allowed")
    if not _host_allowed(host, port, scheme, list(hosts)):
        raise UrlRefused(f"host {host} is not allowed")
    return SafeUrl(scheme, host, port, path or "/", query, urllib.parse.urlsplit(url).fragment)


def _get(safe: SafeUrl, params: dict[str, str] | None, revalidate, *, max_bytes: int, session=None):
    """GET with manual redirects (each hop revalidated), streaming with a size cap."""
    http = session or requests
    current = safe
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            resp = http.get(
                current.url(),
                params=params,
                timeout=settings.KAKAO_HTTP_TIMEOUT,
                allow_redirects=False,
                stream=True,
                headers={"Accept": "*/*", "User-Agent": "kakaoplugin-backend"},
            )
        except requests.Timeout as exc:
            raise FetchError(f"timed out calling {current.host}", temporary=True) from exc
        except requests.RequestException as exc:
            raise FetchError(f"connection to {current.host} failed: {type(exc).__name__}", temporary=True) from exc
        if resp.is_redirect or resp.status_code in (301, 302, 303, 307, 308):
            location = resp.headers.get("Location", "")
            resp.close()
            target = urllib.parse.urljoin(current.url(), location)
            try:
                current = revalidate(target)
            except UrlRefused as exc:
                raise FetchError(f"redirect refused: {exc}", temporary=False, http_status=resp.status_code) from exc
            continue
        body = bytearray()
        try:
            for chunk in resp.iter_content(64 * 1024):
                body += chunk
                if len(body) > max_bytes:
                    raise FetchError(f"response larger than {max_bytes} bytes", temporary=False)
        except requests.RequestException as exc:
            raise FetchError(f"reading from {current.host} failed: {type(exc).__name__}", temporary=True) from exc
        finally:
            resp.close()
        return current, resp, bytes(body)
    raise FetchError("too many redirects", temporary=False)


def _raise_for_status(resp, body: bytes) -> None:
    code = resp.status_code
    if code < 400:
        return
    snippet = body[:200].decode("utf-8", "replace")
    temporary = code >= 500 or code in (408, 425, 429)
    raise FetchError(f"HTTP {code}: {snippet}", temporary=temporary, http_status=code)


def fetch_otp(url: str, kind: str, *, rest_api_key: str, session=None) -> OtpResult:
    """GET an OTP URL with our REST API key (and ``version=v2`` for locations)."""
    safe = validate_otp_url(url, kind)
    params = {"rest_api_key": rest_api_key}
    if kind == "current_location":
        params["version"] = "v2"
    final, resp, body = _get(
        safe, params, lambda target: validate_otp_url(target, kind), max_bytes=MAX_OTP_BYTES, session=session
    )
    _raise_for_status(resp, body)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FetchError("OTP answer is not JSON", temporary=False, http_status=resp.status_code) from exc
    if not isinstance(data, dict):
        raise FetchError("OTP answer is not a JSON object", temporary=False, http_status=resp.status_code)
    return OtpResult(url=final.url(), status=resp.status_code, data=data, raw=body)


def _sniff(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heif", b"hevc"):
        return "image/heic"
    return None


@dataclass(frozen=True)
class ImageResult:
    content: bytes
    content_type: str
    extension: str


def fetch_image(url: str, *, max_bytes: int, session=None) -> ImageResult:
    """Download one secure image: allowed host, size cap, an image by header and by content."""
    safe = validate_image_url(url)
    _final, resp, body = _get(safe, None, validate_image_url, max_bytes=max_bytes, session=session)
    _raise_for_status(resp, body)
    declared = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
    sniffed = _sniff(body[:16])
    if declared not in IMAGE_TYPES:
        raise FetchError(f"content type {declared or '(none)'} is not an image type", temporary=False)
    if sniffed is None or (sniffed != declared and {sniffed, declared} != {"image/heic", "image/heif"}):
        raise FetchError(f"content is not a {declared} image", temporary=False)
    return ImageResult(content=body, content_type=declared, extension=IMAGE_TYPES[declared])
