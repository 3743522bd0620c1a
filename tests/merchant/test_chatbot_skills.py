"""Chatbot skills (Kakao i Open Builder): each skill's answer, validated against the response
format's rules, over HTTP at /skill/<skill_key>/<name>."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from catalog.models import Product
from kakaoplugin.models import InboundCall
from merchant.models import ChatbotSkills
from merchant.skills.response import problems
from orders.models import Order, OrderSheet
from tests.support.payments import make_product, make_sheet

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def skills(kakao_app) -> ChatbotSkills:
    kakao_app.option_plugin_id = "opt-plugin"
    kakao_app.payment_plugin_id = "pay-plugin"
    kakao_app.save()
    return ChatbotSkills.objects.create(kakao_app=kakao_app, order_status_block_id="block-status")


@pytest.fixture
def shop(db):
    """A product bought through the option plugin (a required choice) and one bought at once."""
    with_options, _ = make_product(code="TEE-OPT", price=15000, option_stock=5)
    simple, _ = make_product(code="MUG", price=8000, with_option=False, product_stock=3)
    simple.list_price, simple.max_quantity = 10000, 5
    simple.save()
    return with_options, simple


def payload(*, app_user_id: str | None = "user-1", params=None, extra=None) -> dict:
    props = {"plusfriendUserKey": "pf-key-1"} | ({"appUserId": app_user_id} if app_user_id else {})
    return {
        "intent": {"id": "i", "name": "블록"},
        "userRequest": {"timezone": "Asia/Seoul", "utterance": "상품 보여줘", "lang": "ko",
                        "user": {"id": "bot-user-1", "type": "botUserKey", "properties": props}},
        "bot": {"id": "bot", "name": "상점 봇"},
        "action": {"name": "skill", "id": "a", "params": params or {}, "clientExtra": extra or {}, "detailParams": {}},
    }  # fmt: skip


def call(skills: ChatbotSkills, name: str, body: dict, client: Client | None = None) -> dict:
    r = (client or Client()).post(f"/skill/{skills.skill_key}/{name}", body, content_type="application/json")
    assert r.status_code == 200, r.content
    answer = r.json()
    assert problems(answer) == [], answer
    return answer


def outputs(answer: dict) -> list[dict]:
    return answer["template"]["outputs"]


def text_of(answer: dict) -> str:
    return " ".join(o["simpleText"]["text"] for o in outputs(answer) if "simpleText" in o)


def link_query(button: dict) -> dict:
    url = button["osLink"]["android"]
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("kakaotalk", "bizplugin")
    return {k: v[0] for k, v in parse_qs(parts.query).items()}


# --- products ------------------------------------------------------------------------------------


def test_products_carousel_opens_the_plugins(skills, shop):
    answer = call(skills, "products", payload())
    cards = outputs(answer)[1]["carousel"]["items"]
    assert outputs(answer)[1]["carousel"]["type"] == "commerceCard"
    by_name = {c["title"]: c for c in cards}
    tee, mug = by_name["상품 TEE-OPT"], by_name["상품 MUG"]
    assert [b["label"] for b in tee["buttons"]] == ["옵션 선택"]  # a required choice: the option plugin only
    assert link_query(tee["buttons"][0]) == {"plugin_id": "opt-plugin", "product_id": "TEE-OPT"}
    assert mug["price"] == 10000 and mug["discount"] == 2000  # list price and discount: pays 8,000
    assert [b["label"] for b in mug["buttons"]] == ["옵션 선택", "바로 결제"]
    query = link_query(mug["buttons"][1])
    assert query["plugin_id"] == "pay-plugin"
    sheet = OrderSheet.objects.get(pk=query["oneclick_id"])
    assert sheet.app_user_id == "user-1" and sheet.total_amount == 8000  # bound to this buyer
    assert mug["thumbnails"][0]["imageUrl"].endswith("/static/merchant/chatbot-no-image.png")
    # shown again: the same sheet (no new rows per view); after a price change: a new one
    again = call(skills, "products", payload())
    assert OrderSheet.objects.count() == 1
    assert link_query(next(c for c in outputs(again)[1]["carousel"]["items"] if c["title"] == "상품 MUG")["buttons"][1]) == query
    _, mug_product = shop
    mug_product.price = 7000
    mug_product.save()
    call(skills, "products", payload())
    assert OrderSheet.objects.count() == 2 and OrderSheet.objects.latest("created_at").total_amount == 7000
    call(skills, "products", payload(app_user_id=None))  # a buyer we do not know: a sheet of its own
    assert OrderSheet.objects.filter(app_user_id=None).count() == 1


def test_products_respect_the_format_limits(skills, kakao_app):
    for i in range(15):
        Product.objects.create(code=f"P{i:02d}", name=("아주 긴 상품 이름 " * 30)[:200], price=1000 + i)
    answer = call(skills, "products", payload())
    cards = outputs(answer)[1]["carousel"]["items"]
    assert len(cards) == 10
    assert all(len(c["description"]) <= 230 and len(c["title"]) <= 50 for c in cards)
    assert len(OrderSheet.objects.all()) == 10  # one sheet per card shown, none for the rest


def test_products_by_category_and_list(skills, shop):
    tee, mug = shop
    mug.category = "주방"
    mug.save()
    skills.source, skills.category = ChatbotSkills.Source.CATEGORY, "주방"
    skills.save()
    titles = [c["title"] for c in outputs(call(skills, "products", payload()))[1]["carousel"]["items"]]
    assert titles == ["상품 MUG"]
    skills.source = ChatbotSkills.Source.LIST
    skills.save()
    skills.products.set([tee])
    titles = [c["title"] for c in outputs(call(skills, "products", payload()))[1]["carousel"]["items"]]
    assert titles == ["상품 TEE-OPT"]


def test_a_shop_without_plugin_ids_says_it_is_not_ready(skills, shop, kakao_app):
    kakao_app.option_plugin_id = kakao_app.payment_plugin_id = ""
    kakao_app.save()
    skills.refresh_from_db()
    assert len(skills.warnings()) == 2
    for name, body in (("products", payload()), ("pay", payload(params={"product_id": "MUG"}))):
        answer = call(skills, name, body)
        assert text_of(answer) == skills.not_ready_text


# --- pay -----------------------------------------------------------------------------------------


def test_pay_makes_a_sheet_for_this_buyer_with_the_one_click_button(skills, shop):
    answer = call(skills, "pay", payload(params={"product_id": "MUG", "quantity": "2"}))
    card = outputs(answer)[0]["commerceCard"]
    assert card["price"] == 20000 and card["discount"] == 4000
    (button,) = card["buttons"]
    assert button["label"] == "원클릭 결제하기" and button["action"] == "osLink"
    sheet = OrderSheet.objects.get(pk=link_query(button)["oneclick_id"])
    assert (sheet.app_user_id, sheet.quantity, sheet.total_amount) == ("user-1", 2, 16000)
    # the same from a button's clientExtra
    answer = call(skills, "pay", payload(extra={"product_id": "MUG", "quantity": 1}))
    assert outputs(answer)[0]["commerceCard"]["price"] == 10000


@pytest.mark.parametrize(
    "params, says",
    [
        ({"product_id": "NOPE"}, "찾을 수 없거나 판매 중이 아닌 상품"),
        ({"product_id": "MUG", "quantity": "0"}, "수량은 1에서"),
        ({"product_id": "MUG", "quantity": "abc"}, "수량은 1에서"),
        ({"product_id": "MUG", "quantity": "4"}, "주문서를 만들 수 없어요"),  # 3 in stock
    ],
)
def test_pay_refusals_are_polite_texts(skills, shop, params, says):
    answer = call(skills, "pay", payload(params=params))
    assert says in text_of(answer)
    assert not OrderSheet.objects.exists()


def test_pay_for_a_product_with_required_choices_offers_the_option_plugin(skills, shop):
    answer = call(skills, "pay", payload(params={"product_id": "TEE-OPT"}))
    card = outputs(answer)[0]["basicCard"]
    assert "옵션을 먼저" in card["description"]
    assert link_query(card["buttons"][0])["product_id"] == "TEE-OPT"


# --- orders and order status ---------------------------------------------------------------------


def _order(kakao_app, *, app_user_id="user-1", status=Order.Status.PAID, name="머그컵", **kw) -> Order:
    product, _ = make_product(code=f"P-{Order.objects.count()}", price=8000, with_option=False)
    sheet = make_sheet(kakao_app, product, None, app_user_id=app_user_id)
    return Order.objects.create(
        kakao_app=kakao_app, sheet=sheet, livemode=True, app_user_id=app_user_id, partner_user_id=app_user_id, item_name=name,
        quantity=1, goods_amount=8000, total_amount=8000, status=status, **kw,
    )  # fmt: skip


def test_my_orders_in_plain_korean(skills, kakao_app):
    paid = _order(kakao_app)
    _order(kakao_app, status=Order.Status.FAILED, name="티셔츠", failure_message="주문 상품이 품절되었습니다.")
    _order(kakao_app, app_user_id="someone-else", name="남의 주문")
    answer = call(skills, "orders", payload())
    cards = outputs(answer)[1]["carousel"]["items"]
    assert len(cards) == 2 and not any("남의 주문" in c["title"] for c in cards)
    by_title = {c["title"].split(" (")[0]: c for c in cards}
    assert by_title["머그컵"]["description"].startswith("결제 완료 · 8,000원")
    assert by_title["티셔츠"]["description"].startswith("결제 실패: 주문 상품이 품절되었습니다.")
    detail = by_title["머그컵"]["buttons"][0]
    assert detail == {"action": "block", "label": "주문 상세", "blockId": "block-status",
                      "extra": {"order_id": paid.partner_order_id}}  # fmt: skip
    assert "buttons" not in by_title["티셔츠"]


def test_my_orders_needs_an_app_user_id_and_says_when_there_are_none(skills, kakao_app):
    assert text_of(call(skills, "orders", payload(app_user_id=None))) == skills.needs_account_text
    assert text_of(call(skills, "orders", payload())) == skills.no_orders_text


def test_order_status_only_for_the_buyers_own_order(skills, kakao_app):
    mine = _order(kakao_app, status=Order.Status.APPROVING)
    theirs = _order(kakao_app, app_user_id="someone-else")
    answer = call(skills, "order-status", payload(extra={"order_id": mine.partner_order_id}))
    assert "결제 진행 중" in outputs(answer)[0]["basicCard"]["description"]
    answer = call(skills, "order-status", payload(extra={"order_id": theirs.partner_order_id}))
    assert text_of(answer) == "주문을 찾을 수 없어요."


# --- HTTP ----------------------------------------------------------------------------------------


def test_http_refusals_are_envelopes_and_calls_are_stored(skills, shop, caplog):
    client = Client()
    assert client.post("/skill/not-a-key/products", {}, content_type="application/json").status_code == 404
    base = f"/skill/{skills.skill_key}/"
    assert client.post(base + "nope", {}, content_type="application/json").status_code == 404
    assert client.get(base + "products").status_code == 405
    bad = client.post(base + "products", b"{nope", content_type="application/json")
    assert bad.status_code == 400 and bad.json()["status"] == 400
    odd = client.post(base + "products", {"action": "x"}, content_type="application/json")
    assert odd.status_code == 400
    big = client.post(base + "products", b"{}", content_type="application/json", CONTENT_LENGTH="999999999")
    assert big.status_code == 413
    with caplog.at_level(logging.INFO):
        call(skills, "products", payload(), client)
    stored = InboundCall.objects.filter(endpoint="skill_products").order_by("-received_at").first()
    assert stored is not None and stored.http_status == 200 and '"utterance"' in stored.body
    assert skills.skill_key not in caplog.text
    skills.enabled = False
    skills.save()
    assert client.post(base + "products", {}, content_type="application/json").status_code == 404


# --- product pictures ----------------------------------------------------------------------------


def test_product_pictures_are_checked_and_served(settings, tmp_path, shop, skills):
    from django.core.exceptions import ValidationError

    settings.MEDIA_ROOT = tmp_path
    _, mug = shop
    mug.image = SimpleUploadedFile("mug.png", PNG, content_type="image/png")
    mug.full_clean()
    mug.save()
    card = next(c for c in outputs(call(skills, "products", payload()))[1]["carousel"]["items"] if c["title"] == "상품 MUG")
    url = card["thumbnails"][0]["imageUrl"]
    assert url.startswith("http://testserver/media/products/")
    served = Client().get(urlsplit(url).path)
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert b"".join(served.streaming_content) == PNG
    (tmp_path / "secure").mkdir()
    (tmp_path / "secure" / "id-card.png").write_bytes(PNG)
    assert Client().get("/media/products/../secure/id-card.png").status_code == 404
    assert Client().get("/media/products/not-a-product.png").status_code == 404

    mug.image = SimpleUploadedFile("evil.png", b"<script>alert(1)</script>", content_type="image/png")
    with pytest.raises(ValidationError, match="JPEG, PNG"):
        mug.full_clean()
    settings.PRODUCT_IMAGE_MAX_BYTES = 10
    mug.image = SimpleUploadedFile("big.png", PNG, content_type="image/png")
    with pytest.raises(ValidationError, match="너무 큽니다"):
        mug.full_clean()
