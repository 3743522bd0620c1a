"""One-time payments: ready, the buyer at KakaoPay (simulator), approve, order (inquiry), cancel."""

from __future__ import annotations

import secrets
import urllib.parse

from ..server import FakeState, Request, Response, route
from .common import PRE_APPROVAL, _amount, _approved_body, _error, _gen, _int, _now, _pay, _require
from .faults import _with_faults

# --- ready -------------------------------------------------------------------------------------


@_with_faults("ready")
def ready(state: FakeState, req: Request) -> Response:
    bad = _require(
        req, "cid", "partner_order_id", "partner_user_id", "item_name", "quantity", "total_amount",
        "tax_free_amount", "approval_url",
    )  # fmt: skip
    if bad:
        return bad
    p = req.params
    tid = "T" + secrets.token_hex(9)
    record = {
        "tid": tid,
        "cid": p["cid"],
        "generation": _gen(req),
        "partner_order_id": p["partner_order_id"],
        "partner_user_id": p["partner_user_id"],
        "item_name": p["item_name"],
        "item_code": p.get("item_code", ""),
        "quantity": _int(p["quantity"], 1),
        "total_amount": _int(p["total_amount"], 0),
        "tax_free_amount": _int(p["tax_free_amount"], 0),
        "vat_amount": _int(p.get("vat_amount")),
        "approval_url": p["approval_url"],
        "cancel_url": p.get("cancel_url", ""),
        "fail_url": p.get("fail_url", ""),
        "status": "READY",
        "pg_token": None,
        "approve_calls": 0,
        "approvals": 0,
        "aid": None,
        "sid": None,
        "canceled": {"total": 0, "tax_free": 0, "vat": 0},
        "cancels": [],
        "created_at": _now(),
        "approved_at": None,
        "canceled_at": None,
        "payment_method_type": p.get("payment_method_type") or "MONEY",
    }
    with state.lock:
        _pay(state)["tids"][tid] = record
    base = req.base_url
    return Response(
            200,
            {
                "tid": tid,
                "tms_result": False,
                "next_redirect_app_url": f"{base}/kakaopay-sim/pay/{tid}?ua=app",
                "next_redirect_mobile_url": f"{base}/kakaopay-sim/pay/{tid}?ua=mobile",
                "next_redirect_pc_url": f"{base}/kakaopay-sim/pay/{tid}?ua=pc",
                "android_app_scheme": f"kakaotalk://kakaopay/pg?url={base}/kakaopay-sim/pay/{tid}",
                "ios_app_scheme": f"kakaotalk://kakaopay/pg?url={base}/kakaopay-sim/pay/{tid}",
                "created_at": record["created_at"],
            },
        )


# --- the buyer at KakaoPay (simulator) -----------------------------------------------------------


@route("POST", r"/kakaopay-sim/authorize", "sim_authorize")
def sim_authorize(state: FakeState, req: Request) -> Response:
    tid = str(req.params.get("tid", ""))
    result = str(req.params.get("result", "ok"))
    with state.lock:
        t = _pay(state)["tids"].get(tid)
        if t is None:
            return Response(404, {"error": "unknown tid"})
        if result == "cancel":
            t["status"] = "QUIT_PAYMENT"
            url = t["cancel_url"]
        elif result == "fail":
            t["status"] = "FAIL_AUTH_PASSWORD"
            url = t["fail_url"]
        else:
            if t["status"] in PRE_APPROVAL:
                t["status"] = "AUTH_PASSWORD"
                t["pg_token"] = t["pg_token"] or secrets.token_hex(10)
            url = t["approval_url"]
        token = t["pg_token"]
    query = {"partner_order_id": t["partner_order_id"], "partner_user_id": t["partner_user_id"]}
    if token and result == "ok":
        query["pg_token"] = token
    sep = "&" if "?" in url else "?"
    return Response(200, {"tid": tid, "pg_token": token, "status": t["status"], "redirect_url": url + sep + urllib.parse.urlencode(query)})


