"""Subscription payments (정기결제): sign-up, scheduled charges, cancel, status.

Sign-up rides on the single-payment flow: payment T1 for a product with an active
:class:`~catalog.models.SubscriptionPlan` uses the app's subscription CID, sends
``automatic_payment`` (the plan's schedule as dated amounts) and a ``total_amount`` equal to the
first of them; a :class:`~orders.models.Subscription` waits in ``pending``.  When the approve engine
(orders.payments) marks that order paid, :func:`subscription_activate` keeps KakaoPay's ``sid``
(encrypted) and schedules installment 1.

Scheduled charges (:func:`subscription_charge`, run by the periodic task for what is due) charge
each installment exactly once:

- an installment is a row unique on ``(subscription, seq)``, created under the subscription's row
  lock when it falls due, and charged through one child :class:`~orders.models.Order` (staff see it
  and refund it like any order; every call is a :class:`~orders.models.PaymentEvent` on it);
- a runner *claims* it with one conditional UPDATE (due and not owned, or owned by a runner whose
  lease ran out) and commits ``requested_at`` and a ``charge_request`` event before calling
  KakaoPay, so a second runner, or the same task run twice, finds it owned or already settled;
- an outcome that is not known (timeout, lost connection, 5xx) is never answered by charging again:
  the next runner settles it first.  When the answer had reached us (a ``charge_success`` event
  with its tid), KakaoPay's order inquiry says what happened to that tid.  When it had not, there
  is no tid to ask about (the order inquiry needs one), so the subscription status call decides:
  a ``last_approved_at`` later than the last approval we know of means our charge went through.
  Two charges on one sid are never sent within the same two seconds, so KakaoPay's one-second
  timestamps tell them apart; and "not charged" is only concluded once the call can no longer
  be in flight.
- a decline is retried after each delay of ``SUBSCRIPTION_RETRY_HOURS``; declined once more (or
  KakaoPay says the sid is no longer active) the installment fails and the subscription is
  suspended.  A blocked member's subscription is suspended before anything is sent.

Business time (what is due) is the ``now`` the caller passes (default: the clock); leases and the
in-flight window always use the clock.  Dates are Asia/Seoul.
"""

from __future__ import annotations

import enum
import logging
import time as _time
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from catalog.models import Product, SubscriptionPlan
from catalog.subscriptions import Installment, ScheduleRule
from kakaoplugin import envelope
from kakaoplugin.clients.kakaopay import (
    KakaoPayClient,
    KakaoPayDeclined,
    KakaoPayError,
    KakaoPayNotConfigured,
    KakaoPayResult,
    KakaoPayUnavailable,
)
from kakaoplugin.envelope import PluginError
from kakaoplugin.models import KakaoApp
from kakaoplugin.selectors import customer_is_blocked

from .answers import MSG_MISMATCH, answer_check
from .models import Order, OrderLine, PaymentEvent, Subscription, SubscriptionInstallment
from .payments import _amounts, _record_call, call_may_be_in_flight
from .rules import vat_of
from .services import order_fail, payment_event_record

logger = logging.getLogger(__name__)

Inst = SubscriptionInstallment
MSG_NOT_CONFIGURED = "정기결제 설정이 되어 있지 않습니다. 판매자에게 문의해 주세요."
MSG_CHARGE_FAILED = "정기결제 승인이 거절되었습니다."
CHARGE_SPACING_SECONDS = 2.0  # never two charges on one sid within this (see the module doc)
ACTIVE_AT_KAKAOPAY = "ACTIVE"


class ChargeOutcome(enum.Enum):
    CHARGED = "charged"  # an installment was paid: the next may be due too
    DONE = "done"  # nothing (more) to do now
    RETRY = "retry"  # an outcome is unknown: try again soon (settle first)
    SKIPPED = "skipped"  # someone else owns it


class SubscriptionError(Exception):
    """A staff action that did not (fully) happen, with a message for staff."""


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.STORE_TIME_ZONE)


def seoul_date(moment: datetime) -> date:
    return moment.astimezone(_zone()).date()


def due_at(day: date) -> datetime:
    """The moment an installment dated ``day`` (Asia/Seoul) falls due."""
    return datetime.combine(day, time(hour=settings.SUBSCRIPTION_CHARGE_HOUR), tzinfo=_zone())


