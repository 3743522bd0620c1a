"""The building blocks: what Kakao's servers, KakaoPay and the buyer do, step by step, over HTTP.

Each function takes the channels it talks through (``kakao``: Kakao's servers calling ours and
KakaoPay; ``browser``: the buyer's browser following redirects) and raises
:class:`~simulator.http.ScenarioFailed` (or :class:`Refused`, a contract refusal Kakao would show
the buyer) when an answer is not what Kakao expects.
"""

from __future__ import annotations

import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from fakekakao.control import FakeControl

from .http import Channel, Printer, ScenarioFailed, excerpt
from .options import Choice, choose
from .target import Target

ADDRESS = {
    "base_address": "경기도 성남시 분당구 판교역로 235",
    "detail_address": "에이치스퀘어 엔동 6층",
    "post_no": "463400",
    "zone_code": "13494",
    "receiver_name": "라이언",
    "receiver_mobile_number": "01012345678",
}
# Kakao Sync returns the buyer to Kakao when it is done (the plugin's `continue`).
CONTINUE_URL = "https://talk-plugin.kakao.com/kakaosync/continue"
APPROVAL_RELAY = ("talk-plugin.kakao.com", "/kakaopay/callback")


class Refused(ScenarioFailed):
    """Our server refused by contract (option T2 400, payment 300/301/400/401, T4 F)."""

    def __init__(self, step: str, code: Any, message: str):
        super().__init__(f"{step}: {code} {message}")
        self.step, self.code, self.message = step, code, message


@dataclass
class Buyer:
    """A KakaoTalk user as Kakao presents them to us."""

    app_user_id: str | None  # X-Kakao-AppUserId (only when the user consented to provision)
    relay_id: str | None = None  # X-Kakao-Plugin-Relay-Id (set by whoever launched the plugin)
    nickname: str = "라이언"

    def headers(self) -> dict[str, str]:
        h = {}
        if self.app_user_id:
            h["X-Kakao-AppUserId"] = self.app_user_id
        if self.relay_id:
            h["X-Kakao-Plugin-Relay-Id"] = self.relay_id
        return h


def _say(printer: Printer | None, text: str) -> None:
    if printer is not None:
        printer.detail(text)


# --- Kakao Sync ----------------------------------------------------------------------------------


def kakao_sync_launch(merchant: Channel, target: Target, printer: Printer | None = None) -> dict:
    """The merchant's chatbot asks the merchant API for a Kakao Sync launch: a ``state`` our server
    issued (its redirect URI admits no other) and the app's redirect URI (registered in Kakao
    Developers, fixed per app, without the plugin key)."""
    if not target.api_key:
        raise ScenarioFailed("no merchant API key: the merchant's chatbot needs one to launch Kakao Sync (a state)")
    ex = merchant.call(
        "merchant API: Kakao Sync launch (Bearer <api key>)", "POST", target.merchant_url("kakaosync/launch-link"),
        headers={"Authorization": f"Bearer {target.api_key}"}, show_answer=False,
    )  # fmt: skip
    if ex.status != 200 or not isinstance(ex.body, dict) or not ex.body.get("state"):
        message = ex.body.get("message", excerpt(ex.body)) if isinstance(ex.body, dict) else excerpt(ex.body)
        raise ScenarioFailed(f"merchant API: POST /api/v1/kakaosync/launch-link answered HTTP {ex.status}: {message}")
    redirect_uri = str(ex.body.get("redirect_uri") or "")
    if target.plugin_key in redirect_uri or "/plugin/" in redirect_uri:
        raise ScenarioFailed("Kakao Sync's redirect URI carries the plugin key: a browser follows it")
    _say(printer, f"    ← a state for this launch; redirect URI {target.shown(redirect_uri)}")
    return ex.body


