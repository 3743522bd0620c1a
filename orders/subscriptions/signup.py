"""Subscription sign-up (정기결제): payment T1 of a product with an active plan sells it with the
app's subscription CID, ``automatic_payment`` (the plan's schedule as dated amounts) and a first
amount; a :class:`~orders.models.Subscription` waits ``pending`` until the approve engine
(``orders.payments.approve``) marks the sign-up order paid and :func:`subscription_activate` keeps
KakaoPay's ``sid`` (encrypted) and schedules installment 1."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from catalog.hot_reads import subscription_plan_active
from catalog.models import Product, SubscriptionPlan
from kakaoplugin.models import KakaoApp

from ..errors import OrderError
from ..models import Order, PaymentEvent, Subscription
from .state import schedule, schedule_next, seoul_date, store_zone, subscription_event

MSG_NOT_CONFIGURED = "정기결제 설정이 되어 있지 않습니다. 판매자에게 문의해 주세요."


def subscription_plan_for(*, kakao_app: KakaoApp, product: Product | None) -> SubscriptionPlan | None:
    """The active plan of ``product`` (None: a single payment).  Raises :class:`OrderError`
    ``not_configured`` (payment T1 answers 500) when the app has no subscription CID to sell it with."""
    if product is None:
        return None
    plan = subscription_plan_active(product=product)
    if plan is not None and not kakao_app.subscription_cid:
        raise OrderError(MSG_NOT_CONFIGURED, code=OrderError.NOT_CONFIGURED)
    return plan


def subscription_signup_amount(*, plan: SubscriptionPlan, quantity: int) -> int:
    return plan.rule().amount_of(0, quantity)


def subscription_create_pending(*, order: Order, plan: SubscriptionPlan) -> Subscription:
    """Payment T1 of a plan's product: the subscription this payment will start (its schedule fixed
    now, from today's Asia/Seoul date, as T1 shows it)."""
    product = plan.product
    rule = plan.rule()
    return Subscription.objects.create(
        kakao_app=order.kakao_app, signup_order=order, livemode=order.livemode, plan=plan, app_user_id=order.app_user_id,
        partner_user_id=order.partner_user_id, item_name=order.item_name, item_code=order.item_code,
        quantity=order.quantity, tax_free=product.tax_type == Product.TaxType.TAX_FREE, cid=order.cid,
        message=plan.message, billing_cycle_label=plan.cycle_label, currency=plan.currency,
        rule=rule.as_json() | {"shown": plan.details_shown}, anchor_date=seoul_date(timezone.now()),
    )  # fmt: skip


def automatic_payment(*, order: Order) -> dict[str, Any]:
    """T1's ``automatic_payment`` for a sign-up order (CONTRACTS section 6)."""
    sub = order.subscription
    details = [
        {"year": i.due_date.year, "month": i.due_date.month, "day": i.due_date.day, "amount": i.amount}
        for i in schedule(sub, count=int(sub.rule.get("shown") or 12))
    ]
    return {"message": sub.message, "billing_cycle": sub.billing_cycle_label, "currency": sub.currency, "details": details}


def subscription_activate(*, order: Order, data: dict[str, Any]) -> Subscription | None:
    """The sign-up order was approved (inside the approve engine's transaction): keep the sid,
    schedule installment 1.  Without a sid (not a subscription CID) the subscription fails, visibly."""
    sub = Subscription.objects.select_for_update().filter(signup_order=order, state=Subscription.State.PENDING).first()
    if sub is None:
        return None
    sid = str(data.get("sid") or "")
    now = timezone.now()
    if not sid:
        sub.state, sub.state_reason = Subscription.State.FAILED, "KakaoPay's approval carried no sid (subscription CID?)"
        sub.save()
        subscription_event(sub, sub.state_reason, outcome=PaymentEvent.Outcome.ERROR)
        return sub
    sub.sid = sid
    sub.state, sub.activated_at = Subscription.State.ACTIVE, now
    sub.last_approved_at = str(data.get("approved_at") or "")[:40]
    schedule_next(sub, 1)
    sub.save()
    subscription_event(sub, f"subscription {sub.pk} {sub.state}; next charge "
                f"{sub.next_due_at.astimezone(store_zone()):%Y-%m-%d %H:%M} (Asia/Seoul)" if sub.next_due_at else "no more charges",
           outcome=PaymentEvent.Outcome.OK)  # fmt: skip
    return sub