def _rule(sub: Subscription) -> ScheduleRule:
    return ScheduleRule.from_json(sub.rule)


def _client(sub: Subscription) -> KakaoPayClient:
    return KakaoPayClient.for_app(sub.kakao_app)


def _event(sub: Subscription, message: str, *, result: KakaoPayResult | KakaoPayError | None = None,
           outcome: str = PaymentEvent.Outcome.INFO, staff: str = "") -> None:  # fmt: skip
    """Calls and changes about the subscription itself are events of its sign-up order."""
    kind = PaymentEvent.Kind.SUBSCRIPTION
    if result is None:
        payment_event_record(order=sub.signup_order, kind=kind, outcome=outcome, message=message, created_by=staff)
    else:
        _record_call(sub.signup_order, kind, result, outcome=outcome, message=message, created_by=staff)


# --- sign-up -------------------------------------------------------------------------------------


def subscription_plan_for(*, kakao_app: KakaoApp, product: Product | None) -> SubscriptionPlan | None:
    """The active plan of ``product`` (None: a single payment).  Payment T1 answers 500 when the
    app has no subscription CID to sell it with."""
    if product is None:
        return None
    plan = SubscriptionPlan.objects.filter(product=product, active=True).first()
    if plan is not None and not kakao_app.subscription_cid:
        raise PluginError(envelope.OTHER_ERROR, MSG_NOT_CONFIGURED)
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


def schedule(sub: Subscription, *, start: int = 0, count: int = 12) -> list[Installment]:
    return _rule(sub).installments(sub.anchor_date, start=start, count=count, quantity=sub.quantity)


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
        _event(sub, sub.state_reason, outcome=PaymentEvent.Outcome.ERROR)
        return sub
    sub.sid = sid
    sub.state, sub.activated_at = Subscription.State.ACTIVE, now
    sub.last_approved_at = str(data.get("approved_at") or "")[:40]
    _schedule_next(sub, 1)
    sub.save()
    _event(sub, f"subscription {sub.pk} {sub.state}; next charge "
                f"{sub.next_due_at.astimezone(_zone()):%Y-%m-%d %H:%M} (Asia/Seoul)" if sub.next_due_at else "no more charges",
           outcome=PaymentEvent.Outcome.OK)  # fmt: skip
    return sub


def _schedule_next(sub: Subscription, seq: int) -> None:
    rule = _rule(sub)
    sub.next_seq = seq
    if rule.exists(seq):
        sub.next_due_at = due_at(rule.due_date(sub.anchor_date, seq))
    else:
        sub.next_due_at = None
        sub.state, sub.state_reason = Subscription.State.ENDED, "every period paid"


# --- what is due -------------------------------------------------------------------------------


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
    stalled = Inst.objects.filter(status=Inst.Status.CHARGING).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lte=timezone.now())
    )
    due.update(stalled.values_list("subscription_id", flat=True)[:limit])
    return sorted(due)


# --- charging ------------------------------------------------------------------------------------


def subscription_charge(*, subscription_id: int, now: datetime | None = None, limit: int = 24) -> ChargeOutcome:
    """Charge what is due of one subscription at ``now``, oldest first, each installment once.
    Safe to run any number of times, concurrently."""
    now = now or timezone.now()
    outcome = ChargeOutcome.DONE
    for _ in range(limit):
        outcome = _charge_next(subscription_id, now)
        if outcome is not ChargeOutcome.CHARGED:
            return outcome
    return outcome


def _lease() -> timedelta:
    return timedelta(seconds=settings.PAYMENT_LEASE_SECONDS)


