"""Forwarded headers are believed only from our own proxies (docs/security.md, "Client addresses").

:func:`kakaoplugin.gate.client_ip` reads ``X-Forwarded-For`` only when the socket's peer is in
``TRUSTED_PROXY_CIDRS``; this middleware extends the rule to every other forwarded header Django
might act on (``X-Forwarded-Proto`` through ``SECURE_PROXY_SSL_HEADER``, ``X-Forwarded-Host``,
``X-Forwarded-Port``, ``Forwarded``): from anyone else they are dropped before any code sees them.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from .gate import ip_allowed, trusted_proxy_networks

FORWARDED_HEADERS = (
    "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_SSL", "HTTP_X_FORWARDED_PROTOCOL", "HTTP_X_REAL_IP", "HTTP_FORWARDED",
)  # fmt: skip


class UntrustedForwardedHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        if any(name in meta for name in FORWARDED_HEADERS):
            proxies = trusted_proxy_networks()
            if not proxies or not ip_allowed(meta.get("REMOTE_ADDR", ""), proxies):
                for name in FORWARDED_HEADERS:
                    meta.pop(name, None)
        return self.get_response(request)
