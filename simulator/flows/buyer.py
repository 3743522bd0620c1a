"""The buyer as Kakao presents them to us, and a contract refusal Kakao would show them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..http import Printer, ScenarioFailed

ADDRESS = {
    "base_address": "경기도 성남시 분당구 판교역로 235",
    "detail_address": "에이치스퀘어 엔동 6층",
    "post_no": "463400",
    "zone_code": "13494",
    "receiver_name": "라이언",
    "receiver_mobile_number": "01012345678",
}


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


def say(printer: Printer | None, text: str) -> None:
    if printer is not None:
        printer.detail(text)