def _claim(subscription_id: int, now: datetime) -> tuple[Subscription, Inst] | ChargeOutcome:
    """Pick the installment to work on and own it, or say why not."""
    clock = timezone.now()
    lease_over = Q(lease_until__isnull=True) | Q(lease_until__lte=clock)
    with transaction.atomic():
        # The subscription row lock orders claims against each other and against a staff cancel:
        # after a cancel commits, no new charge is claimed.
        sub = Subscription.objects.select_for_update(of=("self",)).select_related("kakao_app", "signup_order").get(pk=subscription_id)
        stalled = sub.installments.filter(Q(status=Inst.Status.CHARGING) & lease_over).first()
        if stalled is not None:  # a runner died or gave up with an unknown outcome: settle it
            Inst.objects.filter(pk=stalled.pk).update(lease_until=clock + _lease())
            stalled.refresh_from_db()
            return sub, stalled
        if sub.installments.filter(status=Inst.Status.CHARGING).exists():
            return ChargeOutcome.SKIPPED  # another runner is on it
        if sub.state != Subscription.State.ACTIVE or sub.next_due_at is None or sub.next_due_at > now:
            return ChargeOutcome.DONE
        rule = _rule(sub)
        if not rule.exists(sub.next_seq):
            _schedule_next(sub, sub.next_seq)
            sub.save()
            return ChargeOutcome.DONE
        planned = rule.installment(sub.anchor_date, sub.next_seq, sub.quantity)
        inst, _ = Inst.objects.get_or_create(
            subscription=sub, seq=planned.seq,
            defaults={"due_date": planned.due_date, "due_at": due_at(planned.due_date), "amount": planned.amount,
                      "next_attempt_at": due_at(planned.due_date)},
        )  # fmt: skip
        if inst.status in (Inst.Status.PAID, Inst.Status.FAILED, Inst.Status.SKIPPED):
            _schedule_next(sub, inst.seq + 1)  # already settled (should not happen): move on
            sub.save()
            return ChargeOutcome.CHARGED
        if customer_is_blocked(kakao_app=sub.kakao_app, app_user_id=sub.app_user_id):
            _stop(sub, inst, state=Subscription.State.SUSPENDED, reason="member blocked", inst_status=Inst.Status.SKIPPED)
            return ChargeOutcome.DONE
        if inst.amount == 0:  # a free period: nothing to charge
            Inst.objects.filter(pk=inst.pk).update(status=Inst.Status.PAID, paid_at=clock, last_error="free period")
            _schedule_next(sub, inst.seq + 1)
            sub.save()
            return ChargeOutcome.CHARGED
        claimed = Inst.objects.filter(
            pk=inst.pk, status__in=(Inst.Status.SCHEDULED, Inst.Status.RETRY), next_attempt_at__lte=now
        ).update(status=Inst.Status.CHARGING, lease_until=clock + _lease(), updated_at=clock)
        if not claimed:
            return ChargeOutcome.DONE  # declined earlier: waiting for its retry time
        if inst.order_id is None:
            inst.order = _child_order(sub, inst)
            Inst.objects.filter(pk=inst.pk).update(order=inst.order)
        inst.refresh_from_db()
        return sub, inst


