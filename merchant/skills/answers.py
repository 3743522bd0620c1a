"""What each chatbot skill answers (Open Builder's skill response format, ``response.py``).

| skill | reads | answers |
|---|---|---|
| ``products`` | — | a carousel of commerce cards for the products on sale: “옵션 선택” opens the option plugin; products without required choices also get “바로 결제”, an order sheet for this buyer and its one-click link |
| ``pay`` | ``product_id``, ``quantity`` (params or clientExtra) | a card with the one-click payment button for a fresh order sheet bound to the buyer |
| ``orders`` | the buyer's app user id | the buyer's recent orders, their states in words; paid ones offer “주문 상세” |
| ``order-status`` | ``order_id`` (clientExtra or params) | what T4 would say about that order, in words |

A skill never answers an error to Open Builder for something the merchant or buyer can fix: a
missing plugin id, an unknown product, a sold-out product or a buyer without an app user id get a
short Korean text saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from catalog.models import OptionGroup, Product
from kakaoplugin.envelope import PluginError
from orders.models import Order, OrderSheet

from ..links import bizplugin_link
from ..models import ChatbotSkills
from ..services import merchant_order_sheet_create
from . import response as r

NO_IMAGE = "merchant/chatbot-no-image.png"  # a static file: a commerce card must have a thumbnail
RECENT_ORDERS = 5
MAX_QUANTITY = 99
SEOUL = ZoneInfo("Asia/Seoul")
REUSE_MIN_SECONDS_LEFT = 3600  # a shown sheet is reused while it has at least an hour to live


@dataclass(frozen=True)
class SkillRequest:
    """What a skill reads of Open Builder's payload (unknown fields ignored)."""

    app_user_id: str | None
    user_key: str | None
    params: dict[str, Any] = field(default_factory=dict)
    client_extra: dict[str, Any] = field(default_factory=dict)
    utterance: str = ""

    @classmethod
    def parse(cls, payload: dict) -> SkillRequest:
        if not isinstance(payload, dict):
            raise PluginError(400, "skill payload must be a JSON object", http_status=400)
        user = ((payload.get("userRequest") or {}).get("user") or {}) if isinstance(payload.get("userRequest"), dict) else {}
        props = user.get("properties") or {} if isinstance(user, dict) else {}
        action = payload.get("action") or {}
        if not isinstance(action, dict) or not isinstance(props, dict):
            raise PluginError(400, "skill payload: action and userRequest.user.properties must be objects", http_status=400)
        params = action.get("params") or {}
        extra = action.get("clientExtra") or {}
        app_user_id = props.get("appUserId")
        return cls(
            app_user_id=str(app_user_id)[:64] if app_user_id not in (None, "") else None,
            user_key=str(props.get("plusfriendUserKey") or user.get("id") or "")[:100] or None,
            params=params if isinstance(params, dict) else {},
            client_extra=extra if isinstance(extra, dict) else {},
            utterance=str((payload.get("userRequest") or {}).get("utterance") or "")[:1000],
        )

    def value(self, name: str) -> Any:
        """A block parameter or a button's clientExtra (``extra``), whichever is set."""
        value = self.client_extra.get(name)
        return value if value not in (None, "") else self.params.get(name)


@dataclass(frozen=True)
class Context:
    skills: ChatbotSkills
    request: SkillRequest
    absolute: Callable[[str], str]  # a path → an absolute https URL Open Builder can fetch

    @property
    def app(self):
        return self.skills.kakao_app


def _won(amount: int) -> str:
    return f"{amount:,}원"


def _thumbnail(ctx: Context, product: Product) -> str:
    if product.image:
        return ctx.absolute("/media/" + product.image.name)
    return ctx.absolute(settings.STATIC_URL + NO_IMAGE)


def _shown_products(skills: ChatbotSkills) -> QuerySet[Product]:
    found = Product.objects.filter(on_sale=True, price__isnull=False).order_by("code")
    if skills.source == ChatbotSkills.Source.CATEGORY:
        found = found.filter(category=skills.category)
    elif skills.source == ChatbotSkills.Source.LIST:
        found = found.filter(pk__in=skills.products.values("pk"))
    return found[: min(skills.max_products or r.MAX_CAROUSEL, r.MAX_CAROUSEL)]


def _needs_choices(products: list[Product]) -> set[int]:
    """Products with a required first-level group: they are bought through the option plugin."""
    return set(
        OptionGroup.objects.filter(product__in=products, parent_option__isnull=True)
        .exclude(required=False)
        .values_list("product_id", flat=True)
    )


