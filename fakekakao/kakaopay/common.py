"""What both KakaoPay API generations share: auth header and body encoding, error bodies, parameters,
the per-tid state and amounts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..server import FakeState, Request, Response

PRE_APPROVAL = ("READY", "SEND_TMS", "OPEN_PAYMENT", "SELECT_METHOD", "ARS_WAITING", "AUTH_PASSWORD")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _gen(req: Request) -> str:
    return "open" if req.path.startswith("/online/") else "legacy"


def _error(req: Request, status: int, code: int | str, msg: str, extras: dict | None = None) -> Response:
    if _gen(req) == "open":
        body: dict[str, Any] = {"error_code": str(code), "error_message": msg}
    else:
        body = {"code": code, "msg": msg}
    if extras:
        body["extras"] = extras
    return Response(status, body)


def _check_auth(req: Request) -> Response | None:
    header = req.headers.get("Authorization") or req.headers.get("authorization") or ""
    ctype = (req.headers.get("Content-Type") or req.headers.get("content-type") or "").lower()
    if _gen(req) == "open":
        scheme, _, key = header.partition(" ")
        if scheme != "SECRET_KEY" or not key.strip():
            return _error(req, 401, "UNAUTHORIZED", "invalid secret key (Authorization: SECRET_KEY ...)")
        if req.body and "json" not in ctype:
            return _error(req, 400, "INVALID_REQUEST", "the open API takes a JSON body")
    else:
        scheme, _, key = header.partition(" ")
        if scheme != "KakaoAK" or not key.strip():
            return _error(req, 401, -401, "invalid admin key (Authorization: KakaoAK ...)")
        if req.body and "x-www-form-urlencoded" not in ctype:
            return _error(req, 400, -2, "the legacy API takes a form-encoded body")
    return None


def _int(value: Any, default: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _require(req: Request, *names: str) -> Response | None:
    missing = [n for n in names if req.params.get(n) in (None, "")]
    if missing:
        return _error(req, 400, -2 if _gen(req) == "legacy" else "INVALID_PARAMS", f"missing: {', '.join(missing)}")
    return None


def _pay(state: FakeState) -> dict:
    ns = state.ns("kakaopay")
    ns.setdefault("tids", {})
    ns.setdefault("sids", {})
    return ns


def _amount(p: dict) -> dict:
    total = p["total_amount"]
    tax_free = p.get("tax_free_amount", 0)
    vat = p.get("vat_amount")
    if vat is None:
        vat = round((total - tax_free) / 11)
    return {"total": total, "tax_free": tax_free, "vat": vat, "point": 0, "discount": 0, "green_deposit": 0}


def _approved_body(t: dict) -> dict:
    amount = _amount(t)
    body = {
        "aid": t["aid"],
        "tid": t["tid"],
        "cid": t["cid"],
        "partner_order_id": t["partner_order_id"],
        "partner_user_id": t["partner_user_id"],
        "payment_method_type": t["payment_method_type"],
        "amount": amount,
        "item_name": t["item_name"],
        "item_code": t["item_code"],
        "quantity": t["quantity"],
        "created_at": t["created_at"],
        "approved_at": t["approved_at"],
    }
    if t.get("sid"):
        body["sid"] = t["sid"]
    if t["payment_method_type"] == "CARD":
        body["card_info"] = {"purchase_corp": "비씨카드", "issuer_corp": "비씨카드", "install_month": "00"}
    return body
