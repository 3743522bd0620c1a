"""One-click payment as Kakao drives it: payment T1 → KakaoPay ready → T2 → T4 polled every 0.5 s
while the buyer authorizes at KakaoPay and the approval redirect reaches our T3 → S or F; and the
check at the fake that the payment was charged once."""

from __future__ import annotations

import time
import urllib.parse
from dataclasses import dataclass, field

from fakekakao.control import FakeControl

from ..http import Channel, Printer, ScenarioFailed, excerpt
from ..steps import Pause, Steps, call, drive
from ..target import Target
from .buyer import ADDRESS, Buyer, Refused, say

APPROVAL_RELAY = ("talk-plugin.kakao.com", "/kakaopay/callback")


@dataclass
class Payment:
    sheet_id: str
    t1: dict = field(default_factory=dict)
    tid: str = ""
    pg_token: str = ""
    status: str = ""  # T4's final order_status
    message: str = ""
    polls: int = 0

    @property
    def partner_order_id(self) -> str:
        return self.t1.get("partner_order_id", "")


def _unwrap_relay(url: str) -> str:
    """Kakao's approval relay forwards to the merchant's approval URL with the same query."""
    parts = urllib.parse.urlsplit(url)
    if (parts.hostname, parts.path) != APPROVAL_RELAY:
        return url
    query = urllib.parse.parse_qs(parts.query)
    inner = query.pop("approval_url", [""])[0]
    extra = urllib.parse.urlencode({k: v[0] for k, v in query.items()})
    return inner + ("&" if "?" in inner else "?") + extra if extra else inner


READY_FIELDS = (
    "cid", "cid_secret", "partner_order_id", "partner_user_id", "item_name", "item_code", "quantity",
    "total_amount", "tax_free_amount", "vat_amount", "approval_url", "cancel_url", "fail_url", "payment_method_type",
)  # fmt: skip


def pay_steps(
    target: Target, buyer: Buyer, sheet_id: str, *, authorize: str = "ok", printer: Printer | None = None
) -> Steps[Payment]:
    """One-click payment, as Kakao drives it: T1 → KakaoPay ready (Kakao, with our T1 data) → T2
    → T4 polled every 0.5 s from then on, while the buyer authorizes at KakaoPay and KakaoPay's
    approval redirect reaches our T3 → until T4 answers S or F."""
    payment = Payment(sheet_id=sheet_id)
    t1 = yield call("kakao", "payment T1", "GET", target.plugin_url("ordersheet"),
                    params={"ordersheet_id": sheet_id, "relay_id": buyer.relay_id or ""}, headers=buyer.headers(),
                    show_answer=False)  # fmt: skip
    if t1.envelope_status != 200 or not isinstance(t1.data, dict):
        raise Refused(
            "payment T1", t1.envelope_status or t1.status, (t1.body or {}).get("message", excerpt(t1.body))
        )
    payment.t1 = d = t1.data
    say(printer, f"    ← order {d['partner_order_id'][:14]}… {d['item_name']} × {d['quantity']}: "
                 f"{d['total_amount']:,}원 (VAT {d.get('vat_amount', 0):,}), cid {d['cid']}")  # fmt: skip

    ready = yield call(
        "kakao", "KakaoPay ready (Kakao → fake)", "POST", target.fake("/v1/payment/ready"),
        form={k: d[k] for k in READY_FIELDS if d.get(k) not in (None, "")},
        headers={"Authorization": f"KakaoAK {d['rest_api_key']}"}, show_body=False, show_answer=False,
    )  # fmt: skip
    if ready.status != 200 or "tid" not in (ready.body or {}):
        raise ScenarioFailed(f"KakaoPay ready refused our T1 data: HTTP {ready.status} {excerpt(ready.body)}")
    payment.tid = ready.body["tid"]
    say(printer, f"    ← tid {payment.tid}")

    body = {"partner_order_id": d["partner_order_id"], "tid": payment.tid, "shipping_address": ADDRESS}
    if buyer.relay_id:
        body["relay_id"] = buyer.relay_id
    t2 = yield call(
        "kakao", "payment T2", "POST", target.plugin_url("order_approve"), json_body=body, headers=buyer.headers()
    )
    if t2.envelope_status != 200:
        raise Refused(
            "payment T2", t2.envelope_status or t2.status, (t2.body or {}).get("message", excerpt(t2.body))
        )

    # T4 starts right after T2 (guide 6.2.1) and goes on every 0.5 s; the buyer authorizes meanwhile.
    # W is our server's to end once KakaoPay's redirect reached T3: ``t4_timeout`` counts from then.
    authorized, started = False, 0.0
    while True:
        poll_at = time.monotonic()
        payment.polls += 1
        t4 = yield call("kakao", f"payment T4 #{payment.polls}", "GET", target.plugin_url("order_status"),
                        params={"order_id": d["partner_order_id"], "relay_id": buyer.relay_id or ""},
                        headers=buyer.headers())  # fmt: skip
        status = (t4.data or {}).get("order_status") if t4.envelope_status == 200 else None
        if status is None:
            raise ScenarioFailed(f"payment T4: {excerpt(t4.body)}")
        if status in ("S", "F", "C"):
            payment.status, payment.message = status, (t4.data or {}).get("message", "")
            break
        if authorized and time.monotonic() - started > target.t4_timeout:
            raise ScenarioFailed(
                f"payment T4 still W {target.t4_timeout:.0f} s after T3 ({payment.polls} polls)"
            )
        if not authorized:
            authorized = True
            yield from _buyer_authorizes(target, payment, authorize)
            started = time.monotonic()
        yield Pause(max(0.0, target.t4_interval - (time.monotonic() - poll_at)))
    say(
        printer,
        f"    ← T4 {payment.status}{' ' + payment.message if payment.message else ''} after {payment.polls} polls",
    )
    return payment


