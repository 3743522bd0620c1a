"""The payment ledger: every inbound T2/T3 and every KakaoPay call as a :class:`PaymentEvent`
(secrets and the subscription ``sid`` never in it), and the buyer-facing failure messages (T4's F
message) the money path writes on orders."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils import timezone

from kakaoplugin.fields import mask
from kakaoplugin.inserts import insert_unless_exists

from ..models import Order, PaymentEvent

# --- failure messages (Korean, shown by T4 with F, or answered by T1/T2) -------------------------

MSG_INVALID_ORDER = "유효하지 않은 주문입니다."
MSG_INVALID_SHEET = "유효하지 않은 주문서입니다."
MSG_SHEET_CLOSED = "주문서가 만료되었거나 이미 결제된 주문입니다."
MSG_BAD_USER = "주문자 정보가 일치하지 않습니다."
MSG_BLOCKED = "사용이 제한된 사용자입니다."
MSG_STORE_CLOSED = "매장 운영시간이 아닙니다."
MSG_SOLD_OUT = "주문 상품이 품절되었습니다."
MSG_NOT_ON_SALE = "판매가 종료된 상품입니다."
MSG_EXPIRED = "결제 시간이 초과되었습니다. 다시 주문해 주세요."
MSG_SHEET_OTHER_MODE = "테스트/운영 모드가 바뀌기 전에 만든 주문서입니다. 다시 주문해 주세요."
MSG_TID_TAKEN = "이미 다른 주문에 사용된 결제 번호(tid)입니다. (This payment belongs to another order.)"
MSG_AMOUNT_MISMATCH = "결제 금액이 주문 금액과 달라 결제를 취소합니다."
MSG_CHARGE_AMOUNT_MISMATCH = "결제 금액이 정기결제 금액과 달라 결제를 취소합니다."
MSG_CONFIG = "결제 설정 오류로 결제할 수 없습니다. 판매자에게 문의해 주세요."
MSG_CANCELLED_AT_KAKAOPAY = "결제가 취소되었습니다."


def payment_event_record(
    *,
    order: Order,
    kind: str,
    key: str | None = None,
    request: Any = None,
    response: Any = None,
    outcome: str = PaymentEvent.Outcome.INFO,
    message: str = "",
    http_status: int | None = None,
    duration_ms: int | None = None,
    created_by: str = "",
) -> PaymentEvent | None:
    """Insert an event; a duplicate ``key`` is a replay: returns None and changes nothing."""
    key = key or f"{kind}:{order.pk}:{uuid.uuid4().hex}"
    event = PaymentEvent(
        order=order, kind=kind, idempotency_key=key[:200], request=_without_sid(request),
        response=_without_sid(response), outcome=outcome, message=message[:500], http_status=http_status,
        duration_ms=duration_ms, created_by=created_by, created_at=timezone.now(),
    )  # fmt: skip
    return event if insert_unless_exists(event, unique="idempotency_key") else None


def _without_sid(data: Any) -> Any:
    """A subscription's ``sid`` charges the buyer again: it is kept encrypted on the subscription,
    never in the event log (approve and inquiry answers carry it, subscription calls send it)."""
    if isinstance(data, dict) and data.get("sid"):
        return data | {"sid": mask(str(data["sid"]))}
    return data