def kakao_sync_signup(
    kakao: Channel, browser: Channel, merchant: Channel, target: Target, buyer: Buyer, printer: Printer | None = None
) -> None:
    """The merchant's chatbot launches the Kakao Sync plugin with a state it got from our server;
    the buyer consents; Kakao Login issues a code and sends the browser to our redirect URI with
    the code and the state; we exchange the code and 302 back to Kakao's ``continue`` URL."""
    launch = kakao_sync_launch(merchant, target, printer)
    redirect_uri, state = launch["redirect_uri"], launch["state"]
    seeded = kakao.call(
        "Kakao Login: the buyer consents (fake)", "POST", target.fake("/fake/kakao_login/user"),
        json_body={
            "id": int(buyer.app_user_id or 0), "client_id": target.rest_api_key, "redirect_uri": redirect_uri,
            "kakao_account": {
                "profile": {"nickname": buyer.nickname}, "email": f"user{buyer.app_user_id}@example.com",
                "phone_number": "+82 10-1234-5678", "age_range": "30~39", "gender": "male",
            },
            "service_terms": [{"tag": "service", "required": True}, {"tag": "privacy", "required": True}, {"tag": "marketing"}],
        },
        show_answer=False,
    )  # fmt: skip
    if seeded.status != 200:
        raise ScenarioFailed(f"the fake did not issue a Kakao Login code: HTTP {seeded.status}")
    code = seeded.body["code"]
    answer = browser.call(
        "Kakao Sync redirect URI",
        "GET",
        redirect_uri,
        params={"code": code, "state": state, "continue": CONTINUE_URL},
    )
    if answer.status != 302 or answer.headers.get("Location") != CONTINUE_URL:
        raise ScenarioFailed(
            f"Kakao Sync: expected 302 to {CONTINUE_URL}, got HTTP {answer.status} {excerpt(answer.body, 200)}"
        )
    fake = FakeControl(target.fake_url)
    token_calls = [c for c in fake.calls("oauth_token") if c["params"].get("code") == code]
    if len(token_calls) != 1 or token_calls[0]["params"].get("client_id") != target.rest_api_key:
        raise ScenarioFailed(
            f"Kakao Sync: our server exchanged the code {len(token_calls)} times (expected once, with our REST API key)"
        )
    after = token_calls[0]["at"]
    me = [c for c in fake.calls("user_me") if c["at"] >= after]
    terms = [c for c in fake.calls("service_terms") + fake.calls("service_terms_v1") if c["at"] >= after]
    if not me or not terms:
        raise ScenarioFailed("Kakao Sync: our server did not read /v2/user/me and the service terms")
    _say(
        printer,
        f"    ✓ signed up app user {buyer.app_user_id}: code exchanged once, user and terms read, back to Kakao",
    )


# --- option plugin -------------------------------------------------------------------------------


def option_lookup(
    kakao: Channel, target: Target, buyer: Buyer, product_id: str | None = None, *, label: str = "option T1"
) -> dict:
    """Option T1: the tree Kakao shows in the option sheet."""
    ex = kakao.call(label, "GET", target.plugin_url("options"), params={"id": product_id or target.product_id},
                    headers=buyer.headers(), show_answer=False)  # fmt: skip
    if ex.envelope_status != 200 or not isinstance(ex.data, dict):
        raise Refused(label, ex.envelope_status or ex.status, excerpt(ex.body))
    tree = ex.data
    if kakao.printer is not None:
        kakao.printer.detail(
            f"    ← {tree.get('name')} ({tree.get('id')}), {tree.get('price', 0):,}원, "
            f"{len(tree.get('option_groups') or [])} option groups"
        )
    return tree


def option_select(kakao: Channel, target: Target, buyer: Buyer, choice: Choice) -> str:
    """Option T2: the buyer's choices; our answer is the order sheet id (temporary order id)."""
    _say(
        kakao.printer,
        f"    buyer picks: {' → '.join(choice.path) or '(no options)'} × {choice.body['quantity']}",
    )
    ex = kakao.call("option T2", "POST", target.plugin_url("option"), json_body=choice.body, headers=buyer.headers(),
                    show_body=False)  # fmt: skip
    if ex.envelope_status != 200 or not isinstance(ex.data, str):
        raise Refused(
            "option T2", ex.envelope_status or ex.status, (ex.body or {}).get("message", excerpt(ex.body))
        )
    return ex.data


