"""KakaoPay call plumbing shared by the single approve, its compensation, staff refunds and the
subscription charge: the client, the lease a runner owns its work by, recording a call (event and
metrics), the in-flight rule, settling by the order inquiry, and reading amounts from an answer.

Invariant (docs/payment-flow.md): every call is recorded as a :class:`PaymentEvent` before
(request) and after (outcome) it happens, and a money call whose outcome is unknown is never sent
again before :func:`call_may_be_in_flight` says it can no longer land.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from kakaoplugin.clients.kakaopay import KakaoPayClient, KakaoPayError, KakaoPayResult
from kakaoplugin.metrics import KAKAOPAY_CALLS, KAKAOPAY_LATENCY
from kakaoplugin.models import KakaoApp

from ..models import Order, PaymentEvent, SubscriptionInstallment
from .ledger import payment_event_record

# The Celery tasks the money path owes after a commit, by import path (orders.tasks names them):
# the services never import the tasks module (which imports them).
APPROVE_TASK = "orders.tasks.approve_order"
COMPENSATE_TASK = "orders.tasks.compensate_order"


class Outcome(enum.Enum):
    """What a run of the approve or compensation engine did (its task retries on ``RETRY``)."""

    DONE = "done"  # settled (or nothing to do)
    RETRY = "retry"  # outcome unknown: try again later (inquiry first)
    SKIPPED = "skipped"  # not claimable: someone else owns it, or not ready


def kakaopay_client(kakao_app: KakaoApp) -> KakaoPayClient:
    return KakaoPayClient.for_app(kakao_app)


# --- the lease: a runner owns an order (or an installment) until lease_until ----------------------


def lease() -> timedelta:
    return timedelta(seconds=settings.PAYMENT_LEASE_SECONDS)


def lease_over(clock: datetime) -> Q:
    """Rows no runner owns at ``clock`` (never leased, or the lease ran out)."""
    return Q(lease_until__isnull=True) | Q(lease_until__lte=clock)


def lease_release(row: Order | SubscriptionInstallment) -> None:
    """Give up ownership of an order or an installment now (outcome unknown): the next runner may
    claim it at once."""
    type(row).objects.filter(pk=row.pk).update(lease_until=timezone.now())


# --- recording calls -------------------------------------------------------------------------------


def record_call(order: Order, kind: str, err_or_result: KakaoPayResult | KakaoPayError, *, key: str | None = None,
                outcome: str, message: str = "", created_by: str = "") -> None:  # fmt: skip
    """One KakaoPay call's outcome as a payment event on ``order``, and in the call metrics."""
    if isinstance(err_or_result, KakaoPayResult):
        request, response, status, ms = err_or_result.request, err_or_result.data, err_or_result.http_status, err_or_result.duration_ms
    else:
        request, response, status, ms = err_or_result.request, err_or_result.response, err_or_result.http_status, err_or_result.duration_ms
        message = message or err_or_result.message
    payment_event_record(
        order=order, kind=kind, key=key, request=request, response=response, outcome=outcome, message=message,
        http_status=status, duration_ms=ms, created_by=created_by,
    )  # fmt: skip
    operation = err_or_result.op or kind  # every KakaoPay call is recorded here: metrics too
    KAKAOPAY_CALLS.labels(operation, outcome).inc()
    if ms is not None:
        KAKAOPAY_LATENCY.labels(operation).observe(ms / 1000)


def call_may_be_in_flight(*, order: Order, client: KakaoPayClient, unknown_kind: str, sent_at) -> bool:
    """Could the money call sent at ``sent_at`` (an approve, or a subscription charge) still reach
    KakaoPay?  Not when KakaoPay answered it (a 5xx recorded as ``unknown_kind`` with an HTTP
    status), nor once :meth:`KakaoPayClient.in_flight_until` has passed: the client gives every call
    a hard total deadline, so nothing of ours is running after it (a timeout, a lost connection, a
    trickled answer).  The one rule for both the single approve and the subscription charge."""
    # only the latest attempt counts: an earlier attempt's answered 5xx says nothing of this one
    last = order.events.filter(kind=unknown_kind, created_at__gte=sent_at).order_by("-id").first()
    if last is not None and last.http_status is not None:
        return False
    return timezone.now() < client.in_flight_until(sent_at)


def inquire(order: Order, client: KakaoPayClient, *, tid: str | None = None, created_by: str = "") -> KakaoPayResult | None:
    """KakaoPay's order inquiry about ``tid`` (default the order's), recorded as an ``inquiry``
    event (its status as the message); None when the inquiry itself failed (outcome unknown)."""
    try:
        result = client.order(cid=order.kakaopay_cid, tid=order.tid if tid is None else tid,
                              cid_secret=order.kakao_app.cid_secret)  # fmt: skip
    except KakaoPayError as exc:
        record_call(order, PaymentEvent.Kind.INQUIRY, exc, outcome=PaymentEvent.Outcome.UNKNOWN, created_by=created_by)
        return None
    record_call(order, PaymentEvent.Kind.INQUIRY, result, outcome=PaymentEvent.Outcome.OK,
                message=str(result.data.get("status") or ""), created_by=created_by)  # fmt: skip
    return result


# --- reading KakaoPay's answers -----------------------------------------------------------------------


def amounts(data: dict[str, Any]) -> tuple[int, int, int]:
    """(total, tax_free, vat) of an approve, inquiry or charge answer."""
    amount = data.get("amount") or {}
    return int(amount.get("total") or 0), int(amount.get("tax_free") or 0), int(amount.get("vat") or 0)


def approval_id(data: dict[str, Any]) -> str:
    """The answer's ``aid`` (an inquiry has it in its PAYMENT action)."""
    aid = str(data.get("aid") or "")
    if not aid:
        for detail in data.get("payment_action_details") or []:
            if detail.get("payment_action_type") == "PAYMENT":
                aid = str(detail.get("aid") or "")
    return aid


def kakaopay_time(value: Any) -> datetime | None:
    """A KakaoPay timestamp (naive: UTC) as an aware datetime; None if absent or unreadable."""
    parsed = parse_datetime(str(value or ""))
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_fixed_timezone(0))
    return parsed


def apply_canceled(order: Order, data: dict[str, Any]) -> None:
    """Take KakaoPay's cumulative ``canceled_amount`` as the truth of what was refunded."""
    canceled = data.get("canceled_amount") or {}
    if "total" in canceled:
        order.refunded_amount = max(order.refunded_amount, int(canceled.get("total") or 0))
        order.refunded_tax_free_amount = max(order.refunded_tax_free_amount, int(canceled.get("tax_free") or 0))
        order.refunded_vat_amount = max(order.refunded_vat_amount, int(canceled.get("vat") or 0))
