"""Tokens that authorise a buyer's browser on one thing (docs/security.md, "Browser-facing endpoints").

- :func:`action_token`: bound to a subject (an order) and an action (``pay.approval``, ...):
  HMAC-SHA256 under a key derived from ``SECRET_KEY``, 128 bits, url-safe. Nothing is stored: the
  server recomputes it. Whether it is still *valid* (the order still awaits that action) is the
  owner's decision, checked when it is used.
- :func:`state_issue` / :func:`state_check`: a signed, timestamped state for a redirect that we
  cannot put a token in the path of (Kakao Sync's redirect URI is fixed): bound to a Kakao app and
  a purpose, valid for ``max_age`` seconds.
"""

from __future__ import annotations

import base64
import secrets

from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac

_SALT = "kakaoplugin.browser."


def action_token(*, action: str, subject: str) -> str:
    mac = salted_hmac(_SALT + action, subject, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(mac[:16]).rstrip(b"=").decode()


def action_token_valid(token: str, *, action: str, subject: str) -> bool:
    return bool(token) and len(token) < 64 and constant_time_compare(token, action_token(action=action, subject=subject))


def state_issue(*, purpose: str, app_id: int) -> str:
    """A state for ``purpose`` of Kakao app ``app_id``: ``<payload>:<timestamp>:<signature>``."""
    signer = signing.TimestampSigner(salt=_SALT + purpose)
    return signer.sign_object({"a": app_id, "n": secrets.token_urlsafe(9)}, compress=False)


def state_reference(state: str) -> str:
    """What may be kept of a state (for staff to correlate visits): its payload without the
    timestamp and signature, so no longer a credential."""
    return state.split(":", 1)[0]


def state_check(state: str, *, purpose: str, app_id: int, max_age: float) -> str | None:
    """None when ``state`` is ours, for this purpose and app, and not older than ``max_age``;
    otherwise why not (in English, for staff)."""
    if not state or len(state) > 500:
        return "missing state" if not state else "state too long"
    try:
        payload = signing.TimestampSigner(salt=_SALT + purpose).unsign_object(state, max_age=max_age)
    except signing.SignatureExpired:
        return "expired state"
    except (signing.BadSignature, ValueError):
        return "state not issued by us"
    if not isinstance(payload, dict) or payload.get("a") != app_id:
        return "state of another Kakao app"
    return None