def option_plugin(
    kakao: Channel, target: Target, buyer: Buyer, product_id: str | None = None
) -> tuple[str, Choice]:
    tree = option_lookup(kakao, target, buyer, product_id)
    choice = choose(tree)
    return option_select(kakao, target, buyer, choice), choice


LAUNCH_LINK = ("kakaotalk", "bizplugin")  # kakaotalk://bizplugin?plugin_id=...&oneclick_id=...


def launch_link_oneclick_id(link: str) -> tuple[str, str]:
    """The payment plugin's launch link → (plugin id, oneclick id); ScenarioFailed when it is not one."""
    parts = urllib.parse.urlsplit(link)
    query = urllib.parse.parse_qs(parts.query)
    plugin_id = (query.get("plugin_id") or [""])[0]
    oneclick_id = (query.get("oneclick_id") or [""])[0]
    if (parts.scheme, parts.netloc) != LAUNCH_LINK or not plugin_id or not oneclick_id:
        raise ScenarioFailed(
            f"not a payment plugin launch link (kakaotalk://bizplugin?plugin_id=...&oneclick_id=...): {link!r}"
        )
    return plugin_id, oneclick_id


def order_sheet_for_payment_only(
    merchant: Channel, target: Target, buyer: Buyer, printer: Printer | None = None
) -> str:
    """Scenario 9.2.3 launches the payment plugin with an order sheet that exists before Kakao
    calls T1: the merchant's chatbot made it through the merchant API and sent the buyer its
    launch link.  The chatbot reads the product's options the only way the catalog is served
    over HTTP (option T1, a read), picks for the buyer, ``POST /api/v1/order-sheets`` with its
    API key (bound to the buyer's app user id and the chat's relay id), and answers the launch
    link ``kakaotalk://bizplugin?plugin_id=...&oneclick_id=<sheet id>``.  Returns the oneclick id:
    the ``ordersheet_id`` Kakao then sends payment T1."""
    if not target.api_key:
        raise ScenarioFailed(
            "no merchant API key: the merchant's chatbot needs one (scope orders) to make the order sheet"
        )
    # The chatbot is not Kakao: it reads the catalog without a buyer's Kakao headers.
    tree = option_lookup(
        merchant, target, Buyer(app_user_id=None), label="option T1 (the chatbot reads the product)"
    )
    choice = choose(tree)
    request = {
        "product_id": choice.body["id"],
        "quantity": choice.body["quantity"],
        "option_groups": choice.body["option_groups"],
    }
    if "price" in choice.body:
        request["price"] = choice.body["price"]  # refused if the catalog's price changed meanwhile
    if buyer.app_user_id:
        request["app_user_id"] = buyer.app_user_id  # only this buyer can pay the sheet
    if buyer.relay_id:
        request["relay_id"] = buyer.relay_id
    _say(
        printer,
        f"    the chatbot offers: {' → '.join(choice.path) or '(no options)'} × {choice.body['quantity']}",
    )
    ex = merchant.call(
        "merchant API (Bearer <api key>)", "POST", target.merchant_url("order-sheets"), json_body=request,
        headers={"Authorization": f"Bearer {target.api_key}"}, show_answer=False,
    )  # fmt: skip
    if ex.status != 201 or not isinstance(ex.body, dict):
        message = ex.body.get("message", excerpt(ex.body)) if isinstance(ex.body, dict) else excerpt(ex.body)
        raise ScenarioFailed(f"merchant API: POST /api/v1/order-sheets answered HTTP {ex.status}: {message}")
    sheet = ex.body
    plugin_id, oneclick_id = launch_link_oneclick_id(str(sheet.get("launch_link") or ""))
    if oneclick_id != sheet.get("id"):
        raise ScenarioFailed(
            f"the launch link's oneclick_id {oneclick_id} is not the sheet's id {sheet.get('id')}"
        )
    _say(
        printer,
        f"    ← order sheet {oneclick_id}: {sheet.get('goods_amount', 0):,}원 + shipping "
        f"{sheet.get('shipping_fee', 0):,}원 = {sheet.get('total_amount', 0):,}원, until {sheet.get('expires_at')}",
    )
    _say(printer, f"    ← launch link {sheet['launch_link']}")
    _say(
        printer,
        f"    the buyer taps it: Kakao launches payment plugin {plugin_id} with oneclick_id {oneclick_id}",
    )
    return oneclick_id