def _child_order(sub: Subscription, inst: Inst) -> Order:
    """The order staff see for one installment.  It stays HELD without a pg_token or a hold expiry
    while charging (the single-payment sweeper and reconciler leave such orders alone) and ends
    PAID, or FAILED."""
    signup = sub.signup_order
    tax_free = inst.amount if sub.tax_free else 0
    order = Order.objects.create(
        sheet_id=signup.sheet_id, kakao_app=sub.kakao_app, app_user_id=sub.app_user_id,
        partner_user_id=sub.partner_user_id, relay_id=signup.relay_id, item_name=sub.item_name,
        item_code=sub.item_code, quantity=sub.quantity, goods_amount=inst.amount, shipping_fee=0,
        total_amount=inst.amount, tax_free_amount=tax_free, vat_amount=vat_of(inst.amount - tax_free),
        use_shipping=signup.use_shipping, shipping_address=signup.shipping_address, cid=sub.cid,
        status=Order.Status.HELD, livemode=sub.livemode,
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


def _stop(sub: Subscription, inst: Inst | None, *, state: str, reason: str, inst_status: str, staff: str = "") -> None:
    """Suspend or cancel (inside the caller's transaction): no more charges; ``inst`` ends."""
    sub.state, sub.state_reason, sub.next_due_at = state, reason[:200], None
    if state == Subscription.State.CANCELLED:
        sub.cancelled_at, sub.cancelled_by = timezone.now(), staff
    sub.save()
    if inst is not None:
        _end_installment(inst, inst_status, reason)
    _event(sub, f"subscription {state}: {reason}", staff=staff,
           outcome=PaymentEvent.Outcome.OK if state == Subscription.State.CANCELLED else PaymentEvent.Outcome.REFUSED)  # fmt: skip


def _end_installment(inst: Inst, status: str, reason: str) -> None:
    """``inst`` ends not charged (failed or skipped); its child order, if any, fails."""
    Inst.objects.filter(pk=inst.pk).update(status=status, lease_until=None, requested_at=None, last_error=reason[:300])
    if inst.order_id:
        order_fail(order=inst.order, reason="subscription_" + status, message=MSG_CHARGE_FAILED,
                   from_states=(Order.Status.HELD,))  # fmt: skip


def _charge_next(subscription_id: int, now: datetime) -> ChargeOutcome:
    claimed = _claim(subscription_id, now)
    if isinstance(claimed, ChargeOutcome):
        return claimed
    sub, inst = claimed
    order = inst.order
    client = _client(sub)

    if inst.requested_at is not None:
        verdict = _settle(sub, inst, order, client)
        if verdict is not None:
            return verdict
    sub.refresh_from_db(fields=["state", "state_reason"])
    if sub.state != Subscription.State.ACTIVE:  # stopped while this one was pending: not charged
        with transaction.atomic():
            _end_installment(inst, Inst.Status.SKIPPED, f"subscription {sub.state}")
        return ChargeOutcome.DONE

    _space_out(sub)
    with transaction.atomic():
        Inst.objects.filter(pk=inst.pk).update(attempts=inst.attempts + 1, requested_at=timezone.now())
        inst.refresh_from_db()
        params = {
            "cid": sub.cid, "sid": str(sub.sid), "partner_order_id": order.partner_order_id,
            "partner_user_id": sub.partner_user_id, "item_name": sub.item_name, "item_code": sub.item_code,
            "quantity": sub.quantity, "total_amount": inst.amount, "tax_free_amount": order.tax_free_amount,
            "vat_amount": order.vat_amount,
        }  # fmt: skip
        payment_event_record(
            order=order, kind=PaymentEvent.Kind.CHARGE_REQUEST, key=f"charge:{inst.pk}:{inst.attempts}",
            request=params, message=f"installment {inst.seq}, attempt {inst.attempts}",
        )  # fmt: skip
    try:
        result = client.subscription(cid_secret=str(sub.kakao_app.cid_secret or ""), **params)
    except KakaoPayDeclined as exc:
        _record_call(order, PaymentEvent.Kind.CHARGE_FAILURE, exc, outcome=PaymentEvent.Outcome.REFUSED)
        return _declined(sub, inst, exc, now, client)
    except KakaoPayNotConfigured as exc:
        _record_call(order, PaymentEvent.Kind.CHARGE_FAILURE, exc, outcome=PaymentEvent.Outcome.ERROR)
        # Nothing was sent: try again in an hour (staff see the error on the order).
        retry_at = now + timedelta(hours=1)
        with transaction.atomic():
            Inst.objects.filter(pk=inst.pk).update(
                status=Inst.Status.RETRY, requested_at=None, lease_until=None, next_attempt_at=retry_at,
                last_error=exc.message[:300],
            )  # fmt: skip
            Subscription.objects.filter(pk=sub.pk).update(next_due_at=retry_at)
        return ChargeOutcome.DONE
    except KakaoPayUnavailable as exc:
        _record_call(order, PaymentEvent.Kind.CHARGE_UNKNOWN, exc, outcome=PaymentEvent.Outcome.UNKNOWN)
        Inst.objects.filter(pk=inst.pk).update(lease_until=timezone.now(), last_error=exc.message[:300])
        return ChargeOutcome.RETRY
    _record_call(order, PaymentEvent.Kind.CHARGE_SUCCESS, result, outcome=PaymentEvent.Outcome.OK)
    return _charged(sub, inst, result.data, op="subscription")


def _space_out(sub: Subscription) -> None:
    """Keep two charges on one sid apart (see the module doc): only back-to-back catch-up charges
    ever wait, for at most CHARGE_SPACING_SECONDS."""
    paid = sub.installments.filter(paid_at__isnull=False, order__isnull=False).order_by("-paid_at")
    last = paid.values_list("paid_at", flat=True).first()
    last = max(filter(None, [last, sub.activated_at]), default=None)
    if last is not None:
        wait = CHARGE_SPACING_SECONDS - (timezone.now() - last).total_seconds()
        if wait > 0:
            _time.sleep(wait)


def _charged(sub: Subscription, inst: Inst, data: dict[str, Any], *, op: str | None) -> ChargeOutcome:
    """KakaoPay charged the installment (its answer, or what the order inquiry says).

    ``op`` names the KakaoPay answer ``data`` is, checked against the child order first
    (``orders.answers``): a mismatch never marks it paid.  None: inferred from the sid's status
    call (no answer to check)."""
    total, tax_free, vat = _amounts(data)
    approved_at = parse_datetime(str(data.get("approved_at") or "")) or timezone.now()
    if timezone.is_naive(approved_at):
        approved_at = timezone.make_aware(approved_at, timezone.get_fixed_timezone(0))
    mismatch = False
    with transaction.atomic():
        locked = Inst.objects.select_for_update().get(pk=inst.pk)
        if locked.status != Inst.Status.CHARGING:
            return ChargeOutcome.DONE  # settled by someone else
        order = Order.objects.select_for_update().get(pk=locked.order_id)
        found = answer_check(order=order, op=op, data=data, tid="") if op else None
        mismatch, foreign = found is not None, found is not None and found.foreign
        if not foreign:  # (another payment's tid or amounts are never this order's)
            order.tid, order.aid = str(data.get("tid") or "")[:40], str(data.get("aid") or "")[:40]
            order.approved_amount, order.approved_tax_free_amount, order.approved_vat_amount = total, tax_free, vat
            order.approved_at, order.payment_method = approved_at, str(data.get("payment_method_type") or "")[:10]
        order.completed_at = timezone.now()
        if found is not None:
            # this order's own charge, wrong: cancelled (REFUNDING); another payment's: left alone
            order.status = Order.Status.FAILED if foreign else Order.Status.REFUNDING
            order.failure_reason = "amount_mismatch" if found.amount_only else "answer_mismatch"
            order.failure_message = (
                "결제 금액이 정기결제 금액과 달라 결제를 취소합니다." if found.amount_only else MSG_MISMATCH
            )
        else:
            order.status = Order.Status.PAID
        order.save()
        payment_event_record(order=order, kind=PaymentEvent.Kind.STATE,
                             outcome=PaymentEvent.Outcome.REFUSED if mismatch else PaymentEvent.Outcome.OK,
                             message=f"{order.status}: charged {total} for {order.total_amount}")  # fmt: skip
        from .webhooks import ORDER_FAILED, ORDER_PAID, order_webhook_emit

        if not mismatch:
            order_webhook_emit(order_id=order.pk, event_type=ORDER_PAID)  # a charge is a paid child order
        elif foreign:
            order_webhook_emit(order_id=order.pk, event_type=ORDER_FAILED)
        locked.status = Inst.Status.FAILED if mismatch else Inst.Status.PAID
        locked.tid, locked.paid_at, locked.lease_until, locked.requested_at = order.tid, timezone.now(), None, None
        locked.save()
        sub = Subscription.objects.select_for_update().get(pk=sub.pk)
        if data.get("approved_at"):
            sub.last_approved_at = str(data["approved_at"])[:40]
        if mismatch:
            sub.save()
            _stop(sub, None, state=Subscription.State.SUSPENDED, inst_status=Inst.Status.FAILED,
                  reason=f"installment {inst.seq}: {'amount' if found.amount_only else 'answer'} mismatch")  # fmt: skip
        else:
            if sub.next_seq <= locked.seq:
                keep = sub.state
                _schedule_next(sub, locked.seq + 1)
                if keep != Subscription.State.ACTIVE and sub.state == Subscription.State.ENDED:
                    sub.state = keep  # a cancelled subscription's last charge settled: stays cancelled
                if keep != Subscription.State.ACTIVE:
                    sub.next_due_at = None
            sub.save()
    if mismatch and not foreign:
        from .payments import payment_compensate

        payment_compensate(order_id=order.pk)
        return ChargeOutcome.DONE
    return ChargeOutcome.CHARGED


def _declined(sub: Subscription, inst: Inst, exc: KakaoPayDeclined, now: datetime,
              client: KakaoPayClient) -> ChargeOutcome:  # fmt: skip
    """Retry on the policy, or suspend: at once when KakaoPay says the sid is no longer active."""
    status = _kakaopay_status(sub, client)
    inactive = status is not None and str(status.get("status") or "").upper() not in ("", ACTIVE_AT_KAKAOPAY)
    delays = list(settings.SUBSCRIPTION_RETRY_HOURS)
    declines = inst.declines + 1
    message = f"{exc.code} {exc.msg} {exc.method_result_message}".strip()[:300]
    with transaction.atomic():
        sub = Subscription.objects.select_for_update(of=("self",)).select_related("kakao_app", "signup_order").get(pk=sub.pk)
        if sub.state != Subscription.State.ACTIVE:  # cancelled or suspended meanwhile
            Inst.objects.filter(pk=inst.pk).update(declines=declines)
            _end_installment(inst, Inst.Status.SKIPPED, f"declined; subscription {sub.state} ({message})")
            return ChargeOutcome.DONE
        if inactive or declines > len(delays):
            Inst.objects.filter(pk=inst.pk).update(declines=declines, requested_at=None)
            reason = (f"sid {status.get('status')} at KakaoPay" if inactive
                      else f"installment {inst.seq} declined {declines} times") + f" ({message})"  # fmt: skip
            _stop(sub, inst, state=Subscription.State.SUSPENDED, reason=reason, inst_status=Inst.Status.FAILED)
            return ChargeOutcome.DONE
        retry_at = now + timedelta(hours=delays[declines - 1])
        Inst.objects.filter(pk=inst.pk).update(
            status=Inst.Status.RETRY, declines=declines, requested_at=None, lease_until=None,
            next_attempt_at=retry_at, last_error=message,
        )  # fmt: skip
        sub.next_due_at = retry_at
        sub.save(update_fields=["next_due_at", "updated_at"])
        _event(sub, f"installment {inst.seq} declined ({declines}); retry at "
                    f"{retry_at.astimezone(_zone()):%Y-%m-%d %H:%M} (Asia/Seoul)", outcome=PaymentEvent.Outcome.REFUSED)  # fmt: skip
    return ChargeOutcome.DONE


def _kakaopay_status(sub: Subscription, client: KakaoPayClient, staff: str = "") -> dict | None:
    try:
        result = client.subscription_status(cid=sub.cid, sid=str(sub.sid), cid_secret=str(sub.kakao_app.cid_secret or ""))
    except KakaoPayError as exc:
        _event(sub, "status call failed", result=exc, outcome=PaymentEvent.Outcome.UNKNOWN, staff=staff)
        return None
    _event(sub, f"status: {result.data.get('status')}", result=result, outcome=PaymentEvent.Outcome.OK, staff=staff)
    Subscription.objects.filter(pk=sub.pk).update(kakaopay_status=_shown(result.data), kakaopay_status_at=timezone.now())
    return result.data


def _shown(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "sid"}


def _when(value: Any) -> datetime | None:
    parsed = parse_datetime(str(value or ""))
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_fixed_timezone(0))
    return parsed


