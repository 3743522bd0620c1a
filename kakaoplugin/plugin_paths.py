"""Our URL map (CONTRACTS section 8) and the application-form scenarios (guide section 9).

The apps' ``urls.py`` mount their views at these paths; commands print them for Kakao's form.

Two kinds of URL (docs/security.md, "Browser-facing endpoints"):

- ``PATHS``: below ``/plugin/<plugin_key>/``, called by Kakao's servers only: the plugin key and
  the app's allowed networks authorise them.
- ``BROWSER_PATHS``: reached by the buyer's browser (KakaoPay's redirects, Kakao Sync's redirect
  URI). They never carry the plugin key and no allowlist applies: a per-order token in the path
  (``/pay/``) or a state token we issued (``/sync/``) authorises each request.
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
    "callback_profile": "callbacks/profile",
    "callback_location": "callbacks/location",
    "callback_secure_image": "callbacks/secure-image",
}
# The two hot reads (option T1, T4: Kakao polls T4 every 0.5 s per buyer): they change nothing, so
# they are neither stored as inbound calls nor written to the request log.
HOT_READS = frozenset({"options", "order_status"})

# name → path from the site root, for the buyer's browser. ``<ref>``: the order's partner_order_id
# (pay) or the Kakao app's id (sync); ``<token>``: the order's token for that action.
BROWSER_PATHS: dict[str, str] = {
    "kakaopay_approval": "pay/<ref>/approval/<token>",  # payment T3 (KakaoPay's approval redirect)
    "kakaopay_cancel": "pay/<ref>/cancel/<token>",
    "kakaopay_fail": "pay/<ref>/fail/<token>",
    "kakaosync_redirect": "sync/<ref>/redirect",  # fixed per app: registered in Kakao Developers
}
# The first segment of each browser area, and the action segment → endpoint name (what the gate
# stores with the call).
PAY_AREA, SYNC_AREA = "pay", "sync"
PAY_ACTIONS: dict[str, str] = {"approval": "kakaopay_approval", "cancel": "kakaopay_cancel", "fail": "kakaopay_fail"}
SYNC_ACTIONS: dict[str, str] = {"redirect": "kakaosync_redirect"}

LABELS: dict[str, str] = {
    "options": "T1. 옵션조회 API URL",
    "option": "T2. 옵션선택 API URL",
    "ordersheet": "T1. 주문생성 API URL",
    "order_approve": "T2. 결제번호저장 및 상품유효성검증 API URL",
    "order_status": "T4. 주문상태 확인 API URL",
    "kakaopay_approval": "T3. 인증성공 callback (approval_url, per order in T1)",
    "kakaopay_cancel": "cancel_url (per order in T1)",
    "kakaopay_fail": "fail_url (per order in T1)",
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


def plugin_urls(base_url: str, plugin_key: str, *, app_id: int | None = None) -> dict[str, str]:
    """Every URL of an app: the server-to-server ones, and Kakao Sync's fixed redirect URI when
    ``app_id`` is given (the payment redirects are per order: see :func:`browser_url`)."""
    urls = {name: plugin_url(base_url, plugin_key, name) for name in PATHS}
    if app_id is not None:
        urls["kakaosync_redirect"] = kakaosync_redirect_url(base_url, app_id)
    return urls


def browser_url(base_url: str, name: str, *, ref: str, token: str = "") -> str:
    path = BROWSER_PATHS[name].replace("<ref>", ref).replace("<token>", token)
    return f"{base_url.rstrip('/')}/{path}"


def payment_redirect_patterns(base_url: str) -> dict[str, str]:
    """The shape of the per-order payment redirects (sent in payment T1, not entered in any form)."""
    return {
        name: browser_url(base_url, name, ref="<partner_order_id>", token="<order token>")
        for name in ("kakaopay_approval", "kakaopay_cancel", "kakaopay_fail")
    }


def kakaosync_redirect_url(base_url: str, app_id: int) -> str:
    """Kakao Sync's plugin redirect URI of an app: fixed (a key rotation does not change it)."""
    return browser_url(base_url, "kakaosync_redirect", ref=str(app_id))


def url_for(base_url: str, plugin_key: str, name: str, *, app_id: int | None = None) -> str:
    """A URL of the application form by name: ``kakaosync_redirect`` is a browser URL, the rest
    are below the plugin key."""
    if name == "kakaosync_redirect":
        if app_id is None:
            raise ValueError("the Kakao Sync redirect URI needs the app id")
        return kakaosync_redirect_url(base_url, app_id)
    return plugin_url(base_url, plugin_key, name)