# --- one-click payment ---------------------------------------------------------------------------


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
    """One-click payment, as Kakao drives it: T1 → KakaoPay ready (Kakao, with our T1 data) → T2
    → T4 polled every 0.5 s from then on, while the buyer authorizes at KakaoPay and KakaoPay's
    approval redirect reaches our T3 → until T4 answers S or F."""
    payment = Payment(sheet_id=sheet_id)
    t1 = kakao.call("payment T1", "GET", target.plugin_url("ordersheet"),
                    params={"ordersheet_id": sheet_id, "relay_id": buyer.relay_id or ""}, headers=buyer.headers(),
                    show_answer=False)  # fmt: skip
    if t1.envelope_status != 200 or not isinstance(t1.data, dict):
        raise Refused(
            "payment T1", t1.envelope_status or t1.status, (t1.body or {}).get("message", excerpt(t1.body))
        )
    payment.t1 = d = t1.data
    _say(printer, f"    ← order {d['partner_order_id'][:14]}… {d['item_name']} × {d['quantity']}: "
                  f"{d['total_amount']:,}원 (VAT {d.get('vat_amount', 0):,}), cid {d['cid']}")  # fmt: skip

    ready = kakao.call(
        "KakaoPay ready (Kakao → fake)", "POST", target.fake("/v1/payment/ready"),
        form={k: d[k] for k in READY_FIELDS if d.get(k) not in (None, "")},
        headers={"Authorization": f"KakaoAK {d['rest_api_key']}"}, show_body=False, show_answer=False,
    )  # fmt: skip
    if ready.status != 200 or "tid" not in (ready.body or {}):
        raise ScenarioFailed(f"KakaoPay ready refused our T1 data: HTTP {ready.status} {excerpt(ready.body)}")
    payment.tid = ready.body["tid"]
    _say(printer, f"    ← tid {payment.tid}")

    body = {"partner_order_id": d["partner_order_id"], "tid": payment.tid, "shipping_address": ADDRESS}
    if buyer.relay_id:
        body["relay_id"] = buyer.relay_id
    t2 = kakao.call(
        "payment T2", "POST", target.plugin_url("order_approve"), json_body=body, headers=buyer.headers()
    )
    if t2.envelope_status != 200:
        raise Refused(
            "payment T2", t2.envelope_status or t2.status, (t2.body or {}).get("message", excerpt(t2.body))
        )

    # T4 starts right after T2 (guide 6.2.1) and goes on every 0.5 s; the buyer authorizes meanwhile.
    started = time.monotonic()
    authorized = False
    while True:
        poll_at = time.monotonic()
        payment.polls += 1
        t4 = kakao.call(f"payment T4 #{payment.polls}", "GET", target.plugin_url("order_status"),
                        params={"order_id": d["partner_order_id"], "relay_id": buyer.relay_id or ""},
                        headers=buyer.headers())  # fmt: skip
        status = (t4.data or {}).get("order_status") if t4.envelope_status == 200 else None
        if status is None:
            raise ScenarioFailed(f"payment T4: {excerpt(t4.body)}")
        if status in ("S", "F", "C"):
            payment.status, payment.message = status, (t4.data or {}).get("message", "")
            break
        if time.monotonic() - started > target.t4_timeout:
            raise ScenarioFailed(
                f"payment T4 still W after {target.t4_timeout:.0f} s ({payment.polls} polls)"
            )
        if not authorized:
            authorized = True
            _buyer_authorizes(kakao, browser, target, payment, authorize, printer)
        time.sleep(max(0.0, target.t4_interval - (time.monotonic() - poll_at)))
    _say(
        printer,
        f"    ← T4 {payment.status}{' ' + payment.message if payment.message else ''} after {payment.polls} polls",
    )
    return payment


