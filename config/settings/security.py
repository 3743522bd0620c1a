"""Production behind a TLS-terminating proxy, the proxies we believe, admin logins, request limits."""

from __future__ import annotations

import ipaddress

from django.core.exceptions import ImproperlyConfigured

from .base import DEBUG, env

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

# Our reverse proxies (comma-separated addresses/CIDRs): X-Forwarded-For is believed only when the
# socket peer is one of them, walked from the right past them (default none: the socket address).
# The same list is gunicorn's forwarded_allow_ips (gunicorn.conf.py).
TRUSTED_PROXY_CIDRS = env.list("TRUSTED_PROXY_CIDRS", default=[])
for _cidr in TRUSTED_PROXY_CIDRS:
    try:
        ipaddress.ip_network(_cidr.strip())
    except ValueError as _exc:
        raise ImproperlyConfigured(f"TRUSTED_PROXY_CIDRS: {_cidr!r} is not an address or network") from _exc

# --- admin logins: throttled by django-axes (installed and its middleware added in base.py) ---
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out username/address before any check
    "django.contrib.auth.backends.ModelBackend",
]
# After ADMIN_LOGIN_FAILURE_LIMIT failed logins of one username from one address, that pair is locked
# out for ADMIN_LOGIN_COOLOFF_MINUTES (HTTP 429); a successful login resets the count.
AXES_ENABLED = env.bool("ADMIN_LOGIN_THROTTLE", default=True)
AXES_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("ADMIN_LOGIN_COOLOFF_MINUTES", default=15.0) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "kakaoplugin.gate.client_ip"  # the address rule the plugin gate uses (proxies)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = None
AXES_VERBOSE = False

# --- request limits (docs/security.md "Input limits") ----------------------------------------------
# Plugin bodies over this are refused by the plugin gate.
PLUGIN_MAX_BODY_BYTES = env.int("PLUGIN_MAX_BODY_BYTES", default=64 * 1024)
# Merchant API bodies (/api/) over this are refused with a 413 envelope before anything parses them
# (DRF has no cap of its own).
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
# A product's admin change page posts ~11 fields per option row, so Django's default of 1,000 fields
# refused (400) the save of any tree above ~85 options. The request body stays capped by
# DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB by default: ~4,000 option rows).
DATA_UPLOAD_MAX_NUMBER_FIELDS = env.int("DATA_UPLOAD_MAX_NUMBER_FIELDS", default=50_000)

# --- outbound calls (docs/security.md "Outbound calls"): webhook endpoints are https on public
# hosts only. Development only: true lets http:// and local/private receivers through (tests, a
# receiver on this machine); refused with DEBUG=false.
WEBHOOK_ALLOW_LOCAL = env.bool("WEBHOOK_ALLOW_LOCAL", default=False)
if WEBHOOK_ALLOW_LOCAL and not DEBUG:
    raise ImproperlyConfigured("WEBHOOK_ALLOW_LOCAL is a development setting: not with DEBUG=false")