def _open_sheets(ctx: Context, products: list[Product]) -> dict[str, OrderSheet]:
    """This buyer's open one-unit sheets of these products, still good for a while: showing the
    carousel again reuses them instead of writing new ones (only for a known buyer: a sheet bound
    to nobody is made per view, never shared between chats)."""
    if not ctx.request.app_user_id:
        return {}
    good_until = timezone.now() + timedelta(seconds=REUSE_MIN_SECONDS_LEFT)
    found = OrderSheet.objects.filter(
        kakao_app=ctx.app, app_user_id=ctx.request.app_user_id, status=OrderSheet.Status.OPEN, quantity=1,
        expires_at__gt=good_until, product_code__in=[p.code for p in products],
    ).order_by("created_at")  # fmt: skip
    return {sheet.product_code: sheet for sheet in found}


def _sheet_link(ctx: Context, product: Product, quantity: int) -> tuple[str | None, str]:
    """(one-click launch link, refusal text): an order sheet for this buyer, or why there is none."""
    choices = {"id": product.code, "quantity": quantity, "option_groups": []}
    try:
        made = merchant_order_sheet_create(
            kakao_app=ctx.app, choices=choices, app_user_id=ctx.request.app_user_id, relay_id=None, ttl_seconds=None
        )
    except PluginError as exc:
        return None, exc.message
    return made.launch_link, ""


@transaction.atomic  # the cards' order sheets are written in one commit
def products(ctx: Context) -> dict:
    shown = list(_shown_products(ctx.skills))
    if not shown:
        return r.answer(r.simple_text("지금 판매 중인 상품이 없어요."))
    needs_choices = _needs_choices(shown)
    app, cards = ctx.app, []
    reusable = _open_sheets(ctx, shown)
    for product in shown:
        buttons = []
        if app.option_plugin_id:
            link = bizplugin_link(plugin_id=app.option_plugin_id, product_id=product.code)
            buttons.append(r.link_button(ctx.skills.option_button_label, link))
        if app.payment_plugin_id and product.pk not in needs_choices:
            sheet = reusable.get(product.code)
            if sheet is not None and sheet.created_at > product.updated_at:
                link = bizplugin_link(plugin_id=app.payment_plugin_id, oneclick_id=sheet.pk)
            else:
                link, _ = _sheet_link(ctx, product, 1)
            if link:
                buttons.append(r.link_button(ctx.skills.buy_now_button_label, link))
        if not buttons:
            continue  # a card needs a button: nothing to do with this product from the chat
        cards.append(
            r.commerce_card(
                title=product.name, description=product.name, price=int(product.price) + product.discount,
                discount=product.discount, image_url=_thumbnail(ctx, product), buttons=buttons,
            )  # fmt: skip
        )
    if not cards:
        return r.answer(r.simple_text(ctx.skills.not_ready_text))
    intro = [r.simple_text(ctx.skills.products_intro)] if ctx.skills.products_intro else []
    return r.answer(*intro, r.carousel("commerceCard", cards))


def _quantity(value: Any) -> int | None:
    try:
        quantity = int(str(value if value not in (None, "") else 1).strip())
    except ValueError:
        return None
    return quantity if 1 <= quantity <= MAX_QUANTITY else None


def pay(ctx: Context) -> dict:
    if not ctx.app.payment_plugin_id:
        return r.answer(r.simple_text(ctx.skills.not_ready_text))
    code = str(ctx.request.value("product_id") or "").strip()
    product = Product.objects.filter(code=code, on_sale=True, price__isnull=False).first() if code else None
    if product is None:
        return r.answer(r.simple_text("찾을 수 없거나 판매 중이 아닌 상품이에요."))
    quantity = _quantity(ctx.request.value("quantity"))
    if quantity is None:
        return r.answer(r.simple_text(f"수량은 1에서 {MAX_QUANTITY} 사이로 알려 주세요."))
    if product.pk in _needs_choices([product]):
        text = f"{product.name}은(는) 옵션을 먼저 골라야 해요."
        if ctx.app.option_plugin_id:
            link = bizplugin_link(plugin_id=ctx.app.option_plugin_id, product_id=product.code)
            card = r.basic_card(title=product.name, description=text,
                                buttons=[r.link_button(ctx.skills.option_button_label, link)])  # fmt: skip
            return r.answer({"basicCard": card})
        return r.answer(r.simple_text(text))
    link, refusal = _sheet_link(ctx, product, quantity)
    if link is None:
        return r.answer(r.simple_text(f"주문서를 만들 수 없어요: {refusal}"))
    price = int(product.price)
    card = r.commerce_card(
        title=product.name, description=f"{product.name} × {quantity}", price=(price + product.discount) * quantity,
        discount=product.discount * quantity, image_url=_thumbnail(ctx, product),
        buttons=[r.link_button(ctx.skills.pay_button_label, link)],
    )  # fmt: skip
    return r.answer({"commerceCard": card})


