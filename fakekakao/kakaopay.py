"""The fake KakaoPay: ready, approve, cancel, order (inquiry), subscription, inactive, status, for
both API generations (CONTRACTS section 7), keeping state per tid.

- legacy ``/v1/payment/...``: ``Authorization: KakaoAK <key>``, form body; errors
  ``{"code": -780, "msg": ..., "extras": {...}}``;
- open ``/online/v1/payment/...``: ``Authorization: SECRET_KEY <key>``, JSON body; errors
  ``{"error_code": ..., "error_message": ..., "extras": {...}}``.

The buyer's side (what Kakao's payment sheet does) is simulated by
``POST /kakaopay-sim/authorize`` with ``tid`` and ``result`` ok|cancel|fail: it moves the tid past
password authentication and answers the ``pg_token`` with the approval redirect URL.

Faults (armed with ``POST /__fake__/faults``, op ``approve``, ``cancel``, ``order``, ``ready``...):
``decline`` (4xx -780 with ``message`` as ``extras.method_result_message``), ``error500`` (500,
nothing done), ``delay`` (do the work, then answer after ``delay`` seconds: past the caller's
timeout; ``"when": "before"`` waits first), ``lost`` (do the work, then close the connection
without answering), ``alter`` (do the work, then answer with the top-level fields in ``set``
replaced: an answer that is not about the payment that was asked, e.g. another
``partner_order_id``), ``trickle`` (do the work, then send the whole answer, status line and headers
included, one byte every ``interval`` seconds (default 0.2): each byte comes well within a read
timeout, the whole takes far longer than any deadline; ``"when": "before"`` holds the call open
first for ``hold`` seconds (default 15) by trickling ``100 Continue`` lines byte by byte, does the
work only then (or as soon as the caller hangs up: KakaoPay acts on a request whose caller left),
and answers at once).  Every trickle is recorded in the state (``kakaopay.trickles``: op, tid, when
it started, when the caller hung up, when it ended).

Approve refusals carry KakaoPay's legacy codes: ``-721`` unknown tid, ``-706`` / ``-707``
partner_order_id / partner_user_id not the tid's, ``-702`` already approved, ``-701`` not
authenticated yet, ``-708`` invalid pg_token.  A pg_token that is not the one issued for the tid is
refused as a bad request (400, ``-708`` / open ``INVALID_PG_TOKEN``, no method result: nothing was
declined) and changes nothing: the tid stays in AUTH_PASSWORD, and the genuine pg_token still
approves it.

Subscriptions (정기결제): approve on a subscription CID (``TCSUB...``) issues a ``sid`` (status
``ISSUED_SID`` when the first amount is 0); ``subscription`` charges an active sid (a new tid each
call, and the sid's ``last_approved_at``), ``inactive`` ends it, ``status`` reports it; the order
inquiry of a tid carries its ``sid``.  Faults work on ops ``subscription``, ``inactive`` and
``subscription_status`` too (e.g. ``decline`` a charge).
"""

from __future__ import annotations

import secrets
import time
import urllib.parse
from datetime import UTC, datetime
from typing import Any

from .server import FakeState, Request, Response, drop_connection, route

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


def _faulty(state: FakeState, op: str, req: Request) -> dict | None:
    fault = state.take_fault(op, req.params)
    if fault and fault.get("kind") == "delay" and fault.get("when") == "before":
        time.sleep(float(fault.get("delay", 12.0)))
        return None
    return fault


def _trickle_start(state: FakeState, op: str, req: Request) -> dict:
    record = {"op": op, "tid": req.params.get("tid"), "started": time.time(), "caller_left": None, "ended": None}
    with state.lock:
        _pay(state).setdefault("trickles", []).append(record)
    return record


def _trickle(state: FakeState, record: dict, req: Request, data: bytes, interval: float, *, until: float = 0.0) -> bool:
    """Write ``data`` one byte every ``interval`` s (over and over until ``until``, when given).
    False when the caller hung up (recorded)."""
    assert req.writer is not None
    i = 0
    while True:
        if until:
            if i % len(data) == 0 and time.time() >= until:  # only between whole lines
                return True
        elif i >= len(data):
            return True
        if not req.writer(data[i % len(data) : i % len(data) + 1]):
            with state.lock:
                record["caller_left"] = time.time()
            return False
        i += 1
        time.sleep(interval)


def _deliver(state: FakeState, op: str, req: Request, fault: dict | None, resp: Response) -> Response:
    """Apply an after-the-work fault to a computed answer."""
    if fault is None:
        return resp
    kind = fault.get("kind")
    if kind == "delay":
        time.sleep(float(fault.get("delay", 12.0)))
    elif kind == "lost":
        drop_connection()
    elif kind == "alter" and isinstance(resp.body, dict) and resp.status == 200:
        resp.body = resp.body | dict(fault.get("set") or {})
    elif kind == "trickle" and fault.get("when") != "before":
        record = _trickle_start(state, op, req)
        _trickle(state, record, req, resp.to_bytes(), float(fault.get("interval", 0.2)))
        with state.lock:
            record["ended"] = time.time()
        return Response(sent=True)
    return resp


def _before_work(state: FakeState, op: str, req: Request, fault: dict | None) -> Response | None:
    """Faults that replace the work: a decline or a 500."""
    if fault is None:
        return None
    kind = fault.get("kind")
    if kind == "error500":
        return _error(req, 500, -500 if _gen(req) == "legacy" else "INTERNAL_SERVER_ERROR", "internal server error")
    if kind == "decline":
        message = fault.get("message", "결제가 거절되었습니다.")
        extras = {"method_result_code": str(fault.get("method_result_code", "8000")), "method_result_message": message}
        code = fault.get("code", -780)
        if _gen(req) == "open":
            code = fault.get("error_code", "APPROVAL_FAILURE")
        tid = req.params.get("tid")
        if op == "approve" and tid:
            with state.lock:
                t = _pay(state)["tids"].get(tid)
                if t and t["status"] in PRE_APPROVAL:
                    t["status"] = "FAIL_PAYMENT"
        return _error(req, int(fault.get("status", 400)), code, fault.get("msg", "approval failure!"), extras)
    return None


def _with_faults(op: str):
    """Check the auth header and body encoding, then apply an armed fault around the work."""

    def wrap(work):
        def handler(state: FakeState, req: Request) -> Response:
            bad = _check_auth(req)
            if bad:
                return bad
            fault = _faulty(state, op, req)
            early = _before_work(state, op, req, fault)
            if early:
                return early
            if fault and fault.get("kind") == "trickle" and fault.get("when") == "before":
                record = _trickle_start(state, op, req)
                until = time.time() + float(fault.get("hold", 15.0))
                there = _trickle(state, record, req, b"HTTP/1.1 100 Continue\r\n\r\n", float(fault.get("interval", 0.2)), until=until)
                resp = work(state, req)  # KakaoPay acts on it even when the caller has left
                with state.lock:
                    record["ended"] = time.time()
                return resp if there else Response(sent=True)
            return _deliver(state, op, req, fault, work(state, req))

        handler.__name__ = work.__name__
        return handler

    return wrap


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
        route(_method, _prefix + "/ready", "ready")(ready)
        route(_method, _prefix + "/approve", "approve")(approve)
        route(_method, _prefix + "/order", "order")(order)
        route(_method, _prefix + "/cancel", "cancel")(cancel)
        route(_method, _prefix + "/subscription", "subscription")(subscription)
        route(_method, _prefix + "/manage/subscription/inactive", "inactive")(inactive)
        route(_method, _prefix + "/manage/subscription/status", "subscription_status")(subscription_status)
