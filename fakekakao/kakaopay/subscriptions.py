"""Subscriptions (정기결제): charge an active sid, end it (inactive), report it (status)."""

from __future__ import annotations

import secrets

from ..server import FakeState, Request, Response, route
from .common import _approved_body, _error, _gen, _int, _now, _pay, _require
from .faults import _with_faults

# --- subscriptions -----------------------------------------------------------------------------


@_with_faults("subscription")
def subscription(state: FakeState, req: Request) -> Response:
    bad = _require(
        req, "cid", "sid", "partner_order_id", "partner_user_id", "item_name", "quantity", "total_amount", "tax_free_amount"
    )
    if bad:
        return bad
    p = req.params
    with state.lock:
        s = _pay(state)["sids"].get(p["sid"])
        if s is None or s["cid"] != p["cid"]:
            return _error(req, 400, -797 if _gen(req) == "legacy" else "INVALID_SID", "sid not found")
        if s["status"] != "ACTIVE":
            return _error(req, 400, -798 if _gen(req) == "legacy" else "INACTIVE_SID", "sid is inactive")
        if s["partner_user_id"] != p["partner_user_id"]:
            return _error(req, 400, -702 if _gen(req) == "legacy" else "INVALID_PARAMS", "partner_user_id is not the sid's")
        tid = "T" + secrets.token_hex(9)
        t = {
            "tid": tid, "cid": p["cid"], "generation": _gen(req), "partner_order_id": p["partner_order_id"],
            "partner_user_id": p["partner_user_id"], "item_name": p["item_name"], "item_code": p.get("item_code", ""),
            "quantity": _int(p["quantity"], 1), "total_amount": _int(p["total_amount"], 0),
            "tax_free_amount": _int(p["tax_free_amount"], 0), "vat_amount": _int(p.get("vat_amount")),
            "approval_url": "", "cancel_url": "", "fail_url": "", "status": "SUCCESS_PAYMENT", "pg_token": None,
            "approve_calls": 0, "approvals": 1, "aid": "A" + secrets.token_hex(9), "sid": p["sid"],
            "canceled": {"total": 0, "tax_free": 0, "vat": 0}, "cancels": [], "created_at": _now(),
            "approved_at": _now(), "canceled_at": None, "payment_method_type": "CARD",
        }  # fmt: skip
        _pay(state)["tids"][tid] = t
        s["last_approved_at"] = _now()
        body = _approved_body(t)
    return Response(200, body)


@_with_faults("inactive")
def inactive(state: FakeState, req: Request) -> Response:
    bad = _require(req, "cid", "sid")
    if bad:
        return bad
    with state.lock:
        s = _pay(state)["sids"].get(req.params["sid"])
        if s is None or s["cid"] != req.params["cid"]:
            return _error(req, 400, -797 if _gen(req) == "legacy" else "INVALID_SID", "sid not found")
        if s["status"] == "ACTIVE":
            s["status"] = "INACTIVE"
            s["inactivated_at"] = _now()
        return Response(200, {"cid": s["cid"], "sid": s["sid"], "status": s["status"], "created_at": s["created_at"],
                              "last_approved_at": s["last_approved_at"], "inactivated_at": s["inactivated_at"]})  # fmt: skip


@_with_faults("subscription_status")
def subscription_status(state: FakeState, req: Request) -> Response:
    bad = _require(req, "cid", "sid")
    if bad:
        return bad
    with state.lock:
        s = _pay(state)["sids"].get(req.params["sid"])
        if s is None or s["cid"] != req.params["cid"]:
            return _error(req, 400, -797 if _gen(req) == "legacy" else "INVALID_SID", "sid not found")
        return Response(200, {"available": s["status"] == "ACTIVE", "cid": s["cid"], "sid": s["sid"],
                              "status": s["status"], "created_at": s["created_at"],
                              "last_approved_at": s["last_approved_at"], "inactivated_at": s["inactivated_at"]})  # fmt: skip


for _prefix in ("/v1/payment", "/online/v1/payment"):
    for _method in ("POST", "GET"):
        route(_method, _prefix + "/subscription", "subscription")(subscription)
        route(_method, _prefix + "/manage/subscription/inactive", "inactive")(inactive)
        route(_method, _prefix + "/manage/subscription/status", "subscription_status")(subscription_status)
