"""The admin in Korean (the default, and what a Korean browser asks for) and in English (a browser
asking for English, or the language switch in the header), on a few models' lists and forms."""

from __future__ import annotations

from .conftest import admin_login, make_staff

KOREAN = {"Accept-Language": "ko-KR,ko;q=0.9"}
ENGLISH = {"Accept-Language": "en-US,en;q=0.9"}
APP_LIST = "/admin/kakaoplugin/kakaoapp/"


def lang(page) -> str:
    return page.get_attribute("html", "lang")


def switch_to(page, code: str) -> None:
    """Pick a language in the header's switch (it submits on change) and wait for the page again."""
    with page.expect_navigation():
        page.select_option("#language-select", code)
    page.wait_for_selector("#header")


def test_a_korean_browser_sees_korean_and_switches_to_english(page, shot, kakao_app):
    page.context.set_extra_http_headers(KOREAN)
    admin_login(page, make_staff("boss-ko", superuser=True))
    assert lang(page) == "ko"
    assert page.text_content("#site-name a").strip() == "카카오 톡비즈 플러그인 관리"
    assert page.locator("#content-main tr.model-kakaoapp th a").inner_text() == "카카오 앱"
    shot("index-ko")

    page.goto(APP_LIST)
    page.wait_for_selector("#result_list")
    assert "플러그인 키 교체 (모든 플러그인 URL이 바뀝니다)" in page.locator("select[name=action]").inner_text()
    assert page.locator("#result_list thead th.column-environment").inner_text().strip() == "환경"
    shot("kakao-apps-ko")

    page.goto(f"{APP_LIST}{kakao_app.pk}/change/")
    assert page.locator("label[for=id_environment]").inner_text().startswith("환경")
    assert page.locator("fieldset h2", has_text="카카오페이").count() == 1
    assert "CIDR, 한 줄에 하나씩" in page.locator(".field-allowed_networks .help").inner_text()
    shot("kakao-app-form-ko")

    page.goto("/admin/orders/order/")
    assert page.locator("#content h1").inner_text() == "변경할 주문 선택"
    assert page.locator(".breadcrumbs").inner_text().split(" › ") == ["홈", "주문과 결제", "주문"]
    assert page.locator("#changelist-filter summary", has_text="확인 필요").count() == 1
    shot("orders-ko")

    switch_to(page, "en")  # the header's switch: the same page, now in English
    assert lang(page) == "en" and page.url.endswith("/admin/orders/order/")
    assert page.locator("#content h1").inner_text() == "Select order to change"
    assert page.locator("#changelist-filter summary", has_text="needs attention").count() == 1
    shot("orders-en")

    page.goto(f"{APP_LIST}{kakao_app.pk}/change/")
    assert page.locator("label[for=id_environment]").inner_text().startswith("Environment")
    assert "CIDRs, one per line" in page.locator(".field-allowed_networks .help").inner_text()
    shot("kakao-app-form-en")

    switch_to(page, "ko")
    assert lang(page) == "ko"
    assert page.locator("label[for=id_environment]").inner_text().startswith("환경")


def test_an_english_browser_sees_english(page, shot, kakao_app):
    page.context.set_extra_http_headers(ENGLISH)
    page.goto("/admin/login/")
    assert lang(page) == "en" and page.locator("#language-select").input_value() == "en"
    shot("login-en")
    admin_login(page, make_staff("boss-en", superuser=True))
    assert page.text_content("#site-name a").strip() == "Kakao TalkBiz plugin backend"
    shot("index-en")

    page.goto("/admin/callbacks/callbackevent/")
    assert page.locator("#content h1").inner_text() == "Select callback event to view"
    assert page.locator("#changelist-filter summary", has_text="kind").count() == 1
    shot("callback-events-en")

    page.goto("/admin/kakaoplugin/webhookendpoint/add/")
    assert page.locator("label[for=id_event_types]").inner_text().startswith("Event types")
    assert "Empty: every event type" in page.locator(".field-event_types .help").inner_text()
    shot("webhook-endpoint-form-en")

    page.goto("/admin/catalog/product/")
    assert page.locator("#content h1").inner_text() == "Select product to change"
    shot("products-en")
