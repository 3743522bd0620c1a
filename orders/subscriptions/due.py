"""What is due of the subscriptions, and claiming an installment to charge: the charging task's
first step (``orders.subscriptions.charging``).  An installment is created once (unique on
``(subscription, seq)``) under the subscription's row lock, owned by one runner at a time (its
lease), and charged through one child order."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from kakaoplugin.selectors import customer_is_blocked

from ..models import Order, OrderLine, PaymentEvent, Subscription
from ..payments.calls import lease, lease_over
from ..payments.ledger import payment_event_record
from ..payments.transitions import order_create_held
from ..rules import vat_of
from .state import ChargeOutcome, Inst, due_at, rule_of, schedule_next, subscription_stop


def subscriptions_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Subscriptions the charging task should run now: active ones due, and any (whatever its
    state) with a charge whose runner is gone (its outcome must be settled).  Also closes
    subscriptions whose sign-up payment ended without an approval."""
    now = now or timezone.now()
    Subscription.objects.filter(
        state=Subscription.State.PENDING,
        signup_order__status__in=(Order.Status.FAILED, Order.Status.CANCELLED),
    ).update(state=Subscription.State.FAILED, state_reason="the sign-up payment was not completed")
    due = set(
        Subscription.objects.filter(state=Subscription.State.ACTIVE, next_due_at__lte=now)
        .order_by("next_due_at").values_list("pk", flat=True)[:limit]
    )  # fmt: skip
    stalled = Inst.objects.filter(status=Inst.Status.CHARGING).filter(lease_over(timezone.now()))
    due.update(stalled.values_list("subscription_id", flat=True)[:limit])
    return sorted(due)


def installment_claim(subscription_id: int, now: datetime) -> tuple[Subscription, Inst] | ChargeOutcome:
    """Pick the installment to work on and own it, or say why not."""
    clock = timezone.now()
    with transaction.atomic():
        # The subscription row lock orders claims against each other and against a staff cancel:
        # after a cancel commits, no new charge is claimed.
        sub = Subscription.objects.select_for_update(of=("self",)).select_related("kakao_app", "signup_order").get(pk=subscription_id)
        stalled = sub.installments.filter(Q(status=Inst.Status.CHARGING) & lease_over(clock)).first()
        if stalled is not None:  # a runner died or gave up with an unknown outcome: settle it
            Inst.objects.filter(pk=stalled.pk).update(lease_until=clock + lease())
            stalled.refresh_from_db()
            return sub, stalled
        if sub.installments.filter(status=Inst.Status.CHARGING).exists():
            return ChargeOutcome.SKIPPED  # another runner is on it
        if sub.state != Subscription.State.ACTIVE or sub.next_due_at is None or sub.next_due_at > now:
            return ChargeOutcome.DONE
        rule = rule_of(sub)
        if not rule.exists(sub.next_seq):
            schedule_next(sub, sub.next_seq)
            sub.save()
            return ChargeOutcome.DONE
        planned = rule.installment(sub.anchor_date, sub.next_seq, sub.quantity)
        inst, _ = Inst.objects.get_or_create(
            subscription=sub, seq=planned.seq,
            defaults={"due_date": planned.due_date, "due_at": due_at(planned.due_date), "amount": planned.amount,
                      "next_attempt_at": due_at(planned.due_date)},
        )  # fmt: skip
        if inst.status in (Inst.Status.PAID, Inst.Status.FAILED, Inst.Status.SKIPPED):
            schedule_next(sub, inst.seq + 1)  # already settled (should not happen): move on
            sub.save()
            return ChargeOutcome.CHARGED
        if customer_is_blocked(kakao_app=sub.kakao_app, app_user_id=sub.app_user_id):
            subscription_stop(sub, inst, state=Subscription.State.SUSPENDED, reason="member blocked", inst_status=Inst.Status.SKIPPED)
            return ChargeOutcome.DONE
        if inst.amount == 0:  # a free period: nothing to charge
            Inst.objects.filter(pk=inst.pk).update(status=Inst.Status.PAID, paid_at=clock, last_error="free period")
            schedule_next(sub, inst.seq + 1)
            sub.save()
            return ChargeOutcome.CHARGED
        claimed = Inst.objects.filter(
            pk=inst.pk, status__in=(Inst.Status.SCHEDULED, Inst.Status.RETRY), next_attempt_at__lte=now
        ).update(status=Inst.Status.CHARGING, lease_until=clock + lease(), updated_at=clock)
        if not claimed:
            return ChargeOutcome.DONE  # declined earlier: waiting for its retry time
        if inst.order_id is None:
            inst.order = installment_order_create(sub, inst)
            Inst.objects.filter(pk=inst.pk).update(order=inst.order)
        inst.refresh_from_db()
        return sub, inst


def installment_order_create(sub: Subscription, inst: Inst) -> Order:
    """The order staff see for one installment.  It stays HELD without a pg_token or a hold expiry
    while charging (the single-payment sweeper and reconciler leave such orders alone) and ends
    PAID, or FAILED."""
    signup = sub.signup_order
    tax_free = inst.amount if sub.tax_free else 0
    order = order_create_held(
        sheet_id=signup.sheet_id, kakao_app=sub.kakao_app, app_user_id=sub.app_user_id,
        partner_user_id=sub.partner_user_id, relay_id=signup.relay_id, item_name=sub.item_name,
        item_code=sub.item_code, quantity=sub.quantity, goods_amount=inst.amount, shipping_fee=0,
        total_amount=inst.amount, tax_free_amount=tax_free, vat_amount=vat_of(inst.amount - tax_free),
        use_shipping=signup.use_shipping, shipping_address=signup.shipping_address, cid=sub.cid,
        livemode=sub.livemode,
    )  # fmt: skip
    OrderLine.objects.create(
        order=order, description=f"{sub.item_name} · 정기결제 {inst.seq}회차 ({inst.due_date:%Y-%m-%d})"[:300],
        quantity=sub.quantity, amount=inst.amount, tax_free=sub.tax_free,
    )  # fmt: skip
    payment_event_record(
        order=order, kind=PaymentEvent.Kind.STATE, key=f"installment:{inst.pk}", outcome=PaymentEvent.Outcome.OK,
        message=f"installment {inst.seq} of subscription {sub.pk}, due {inst.due_date:%Y-%m-%d} (Asia/Seoul)",
    )  # fmt: skip
    return order