def _settle(sub: Subscription, inst: Inst, order: Order, client: KakaoPayClient) -> ChargeOutcome | None:
    """An earlier attempt's outcome is unknown: learn it.  None: it did not charge (charge now)."""
    answered = order.events.filter(
        kind=PaymentEvent.Kind.CHARGE_SUCCESS, created_at__gte=inst.requested_at
    ).order_by("-id").first()
    tid = str((answered.response or {}).get("tid") or "") if answered else ""
    if tid:  # the answer reached us, its processing did not finish: ask about that tid
        try:
            result = client.order(cid=sub.cid, tid=tid, cid_secret=str(sub.kakao_app.cid_secret or ""))
        except KakaoPayError as exc:
            _record_call(order, PaymentEvent.Kind.INQUIRY, exc, outcome=PaymentEvent.Outcome.UNKNOWN)
            return _unknown(inst)
        status = str(result.data.get("status") or "")
        _record_call(order, PaymentEvent.Kind.INQUIRY, result, outcome=PaymentEvent.Outcome.OK, message=status)
        if status in ("SUCCESS_PAYMENT", "PART_CANCEL_PAYMENT", "CANCEL_PAYMENT"):
            outcome = _charged(sub, inst, result.data, op="order")
            if status != "SUCCESS_PAYMENT" and outcome is ChargeOutcome.CHARGED:
                _cancelled_elsewhere(order, result.data, full=status == "CANCEL_PAYMENT")
            return outcome
        if status.startswith("FAIL") or status == "QUIT_PAYMENT":
            return None
        return _unknown(inst)
    # No answer: no tid to ask about.  KakaoPay's last approval on the sid tells.
    status = _kakaopay_status(sub, client)
    if status is None:
        return _unknown(inst)
    theirs, ours = _when(status.get("last_approved_at")), _when(sub.last_approved_at)
    if theirs is not None and ours is not None and theirs > ours:
        data = {"approved_at": status.get("last_approved_at"), "payment_method_type": status.get("payment_method_type"),
                "amount": {"total": order.total_amount, "tax_free": order.tax_free_amount, "vat": order.vat_amount}}  # fmt: skip
        payment_event_record(
            order=order, kind=PaymentEvent.Kind.STATE, outcome=PaymentEvent.Outcome.INFO,
            message=f"KakaoPay approved on the sid at {status.get('last_approved_at')}, after our call: charged. "
            "Its tid never reached us: find it in KakaoPay's merchant admin to refund.",
        )  # fmt: skip
        return _charged(sub, inst, data, op=None)
    if ours is None or _may_be_in_flight(inst, order, client):
        return _unknown(inst)
    payment_event_record(order=order, kind=PaymentEvent.Kind.STATE, outcome=PaymentEvent.Outcome.INFO,
                         message="no approval at KakaoPay since our call: it did not charge")  # fmt: skip
    return None


