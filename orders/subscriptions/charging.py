"""Scheduled subscription charges (정기결제): each installment charged exactly once.

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
  be in flight (``orders.payments.calls.call_may_be_in_flight``, the single approve's rule).
- a decline is retried after each delay of ``SUBSCRIPTION_RETRY_HOURS``; declined once more (or
  KakaoPay says the sid is no longer active) the installment fails and the subscription is
  suspended.  A blocked member's subscription is suspended before anything is sent.

Business time (what is due) is the ``now`` the caller passes (default: the clock); leases and the
in-flight window always use the clock.  Dates are Asia/Seoul.
"""

from __future__ import annotations

import time as _time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kakaoplugin.clients.kakaopay import (
    KakaoPayClient,
    KakaoPayDeclined,
    KakaoPayNotConfigured,
    KakaoPayUnavailable,
)

from ..models import Order, PaymentEvent, Subscription
from ..payments.answers import MSG_MISMATCH, answer_check
from ..payments.calls import (
    amounts,
    apply_canceled,
    call_may_be_in_flight,
    inquire,
    kakaopay_client,
    kakaopay_time,
    lease_release,
    record_call,
)
from ..payments.compensate import payment_compensate
from ..payments.ledger import MSG_CHARGE_AMOUNT_MISMATCH, payment_event_record
from ..payments.transitions import order_cancelled_at_kakaopay_locked, order_charge_settled_locked
from ..webhooks import ORDER_CANCELLED, ORDER_FAILED, ORDER_PAID, ORDER_REFUNDED, order_webhook_emit
from .due import installment_claim
from .state import (
    ACTIVE_AT_KAKAOPAY,
    ChargeOutcome,
    Inst,
    installment_end,
    kakaopay_status,
    schedule_next,
    store_zone,
    subscription_event,
    subscription_stop,
)

CHARGE_SPACING_SECONDS = 2.0  # never two charges on one sid within this (see the module doc)


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


