"""Payment plugin endpoints (CONTRACTS section 6), T1–T4: thin views over ``orders.payments``
(``payment_t1``, ``payment_t2``, ``payment_t3``).  The services raise :class:`OrderError`; this
module alone turns its code into the envelope status Kakao expects (``ENVELOPE_STATUS``).

T4 is a plain Django view: Kakao polls it every 0.5 s per buyer, so it is one indexed query and a
pre-encoded answer (no DRF, no lock, never a call to KakaoPay).
"""

from __future__ import annotations

import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework.response import Response

from kakaoplugin import envelope
from kakaoplugin.envelope import BadRequest, PluginError
from kakaoplugin.views import PluginAPIView, require

from . import pay_links
from .errors import OrderError
from .payments import payment_t1, payment_t2, payment_t3
from .payments.ledger import MSG_BAD_USER, MSG_INVALID_ORDER
from .selectors import order_status_row

ENVELOPE_STATUS = {
    OrderError.INVALID_ORDER: envelope.INVALID_ORDER,
    OrderError.BAD_USER: envelope.BAD_USER,
    OrderError.BLOCKED: envelope.BLOCKED_USER,
    OrderError.STORE_CLOSED: envelope.STORE_CLOSED,
    OrderError.NOT_CONFIGURED: envelope.OTHER_ERROR,
    OrderError.TID_TAKEN: 400,  # T2: the tid belongs to another order (nothing is stored)
    OrderError.OVER_LIMIT: 400,  # T1: the total with delivery is over ORDER_MAX_AMOUNT
}


class PaymentApi(PluginAPIView):
    """A payment plugin view: a refusal of the services is answered as its envelope."""

    def handle_exception(self, exc):
        if isinstance(exc, OrderError):
            exc = PluginError(ENVELOPE_STATUS.get(exc.code, envelope.OTHER_ERROR), exc.message)
        return super().handle_exception(exc)


def _ok() -> Response:
    return Response(envelope.success_body())


def _base_url(request) -> str:
    return settings.PUBLIC_BASE_URL or f"{request.scheme}://{request.get_host()}"


class PaymentT1Api(PaymentApi):
    """Payment T1: GET /ordersheet?ordersheet_id=&zip_code=&relay_id="""

    def get(self, request, plugin_key):
        sheet_id = require(request.query_params, "ordersheet_id")
        order = payment_t1.order_create_for_sheet(
            kakao_app=self.kakao_app,
            ordersheet_id=sheet_id,
            app_user_id=self.kakao.app_user_id,
            relay_id=self.kakao.relay_id,
            zip_code=request.query_params.get("zip_code"),
        )
        return Response(envelope.success_body(payment_t1.ordersheet_payload(order=order, base_url=_base_url(request))))


class PaymentT2Api(PaymentApi):
    """Payment T2: POST /order/approve {partner_order_id, tid, shipping_address, relay_id}"""

    def post(self, request, plugin_key):
        body = self.body()
        address = body.get("shipping_address")
        if address is not None and not isinstance(address, dict):
            raise BadRequest("shipping_address 값의 형식이 올바르지 않습니다 (wrong type)")
        relay = body.get("relay_id") if isinstance(body.get("relay_id"), str) else None
        payment_t2.payment_t2(
            kakao_app=self.kakao_app,
            partner_order_id=require(body, "partner_order_id"),
            tid=require(body, "tid"),
            shipping_address=address,
            app_user_id=self.kakao.app_user_id,
            relay_id=self.kakao.relay_id or relay,
            body=body,
        )
        return _ok()


def _params(request) -> dict:
    """Query parameters and (for POST) a form or JSON body, merged: KakaoPay's redirect is a GET,
    but a relay may POST."""
    params = {k: v for k, v in request.query_params.items()}
    raw = request._request
    if raw.method == "POST":
        if raw.content_type == "application/x-www-form-urlencoded":
            params.update(raw.POST.dict())
        elif raw.body:
            try:
                data = orjson.loads(raw.body)
            except orjson.JSONDecodeError:
                raise BadRequest("요청 본문이 올바른 JSON이 아닙니다 (request body is not valid JSON)")
            if isinstance(data, dict):
                params.update({k: v for k, v in data.items() if isinstance(v, str)})
    return params


