"""Helpers of the subscription tests (no tests here): a plan's product, a buyer signing up through
payment T1–T4 against the fake KakaoPay, and Seoul times."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from catalog.models import SubscriptionPlan
from orders.models import Order, Subscription
from tests.conftest import wait_until
from tests.support.payments import Buyer, make_product, make_sheet

SEOUL = ZoneInfo("Asia/Seoul")


def seoul(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SEOUL)


def make_plan(*, code: str = "SUB-1", intro: str = "0, 5000", amount: int = 9900, periods: int | None = None,
              cycle: str = "month", tax_type: str = "taxable") -> SubscriptionPlan:  # fmt: skip
    product, _ = make_product(code=code, price=amount, with_option=False, needs_shipping=False, tax_type=tax_type)
    return SubscriptionPlan.objects.create(
        product=product, message="첫달 무료", billing_cycle=cycle, amount=amount, intro_amounts=intro, periods=periods
    )


def sign_up(kakao_app, plugin_base: str, fake_url: str, plan: SubscriptionPlan, *, app_user_id: str = "user-1",
            settle: bool = True, timeout: float = 20.0) -> tuple[Buyer, Subscription]:  # fmt: skip
    """The buyer's sign-up, as Kakao and KakaoPay drive it: T1, ready, authenticate, T2, T3; then
    (``settle``) wait for T4 to leave W.  Works with a real worker or eager tasks."""
    sheet = make_sheet(kakao_app, plan.product, None, app_user_id=app_user_id)
    buyer = Buyer(plugin_base, fake_url, app_user_id=app_user_id)
    body = buyer.t1(sheet.pk)
    assert body["status"] == 200, body
    buyer.ready()
    buyer.authorize()
    assert buyer.t2(address=None) == {"status": 200}
    assert buyer.t3() == {"status": 200}
    sub = Subscription.objects.get(signup_order__partner_order_id=buyer.partner_order_id)
    if settle:
        wait_until(lambda: buyer.t4()["data"]["order_status"] != "W", timeout=timeout, message="sign-up to settle")
        sub.refresh_from_db()
    return buyer, sub


def move_anchor(sub: Subscription, anchor: date, next_due: datetime) -> Subscription:
    """Move the sign-up date in the data (tests control "now" this way, never by patching)."""
    Subscription.objects.filter(pk=sub.pk).update(anchor_date=anchor, next_due_at=next_due)
    sub.refresh_from_db()
    return sub


def charge_orders(sub: Subscription) -> list[Order]:
    return [i.order for i in sub.installments.select_related("order").order_by("seq") if i.order_id]