# --- approve -----------------------------------------------------------------------------------


@_with_faults("approve")
def approve(state: FakeState, req: Request) -> Response:
    bad = _require(req, "cid", "tid", "partner_order_id", "partner_user_id", "pg_token")
    if bad:
        return bad
    p = req.params
    with state.lock:
        t = _pay(state)["tids"].get(p["tid"])
        if t is not None:
            t["approve_calls"] += 1
    legacy = _gen(req) == "legacy"
    if t is None or p["cid"] != t["cid"]:
        return _error(req, 400, -721 if legacy else "INVALID_TID", "tid not found")
    with state.lock:
        if p["partner_order_id"] != t["partner_order_id"]:
            return _error(req, 400, -706 if legacy else "INVALID_PARAMS", "partner_order_id mismatch")
        if p["partner_user_id"] != t["partner_user_id"]:
            return _error(req, 400, -707 if legacy else "INVALID_PARAMS", "partner_user_id mismatch")
        if t["status"] in ("SUCCESS_PAYMENT", "ISSUED_SID", "PART_CANCEL_PAYMENT", "CANCEL_PAYMENT"):
            return _error(req, 400, -702 if legacy else "PAYMENT_ALREADY_DONE", "payment is already done")
        if t["status"] != "AUTH_PASSWORD":
            return _error(req, 400, -701 if legacy else "NOT_AUTHENTICATED", f"payment is {t['status']}")
        if p["pg_token"] != t["pg_token"]:
            return _error(req, 400, -708 if legacy else "INVALID_PG_TOKEN", "invalid pg_token")
        t["status"] = "SUCCESS_PAYMENT"
        if t["total_amount"] == 0 and (t["cid"].startswith("TCSUB") or p.get("sid_required")):
            t["status"] = "ISSUED_SID"  # a 0-won subscription sign-up (e.g. 첫달 무료): sid only
        t["approvals"] += 1
        t["aid"] = "A" + secrets.token_hex(9)
        t["approved_at"] = _now()
        if t["cid"].startswith("TCSUB") or p.get("sid_required"):
            sid = "S" + secrets.token_hex(9)
            t["sid"] = sid
            _pay(state)["sids"][sid] = {
                "sid": sid, "cid": t["cid"], "status": "ACTIVE", "partner_user_id": t["partner_user_id"],
                "created_at": _now(), "last_approved_at": _now(), "inactivated_at": None,
            }  # fmt: skip
        body = _approved_body(t)
    return Response(200, body)


# --- order (inquiry) ---------------------------------------------------------------------------


@_with_faults("order")
def order(state: FakeState, req: Request) -> Response:
    bad = _require(req, "cid", "tid")
    if bad:
        return bad
    with state.lock:
        t = _pay(state)["tids"].get(req.params["tid"])
        if t is None or t["cid"] != req.params["cid"]:
            return _error(req, 400, -701 if _gen(req) == "legacy" else "INVALID_TID", "tid not found")
        amount = _amount(t)
        canceled = dict(t["canceled"])
        details = []
        if t["aid"]:
            details.append({"aid": t["aid"], "approved_at": t["approved_at"], "amount": amount["total"],
                            "payment_action_type": "PAYMENT", "payment_method_type": t["payment_method_type"]})  # fmt: skip
        for c in t["cancels"]:
            details.append({"aid": c["aid"], "approved_at": c["at"], "amount": c["amount"], "payment_action_type": "CANCEL"})
        approved = t["aid"] is not None
        body = {
            "tid": t["tid"],
            "cid": t["cid"],
            "status": t["status"],
            "partner_order_id": t["partner_order_id"],
            "partner_user_id": t["partner_user_id"],
            "payment_method_type": t["payment_method_type"],
            "item_name": t["item_name"],
            "quantity": t["quantity"],
            "amount": amount if approved else {"total": amount["total"], "tax_free": amount["tax_free"], "vat": amount["vat"]},
            "canceled_amount": canceled,
            "cancel_available_amount": {
                "total": (amount["total"] - canceled["total"]) if approved else 0,
                "tax_free": (amount["tax_free"] - canceled["tax_free"]) if approved else 0,
                "vat": (amount["vat"] - canceled["vat"]) if approved else 0,
            },
            "created_at": t["created_at"],
            "approved_at": t["approved_at"],
            "canceled_at": t["canceled_at"],
            "payment_action_details": details,
        }
        if approved:
            body["aid"] = t["aid"]
        if t.get("sid"):
            body["sid"] = t["sid"]
    return Response(200, body)


