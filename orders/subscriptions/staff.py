"""Staff actions on a subscription (the admin): cancel, ask KakaoPay about the sid, resume."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from kakaoplugin.clients.kakaopay import KakaoPayError
from kakaoplugin.selectors import customer_is_blocked

from ..errors import SubscriptionError
from ..models import PaymentEvent, Subscription
from ..payments.calls import kakaopay_client
from .state import (
    ACTIVE_AT_KAKAOPAY,
    Inst,
    due_at,
    kakaopay_status,
    rule_of,
    schedule_next,
    subscription_event,
    subscription_stop,
    without_sid,
)


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
                subscription_stop(sub, inst, state=Subscription.State.CANCELLED, reason="cancelled by staff", inst_status=Inst.Status.SKIPPED, staff=staff)
            if sub.state != Subscription.State.CANCELLED:
                subscription_stop(sub, None, state=Subscription.State.CANCELLED, reason="cancelled by staff", inst_status="", staff=staff)
    if not sub.sid or sub.inactivated_at:
        return sub
    try:
        result = kakaopay_client(sub.kakao_app).inactive(cid=sub.cid, sid=str(sub.sid), cid_secret=str(sub.kakao_app.cid_secret or ""))
    except KakaoPayError as exc:
        subscription_event(sub, "inactive call failed", result=exc, outcome=PaymentEvent.Outcome.ERROR, staff=staff)
        raise SubscriptionError(
            gettext("Subscription %(sub)s is cancelled here (no more charges), but KakaoPay's inactive call failed "
                    "(%(error)s); run the action again.") % {"sub": sub.pk, "error": exc.message}
        ) from exc
    subscription_event(sub, f"inactive: {result.data.get('status')}", result=result, outcome=PaymentEvent.Outcome.OK, staff=staff)
    now = timezone.now()
    Subscription.objects.filter(pk=sub.pk).update(inactivated_at=now, kakaopay_status=without_sid(result.data), kakaopay_status_at=now)
    sub.refresh_from_db()
    return sub


def subscription_check_status(*, subscription_id: int, staff: str = "") -> str:
    """Ask KakaoPay about the sid; a sid KakaoPay no longer has active ends the subscription here."""
    sub = Subscription.objects.select_related("kakao_app", "signup_order").get(pk=subscription_id)
    if not sub.sid:
        return gettext("subscription %(sub)s has no sid yet (%(state)s)") % {"sub": sub.pk, "state": sub.state}
    data = kakaopay_status(sub, kakaopay_client(sub.kakao_app), staff=staff)
    if data is None:
        raise SubscriptionError(gettext("KakaoPay's status call for subscription %(sub)s failed; see its events") % {"sub": sub.pk})
    status = str(data.get("status") or "")
    if status.upper() not in ("", ACTIVE_AT_KAKAOPAY):
        with transaction.atomic():
            sub = Subscription.objects.select_for_update(of=("self",)).select_related("signup_order").get(pk=sub.pk)
            if sub.state in (Subscription.State.ACTIVE, Subscription.State.SUSPENDED):
                for inst in sub.installments.filter(status__in=(Inst.Status.SCHEDULED, Inst.Status.RETRY)).select_related("order"):
                    subscription_stop(sub, inst, state=Subscription.State.CANCELLED, reason=f"sid {status} at KakaoPay", inst_status=Inst.Status.SKIPPED, staff=staff)
                if sub.state != Subscription.State.CANCELLED:
                    subscription_stop(sub, None, state=Subscription.State.CANCELLED, reason=f"sid {status} at KakaoPay", inst_status="", staff=staff)
            Subscription.objects.filter(pk=sub.pk, inactivated_at__isnull=True).update(inactivated_at=timezone.now())
    return gettext("subscription %(sub)s: KakaoPay says %(status)s (last approved %(at)s)") % {
        "sub": sub.pk, "status": status or "?", "at": data.get("last_approved_at") or "-"
    }


def subscription_resume(*, subscription_id: int, staff: str = "", now: datetime | None = None) -> Subscription:
    """Suspended → active: charging goes on with the first installment due after ``now``; the ones
    missed meanwhile are skipped (not charged)."""
    now = now or timezone.now()
    with transaction.atomic():
        sub = Subscription.objects.select_for_update(of=("self",)).select_related("signup_order").get(pk=subscription_id)
        if sub.state != Subscription.State.SUSPENDED:
            raise SubscriptionError(
                gettext("subscription %(sub)s is %(state)s: only a suspended one can be resumed") % {"sub": sub.pk, "state": sub.state}
            )
        if customer_is_blocked(kakao_app=sub.kakao_app, app_user_id=sub.app_user_id):
            raise SubscriptionError(gettext("subscription %(sub)s: the member is blocked; unblock first") % {"sub": sub.pk})
        rule = rule_of(sub)
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
        schedule_next(sub, seq)
        sub.save()
        subscription_event(sub, f"resumed by staff; next charge: installment {seq}", staff=staff, outcome=PaymentEvent.Outcome.OK)
    return sub
