"""Rows for the tests of the admin's dashboard, order page and member page (no tests here):
orders with their sheet and payment events, members with what callbacks learnt, stock, failed
callbacks and webhooks, made with the ORM as the flows leave them."""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.contrib.auth.models import Permission, User
from django.utils import timezone

from callbacks.models import (
    CallbackEvent,
    Consent,
    LocationRecord,
    MemberProfile,
    SecureImage,
    SecureImageSet,
    ShippingAddress,
)
from catalog.models import Option, OptionGroup, OptionSubGroup, Product
from kakaoplugin.models import (
    Customer,
    KakaoApp,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from orders.models import Order, OrderLine, OrderSheet, OrderSheetLine, PaymentEvent, Subscription

ADDRESS = {
    "base_address": "경기도 성남시 분당구 판교역로 235",
    "detail_address": "에이치스퀘어 엔동 6층",
    "zone_code": "13494",
    "receiver_name": "수령인",
    "receiver_mobile_number": "01011112222",
}
# what must never appear on a page for staff without the personal-data permission
PERSONAL = ("수령인", "01011112222", "판교역로", "에이치스퀘어", "홍길동", "hong@example.com")
_seq = itertools.count(1)


def make_test_app(name: str = "test-mode-app") -> KakaoApp:
    return KakaoApp.objects.create(name=name, environment=KakaoApp.Environment.TEST, rest_api_key="k")


def make_order(
    kakao_app: KakaoApp, *, status: str = Order.Status.PAID, amount: int = 20000, refunded: int = 0,
    app_user_id: str = "buyer-1", approved_at=None, flag: str = "", events: int | None = None, text: str | None = None,
) -> Order:  # fmt: skip
    """An order as the flow leaves it: its sheet (a size option and, optionally, a typed answer),
    a stock line and its payment events (T1 … approved; ``events`` adds that many inquiries)."""
    n = next(_seq)
    now = timezone.now()
    sheet = OrderSheet.objects.create(
        kakao_app=kakao_app, livemode=kakao_app.livemode, app_user_id=app_user_id, product_code=f"P-{n}",
        product_name="티셔츠", unit_price=amount // 2, quantity=2, total_amount=amount, expires_at=now,
    )  # fmt: skip
    OrderSheetLine.objects.create(sheet=sheet, group_id="size", group_name="사이즈", group_type="SELECT", option_id="L", option_value="L")
    if text:
        OrderSheetLine.objects.create(sheet=sheet, position=1, group_id="msg", group_name="각인 문구", group_type="TEXT", text=text)
    paid = status in (Order.Status.PAID, Order.Status.CANCELLED, Order.Status.REFUNDING)
    order = Order.objects.create(
        sheet=sheet, kakao_app=kakao_app, livemode=kakao_app.livemode, app_user_id=app_user_id,
        partner_user_id=app_user_id, relay_id=f"rly-{n}", item_name="티셔츠", quantity=2, goods_amount=amount,
        total_amount=amount, vat_amount=amount // 11, shipping_address=ADDRESS, status=status, tid=f"T{n:019d}",
        approved_amount=amount if paid else None, refunded_amount=refunded, flag=flag,
        approved_at=(approved_at or now) if paid else None, payment_method="CARD" if paid else "",
    )  # fmt: skip
    OrderLine.objects.create(order=order, description="티셔츠 / L", quantity=2, amount=amount)
    kinds = [
        (PaymentEvent.Kind.T1_SERVED, {"ordersheet_id": sheet.pk}, {"total_amount": amount}),
        (PaymentEvent.Kind.T2_RECEIVED, {"tid": order.tid, "shipping_address": ADDRESS}, None),
        (PaymentEvent.Kind.T3_RECEIVED, {"pg_token": "pg"}, None),
        (PaymentEvent.Kind.APPROVE_REQUEST, {"tid": order.tid, "pg_token": "pg"}, None),
    ]
    if paid:
        kinds.append((PaymentEvent.Kind.APPROVE_SUCCESS, None, {"aid": "A1", "amount": {"total": amount}}))
    kinds += [(PaymentEvent.Kind.INQUIRY, {"tid": order.tid}, {"status": "SUCCESS_PAYMENT"})] * (events or 0)
    PaymentEvent.objects.bulk_create(
        PaymentEvent(order=order, kind=kind, idempotency_key=f"{kind}:{order.pk}:{i}", request=req, response=resp,
                     outcome=PaymentEvent.Outcome.OK, http_status=200 if kind.startswith("approve") else None)  # fmt: skip
        for i, (kind, req, resp) in enumerate(kinds)
    )
    return order


def make_member(kakao_app: KakaoApp, app_user_id: str = "buyer-1", *, extra: int = 0) -> Customer:
    """A member with a profile, an address, a consent, locations and an image set (``extra`` more)."""
    now = timezone.now()
    member = Customer.objects.create(kakao_app=kakao_app, app_user_id=app_user_id)
    MemberProfile.objects.create(
        customer=member, nickname="홍길동", phone_number="+82 10-1234-5678", email="hong@example.com",
        source=MemberProfile.Source.CALLBACK, collected_at=now, gender="female", age_range="30~39",
    )  # fmt: skip
    ShippingAddress.objects.create(
        customer=member, kakao_address_id="a1", base_address=ADDRESS["base_address"],
        detail_address=ADDRESS["detail_address"], receiver_name="수령인", receiver_mobile_number="01011112222",
        zone_code="13494", collected_at=now,
    )  # fmt: skip
    Consent.objects.create(customer=member, tag="marketing", agreed_at=now)
    for _ in range(1 + extra):
        event = CallbackEvent.objects.create(kind="current_location", kakao_app=kakao_app, app_user_id=app_user_id, customer=member)
        LocationRecord.objects.create(
            event=event, kakao_app=kakao_app, customer=member, latitude=37.401234, longitude=127.108765,
            land_address_name="경기도 성남시 분당구 삼평동 681", detail="3층",
        )  # fmt: skip
        event = CallbackEvent.objects.create(kind="secure_image", kakao_app=kakao_app, app_user_id=app_user_id, customer=member)
        image_set = SecureImageSet.objects.create(event=event, kakao_app=kakao_app, customer=member, status="complete")
        SecureImage.objects.create(image_set=image_set, position=0, size="original", status="expired")
    return member


def make_subscription(kakao_app: KakaoApp, order: Order) -> Subscription:
    return Subscription.objects.create(
        kakao_app=kakao_app, livemode=kakao_app.livemode, signup_order=order, app_user_id=order.app_user_id,
        partner_user_id=order.partner_user_id, item_name="월간 원두", cid="TCSUBSCRIP", rule={},
        anchor_date=timezone.now().date(), state=Subscription.State.ACTIVE,
    )  # fmt: skip


def make_stock(*, sold_out: int = 1, low: int = 1, fine: int = 1) -> list[Product]:
    """Products whose one option is sold out / low (threshold 3) / fine."""
    products = []
    for state, count, stock in (("out", sold_out, 0), ("low", low, 2), ("ok", fine, 50)):
        for _ in range(count):
            n = next(_seq)
            product = Product.objects.create(code=f"S-{state}-{n}", name=f"재고 {state} {n}", price=1000, low_stock_threshold=3)
            group = OptionGroup.objects.create(product=product, group_id="g", name="색상")
            sub = OptionSubGroup.objects.create(product=product, group=group, sub_group_id=f"g-{n}")
            Option.objects.create(product=product, sub_group=sub, option_id="o", value="빨강", stock=stock)
            products.append(product)
    return products


def make_failures(kakao_app: KakaoApp, *, count: int = 1) -> None:
    """``count`` failed callbacks and webhook deliveries that gave up in the last hour, and one of
    each from two days ago (not counted)."""
    now = timezone.now()
    endpoint = WebhookEndpoint.objects.create(kakao_app=kakao_app, url="https://hooks.example.com/x", secret="s")
    for i in range(count + 1):
        old = i == count
        event = CallbackEvent.objects.create(kind="onetimeprofile", kakao_app=kakao_app, status=CallbackEvent.Status.FAILED)
        if old:
            CallbackEvent.objects.filter(pk=event.pk).update(received_at=now - timedelta(days=2))
        n = next(_seq)
        hook = WebhookEvent.objects.create(id=f"evt_{n}", kakao_app=kakao_app, type="order.paid", idempotency_key=f"k{n}", payload={})
        delivery = WebhookDelivery.objects.create(
            event=hook, endpoint=endpoint, status=WebhookDelivery.Status.FAILED, attempts=1, give_up_at=now,
        )  # fmt: skip
        attempt = WebhookAttempt.objects.create(delivery=delivery, number=1, status_code=500, error="HTTP 500")
        if old:
            WebhookAttempt.objects.filter(pk=attempt.pk).update(at=now - timedelta(days=2))


def staff(username: str, *perms: str, password: str = "pw-0123456789") -> User:
    user = User.objects.create_user(username, password=password, is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user