STATE_WORDS = {
    Order.Status.PENDING: "결제 대기",
    Order.Status.HELD: "결제 진행 중",
    Order.Status.APPROVING: "결제 진행 중",
    Order.Status.PAID: "결제 완료",
    Order.Status.REFUNDING: "결제 실패 (환불 진행 중)",
    Order.Status.FAILED: "결제 실패",
    Order.Status.CANCELLED: "결제 취소 (환불 완료)",
}
NEXT_STEP = {
    Order.Status.PENDING: "결제를 마치지 않으셨어요. 다시 주문해 주세요.",
    Order.Status.HELD: "결제가 진행되고 있어요. 잠시 후 다시 확인해 주세요.",
    Order.Status.APPROVING: "결제가 진행되고 있어요. 잠시 후 다시 확인해 주세요.",
    Order.Status.PAID: "주문이 접수되었어요. 배송이 시작되면 알려 드릴게요.",
    Order.Status.REFUNDING: "결제된 금액은 자동으로 취소돼요.",
    Order.Status.FAILED: "결제되지 않았어요. 다시 주문해 주세요.",
    Order.Status.CANCELLED: "결제가 취소되고 환불되었어요.",
}


def describe(order: Order) -> str:
    """An order's state in plain Korean, as a buyer reads it (what T4 says, and what to do next)."""
    words = STATE_WORDS[order.status]
    if order.status == Order.Status.FAILED and order.failure_message:
        words += f": {order.failure_message}"
    lines = [f"{words} · {_won(order.total_amount)}", NEXT_STEP[order.status]]
    if order.status == Order.Status.PAID and order.refunded_amount:
        lines.insert(1, f"부분 환불 {_won(order.refunded_amount)}")
    return "\n".join(lines)


def _buyer_orders(ctx: Context) -> QuerySet[Order]:
    return Order.objects.filter(kakao_app=ctx.app, app_user_id=ctx.request.app_user_id)


def orders(ctx: Context) -> dict:
    if not ctx.request.app_user_id:
        return r.answer(r.simple_text(ctx.skills.needs_account_text))
    recent = list(_buyer_orders(ctx).order_by("-created_at")[:RECENT_ORDERS])
    if not recent:
        return r.answer(r.simple_text(ctx.skills.no_orders_text))
    cards = []
    for order in recent:
        buttons = []
        if order.status == Order.Status.PAID and ctx.skills.order_status_block_id:
            buttons.append(
                r.block_button(ctx.skills.order_detail_button_label, ctx.skills.order_status_block_id,
                               {"order_id": order.partner_order_id})  # fmt: skip
            )
        when = order.created_at.astimezone(SEOUL).strftime("%m/%d %H:%M")
        cards.append(r.basic_card(title=f"{order.item_name} ({when})", description=describe(order), buttons=buttons))
    return r.answer(r.simple_text(f"최근 주문 {len(cards)}건이에요."), r.carousel("basicCard", cards))


def order_status(ctx: Context) -> dict:
    order_id = str(ctx.request.value("order_id") or "").strip()
    if not ctx.request.app_user_id:
        return r.answer(r.simple_text(ctx.skills.needs_account_text))
    order = _buyer_orders(ctx).filter(partner_order_id=order_id).first() if order_id else None
    if order is None:  # another buyer's order is not found either: nothing about it is revealed
        return r.answer(r.simple_text("주문을 찾을 수 없어요."))
    when = order.created_at.astimezone(SEOUL).strftime("%Y-%m-%d %H:%M")
    card = r.basic_card(title=order.item_name, description=f"주문 {when}\n{describe(order)}")
    return r.answer({"basicCard": card})


SKILLS: dict[str, Callable[[Context], dict]] = {
    "products": products,
    "pay": pay,
    "orders": orders,
    "order-status": order_status,
}
