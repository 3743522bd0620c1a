"""One client for both KakaoPay API generations (CONTRACTS section 7).

- legacy: ``{KAKAOPAY_LEGACY_API_BASE}/v1/payment/<op>``, ``Authorization: KakaoAK <admin key>``,
  form-encoded body, errors ``{"code": -780, "msg": ..., "extras": {...}}``;
- open: ``{KAKAOPAY_OPEN_API_BASE}/online/v1/payment/<op>``, ``Authorization: SECRET_KEY <key>``,
  JSON body, errors ``{"error_code": ..., "error_message": ..., "extras": {...}}``.

Errors are typed by what they tell the caller about the money:

- :class:`KakaoPayDeclined`: KakaoPay answered and refused (4xx with an error body). Nothing
  happened; ``buyer_message`` is what to show the buyer (``extras.method_result_message`` first).
- :class:`KakaoPayUnavailable`: timeout, connection error, 5xx, unreadable answer. The call may or
  may not have taken effect: learn the truth with :meth:`KakaoPayClient.order` (the inquiry).
- :class:`KakaoPayNotConfigured`: nothing was sent (no key, plain http not allowed).

Every call has a hard total deadline (``KAKAO_HTTP_TIMEOUT`` seconds, :attr:`KakaoPayClient.deadline`):
``requests``' timeouts bound each connect and each read, not the whole call, so an answer held
open or trickled byte by byte would keep a call alive for as long as KakaoPay (or a proxy) likes.
Here a watchdog shuts the call's socket down when the deadline (plus :data:`WATCHDOG_GRACE_SECONDS`)
has passed, whatever it is blocked on, and the body is read in chunks against the same clock; an
aborted call is :class:`KakaoPayUnavailable` with ``timed_out`` (outcome unknown).  So no call lives
longer than :meth:`KakaoPayClient.max_call_seconds`, and :meth:`KakaoPayClient.in_flight_until` (the
one bound the single approve and the subscription charge use before calling again) is derived from it.

Every result and error carries ``request`` (what was sent, secrets removed) and ``response`` (the
parsed body) so the caller can record them as payment events.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
import requests
from django.conf import settings

from .deadline import (
    IN_FLIGHT_MARGIN_SECONDS,
    WATCHDOG_GRACE_SECONDS,
    AnswerTooLarge,
    DeadlineExceeded,
    Watch,
    read_within,
    session,
)

SECRET_PARAMS = frozenset({"cid_secret"})
LEGACY_PREFIX = "/v1/payment"
OPEN_PREFIX = "/online/v1/payment"
PATHS = {
    "ready": "/ready",
    "approve": "/approve",
    "cancel": "/cancel",
    "order": "/order",
    "subscription": "/subscription",
    "inactive": "/manage/subscription/inactive",
    "subscription_status": "/manage/subscription/status",
}


def redact(params: dict[str, Any]) -> dict[str, Any]:
    return {k: ("[redacted]" if k in SECRET_PARAMS and v else v) for k, v in params.items()}


@dataclass
class KakaoPayResult:
    op: str
    data: dict[str, Any]
    http_status: int
    request: dict[str, Any]
    duration_ms: int


class KakaoPayError(Exception):
    def __init__(
        self,
        message: str,
        *,
        op: str = "",
        request: dict[str, Any] | None = None,
        response: Any = None,
        http_status: int | None = None,
        duration_ms: int | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.op = op
        self.request = request or {}
        self.response = response
        self.http_status = http_status
        self.duration_ms = duration_ms


class KakaoPayNotConfigured(KakaoPayError):
    """Nothing was sent."""


class KakaoPayUnavailable(KakaoPayError):
    """Timeout, connection error, 5xx or an unreadable answer: the outcome is unknown."""

    def __init__(self, message: str, *, timed_out: bool = False, **kw: Any):
        super().__init__(message, **kw)
        self.timed_out = timed_out


@dataclass
class _ErrorBody:
    code: str = ""
    msg: str = ""
    method_result_code: str = ""
    method_result_message: str = ""
    extras: dict = field(default_factory=dict)


class KakaoPayDeclined(KakaoPayError):
    """KakaoPay answered with an error: the call did not take effect."""

    def __init__(self, message: str, *, error: _ErrorBody, **kw: Any):
        super().__init__(message, **kw)
        self.code = error.code
        self.msg = error.msg
        self.method_result_code = error.method_result_code
        self.method_result_message = error.method_result_message

    @property
    def buyer_message(self) -> str:
        """A Korean message the buyer understands."""
        if self.method_result_message:
            return self.method_result_message[:200]
        return "결제가 승인되지 않았습니다. 다른 결제수단으로 다시 시도해 주세요."


def _parse_error(body: Any) -> _ErrorBody:
    if not isinstance(body, dict):
        return _ErrorBody()
    extras = body.get("extras") if isinstance(body.get("extras"), dict) else {}
    code = body.get("code", body.get("error_code", ""))
    msg = body.get("msg", body.get("error_message", ""))
    return _ErrorBody(
        code=str(code) if code is not None else "",
        msg=str(msg or ""),
        method_result_code=str(extras.get("method_result_code") or ""),
        method_result_message=str(extras.get("method_result_message") or ""),
        extras=extras,
    )


class KakaoPayClient:
    LEGACY = "legacy"
    OPEN = "open"

    def __init__(self, *, api: str, auth_key: str, base_url: str | None = None, timeout: float | None = None):
        if api not in (self.LEGACY, self.OPEN):
            raise ValueError(f"unknown KakaoPay API generation {api!r}")
        self.api = api
        self._auth_key = str(auth_key or "")
        default_base = settings.KAKAOPAY_OPEN_API_BASE if api == self.OPEN else settings.KAKAOPAY_LEGACY_API_BASE
        self.base_url = (base_url or default_base).rstrip("/")
        # the hard total deadline of every call (connect, send, wait, read), in seconds
        self.deadline = float(timeout if timeout is not None else settings.KAKAO_HTTP_TIMEOUT)

    @property
    def timeout(self) -> float:  # the name earlier callers used
        return self.deadline

    @property
    def max_call_seconds(self) -> float:
        """No call of this client lives longer than this (the watchdog's moment)."""
        return self.deadline + WATCHDOG_GRACE_SECONDS

    def in_flight_until(self, sent_at: datetime) -> datetime:
        """Until when a call sent at ``sent_at`` (and not answered) may still reach KakaoPay or be
        acted on there: the call's hard limit plus :data:`IN_FLIGHT_MARGIN_SECONDS`.  Before that
        moment nothing may send the same approve or charge again."""
        return sent_at + timedelta(seconds=self.max_call_seconds + IN_FLIGHT_MARGIN_SECONDS)

    @classmethod
    def for_app(cls, kakao_app) -> KakaoPayClient:
        if kakao_app.kakaopay_api == cls.OPEN:
            return cls(api=cls.OPEN, auth_key=kakao_app.kakaopay_secret_key)
        return cls(api=cls.LEGACY, auth_key=kakao_app.kakaopay_admin_key)

    def __repr__(self) -> str:  # never the key
        return f"KakaoPayClient(api={self.api!r}, base_url={self.base_url!r})"

    # --- the calls ---------------------------------------------------------------------------

    def ready(self, **params: Any) -> KakaoPayResult:
        return self.call("ready", params)

    def approve(
        self, *, cid: str, tid: str, partner_order_id: str, partner_user_id: str, pg_token: str,
        total_amount: int | None = None, cid_secret: str = "", payload: str | None = None,
    ) -> KakaoPayResult:  # fmt: skip
        return self.call(
            "approve",
            {
                "cid": cid, "cid_secret": cid_secret, "tid": tid, "partner_order_id": partner_order_id,
                "partner_user_id": partner_user_id, "pg_token": pg_token, "total_amount": total_amount,
                "payload": payload,
            },
        )  # fmt: skip

    def order(self, *, cid: str, tid: str, cid_secret: str = "") -> KakaoPayResult:
        return self.call("order", {"cid": cid, "cid_secret": cid_secret, "tid": tid})

    def cancel(
        self, *, cid: str, tid: str, cancel_amount: int, cancel_tax_free_amount: int,
        cancel_vat_amount: int | None = None, cancel_available_amount: int | None = None,
        cid_secret: str = "", payload: str | None = None,
    ) -> KakaoPayResult:  # fmt: skip
        return self.call(
            "cancel",
            {
                "cid": cid, "cid_secret": cid_secret, "tid": tid, "cancel_amount": cancel_amount,
                "cancel_tax_free_amount": cancel_tax_free_amount, "cancel_vat_amount": cancel_vat_amount,
                "cancel_available_amount": cancel_available_amount, "payload": payload,
            },
        )  # fmt: skip

    def subscription(self, **params: Any) -> KakaoPayResult:
        return self.call("subscription", params)

    def inactive(self, *, cid: str, sid: str, cid_secret: str = "") -> KakaoPayResult:
        return self.call("inactive", {"cid": cid, "cid_secret": cid_secret, "sid": sid})

    def subscription_status(self, *, cid: str, sid: str, cid_secret: str = "") -> KakaoPayResult:
        return self.call("subscription_status", {"cid": cid, "cid_secret": cid_secret, "sid": sid})

    # --- transport ---------------------------------------------------------------------------

    def url(self, op: str) -> str:
        prefix = OPEN_PREFIX if self.api == self.OPEN else LEGACY_PREFIX
        return self.base_url + prefix + PATHS[op]

    def call(self, op: str, params: dict[str, Any]) -> KakaoPayResult:
        params = {k: v for k, v in params.items() if v is not None and v != ""}
        shown = redact(params)
        if not self._auth_key:
            raise KakaoPayNotConfigured(f"no KakaoPay {self.api} key configured", op=op, request=shown)
        url = self.url(op)
        if url.startswith("http://") and not settings.KAKAO_ALLOW_HTTP:
            raise KakaoPayNotConfigured("KakaoPay base must be https (KAKAO_ALLOW_HTTP is off)", op=op, request=shown)
        if self.api == self.OPEN:
            headers = {
                "Authorization": f"SECRET_KEY {self._auth_key}",
                "Content-Type": "application/json",
            }
            body = orjson.dumps(params)
        else:
            headers = {
                "Authorization": f"KakaoAK {self._auth_key}",
                "Content-Type": "application/x-www-form-urlencoded;charset=utf-8",
            }
            body = {k: (orjson.dumps(v).decode() if isinstance(v, list | dict) else v) for k, v in params.items()}
        started = time.monotonic()
        deadline = self.deadline
        watch = Watch(deadline + WATCHDOG_GRACE_SECONDS)
        try:
            with watch:
                resp = session().post(
                    url, data=body, headers=headers, timeout=(min(3.0, deadline), deadline), stream=True
                )
                try:
                    content = read_within(resp, started, deadline)
                finally:
                    resp.close()
        except (requests.Timeout, DeadlineExceeded) as exc:
            raise KakaoPayUnavailable(
                f"KakaoPay {op} timed out: {exc}", timed_out=True, op=op, request=shown,
                duration_ms=_ms(started), response={"error": exc.__class__.__name__.lstrip("_")},
            ) from exc  # fmt: skip
        except (requests.RequestException, OSError, AnswerTooLarge) as exc:
            if watch.fired:  # our watchdog cut it: held or trickled past the deadline
                raise KakaoPayUnavailable(
                    f"KakaoPay {op} exceeded its {deadline:g} s deadline", timed_out=True, op=op, request=shown,
                    duration_ms=_ms(started), response={"error": "DeadlineExceeded"},
                ) from exc  # fmt: skip
            raise KakaoPayUnavailable(
                f"KakaoPay {op} failed: {exc.__class__.__name__}", op=op, request=shown,
                duration_ms=_ms(started), response={"error": exc.__class__.__name__.lstrip("_")},
            ) from exc  # fmt: skip
        duration = _ms(started)
        try:
            data = orjson.loads(content) if content else {}
        except orjson.JSONDecodeError:
            data = {"raw": content[:500].decode("utf-8", "replace")}
        common = {"op": op, "request": shown, "response": data, "http_status": resp.status_code, "duration_ms": duration}
        if resp.status_code >= 500:
            raise KakaoPayUnavailable(f"KakaoPay {op} answered {resp.status_code}", **common)
        if resp.status_code >= 400:
            error = _parse_error(data)
            if not (error.code or error.msg):
                # An error without KakaoPay's error body (a proxy's page): we cannot be sure.
                raise KakaoPayUnavailable(f"KakaoPay {op} answered {resp.status_code} without an error body", **common)
            raise KakaoPayDeclined(f"KakaoPay {op} refused: {error.code} {error.msg}", error=error, **common)
        if not isinstance(data, dict) or "raw" in data:
            raise KakaoPayUnavailable(f"KakaoPay {op} answered something unreadable", **common)
        return KakaoPayResult(op=op, data=data, http_status=resp.status_code, request=shown, duration_ms=duration)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
