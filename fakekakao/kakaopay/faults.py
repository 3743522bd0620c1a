"""Armed faults around KakaoPay's work: decline, error500, delay, lost, alter, trickle (see the
package's docstring)."""

from __future__ import annotations

import time

from ..server import FakeState, Request, Response, drop_connection
from .common import PRE_APPROVAL, _check_auth, _error, _gen, _pay


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