def _buyer_authorizes(kakao: Channel, browser: Channel, target: Target, payment: Payment, result: str,
                      printer: Printer | None) -> None:  # fmt: skip
    auth = kakao.call("buyer authorizes at KakaoPay (fake)", "POST", target.fake("/kakaopay-sim/authorize"),
                      json_body={"tid": payment.tid, "result": result}, show_answer=False)  # fmt: skip
    if auth.status != 200:
        raise ScenarioFailed(f"the fake KakaoPay did not authorize {payment.tid}: HTTP {auth.status}")
    payment.pg_token = auth.body.get("pg_token") or ""
    url = _unwrap_relay(auth.body["redirect_url"])
    label = "payment T3 (approval redirect)" if result == "ok" else f"KakaoPay {result} redirect"
    t3 = browser.call(label, "GET", url)
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


# --- OTP callbacks -------------------------------------------------------------------------------


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
            _say(printer, f"    ✓ fake saw {what or op}: {len(calls)} call(s)")
            return calls
        if time.monotonic() > deadline:
            raise ScenarioFailed(
                f"after {target.async_timeout:.0f} s the fake saw {len(calls)} of {count} {what or op} calls"
            )
        time.sleep(0.1)


# --- the chatbot (Kakao i Open Builder calling our skills) ---------------------------------------


def chatbot_skill(
    openbuilder: Channel, target: Target, buyer: Buyer, name: str, *, utterance: str = "",
    params: dict | None = None, extra: dict | None = None, printer: Printer | None = None,
) -> dict:  # fmt: skip
    """Open Builder calls one of our skills for a chat user (``userRequest.user.properties``
    carries the app user id when the bot is linked to the Kakao app); returns the skill answer."""
    if not target.skill_key:
        raise ScenarioFailed("the Kakao app has no chatbot skills (admin › Chatbot skills): no skill URL to call")
    props = {"plusfriendUserKey": f"pf-{buyer.app_user_id or 'guest'}"}
    if buyer.app_user_id:
        props["appUserId"] = buyer.app_user_id
    payload = {
        "intent": {"id": "sim-intent", "name": name},
        "userRequest": {"utterance": utterance or name, "lang": "ko", "timezone": "Asia/Seoul",
                        "user": {"id": f"bot-user-{buyer.app_user_id}", "type": "botUserKey", "properties": props}},
        "bot": {"id": "sim-bot", "name": "상점 봇"},
        "action": {"id": "sim-action", "name": name, "params": params or {}, "clientExtra": extra or {},
                   "detailParams": {}},
    }  # fmt: skip
    ex = openbuilder.call(f"skill {name} (Open Builder)", "POST", target.skill_url(name), json_body=payload,
                          show_body=False, show_answer=False)  # fmt: skip
    body = ex.body if isinstance(ex.body, dict) else {}
    if ex.status != 200 or body.get("version") != "2.0":
        raise ScenarioFailed(f"skill {name} answered HTTP {ex.status}: {excerpt(ex.body)}")
    return body


def skill_cards(answer: dict) -> list[dict]:
    """The cards of a skill answer (carousel items or a single card), in order."""
    cards = []
    for output in answer.get("template", {}).get("outputs", []):
        if "carousel" in output:
            cards += output["carousel"].get("items", [])
        for kind in ("commerceCard", "basicCard"):
            if kind in output:
                cards.append(output[kind])
    return cards


def skill_texts(answer: dict) -> list[str]:
    return [o["simpleText"]["text"] for o in answer.get("template", {}).get("outputs", []) if "simpleText" in o]


def card_button(card: dict, label: str) -> dict | None:
    return next((b for b in card.get("buttons", []) if b.get("label") == label), None)