def pay(
    kakao: Channel,
    browser: Channel,
    target: Target,
    buyer: Buyer,
    sheet_id: str,
    *,
    authorize: str = "ok",
    printer: Printer | None = None,
) -> Payment:
    return drive(pay_steps(target, buyer, sheet_id, authorize=authorize, printer=printer),
                 kakao=kakao, browser=browser)  # fmt: skip


def _buyer_authorizes(target: Target, payment: Payment, result: str) -> Steps[None]:
    auth = yield call("kakao", "buyer authorizes at KakaoPay (fake)", "POST", target.fake("/kakaopay-sim/authorize"),
                      json_body={"tid": payment.tid, "result": result}, show_answer=False)  # fmt: skip
    if auth.status != 200:
        raise ScenarioFailed(f"the fake KakaoPay did not authorize {payment.tid}: HTTP {auth.status}")
    payment.pg_token = auth.body.get("pg_token") or ""
    url = _unwrap_relay(auth.body["redirect_url"])
    label = "payment T3 (approval redirect)" if result == "ok" else f"KakaoPay {result} redirect"
    t3 = yield call("browser", label, "GET", url)
    if t3.envelope_status != 200:
        raise ScenarioFailed(f"{label}: {excerpt(t3.body)}")


def verify_charged_once(target: Target, payment: Payment) -> None:
    """At the fake KakaoPay: exactly one approve call for this tid, approved for T1's total."""
    fake = FakeControl(target.fake_url)
    calls = [c for c in fake.calls("approve") if c["params"].get("tid") == payment.tid]
    tid = fake.state().get("kakaopay", {}).get("tids", {}).get(payment.tid) or {}
    if len(calls) != 1 or tid.get("approvals") != 1:
        raise ScenarioFailed(
            f"KakaoPay saw {len(calls)} approve calls and {tid.get('approvals')} approvals for {payment.tid}"
        )
    if tid.get("status") != "SUCCESS_PAYMENT" or tid.get("total_amount") != payment.t1["total_amount"]:
        raise ScenarioFailed(
            f"KakaoPay has {payment.tid} {tid.get('status')} for {tid.get('total_amount')}원"
        )
    if calls[0]["params"].get("pg_token") != payment.pg_token:
        raise ScenarioFailed("our server approved with another pg_token than KakaoPay issued")
