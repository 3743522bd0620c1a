"""Kakao's OTP callbacks (personal information, location, secure images): seed the OTP at the fake,
post its URL to our callback, and wait for our server's background fetches."""

from __future__ import annotations

import time
from typing import Any

from fakekakao.control import FakeControl

from ..http import Channel, Printer, ScenarioFailed, excerpt
from ..target import Target
from .buyer import Buyer, say


def otp_callback(
    kakao: Channel,
    target: Target,
    buyer: Buyer,
    *,
    kind: str,
    callback: str,
    data: dict | None = None,
    images: int = 0,
    body_extra: dict | None = None,
) -> tuple[str, str]:
    """Kakao's callback: seed the OTP at the fake, POST its URL to our callback, expect 200.
    Returns the OTP token and URL."""
    seed: dict[str, Any] = {"kind": kind, "rest_api_key": target.rest_api_key, "data": data or {}}
    if images:
        seed["images"] = images
    seeded = kakao.call(
        f"seed {kind} OTP (fake)", "POST", target.fake("/fake/otp"), json_body=seed, show_body=False
    )
    if seeded.status != 200:
        raise ScenarioFailed(f"the fake refused the OTP seed: HTTP {seeded.status} {excerpt(seeded.body)}")
    otp_url, token = seeded.body["url"], seeded.body["token"]
    answer = kakao.call(f"{callback} callback", "POST", target.plugin_url(callback),
                        json_body={"otp": otp_url, **(body_extra or {})}, headers=buyer.headers())  # fmt: skip
    if answer.status != 200 or answer.body != {"status": 200}:
        raise ScenarioFailed(f"{callback} callback answered HTTP {answer.status} {excerpt(answer.body)}")
    return token, otp_url


def wait_for_fake_calls(target: Target, op: str, match, *, count: int = 1, printer: Printer | None = None,
                        what: str = "") -> list[dict]:  # fmt: skip
    """Wait until the fake has seen ``count`` calls of ``op`` matching ``match(call)`` (our server's
    background work: the OTP fetch and image downloads run after the callback is answered)."""
    fake = FakeControl(target.fake_url)
    deadline = time.monotonic() + target.async_timeout
    while True:
        calls = [c for c in fake.calls(op) if match(c)]
        if len(calls) >= count:
            say(printer, f"    ✓ fake saw {what or op}: {len(calls)} call(s)")
            return calls
        if time.monotonic() > deadline:
            raise ScenarioFailed(
                f"after {target.async_timeout:.0f} s the fake saw {len(calls)} of {count} {what or op} calls"
            )
        time.sleep(0.1)