def _charge_next(subscription_id: int, now: datetime) -> ChargeOutcome:
    claimed = installment_claim(subscription_id, now)
    if isinstance(claimed, ChargeOutcome):
        return claimed
    sub, inst = claimed
    order = inst.order
    client = kakaopay_client(sub.kakao_app)

    if inst.requested_at is not None:
        verdict = _settle(sub, inst, order, client)
        if verdict is not None:
            return verdict
    sub.refresh_from_db(fields=["state", "state_reason"])
    if sub.state != Subscription.State.ACTIVE:  # stopped while this one was pending: not charged
        with transaction.atomic():
            installment_end(inst, Inst.Status.SKIPPED, f"subscription {sub.state}")
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
        record_call(order, PaymentEvent.Kind.CHARGE_FAILURE, exc, outcome=PaymentEvent.Outcome.REFUSED)
        return _declined(sub, inst, exc, now, client)
    except KakaoPayNotConfigured as exc:
        record_call(order, PaymentEvent.Kind.CHARGE_FAILURE, exc, outcome=PaymentEvent.Outcome.ERROR)
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
        record_call(order, PaymentEvent.Kind.CHARGE_UNKNOWN, exc, outcome=PaymentEvent.Outcome.UNKNOWN)
        Inst.objects.filter(pk=inst.pk).update(lease_until=timezone.now(), last_error=exc.message[:300])
        return ChargeOutcome.RETRY
    record_call(order, PaymentEvent.Kind.CHARGE_SUCCESS, result, outcome=PaymentEvent.Outcome.OK)
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
    (``orders.payments.answers``): a mismatch never marks it paid.  None: inferred from the sid's status
    call (no answer to check)."""
    total, tax_free, vat = amounts(data)
    approved_at = kakaopay_time(data.get("approved_at")) or timezone.now()
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
        # this order's own charge, wrong: cancelled (REFUNDING); another payment's: left alone
        order_charge_settled_locked(
            order=order, refused=mismatch, foreign=foreign,
            reason=("amount_mismatch" if found.amount_only else "answer_mismatch") if found else "",
            message=(MSG_CHARGE_AMOUNT_MISMATCH if found.amount_only else MSG_MISMATCH) if found else "",
        )  # fmt: skip
        payment_event_record(order=order, kind=PaymentEvent.Kind.STATE,
                             outcome=PaymentEvent.Outcome.REFUSED if mismatch else PaymentEvent.Outcome.OK,
                             message=f"{order.status}: charged {total} for {order.total_amount}")  # fmt: skip
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
            subscription_stop(sub, None, state=Subscription.State.SUSPENDED, inst_status=Inst.Status.FAILED,
                  reason=f"installment {inst.seq}: {'amount' if found.amount_only else 'answer'} mismatch")  # fmt: skip
        else:
            if sub.next_seq <= locked.seq:
                keep = sub.state
                schedule_next(sub, locked.seq + 1)
                if keep != Subscription.State.ACTIVE and sub.state == Subscription.State.ENDED:
                    sub.state = keep  # a cancelled subscription's last charge settled: stays cancelled
                if keep != Subscription.State.ACTIVE:
                    sub.next_due_at = None
            sub.save()
    if mismatch and not foreign:
        payment_compensate(order_id=order.pk)
        return ChargeOutcome.DONE
    return ChargeOutcome.CHARGED


def _declined(sub: Subscription, inst: Inst, exc: KakaoPayDeclined, now: datetime,
              client: KakaoPayClient) -> ChargeOutcome:  # fmt: skip
    """Retry on the policy, or suspend: at once when KakaoPay says the sid is no longer active."""
    status = kakaopay_status(sub, client)
    inactive = status is not None and str(status.get("status") or "").upper() not in ("", ACTIVE_AT_KAKAOPAY)
    delays = list(settings.SUBSCRIPTION_RETRY_HOURS)
    declines = inst.declines + 1
    message = f"{exc.code} {exc.msg} {exc.method_result_message}".strip()[:300]
    with transaction.atomic():
        sub = Subscription.objects.select_for_update(of=("self",)).select_related("kakao_app", "signup_order").get(pk=sub.pk)
        if sub.state != Subscription.State.ACTIVE:  # cancelled or suspended meanwhile
            Inst.objects.filter(pk=inst.pk).update(declines=declines)
            installment_end(inst, Inst.Status.SKIPPED, f"declined; subscription {sub.state} ({message})")
            return ChargeOutcome.DONE
        if inactive or declines > len(delays):
            Inst.objects.filter(pk=inst.pk).update(declines=declines, requested_at=None)
            reason = (f"sid {status.get('status')} at KakaoPay" if inactive
                      else f"installment {inst.seq} declined {declines} times") + f" ({message})"  # fmt: skip
            subscription_stop(sub, inst, state=Subscription.State.SUSPENDED, reason=reason, inst_status=Inst.Status.FAILED)
            return ChargeOutcome.DONE
        retry_at = now + timedelta(hours=delays[declines - 1])
        Inst.objects.filter(pk=inst.pk).update(
            status=Inst.Status.RETRY, declines=declines, requested_at=None, lease_until=None,
            next_attempt_at=retry_at, last_error=message,
        )  # fmt: skip
        sub.next_due_at = retry_at
        sub.save(update_fields=["next_due_at", "updated_at"])
        subscription_event(sub, f"installment {inst.seq} declined ({declines}); retry at "
                    f"{retry_at.astimezone(store_zone()):%Y-%m-%d %H:%M} (Asia/Seoul)", outcome=PaymentEvent.Outcome.REFUSED)  # fmt: skip
    return ChargeOutcome.DONE


def _settle(sub: Subscription, inst: Inst, order: Order, client: KakaoPayClient) -> ChargeOutcome | None:
    """An earlier attempt's outcome is unknown: learn it.  None: it did not charge (charge now)."""
    answered = order.events.filter(
        kind=PaymentEvent.Kind.CHARGE_SUCCESS, created_at__gte=inst.requested_at
    ).order_by("-id").first()
    tid = str((answered.response or {}).get("tid") or "") if answered else ""
    if tid:  # the answer reached us, its processing did not finish: ask about that tid
        result = inquire(order, client, tid=tid)
        if result is None:
            return _unknown(inst)
        status = str(result.data.get("status") or "")
        if status in ("SUCCESS_PAYMENT", "PART_CANCEL_PAYMENT", "CANCEL_PAYMENT"):
            outcome = _charged(sub, inst, result.data, op="order")
            if status != "SUCCESS_PAYMENT" and outcome is ChargeOutcome.CHARGED:
                _cancelled_elsewhere(order, result.data, full=status == "CANCEL_PAYMENT")
            return outcome
        if status.startswith("FAIL") or status == "QUIT_PAYMENT":
            return None
        return _unknown(inst)
    # No answer: no tid to ask about.  KakaoPay's last approval on the sid tells.
    status = kakaopay_status(sub, client)
    if status is None:
        return _unknown(inst)
    theirs, ours = kakaopay_time(status.get("last_approved_at")), kakaopay_time(sub.last_approved_at)
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
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        apply_canceled(locked, data)
        if full and locked.status == Order.Status.PAID:
            order_cancelled_at_kakaopay_locked(order=locked)
        else:
            locked.save()
        payment_event_record(order=locked, kind=PaymentEvent.Kind.STATE, outcome=PaymentEvent.Outcome.INFO,
                             message=f"{locked.status}: {locked.refunded_amount} cancelled at KakaoPay")  # fmt: skip
        if locked.status == Order.Status.CANCELLED:
            order_webhook_emit(order_id=locked.pk, event_type=ORDER_CANCELLED)
        else:
            order_webhook_emit(order_id=locked.pk, event_type=ORDER_REFUNDED, key="kakaopay")


def _unknown(inst: Inst) -> ChargeOutcome:
    lease_release(inst)
    return ChargeOutcome.RETRY


def _may_be_in_flight(inst: Inst, order: Order, client: KakaoPayClient) -> bool:
    """Could the last charge call still reach KakaoPay?  (The approve's rule: one function.)"""
    return call_may_be_in_flight(
        order=order, client=client, unknown_kind=PaymentEvent.Kind.CHARGE_UNKNOWN, sent_at=inst.requested_at
    )
