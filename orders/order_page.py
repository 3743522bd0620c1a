"""The order's admin page read like a receipt: who bought what with which options, the amounts,
shipping and KakaoPay's state, then the payment events in plain words (raw request and answer
behind a disclosure). Personal data is masked exactly as on the rest of the admin
(:mod:`kakaoplugin.masking`): the shipping address and typed answers in full only with
``kakaoplugin.view_personal_data``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from kakaoplugin.masking import can_see_personal_data, mask_leaf, mask_personal
from kakaoplugin.selectors import customer_get

from .models import Order, PaymentEvent

K = PaymentEvent.Kind
# What each event means, in words a merchant reads.
EVENT_WORDS = {
    K.T1_SERVED: _("T1 served: Kakao asked for the payment details, we sent the amounts"),
    K.T2_RECEIVED: _("T2 received: the buyer confirmed (address, KakaoPay tid)"),
    K.T3_RECEIVED: _("T3 received: the buyer authorised the payment at KakaoPay"),
    K.BUYER_CANCELLED: _("The buyer cancelled at KakaoPay"),
    K.BUYER_FAILED: _("The payment failed at KakaoPay (buyer's side)"),
    K.APPROVE_REQUEST: _("Approve sent to KakaoPay"),
    K.APPROVE_SUCCESS: _("Approved by KakaoPay"),
    K.APPROVE_FAILURE: _("Approve refused by KakaoPay"),
    K.APPROVE_UNKNOWN: _("Approve sent, answer lost: to be checked with KakaoPay"),
    K.INQUIRY: _("Checked with KakaoPay"),
    K.CANCEL_REQUEST: _("Refund sent to KakaoPay"),
    K.CANCEL_SUCCESS: _("Refunded by KakaoPay"),
    K.CANCEL_FAILURE: _("Refund refused by KakaoPay"),
    K.CANCEL_UNKNOWN: _("Refund sent, answer lost: to be checked with KakaoPay"),
    K.STATE: _("Order state changed"),
    K.ANSWER_MISMATCH: _("KakaoPay's answer does not match this order (not used)"),
    K.CHARGE_REQUEST: _("Subscription charge sent to KakaoPay"),
    K.CHARGE_SUCCESS: _("Subscription charge approved"),
    K.CHARGE_FAILURE: _("Subscription charge declined"),
    K.CHARGE_UNKNOWN: _("Subscription charge sent, answer lost: to be checked"),
    K.SUBSCRIPTION: _("Subscription call to KakaoPay"),
}
OUTCOME_WORDS = {
    "ok": _("ok"), "refused": _("refused"), "error": _("error"), "unknown": _("unknown"),
    "replay": _("replayed (already done)"), "info": _("info"),
}  # fmt: skip
# Where each state stands, in words (the T4 letter Kakao sees is shown beside it).
STATUS_WORDS = {
    Order.Status.PENDING: _("Waiting for the buyer (T1 served)"),
    Order.Status.HELD: _("Buyer confirmed, stock held: waiting for KakaoPay authorisation"),
    Order.Status.APPROVING: _("Approving at KakaoPay"),
    Order.Status.PAID: _("Paid"),
    Order.Status.REFUNDING: _("Approved but not deliverable: refund owed"),
    Order.Status.FAILED: _("Failed"),
    Order.Status.CANCELLED: _("Cancelled and refunded"),
}
ADDRESS_FIELDS = (
    ("receiver_name", _("Receiver")), ("receiver_mobile_number", _("Phone")),
    ("zone_code", _("Zip code")), ("base_address", _("Address")), ("detail_address", _("Detail")),
)  # fmt: skip


@dataclass
class TimelineEntry:
    at: Any
    kind: str
    words: str
    outcome: str
    outcome_words: str
    message: str
    http_status: int | None
    duration_ms: int | None
    by: str
    raw: str  # request and answer, masked per permission, as JSON text ("" when neither)


def _raw(event: PaymentEvent, full: bool) -> str:
    parts = {}
    for name in ("request", "response"):
        value = getattr(event, name)
        if value not in (None, "", {}, []):
            parts[name] = value if full else mask_personal(value)
    return json.dumps(parts, ensure_ascii=False, indent=2) if parts else ""


def timeline(order: Order, user) -> list[TimelineEntry]:
    full = can_see_personal_data(user)
    return [
        TimelineEntry(
            at=e.created_at, kind=e.kind, words=EVENT_WORDS.get(e.kind, e.kind), outcome=e.outcome,
            outcome_words=OUTCOME_WORDS.get(e.outcome, e.outcome), message=e.message, http_status=e.http_status,
            duration_ms=e.duration_ms, by=e.created_by, raw=_raw(e, full),
        )  # fmt: skip
        for e in sorted(order.events.all(), key=lambda e: (e.created_at, e.pk))
    ]


def _shown(key: str, value: Any, full: bool) -> Any:
    return value if full else mask_leaf(key, value)


def _member_url(order: Order, user) -> str:
    if not order.app_user_id or not user.has_perm("kakaoplugin.view_customer"):
        return ""
    member = customer_get(kakao_app=order.kakao_app, app_user_id=order.app_user_id)
    if member is None:
        return ""
    try:  # the member page (a Customer admin offering one), else the member's admin page
        return reverse("admin:kakaoplugin_customer_page", args=[member.pk])
    except NoReverseMatch:
        return reverse("admin:kakaoplugin_customer_change", args=[member.pk])


def receipt(order: Order, user) -> dict[str, Any]:
    """What the receipt shows: items with options, amounts, shipping, KakaoPay's state."""
    full = can_see_personal_data(user)
    sheet = order.sheet
    options = [
        {
            "group": line.group_name,
            "value": line.option_value if line.option_value else _shown("text", line.text, full),
            "quantity": line.quantity,
            "amount": line.amount,
        }
        for line in sheet.lines.all()
        if line.option_value or line.text
    ]
    address = order.shipping_address or {}
    shipping = [(label, _shown(key, address.get(key), full)) for key, label in ADDRESS_FIELDS if address.get(key)]
    subscription = getattr(order, "subscription", None)
    installment = getattr(order, "subscription_installment", None)
    if subscription is None and installment is not None:
        subscription = installment.subscription
    return {
        "order": order,
        "status_words": STATUS_WORDS.get(order.status, order.status),
        "product": {"name": sheet.product_name, "code": sheet.product_code, "unit_price": sheet.unit_price,
                    "quantity": sheet.quantity},  # fmt: skip
        "options": options,
        "stock_lines": list(order.lines.all()),
        "shipping": shipping,
        "member_url": _member_url(order, user),
        "subscription": subscription,
        "installment": installment,
        "full": full,
    }