# --- the buyer's browser: KakaoPay's redirects (orders.pay_links) ------------------------------

_BAD_LINK = "유효하지 않은 결제 주소입니다 (invalid payment link)"
_EXPIRED_LINK = "이미 처리되었거나 만료된 결제 주소입니다 (this payment link is no longer valid)"


class PayLinkApi(PaymentApi):
    """``/pay/<partner_order_id>/<action>/<token>``: reached by the buyer's browser, authorised by
    the order's token for ``action`` (the gate applies no plugin key and no allowlist here)."""

    action = ""

    def order(self, ref: str, token: str, pg_token: str = ""):
        order = pay_links.order_for_link(kakao_app=self.kakao_app, ref=ref, action=self.action, token=token)
        if order is None:
            raise PluginError(404, _BAD_LINK, http_status=404)
        if not pay_links.link_still_valid(order=order, action=self.action, pg_token=pg_token):
            raise PluginError(410, order.failure_message or _EXPIRED_LINK, http_status=410)
        return order


class PaymentT3Api(PayLinkApi):
    """Payment T3: KakaoPay's approval redirect with partner_order_id, partner_user_id, pg_token."""

    action = "approval"

    def get(self, request, ref: str, token: str):
        params = _params(request)
        order = self.order(ref, token, str(params.get("pg_token") or ""))  # the link first, then the query
        pg_token = require(params, "pg_token")
        payment_t3.payment_t3(
            kakao_app=self.kakao_app,
            order=order,
            partner_order_id=params.get("partner_order_id"),
            partner_user_id=params.get("partner_user_id"),
            pg_token=pg_token,
            params=params,
        )
        return _ok()

    post = get


class KakaoPayCancelApi(PayLinkApi):
    """cancel_url: the buyer cancelled at KakaoPay."""

    action = "cancel"
    failed = False

    def get(self, request, ref: str, token: str):
        params = _params(request)
        order = self.order(ref, token)
        payment_t3.order_buyer_abandoned(
            kakao_app=self.kakao_app, partner_order_id=order.partner_order_id, failed=self.failed, params=params
        )
        return _ok()

    post = get


class KakaoPayFailApi(KakaoPayCancelApi):
    """fail_url: payment failed at KakaoPay."""

    action = "fail"
    failed = True


_MISSING_ORDER_ID = envelope.dumps({"status": 400, "message": "필수 항목이 없습니다: order_id (missing field)"})
_UNKNOWN = envelope.dumps({"status": envelope.INVALID_ORDER, "message": MSG_INVALID_ORDER})
_NOT_OWNER = envelope.dumps({"status": envelope.BAD_USER, "message": MSG_BAD_USER})
_PLAIN = {code: envelope.dumps({"status": 200, "data": {"order_status": code}}) for code in ("W", "S", "C")}


def payment_t4(request: HttpRequest, plugin_key: str) -> HttpResponse:
    """Payment T4: GET /order/status?order_id=&relay_id= → W/S/F/C (F with its message)."""
    if request.method != "GET":
        return envelope.fail(405, "허용되지 않은 메서드입니다 (method not allowed)", http_status=405)
    order_id = request.GET.get("order_id")
    if not order_id:
        return envelope.json_response(_MISSING_ORDER_ID, http_status=400)
    row = order_status_row(kakao_app_id=request.kakao_app.pk, partner_order_id=order_id)
    if row is None:
        return envelope.json_response(_UNKNOWN)
    t4, owner, message = row
    if owner and owner != request.kakao.app_user_id:
        return envelope.json_response(_NOT_OWNER)
    if t4 == "F":
        return envelope.json_response({"status": 200, "data": {"order_status": "F", "message": message or "결제에 실패했습니다."}})
    return envelope.json_response(_PLAIN[t4])