def _cancelled_elsewhere(order: Order, data: dict[str, Any], *, full: bool) -> None:
    """The charge was (partly) cancelled at KakaoPay (its staff) before we settled it: the child
    order says so, as a refund from the admin would have."""
    from .payments import _apply_canceled

    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        _apply_canceled(locked, data)
        if full and locked.status == Order.Status.PAID:
            locked.status = Order.Status.CANCELLED
        locked.save()
        payment_event_record(order=locked, kind=PaymentEvent.Kind.STATE, outcome=PaymentEvent.Outcome.INFO,
                             message=f"{locked.status}: {locked.refunded_amount} cancelled at KakaoPay")  # fmt: skip
        from .webhooks import ORDER_CANCELLED, ORDER_REFUNDED, order_webhook_emit

        if locked.status == Order.Status.CANCELLED:
            order_webhook_emit(order_id=locked.pk, event_type=ORDER_CANCELLED)
        else:
            order_webhook_emit(order_id=locked.pk, event_type=ORDER_REFUNDED, key="kakaopay")


def _unknown(inst: Inst) -> ChargeOutcome:
    Inst.objects.filter(pk=inst.pk).update(lease_until=timezone.now())
    return ChargeOutcome.RETRY


def _may_be_in_flight(inst: Inst, order: Order, client: KakaoPayClient) -> bool:
    """Could the last charge call still reach KakaoPay?  (The approve's rule: one function.)"""
    return call_may_be_in_flight(
        order=order, client=client, unknown_kind=PaymentEvent.Kind.CHARGE_UNKNOWN, sent_at=inst.requested_at
    )


