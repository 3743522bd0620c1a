"""KakaoPay's answers, checked against the order before they settle anything.

One KakaoPay approval pays one order.  Every answer that can settle an order — an approve, an
order inquiry, a subscription charge, a cancel — must be about *this* order's payment: its tid,
its CID, its ``partner_order_id`` and ``partner_user_id``, its amounts.  :func:`answer_check` is
the one place that says so; the payment engine (``orders.payments.approve``) and the subscription charger
(``orders.subscriptions.charging``) call it before they mark anything paid, failed or refunded.

A mismatch never marks an order paid.  :func:`answer_check` records it as an ``answer_mismatch``
payment event and flags the order for staff (``Order.flag``, filterable in the orders admin); the
caller then fails the order, and cancels at KakaoPay only a payment that is this order's own
(:attr:`AnswerMismatch.foreign` is false) — never another order's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..models import Order, PaymentEvent
from .ledger import payment_event_record

MSG_MISMATCH = "결제 정보가 주문과 일치하지 않아 결제를 완료할 수 없습니다. 판매자에게 문의해 주세요."
MISSING = "(missing)"
IDENTITY = ("tid", "cid", "partner_order_id", "partner_user_id")
AMOUNTS = ("amount.total", "amount.tax_free")


@dataclass(frozen=True)
class AnswerMismatch:
    """What in one KakaoPay answer is not the order's: ``fields`` maps a field to (ours, theirs)."""

    op: str
    fields: dict[str, tuple[str, str]]

    @property
    def foreign(self) -> bool:
        """The answer is about another payment (another tid or partner_order_id): whatever money it
        moved is not this order's, so it must never be cancelled on this order's behalf."""
        return "tid" in self.fields or "partner_order_id" in self.fields

    @property
    def amount_only(self) -> bool:
        return set(self.fields) <= set(AMOUNTS)

    def describe(self) -> str:
        parts = ", ".join(f"{name} {theirs!r} (order: {ours!r})" for name, (ours, theirs) in self.fields.items())
        return f"KakaoPay {self.op} answer does not match the order: {parts}"


def _text(value: Any) -> str:
    return MISSING if value is None or value == "" else str(value)


def _amount(data: dict[str, Any], key: str) -> str:
    amount = data.get("amount")
    if not isinstance(amount, dict):
        return MISSING
    return _text(amount.get(key))


def answer_check(*, order: Order, op: str, data: dict[str, Any], tid: str | None = None) -> AnswerMismatch | None:
    """Compare KakaoPay's answer ``data`` to ``op`` (approve, order, subscription, cancel) with the
    order; on a mismatch record it, flag the order and return it (the caller must not settle).

    ``tid``: the tid the answer must carry (default the order's; a subscription charge creates a
    new one, so it is only checked not to belong to another order).  Amounts are what was approved
    once known, else what the order charges.
    """
    fields: dict[str, tuple[str, str]] = {}
    want_tid = order.tid if tid is None else tid
    got_tid = _text(data.get("tid"))
    if want_tid and got_tid != want_tid:
        fields["tid"] = (want_tid, got_tid)
    elif not want_tid and (
        got_tid == MISSING
        or Order.objects.filter(kakao_app_id=order.kakao_app_id, tid=got_tid).exclude(pk=order.pk).exists()
    ):
        fields["tid"] = ("(a tid of its own)", got_tid)
    expected = {
        "cid": order.kakaopay_cid,
        "partner_order_id": order.partner_order_id,
        "partner_user_id": order.partner_user_id,
    }
    for name, ours in expected.items():
        theirs = _text(data.get(name))
        if theirs != str(ours):
            fields[name] = (str(ours), theirs)
    total = order.approved_amount if order.approved_amount is not None else order.total_amount
    tax_free = order.approved_tax_free_amount if order.approved_tax_free_amount is not None else order.tax_free_amount
    for name, ours in (("amount.total", total), ("amount.tax_free", tax_free)):
        theirs = _amount(data, name.split(".", 1)[1])
        if theirs != str(ours):
            fields[name] = (str(ours), theirs)
    if not fields:
        return None
    mismatch = AnswerMismatch(op=op, fields=fields)
    note = mismatch.describe()
    payment_event_record(
        order=order, kind=PaymentEvent.Kind.ANSWER_MISMATCH, response=data, outcome=PaymentEvent.Outcome.REFUSED,
        message=note,
    )  # fmt: skip
    Order.objects.filter(pk=order.pk).update(flag=Order.Flag.ANSWER_MISMATCH, flag_note=note[:300])
    order.flag, order.flag_note = Order.Flag.ANSWER_MISMATCH, note[:300]
    return mismatch
