"""One masking helper for personal data, everywhere staff look (admin of members, callbacks,
orders, order sheets, webhook deliveries, inbound plugin calls).

Staff without the permission ``kakaoplugin.view_personal_data`` ("Can see personal data in full")
see ``홍*동``, ``ab***@example.com``, ``+82 10-****-5678``, ``경기도 ***``: enough to tell rows
apart, not enough to contact or locate anyone. JSON (a shipping address, Kakao's profile answer,
an inbound plugin body, a webhook payload) keeps its shape with its personal values masked.
"""

from __future__ import annotations

import json
import re
from typing import Any

PERSONAL_DATA_PERMISSION = "kakaoplugin.view_personal_data"

# Keys whose value is personal data, wherever they appear in a JSON document.
PERSONAL_KEYS = frozenset(
    {
        # shipping addresses (payment T2, the personal-information plugin, Kakao Sync)
        "receiver_name", "receiver_mobile_number", "receiver_phone_number", "base_address",
        "detail_address", "address",
        # profiles (personal-information plugin, Kakao Sync's /v2/user/me)
        "nickname", "profile_image_url", "thumbnail_image_url", "profile_image", "thumbnail_image",
        "phone_number", "email", "ci", "ci_hash", "birthday", "birthyear", "gender", "age_range",
        # locations
        "land_address_name", "road_address_name", "land_address", "road_address", "detail",
        "latitude", "longitude",
    }
)  # fmt: skip
# Keys whose whole value (an object or a list of them) is personal: every leaf under them is masked.
PERSONAL_CONTAINERS = frozenset({"shipping_address", "shipping_addresses", "profile", "kakao_account", "location"})

HASH = re.compile(r"[0-9a-fA-F]{32,}|[A-Za-z0-9+/=_-]{40,}")


def can_see_personal_data(user) -> bool:
    return bool(user and user.is_active and user.is_staff and user.has_perm(PERSONAL_DATA_PERMISSION))


def mask_value(value: Any) -> str:
    """A scalar masked for display (a dict or list: only that it exists)."""
    if value is None or value == "" or value == {} or value == []:
        return ""
    if isinstance(value, bool):
        return "•"
    if isinstance(value, dict | list):
        return "••• (hidden)"
    if isinstance(value, float):
        return mask_number(value)
    text = str(value)
    if HASH.fullmatch(text):  # a CI hash or a token: nothing of it
        return "•••• (hidden)"
    if "@" in text:
        local, _, domain = text.partition("@")
        return (local[:2] if len(local) > 3 else local[:1]) + "***@" + domain
    digits = sum(c.isdigit() for c in text)
    if digits >= 7:  # a phone number: keep the last 4 digits
        keep, out = 4, []
        for c in reversed(text):
            if c.isdigit():
                out.append(c if keep > 0 else "*")
                keep -= 1
            else:
                out.append(c)
        return "".join(reversed(out))
    if " " in text.strip():  # an address: the first word only
        return text.strip().split()[0] + " ***"
    if len(text) <= 2:
        return text[:1] + "*"
    return text[0] + "*" * (len(text) - 2) + text[-1]


def mask_number(value: float | None) -> str:
    if value is None:
        return ""
    return re.sub(r"(\.\d)\d*", r"\1…", f"{value:.1f}")


# The part of an address that finds the door: nothing of it is shown.
HIDDEN_KEYS = frozenset({"detail_address", "detail"})
# Free text a buyer typed (an order sheet's TEXT answer): any of it may be personal.
FREE_TEXT_KEYS = frozenset({"text"})


def mask_words(text: str) -> str:
    """Free text masked word by word: ``홍길동 010-9876-5432`` → ``홍*동 ***-****-5432``."""
    return " ".join(mask_value(word) for word in str(text).split())


def mask_leaf(key: str | None, value: Any) -> Any:
    if value is None or value == "" or isinstance(value, bool):
        return value
    if key in HIDDEN_KEYS:
        return "***"
    if key in FREE_TEXT_KEYS:
        return mask_words(value)
    return mask_value(value)


def _mask_all(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _mask_all(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_all(v, key) for v in value]
    return mask_leaf(key, value)


def mask_personal(data: Any, *, whole: bool = False) -> Any:
    """A copy of a JSON value with every personal value masked; other values unchanged.
    ``whole``: the value is personal as a whole (a shipping address): every leaf is masked."""
    if whole:
        return _mask_all(data)
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            if key in PERSONAL_CONTAINERS:
                out[key] = _mask_all(value)
            elif key in PERSONAL_KEYS:
                out[key] = _mask_all(value, key)
            else:
                out[key] = mask_personal(value)
        return out
    if isinstance(data, list):
        return [mask_personal(v) for v in data]
    return data


def mask_personal_text(text: str) -> str:
    """A stored body (JSON text, or a form) with its personal values masked."""
    if not text:
        return text
    try:
        data = json.loads(text)
    except ValueError:
        return f"({len(text)} characters, not JSON: hidden without the personal-data permission)"
    return json.dumps(mask_personal(data), ensure_ascii=False, indent=2)


def personal_view(user, data: Any) -> Any:
    """``data`` as ``user`` may see it: in full with the permission, masked otherwise."""
    return data if can_see_personal_data(user) else mask_personal(data)
