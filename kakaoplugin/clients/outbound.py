"""Outbound HTTP to URLs someone else chose: the one SSRF guard of the project.

Two kinds of destination (docs/security.md, "Outbound calls"):

- **Kakao's** (OTP URLs, secure-image CDN, :mod:`kakaoplugin.clients.otp`): checked against host
  allowlists; :func:`split_url` and :class:`SafeUrl` below are the parsing they share.
- **Public internet** (merchants' webhook endpoints): :func:`check_public_url` — ``https`` only,
  no user info or odd IP forms, the host resolved and *every* address it resolves to public (no
  private, loopback, link-local, shared, multicast, reserved or unspecified address, IPv4-mapped
  forms included); :func:`post_pinned` then connects to one of those very addresses (TLS still
  verified for, and SNI/Host still sent as, the name), so a second DNS answer cannot redirect the
  call. No redirects are followed, the answer is read up to a small cap within a deadline.

``allow_local`` (the development setting ``WEBHOOK_ALLOW_LOCAL``) lets ``http`` and non-public
addresses through, for a receiver on this machine; everything else (resolution, pinning, caps) stays.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
import urllib.parse
from dataclasses import dataclass

import certifi
import urllib3
from urllib3.util import Timeout

SAFE_URL_CHARS = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no space


class UrlRefused(ValueError):
    """A URL we will not call (the message says why; it never contains our key)."""


class OutboundError(Exception):
    """A call that failed on the way (connection, TLS, timeout): worth retrying."""


@dataclass(frozen=True)
class SafeUrl:
    scheme: str
    host: str  # lower case, IDNA-free ASCII
    port: int | None
    path: str
    query: str
    fragment: str = ""

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else (443 if self.scheme == "https" else 80)

    def url(self) -> str:
        return urllib.parse.urlunsplit((self.scheme, self.netloc, self.path, self.query, self.fragment))


def split_url(url: str, *, allow_fragment: bool = False) -> tuple[str, str, int | None, str, str]:
    """``(scheme, host, port, path, query)`` of a URL with nothing ambiguous in it, or UrlRefused."""
    if not isinstance(url, str) or not url:
        raise UrlRefused("not a URL")
    if len(url) > 2048:
        raise UrlRefused("URL too long")
    if not SAFE_URL_CHARS.match(url):
        raise UrlRefused("URL has spaces, control or non-ASCII characters")
    if "\\" in url:
        raise UrlRefused("URL has a backslash")
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if parts.fragment and not allow_fragment:
        raise UrlRefused("URL has a fragment")
    netloc = parts.netloc
    if not netloc:
        raise UrlRefused("URL has no host")
    if "@" in netloc or parts.username is not None or parts.password is not None:
        raise UrlRefused("URL has user info (a look-alike of an allowed host)")
    if "%" in netloc:
        raise UrlRefused("URL host is percent-encoded")
    try:
        port = parts.port
    except ValueError as exc:
        raise UrlRefused("URL port is not a number") from exc
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise UrlRefused("URL has no host")
    return scheme, host, port, parts.path, parts.query


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    # Forms getaddrinfo would still read as IPv4: decimal, octal, hex and short forms (0x7f.1).
    labels = host.split(".")
    return 1 <= len(labels) <= 4 and all(re.fullmatch(r"0x[0-9a-f]*|[0-9]+", label) for label in labels)


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Reachable on the public internet: not ours, not anybody's local network."""
    if address.version == 6:
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return is_public_address(mapped)
        if address.teredo is not None:
            return is_public_address(address.teredo[1])
    return address.is_global and not (
        address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
        or address.is_reserved or address.is_unspecified
    )  # fmt: skip


def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlRefused(f"host {host} does not resolve") from exc
    seen: list = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if address not in seen:
            seen.append(address)
    if not seen:
        raise UrlRefused(f"host {host} does not resolve")
    return seen


@dataclass(frozen=True)
class CheckedUrl:
    url: SafeUrl
    addresses: tuple  # the resolved addresses, all checked: connect only to these


def check_public_url(url: str, *, allow_local: bool) -> CheckedUrl:
    """The URL and the addresses it may be called at, or UrlRefused saying why."""
    scheme, host, port, path, query = split_url(url)
    if scheme != "https" and not (scheme == "http" and allow_local):
        raise UrlRefused(f"scheme {scheme or '(none)'} not allowed (https only)")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
        if is_ip_literal(host):
            raise UrlRefused(f"{host} is an address in an unusual form") from None
    safe = SafeUrl(scheme, host, port, path or "/", query)
    addresses = [literal] if literal is not None else resolve(host, safe.effective_port)
    if not allow_local:
        for address in addresses:
            if not is_public_address(address):
                raise UrlRefused(f"host {host} is a private, loopback, link-local or reserved address ({address})")
    return CheckedUrl(safe, tuple(addresses))


@dataclass(frozen=True)
class Answer:
    status: int
    head: bytes  # at most max_bytes of the body


def post_pinned(
    checked: CheckedUrl, *, body: bytes, headers: dict[str, str], timeout: float, max_bytes: int,
    ca_certs: str | None = None,
) -> Answer:
    """POST to the checked address (TLS verified for the host name), read at most ``max_bytes``.

    Tries each checked address in turn until one connects. Raises :class:`OutboundError`.
    ``ca_certs``: the CA bundle (default certifi's, as requests uses)."""
    safe = checked.url
    target = urllib.parse.urlunsplit(("", "", safe.path, safe.query, ""))
    deadline = time.monotonic() + timeout * 2
    last: Exception | None = None
    for address in checked.addresses:
        pool = _pool(safe, str(address), timeout, ca_certs or certifi.where())
        try:
            response = pool.urlopen(
                "POST", target, body=body, headers={**headers, "Host": safe.netloc},
                redirect=False, retries=False, preload_content=False, assert_same_host=False,
            )  # fmt: skip
        except urllib3.exceptions.HTTPError as exc:
            pool.close()
            last = exc
            if isinstance(exc, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError):
                continue  # the next address
            raise OutboundError(f"{exc.__class__.__name__} calling {safe.host}") from exc
        try:
            head = bytearray()
            while len(head) < max_bytes and time.monotonic() < deadline:
                chunk = response.read(min(1024, max_bytes - len(head)))
                if not chunk:
                    break
                head += chunk
            return Answer(response.status, bytes(head))
        except urllib3.exceptions.HTTPError as exc:
            raise OutboundError(f"{exc.__class__.__name__} reading from {safe.host}") from exc
        finally:
            response.close()  # the rest of the answer is never read
            pool.close()
    raise OutboundError(f"could not connect to {safe.host}: {last.__class__.__name__}") from last


def _pool(safe: SafeUrl, address: str, timeout: float, ca_certs: str) -> urllib3.HTTPConnectionPool:
    limits = Timeout(connect=timeout, read=timeout)
    if safe.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address, safe.effective_port, timeout=limits, retries=False, maxsize=1,
            cert_reqs="CERT_REQUIRED", ca_certs=ca_certs,
            server_hostname=safe.host, assert_hostname=safe.host,
        )  # fmt: skip
    return urllib3.HTTPConnectionPool(address, safe.effective_port, timeout=limits, retries=False, maxsize=1)
