"""Masks for personal data shown to staff without the ``callbacks.view_personal_data`` permission."""

from __future__ import annotations

import re
from typing import Any


def mask_value(value: Any) -> str:
    """``홍*동``, ``ab***@example.com``, ``+82 10-****-5678``, ``경기도 ***``: enough to tell rows
    apart, not enough to contact or locate anyone."""
    if value is None or value == "" or value == {} or value == []:
        return ""
    if isinstance(value, dict | list):
        return "••• (hidden)"
    text = str(value)
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
