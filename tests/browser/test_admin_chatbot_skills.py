"""Staff configure the chatbot skills in a real browser: readiness warnings for missing plugin ids,
the products to show, button labels, and the skill URLs (only with their own permission)."""

from __future__ import annotations

from django.test import Client

from catalog.models import Product
from merchant.models import ChatbotSkills

from .conftest import admin_login, make_staff

PERMS = ("merchant.view_chatbotskills", "merchant.change_chatbotskills", "merchant.add_chatbotskills")


def test_merchant_sets_up_the_skills_and_sees_what_is_missing(page, shot, kakao_app):
    Product.objects.create(code="MUG", name="머그컵", price=8000, stock=5, category="굿즈")
    Product.objects.create(code="TEE", name="티셔츠", price=15000, stock=5, category="의류")
    page.set_extra_http_headers({"Accept-Language": "ko-KR,ko;q=0.9"})  # the merchant reads Korean
    admin_login(page, make_staff("skills-editor", *PERMS))

    page.goto("/admin/merchant/chatbotskills/add/")
    page.select_option("#id_kakao_app", str(kakao_app.pk))
    page.select_option("#id_source", "category")
    page.fill("#id_category", "굿즈")
    page.fill("#id_buy_now_button_label", "지금 구매")
    shot("add")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist")
    shot("saved-with-warnings")
    skills = ChatbotSkills.objects.get(kakao_app=kakao_app)
    assert skills.source == "category" and skills.buy_now_button_label == "지금 구매"
    warnings = page.locator(".messagelist .warning").all_inner_texts()
    assert any("옵션선택 플러그인 ID" in w for w in warnings) and any("원클릭결제 플러그인 ID" in w for w in warnings)
    # without the URL permission the skill key is nowhere on the page
    assert skills.skill_key not in page.content()

    # the shop is not ready: the skill says so politely
    r = Client().post(f"/skill/{skills.skill_key}/products", {"userRequest": {"user": {"properties": {}}}},
                      content_type="application/json")  # fmt: skip
    assert r.json()["template"]["outputs"][0]["simpleText"]["text"] == skills.not_ready_text

    kakao_app.option_plugin_id, kakao_app.payment_plugin_id = "opt", "pay"
    kakao_app.save()
    page.reload()
    shot("ready-but-no-block")
    remaining = page.locator(".messagelist .warning").all_inner_texts()
    assert not any("플러그인 ID" in w for w in remaining)
    answer = Client().post(f"/skill/{skills.skill_key}/products", {"userRequest": {"user": {"properties": {}}}},
                           content_type="application/json").json()  # fmt: skip
    (card,) = answer["template"]["outputs"][1]["carousel"]["items"]
    assert card["title"] == "머그컵" and [b["label"] for b in card["buttons"]] == ["옵션 선택", "지금 구매"]


def test_skill_urls_need_their_own_permission(page, shot, kakao_app):
    skills = ChatbotSkills.objects.create(kakao_app=kakao_app)
    admin_login(page, make_staff("skills-owner", *PERMS, "merchant.view_skill_urls"))
    page.goto(f"/admin/merchant/chatbotskills/{skills.pk}/change/")
    page.wait_for_selector("#content-main")
    shot("urls")
    text = page.text_content("#content-main")
    for name in ("products", "pay", "orders", "order-status"):
        assert f"/skill/{skills.skill_key}/{name}" in text

    page.goto("/admin/merchant/chatbotskills/")
    page.check(f"#result_list input[value='{skills.pk}']")
    page.select_option("select[name=action]", "rotate_skill_key")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")
    shot("rotated")
    old = skills.skill_key
    skills.refresh_from_db()
    assert skills.skill_key != old
    assert Client().post(f"/skill/{old}/products", {}, content_type="application/json").status_code == 404
