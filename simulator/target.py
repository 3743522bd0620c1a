"""What the simulator is pointed at."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import requests

# Plugin paths below /plugin/<key>/ (CONTRACTS section 8). The simulator plays Kakao, which only
# knows the URLs registered in its application form: it does not import the project's URL map.
PATHS = {
    "options": "options",
    "option": "option",
    "ordersheet": "ordersheet",
    "order_approve": "order/approve",
    "order_status": "order/status",
    "callback_profile": "callbacks/profile",
    "callback_location": "callbacks/location",
    "callback_secure_image": "callbacks/secure-image",
}
# What the buyer's browser is sent to carries one-time secrets too: the order's token in our
# ``/pay/<order>/<action>/<token>`` URLs, KakaoPay's pg_token, Kakao Sync's code and state.
_PAY_TOKEN = re.compile(r"(/pay/[^/\s?\"']+/[^/\s?\"']+/)[^/\s?&#\"']+")
_SECRET_PARAMS = re.compile(r"([?&](?:pg_token|code|state)=)[^&\s\"'#]*")

DEMO_PRODUCT = "101:10013529"


@dataclass(frozen=True)
class Target:
    base_url: str  # our server, e.g. http://127.0.0.1:8000
    plugin_key: str  # the Kakao app's secret path key
    fake_url: str  # the fake Kakao/KakaoPay, e.g. http://127.0.0.1:8701
    rest_api_key: str  # the Kakao app's REST API key (OTP fetches and Kakao Login carry it)
    api_key: str = ""  # a merchant API key (scope "orders"): the merchant's chatbot makes 9.2.3's order sheet
    skill_key: str = ""  # the Kakao app's chatbot skill key: Open Builder calls /skill/<skill_key>/<name>
    product_id: str = DEMO_PRODUCT  # the product the option scenarios buy
    timeout: float = 15.0  # per HTTP request
    t4_interval: float = 0.5  # Kakao polls T4 every 0.5 s (guide 6.2.1)
    t4_timeout: float = 60.0  # give up polling after this
    async_timeout: float = 20.0  # wait this long for our server's background work (OTP fetches)

    def plugin_url(self, name: str) -> str:
        return f"{self.base_url.rstrip('/')}/plugin/{self.plugin_key}/{PATHS[name]}"

    def merchant_url(self, path: str) -> str:
        """The merchant API (``/api/v1/``), which the merchant's own systems call with ``api_key``."""
        return f"{self.base_url.rstrip('/')}/api/v1/{path.lstrip('/')}"

    def skill_url(self, name: str) -> str:
        return f"{self.base_url.rstrip('/')}/skill/{self.skill_key}/{name}"

    def fake(self, path: str) -> str:
        return f"{self.fake_url.rstrip('/')}{path}"

    def shown(self, text: str) -> str:
        """Text as printed: our server's URLs as paths, the fake's as ``[fake] path``, and neither
        the plugin key, the merchant API key nor a browser's one-time secret (order token,
        pg_token, code, state) ever reaches a terminal or a log."""
        text = text.replace(f"/plugin/{self.plugin_key}/", "/plugin/<key>/")
        text = _SECRET_PARAMS.sub(r"\1***", _PAY_TOKEN.sub(r"\1<token>", text))
        if self.api_key:
            text = text.replace(self.api_key, "<api key>")
        if self.skill_key:
            text = text.replace(f"/skill/{self.skill_key}/", "/skill/<key>/")
        text = text.replace(self.base_url.rstrip("/") + "/", "/")
        return text.replace(self.fake_url.rstrip("/") + "/", "[fake] /")


def wait_until_up(base_url: str, *, path: str = "/healthz", timeout: float = 60.0) -> None:
    """Wait for ``GET /healthz`` to answer 200 (the server must be up before Kakao calls)."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base_url.rstrip('/')}{path}", timeout=2).status_code == 200:
                return
        except requests.RequestException as exc:
            last = exc.__class__.__name__
        time.sleep(0.2)
    raise TimeoutError(f"{base_url}{path} did not answer 200 within {timeout:.0f} s ({last})")