# --- staff: cancel, status, resume ----------------------------------------------------------------


def subscription_cancel(*, subscription_id: int, staff: str = "") -> Subscription:
    """Stop all future charges now and make the sid inactive at KakaoPay.

    Local first (under the row lock, so no charge is claimed after it), then KakaoPay's inactive
    call.  Raises :class:`SubscriptionError` when the inactive call did not succeed: the
    subscription stays cancelled here and the action can be run again.
    """
    with transaction.atomic():
        sub = Subscription.objects.select_for_update(of=("self",)).select_related("kakao_app", "signup_order").get(pk=subscription_id)
        if sub.state != Subscription.State.CANCELLED:
            waiting = sub.installments.filter(status__in=(Inst.Status.SCHEDULED, Inst.Status.RETRY)).select_related("order")
            for inst in waiting:
                _stop(sub, inst, state=Subscription.State.CANCELLED, reason="cancelled by staff", inst_status=Inst.Status.SKIPPED, staff=staff)
            if sub.state != Subscription.State.CANCELLED:
                _stop(sub, None, state=Subscription.State.CANCELLED, reason="cancelled by staff", inst_status="", staff=staff)
    if not sub.sid or sub.inactivated_at:
        return sub
    try:
        result = _client(sub).inactive(cid=sub.cid, sid=str(sub.sid), cid_secret=str(sub.kakao_app.cid_secret or ""))
    except KakaoPayError as exc:
        _event(sub, "inactive call failed", result=exc, outcome=PaymentEvent.Outcome.ERROR, staff=staff)
        raise SubscriptionError(
            f"Subscription {sub.pk} is cancelled here (no more charges), but KakaoPay's inactive call failed "
            f"({exc.message}); run the action again."
        ) from exc
    _event(sub, f"inactive: {result.data.get('status')}", result=result, outcome=PaymentEvent.Outcome.OK, staff=staff)
    now = timezone.now()
    Subscription.objects.filter(pk=sub.pk).update(inactivated_at=now, kakaopay_status=_shown(result.data), kakaopay_status_at=now)
    sub.refresh_from_db()
    return sub


