"""The buyer's browser's URLs of a payment: approval (T3), cancel and fail (docs/security.md).

KakaoPay sends the buyer's browser to the ``approval_url``, ``cancel_url`` and ``fail_url`` of
payment T1. They are ``/pay/<partner_order_id>/<action>/<token>``: no plugin key (it would reach
every buyer's phone) and no allowlist (a phone is anywhere). The token is the order's own for that
action (:func:`kakaoplugin.browser_tokens.action_token`): unguessable, useless for another order or
another action, and honoured only while the action still makes sense for the order
(:func:`link_still_valid`).
"""

from __future__ import annotations

from kakaoplugin.browser_tokens import action_token, action_token_valid
from kakaoplugin.lookups import one_or_none
from kakaoplugin.models import KakaoApp
from kakaoplugin.plugin_paths import PAY_ACTIONS, browser_url
from kakaoplugin.selectors import kakao_app_active

from .models import Order

# action segment → T1 field
T1_FIELDS = {"approval": "approval_url", "cancel": "cancel_url", "fail": "fail_url"}
BUYER_ENDED = ("buyer_cancelled", "buyer_failed")


def _subject(order: Order) -> str:
    return f"{order.pk}:{order.partner_order_id}"


def pay_token(*, order: Order, action: str) -> str:
    return action_token(action=f"pay.{action}", subject=_subject(order))


def pay_url(*, order: Order, action: str, base_url: str) -> str:
    return browser_url(base_url, PAY_ACTIONS[action], ref=order.partner_order_id, token=pay_token(order=order, action=action))


def kakao_app_for_pay_ref(ref: str) -> KakaoApp | None:
    """The gate's resolver for ``/pay/<ref>/...``: the order's active Kakao app, or None (one
    indexed read of the app's id; the app as the plugin paths keep it)."""
    app_id = one_or_none(Order.objects.filter(partner_order_id=ref).values_list("kakao_app_id", flat=True))
    return kakao_app_active(app_id) if app_id is not None else None


def order_for_link(*, kakao_app: KakaoApp, ref: str, action: str, token: str) -> Order | None:
    """The order ``ref`` when ``token`` is its token for ``action``; None otherwise (same answer for
    an unknown order and a wrong token)."""
    # (partner_order_id is unique: no ORDER BY, which can lead the planner to the app's index)
    order = one_or_none(Order.objects.filter(partner_order_id=ref, kakao_app=kakao_app))
    if order is None or action not in T1_FIELDS:
        return None
    if not action_token_valid(token, action=f"pay.{action}", subject=_subject(order)):
        return None
    return order


def link_still_valid(*, order: Order, action: str, pg_token: str = "") -> bool:
    """Whether the order still awaits what the link does, or this is a replay of what it did.

    approval: while T2/T3 may still come (pending, held) or the approval runs (approving), and for
    the same pg_token once paid. cancel / fail: while unpaid (pending, held), and once the buyer's
    own cancel or fail ended it (a replay)."""
    status = order.status
    if status in (Order.Status.PENDING, Order.Status.HELD):
        return True
    if action == "approval":
        return status == Order.Status.APPROVING or (
            status == Order.Status.PAID and bool(pg_token) and pg_token == order.pg_token
        )
    return status == Order.Status.FAILED and order.failure_reason in BUYER_ENDED
