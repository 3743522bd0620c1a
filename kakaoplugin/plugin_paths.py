"""Our URL map (CONTRACTS section 8) and the application-form scenarios (guide section 9).

The apps' ``urls.py`` mount their views at these paths; commands print them for Kakao's form.
"""

from __future__ import annotations

from dataclasses import dataclass

# name → path below /plugin/<plugin_key>/ (no trailing slash: Kakao registers URLs without one)
PATHS: dict[str, str] = {
    "options": "options",  # option T1 (GET)
    "option": "option",  # option T2 (POST)
    "ordersheet": "ordersheet",  # payment T1 (GET)
    "order_approve": "order/approve",  # payment T2 (POST)
    "order_status": "order/status",  # payment T4 (GET)
    "kakaopay_approval": "kakaopay/approval",  # payment T3 (KakaoPay's approval redirect)
    "kakaopay_cancel": "kakaopay/cancel",
    "kakaopay_fail": "kakaopay/fail",
    "callback_profile": "callbacks/profile",
    "callback_location": "callbacks/location",
    "callback_secure_image": "callbacks/secure-image",
    "kakaosync_redirect": "kakaosync/redirect",
}

LABELS: dict[str, str] = {
    "options": "T1. 옵션조회 API URL",
    "option": "T2. 옵션선택 API URL",
    "ordersheet": "T1. 주문생성 API URL",
    "order_approve": "T2. 결제번호저장 및 상품유효성검증 API URL",
    "order_status": "T4. 주문상태 확인 API URL",
    "kakaopay_approval": "T3. 인증성공 callback (approval_url, sent in T1)",
    "kakaopay_cancel": "cancel_url (sent in T1)",
    "kakaopay_fail": "fail_url (sent in T1)",
    "callback_profile": "개인정보이용 플러그인 실행결과 콜백 URL",
    "callback_location": "위치전송 플러그인 실행결과 콜백 URL",
    "callback_secure_image": "이미지보안전송 플러그인 실행결과 콜백 URL",
    "kakaosync_redirect": "카카오싱크 plugin redirect URI (Kakao Developers)",
}


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    urls: tuple[str, ...]


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("9.2.1", "옵션선택 플러그인", ("options", "option")),
    Scenario("9.2.2", "카카오싱크 + 옵션선택", ("kakaosync_redirect", "options", "option")),
    Scenario(
        "9.2.3",
        "카카오싱크 + 원클릭결제",
        ("kakaosync_redirect", "ordersheet", "order_approve", "order_status"),
    ),
    Scenario(
        "9.2.4",
        "카카오싱크 + 옵션선택 + 원클릭결제",
        ("kakaosync_redirect", "options", "option", "ordersheet", "order_approve", "order_status"),
    ),
    Scenario(
        "callbacks",
        "플러그인관리자센터: 개인정보이용 / 위치전송 / 이미지보안전송",
        ("callback_profile", "callback_location", "callback_secure_image"),
    ),
)


def plugin_url(base_url: str, plugin_key: str, name: str) -> str:
    return f"{base_url.rstrip('/')}/plugin/{plugin_key}/{PATHS[name]}"


def plugin_urls(base_url: str, plugin_key: str) -> dict[str, str]:
    return {name: plugin_url(base_url, plugin_key, name) for name in PATHS}