def subscription_check_status(*, subscription_id: int, staff: str = "") -> str:
    """Ask KakaoPay about the sid; a sid KakaoPay no longer has active ends the subscription here."""
    sub = Subscription.objects.select_related("kakao_app", "signup_order").get(pk=subscription_id)
    if not sub.sid:
        return f"subscription {sub.pk} has no sid yet ({sub.state})"
    data = _kakaopay_status(sub, _client(sub), staff=staff)
    if data is None:
        raise SubscriptionError(f"KakaoPay's status call for subscription {sub.pk} failed; see its events")
    status = str(data.get("status") or "")
    if status.upper() not in ("", ACTIVE_AT_KAKAOPAY):
        with transaction.atomic():
            sub = Subscription.objects.select_for_update(of=("self",)).select_related("signup_order").get(pk=sub.pk)
            if sub.state in (Subscription.State.ACTIVE, Subscription.State.SUSPENDED):
                for inst in sub.installments.filter(status__in=(Inst.Status.SCHEDULED, Inst.Status.RETRY)).select_related("order"):
                    _stop(sub, inst, state=Subscription.State.CANCELLED, reason=f"sid {status} at KakaoPay", inst_status=Inst.Status.SKIPPED, staff=staff)
                if sub.state != Subscription.State.CANCELLED:
                    _stop(sub, None, state=Subscription.State.CANCELLED, reason=f"sid {status} at KakaoPay", inst_status="", staff=staff)
            Subscription.objects.filter(pk=sub.pk, inactivated_at__isnull=True).update(inactivated_at=timezone.now())
    return f"subscription {sub.pk}: KakaoPay says {status or '?'} (last approved {data.get('last_approved_at') or '-'})"


def subscription_resume(*, subscription_id: int, staff: str = "", now: datetime | None = None) -> Subscription:
    """Suspended → active: charging goes on with the first installment due after ``now``; the ones
    missed meanwhile are skipped (not charged)."""
    now = now or timezone.now()
    with transaction.atomic():
        sub = Subscription.objects.select_for_update(of=("self",)).select_related("signup_order").get(pk=subscription_id)
        if sub.state != Subscription.State.SUSPENDED:
            raise SubscriptionError(f"subscription {sub.pk} is {sub.state}: only a suspended one can be resumed")
        if customer_is_blocked(kakao_app=sub.kakao_app, app_user_id=sub.app_user_id):
            raise SubscriptionError(f"subscription {sub.pk}: the member is blocked; unblock first")
        rule = _rule(sub)
        seq = sub.next_seq
        while rule.exists(seq) and (
            due_at(rule.due_date(sub.anchor_date, seq)) <= now
            or sub.installments.filter(seq=seq).exclude(status__in=(Inst.Status.SCHEDULED, Inst.Status.RETRY)).exists()
        ):
            seq += 1
        sub.installments.filter(seq__lt=seq, status__in=(Inst.Status.SCHEDULED, Inst.Status.RETRY)).update(
            status=Inst.Status.SKIPPED, last_error="skipped while suspended"
        )
        sub.state, sub.state_reason = Subscription.State.ACTIVE, ""
        _schedule_next(sub, seq)
        sub.save()
        _event(sub, f"resumed by staff; next charge: installment {seq}", staff=staff, outcome=PaymentEvent.Outcome.OK)
    return sub