# --- cancel ------------------------------------------------------------------------------------


@_with_faults("cancel")
def cancel(state: FakeState, req: Request) -> Response:
    bad = _require(req, "cid", "tid", "cancel_amount", "cancel_tax_free_amount")
    if bad:
        return bad
    p = req.params
    legacy = _gen(req) == "legacy"
    with state.lock:
        t = _pay(state)["tids"].get(p["tid"])
        if t is None or t["cid"] != p["cid"]:
            return _error(req, 400, -701 if legacy else "INVALID_TID", "tid not found")
        if t["status"] not in ("SUCCESS_PAYMENT", "PART_CANCEL_PAYMENT"):
            return _error(req, 400, -721 if legacy else "INVALID_STATUS", f"cannot cancel a payment in {t['status']}")
        amount = _amount(t)
        remaining = amount["total"] - t["canceled"]["total"]
        want = _int(p["cancel_amount"], 0) or 0
        want_tax_free = _int(p["cancel_tax_free_amount"], 0) or 0
        available = _int(p.get("cancel_available_amount"))
        if available is not None and available != remaining:
            return _error(req, 400, -722 if legacy else "INVALID_CANCEL_AVAILABLE_AMOUNT",
                          f"cancel_available_amount {available} is not {remaining}")  # fmt: skip
        if want <= 0 or want > remaining or want_tax_free > amount["tax_free"] - t["canceled"]["tax_free"]:
            return _error(req, 400, -723 if legacy else "INVALID_CANCEL_AMOUNT", "cancel amount exceeds what is left")
        vat = _int(p.get("cancel_vat_amount"))
        if vat is None:
            vat = round((want - want_tax_free) / 11)
        t["canceled"] = {
            "total": t["canceled"]["total"] + want,
            "tax_free": t["canceled"]["tax_free"] + want_tax_free,
            "vat": t["canceled"]["vat"] + vat,
        }
        t["status"] = "CANCEL_PAYMENT" if t["canceled"]["total"] >= amount["total"] else "PART_CANCEL_PAYMENT"
        t["canceled_at"] = _now()
        aid = "A" + secrets.token_hex(9)
        t["cancels"].append({"aid": aid, "amount": want, "tax_free": want_tax_free, "vat": vat, "at": t["canceled_at"]})
        body = _approved_body(t) | {
            "aid": aid,
            "status": t["status"],
            "approved_cancel_amount": {"total": want, "tax_free": want_tax_free, "vat": vat, "point": 0, "discount": 0},
            "canceled_amount": dict(t["canceled"]),
            "cancel_available_amount": {
                "total": amount["total"] - t["canceled"]["total"],
                "tax_free": amount["tax_free"] - t["canceled"]["tax_free"],
                "vat": amount["vat"] - t["canceled"]["vat"],
            },
            "canceled_at": t["canceled_at"],
        }
    return Response(200, body)


for _prefix in ("/v1/payment", "/online/v1/payment"):
    for _method in ("POST", "GET"):
        route(_method, _prefix + "/ready", "ready")(ready)
        route(_method, _prefix + "/approve", "approve")(approve)
        route(_method, _prefix + "/order", "order")(order)
        route(_method, _prefix + "/cancel", "cancel")(cancel)
