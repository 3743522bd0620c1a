"""The scenarios of the guide's section 9 and the OTP callbacks, each ending in PASS or FAIL.

| name | guide | what Kakao does |
|---|---|---|
| ``option`` | 9.2.1 | option T1 → T2 (no app user id: the buyer did not consent to provision); a tampered price is refused |
| ``sync-option`` | 9.2.2 | the chatbot gets a Kakao Sync state (merchant API) → Kakao Sync sign-up → option T1 → T2 as that member |
| ``sync-payment`` | 9.2.3 | Kakao Sync → the merchant's chatbot makes an order sheet (merchant API) and sends its launch link → payment T1 → ready → T2 → T3 → T4 |
| ``sync-option-payment`` | 9.2.4 | Kakao Sync → option T1 → T2 → payment T1 → ready → T2 → authorize → T3 → T4 |
| ``profile`` | 개인정보이용 | callback with an OTP URL → our server fetches the profile from the fake |
| ``location`` | 위치전송 | callback → our server fetches the location (``version=v2``) |
| ``secure-image`` | 이미지보안전송 | callback → our server fetches the URLs and downloads the images |
| ``chatbot`` | 챗봇 스킬 | Open Builder calls the products skill → the buyer taps “바로 결제” → payment T1 … T4 S → the orders skill says 결제 완료 |
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from .flows import (
    Buyer,
    Refused,
    card_button,
    chatbot_skill,
    kakao_sync_signup,
    launch_link_oneclick_id,
    option_lookup,
    option_plugin,
    option_select,
    order_sheet_for_payment_only,
    otp_callback,
    pay,
    skill_cards,
    skill_texts,
    verify_charged_once,
    wait_for_fake_calls,
)
from .http import Channel, Printer, ScenarioFailed, excerpt
from .options import choose
from .target import Target


@dataclass
class Context:
    target: Target
    printer: Printer
    kakao: Channel  # Kakao's servers
    browser: Channel  # the buyer's browser
    openbuilder: Channel  # Kakao i Open Builder calling the merchant's chatbot skills
    merchant: Channel  # the merchant's own systems (its chatbot), calling the merchant API
    run: str  # a short id of this run, in relay ids

    def buyer(self, name: str, *, member: bool = True) -> Buyer:
        app_user_id = str(random.randint(10**8, 10**9 - 1)) if member else None
        return Buyer(app_user_id=app_user_id, relay_id=f"sim-{self.run}-{name}")


@dataclass
class Scenario:
    name: str
    guide: str
    title: str
    run: Callable[[Context], str]  # returns the PASS summary; raises ScenarioFailed
    merchant_api: bool = False  # needs ``Target.api_key`` (the merchant's chatbot calls /api/v1/)


@dataclass
class Result:
    scenario: Scenario
    passed: bool
    summary: str
    seconds: float


def _won(amount: int) -> str:
    return f"{amount:,}원"


def option_alone(ctx: Context) -> str:
    buyer = ctx.buyer("option", member=False)
    tree = option_lookup(ctx.kakao, ctx.target, buyer)
    choice = choose(tree)
    sheet = option_select(ctx.kakao, ctx.target, buyer, choice)
    price = int(choice.body.get("price") or 0)
    ctx.printer.detail(
        f"    a client that changed the price ({_won(price)} → {_won(price + 1000)}) must be refused:"
    )
    tampered = dict(choice.body, price=price + 1000)
    try:
        option_select(ctx.kakao, ctx.target, buyer, choice.__class__(body=tampered, path=choice.path))
    except Refused as exc:
        if exc.code != 400:
            raise ScenarioFailed(f"a tampered price got {exc.code}, expected a 400 refusal") from None
    else:
        raise ScenarioFailed("option T2 accepted a price that differs from the catalog")
    return f"order sheet {sheet[:12]}… for {' → '.join(choice.path)}, {_won(choice.unit_price)} × {choice.body['quantity']}"


def sync_option(ctx: Context) -> str:
    buyer = ctx.buyer("sync-option")
    kakao_sync_signup(ctx.kakao, ctx.browser, ctx.merchant, ctx.target, buyer, ctx.printer)
    sheet, choice = option_plugin(ctx.kakao, ctx.target, buyer)
    return f"member {buyer.app_user_id} signed up; order sheet {sheet[:12]}… for {' → '.join(choice.path)}"


def _paid(ctx: Context, buyer: Buyer, sheet: str) -> str:
    payment = pay(ctx.kakao, ctx.browser, ctx.target, buyer, sheet, printer=ctx.printer)
    if payment.status != "S":
        raise ScenarioFailed(f"T4 ended {payment.status} {payment.message}")
    verify_charged_once(ctx.target, payment)
    ctx.printer.detail(
        f"    ✓ KakaoPay: one approve for {payment.tid}, {_won(payment.t1['total_amount'])} charged once"
    )
    return (
        f"order {payment.partner_order_id[:14]}… paid {_won(payment.t1['total_amount'])}, T4 S after {payment.polls} "
        f"polls, one approve at KakaoPay (relay id {buyer.relay_id})"
    )


def sync_payment(ctx: Context) -> str:
    buyer = ctx.buyer("sync-payment")
    kakao_sync_signup(ctx.kakao, ctx.browser, ctx.merchant, ctx.target, buyer, ctx.printer)
    sheet = order_sheet_for_payment_only(ctx.merchant, ctx.target, buyer, ctx.printer)
    return f"order sheet {sheet[:12]}… from the merchant API; " + _paid(ctx, buyer, sheet)


def sync_option_payment(ctx: Context) -> str:
    buyer = ctx.buyer("sync-option-payment")
    kakao_sync_signup(ctx.kakao, ctx.browser, ctx.merchant, ctx.target, buyer, ctx.printer)
    sheet, _ = option_plugin(ctx.kakao, ctx.target, buyer)
    return _paid(ctx, buyer, sheet)


PROFILE = {
    "nickname": "라이언", "phone_number": "+82 10-1234-5678", "email": "ryan@example.com",
    "shipping_address": {"id": 1, "base_address": "경기도 성남시 분당구 판교역로 235", "detail_address": "H스퀘어 6층",
                         "receiver_name": "라이언", "receiver_mobile_number": "+82 10-1234-5678", "zone_code": "13494"},
    "age_range": "30~39", "birthyear": "1990", "birthday": "0101", "gender": "male",
    "ci": "simulated-ci-value", "ci_authenticated_at": "2020-01-01T00:00:00Z",
}  # fmt: skip
LOCATION = {
    "latitude": 37.40201073377386, "longitude": 127.10849451749681,
    "land_address": {"address_name": "경기 성남시 분당구 삼평동 681", "region_1depth_name": "경기"},
    "road_address": {"address_name": "경기도 성남시 분당구 판교역로 235", "zone_no": "13494"}, "detail": "8층",
}  # fmt: skip


def _fetched(ctx: Context, token: str, kind: str, **params: str) -> None:
    def match(call: dict) -> bool:
        p = call["params"]
        return (
            call["path"] == f"/otp/{token}/{kind}"
            and p.get("rest_api_key") == ctx.target.rest_api_key
            and all(p.get(k) == v for k, v in params.items())
        )

    wait_for_fake_calls(
        ctx.target, "otp", match, printer=ctx.printer, what=f"our server fetch the OTP {kind}"
    )


def profile(ctx: Context) -> str:
    buyer = ctx.buyer("profile")
    data = dict(PROFILE, app_user_id=int(buyer.app_user_id or 0))
    token, _ = otp_callback(
        ctx.kakao, ctx.target, buyer, kind="onetimeprofile", callback="callback_profile", data=data
    )
    _fetched(ctx, token, "onetimeprofile")
    return f"profile of app user {buyer.app_user_id} fetched with our REST API key"


def location(ctx: Context) -> str:
    buyer = ctx.buyer("location")
    token, _ = otp_callback(ctx.kakao, ctx.target, buyer, kind="current_location", callback="callback_location",
                            data=LOCATION, body_extra={"extra": {"app": {"name": "시뮬레이터", "company": "카카오"}}})  # fmt: skip
    _fetched(ctx, token, "current_location", version="v2")
    return f"location of app user {buyer.app_user_id} fetched (version=v2)"


def secure_image(ctx: Context) -> str:
    buyer = ctx.buyer("secure-image")
    images = 2
    token, _ = otp_callback(
        ctx.kakao, ctx.target, buyer, kind="secure_image", callback="callback_secure_image", images=images
    )
    _fetched(ctx, token, "secure_image")
    wait_for_fake_calls(ctx.target, "cdn", lambda c: c["path"].startswith(f"/cdn/{token}-"), count=images,
                        printer=ctx.printer, what="our server download the images from the CDN")  # fmt: skip
    return f"{images} secure images fetched and downloaded before they expire"


BUY_NOW = "바로 결제"


def chatbot(ctx: Context) -> str:
    buyer = ctx.buyer("chatbot")
    answer = chatbot_skill(ctx.openbuilder, ctx.target, buyer, "products", utterance="상품 보여줘")
    cards = skill_cards(answer)
    ctx.printer.detail(f"    ← {len(cards)} product cards: " + ", ".join(c.get("title", "?") for c in cards))
    card = next((c for c in cards if card_button(c, BUY_NOW)), None)
    if card is None:
        raise ScenarioFailed(f"no product card offers “{BUY_NOW}” (a product on sale without required choices)")
    link = card_button(card, BUY_NOW)["osLink"]["android"]
    plugin_id, sheet = launch_link_oneclick_id(link)
    ctx.printer.detail(f"    the buyer taps “{BUY_NOW}” on {card['title']}: Kakao launches payment plugin {plugin_id}")
    paid = _paid(ctx, buyer, sheet)
    orders = chatbot_skill(ctx.openbuilder, ctx.target, buyer, "orders", utterance="내 주문")
    latest = (skill_cards(orders) or [{}])[0]
    if not str(latest.get("description", "")).startswith("결제 완료"):
        raise ScenarioFailed(f"the orders skill does not show the paid order: {skill_texts(orders) or latest}")
    ctx.printer.detail(f"    ← orders skill: {latest.get('title')}: {latest['description'].splitlines()[0]}")
    return f"products skill → “{BUY_NOW}” → " + paid


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("option", "9.2.1", "옵션선택 플러그인", option_alone),
    Scenario("sync-option", "9.2.2", "카카오싱크 + 옵션선택", sync_option, merchant_api=True),
    Scenario("sync-payment", "9.2.3", "카카오싱크 + 원클릭결제", sync_payment, merchant_api=True),
    Scenario("sync-option-payment", "9.2.4", "카카오싱크 + 옵션선택 + 원클릭결제", sync_option_payment, merchant_api=True),
    Scenario("profile", "callback", "개인정보이용 콜백", profile),
    Scenario("location", "callback", "위치전송 콜백", location),
    Scenario("secure-image", "callback", "이미지보안전송 콜백", secure_image),
    Scenario("chatbot", "skill", "챗봇 스킬 + 원클릭결제", chatbot),
)
NAMES = tuple(s.name for s in SCENARIOS)


def need_merchant_api(names: list[str] | None = None) -> bool:
    """Whether the named scenarios (all by default) need a merchant API key."""
    return any(s.merchant_api for s in SCENARIOS if not names or s.name in names)


def run_scenarios(target: Target, printer: Printer, names: list[str] | None = None) -> list[Result]:
    """Run the named scenarios (all by default) in order; print each step and a PASS/FAIL line."""
    chosen = [s for s in SCENARIOS if not names or s.name in names]
    ctx = Context(
        target,
        printer,
        kakao=Channel(target, printer),
        browser=Channel(target, printer),
        openbuilder=Channel(target, printer),
        merchant=Channel(target, printer),
        run=f"{random.randint(0, 16**6):06x}",
    )
    results = []
    try:
        for scenario in chosen:
            printer.line(f"\n== [{scenario.guide}] {scenario.title} ({scenario.name})")
            started = time.monotonic()
            try:
                summary, passed = scenario.run(ctx), True
            except ScenarioFailed as exc:
                summary, passed = str(exc), False
            except Exception as exc:  # a simulator bug must still end in a FAIL line, not a traceback
                summary, passed = f"{exc.__class__.__name__}: {excerpt(str(exc), 300)}", False
            result = Result(scenario, passed, summary, time.monotonic() - started)
            results.append(result)
            printer.line(f"{'PASS' if passed else 'FAIL'}  [{scenario.guide}] {scenario.title}: {summary}")
    finally:
        ctx.kakao.close()
        ctx.browser.close()
        ctx.openbuilder.close()
        ctx.merchant.close()
    passed = sum(r.passed for r in results)
    printer.line(
        f"\n{passed}/{len(results)} scenarios passed" + ("" if passed == len(results) else "  ← FAILED")
    )
    return results
