"""A subscription's schedule and its state: what is due when (Asia/Seoul), the next installment,
stopping it (suspend, cancel), KakaoPay's status call about the sid, and the events about it
(recorded on its sign-up order).  Used by sign-up, charging and the staff actions."""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from catalog.subscriptions import Installment, ScheduleRule
from kakaoplugin.clients.kakaopay import KakaoPayClient, KakaoPayError, KakaoPayResult

from ..models import Order, PaymentEvent, Subscription, SubscriptionInstallment
from ..payments.calls import record_call
from ..payments.ledger import payment_event_record
from ..payments.transitions import order_fail

Inst = SubscriptionInstallment
MSG_CHARGE_FAILED = "정기결제 승인이 거절되었습니다."
ACTIVE_AT_KAKAOPAY = "ACTIVE"


class ChargeOutcome(enum.Enum):
    """What a charging run did (its task retries on ``RETRY``)."""

    CHARGED = "charged"  # an installment was paid: the next may be due too
    DONE = "done"  # nothing (more) to do now
    RETRY = "retry"  # an outcome is unknown: try again soon (settle first)
    SKIPPED = "skipped"  # someone else owns it


def store_zone() -> ZoneInfo:
    return ZoneInfo(settings.STORE_TIME_ZONE)


def seoul_date(moment: datetime) -> date:
    return moment.astimezone(store_zone()).date()


def due_at(day: date) -> datetime:
    """The moment an installment dated ``day`` (Asia/Seoul) falls due."""
    return datetime.combine(day, time(hour=settings.SUBSCRIPTION_CHARGE_HOUR), tzinfo=store_zone())


def rule_of(sub: Subscription) -> ScheduleRule:
    return ScheduleRule.from_json(sub.rule)


def subscription_event(sub: Subscription, message: str, *, result: KakaoPayResult | KakaoPayError | None = None,
           outcome: str = PaymentEvent.Outcome.INFO, staff: str = "") -> None:  # fmt: skip
    """Calls and changes about the subscription itself are events of its sign-up order."""
    kind = PaymentEvent.Kind.SUBSCRIPTION
    if result is None:
        payment_event_record(order=sub.signup_order, kind=kind, outcome=outcome, message=message, created_by=staff)
    else:
        record_call(sub.signup_order, kind, result, outcome=outcome, message=message, created_by=staff)


def schedule(sub: Subscription, *, start: int = 0, count: int = 12) -> list[Installment]:
    return rule_of(sub).installments(sub.anchor_date, start=start, count=count, quantity=sub.quantity)


def schedule_next(sub: Subscription, seq: int) -> None:
    rule = rule_of(sub)
    sub.next_seq = seq
    if rule.exists(seq):
        sub.next_due_at = due_at(rule.due_date(sub.anchor_date, seq))
    else:
        sub.next_due_at = None
        sub.state, sub.state_reason = Subscription.State.ENDED, "every period paid"


def subscription_stop(sub: Subscription, inst: Inst | None, *, state: str, reason: str, inst_status: str, staff: str = "") -> None:
    """Suspend or cancel (inside the caller's transaction): no more charges; ``inst`` ends."""
    sub.state, sub.state_reason, sub.next_due_at = state, reason[:200], None
    if state == Subscription.State.CANCELLED:
        sub.cancelled_at, sub.cancelled_by = timezone.now(), staff
    sub.save()
    if inst is not None:
        installment_end(inst, inst_status, reason)
    subscription_event(sub, f"subscription {state}: {reason}", staff=staff,
           outcome=PaymentEvent.Outcome.OK if state == Subscription.State.CANCELLED else PaymentEvent.Outcome.REFUSED)  # fmt: skip


def installment_end(inst: Inst, status: str, reason: str) -> None:
    """``inst`` ends not charged (failed or skipped); its child order, if any, fails."""
    Inst.objects.filter(pk=inst.pk).update(status=status, lease_until=None, requested_at=None, last_error=reason[:300])
    if inst.order_id:
        order_fail(order=inst.order, reason="subscription_" + status, message=MSG_CHARGE_FAILED,
                   from_states=(Order.Status.HELD,))  # fmt: skip


def kakaopay_status(sub: Subscription, client: KakaoPayClient, staff: str = "") -> dict | None:
    try:
        result = client.subscription_status(cid=sub.cid, sid=str(sub.sid), cid_secret=str(sub.kakao_app.cid_secret or ""))
    except KakaoPayError as exc:
        subscription_event(sub, "status call failed", result=exc, outcome=PaymentEvent.Outcome.UNKNOWN, staff=staff)
        return None
    subscription_event(sub, f"status: {result.data.get('status')}", result=result, outcome=PaymentEvent.Outcome.OK, staff=staff)
    Subscription.objects.filter(pk=sub.pk).update(kakaopay_status=without_sid(result.data), kakaopay_status_at=timezone.now())
    return result.data


def without_sid(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "sid"}
