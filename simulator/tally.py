"""The flash sale's money figures, from the whole truth, never from the buyers that finished.

A buyer whose flow broke (a transport error, a 5xx, T4 never settling in time) may still have paid:
counting only the buyers whose flow returned under-reports exactly when something went wrong.  So
the figures come from

- **the fake KakaoPay's full state** (its control endpoints): every tid whose ``partner_user_id`` is
  one of the run's buyers, whatever became of the buyer, and every approve call it received for them;
- **our database**, through the merchant API's order list (``GET /api/v1/orders``, the run's relay
  ids): every order of the run and its status, after waiting (up to ``settle_timeout``) until each
  is settled (T4 S, F or C, and no compensating cancel owed).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from fakekakao.control import FakeControl

from .target import Target

CHARGED = ("SUCCESS_PAYMENT", "PART_CANCEL_PAYMENT")  # money stays with KakaoPay's merchant
SETTLED_FAILED = ("failed", "cancelled")
MONEY_PATH = ("approving", "refunding")  # ours to finish: the approval or the compensating cancel


@dataclass
class Tally:
    tids: dict[str, dict] = field(default_factory=dict)  # the run's tids at the fake
    approve_calls: Counter = field(default_factory=Counter)  # per partner_order_id
    orders: list[dict] | None = None  # the run's orders in our database (None: no merchant API key)
    unsettled: list[str] = field(default_factory=list)  # partner_order_ids not settled after the wait
    charged_units: int = 0
    double_charges: int = 0
    problems: list[str] = field(default_factory=list)  # mismatches between the fake and the database
    unreadable: str = ""  # why our database could not be read (then ``orders`` is None)

    def charged(self, tid: str | None) -> bool:
        return bool(tid) and (self.tids.get(tid) or {}).get("status") in CHARGED

    def charged_tids_of(self, partner_user_id: str | None) -> list[str]:
        return [tid for tid, t in self.tids.items() if t.get("partner_user_id") == partner_user_id and self.charged(tid)]

    @property
    def paid_orders(self) -> int | None:
        return None if self.orders is None else sum(1 for o in self.orders if o.get("status") == "paid")


def tally(target: Target, *, buyer_ids: set[str], relay_ids: set[str], since: datetime, settle_timeout: float) -> Tally:
    """Count what the run's buyers were charged (the fake) and what our database says of them."""
    t = Tally()
    fake = FakeControl(target.fake_url)
    if target.api_key:
        deadline = time.monotonic() + settle_timeout
        while True:
            t.tids = _run_tids(fake, buyer_ids)
            try:
                t.orders = run_orders(target, relay_ids=relay_ids, since=since)
            except requests.RequestException as exc:
                t.orders = None
                t.unreadable = f"the merchant API's order list could not be read: {exc.__class__.__name__}"
                break
            t.unsettled = sorted(o["partner_order_id"] for o in t.orders if _in_progress(o, t))
            if not t.unsettled or time.monotonic() >= deadline:
                break
            time.sleep(1.0)
    t.tids = _run_tids(fake, buyer_ids)
    for call in fake.calls("approve"):
        if call["params"].get("tid") in t.tids:
            t.approve_calls[call["params"].get("partner_order_id")] += 1
    approvals: Counter = Counter()
    charged_per_order: Counter = Counter()
    for tid, rec in t.tids.items():
        approvals[rec.get("partner_order_id")] += int(rec.get("approvals") or 0)
        if t.charged(tid):
            t.charged_units += int(rec.get("quantity") or 1)
            charged_per_order[rec.get("partner_order_id")] += 1
    orders = set(t.approve_calls) | set(approvals) | set(charged_per_order)
    t.double_charges = sum(
        1 for o in orders if t.approve_calls[o] > 1 or approvals[o] > 1 or charged_per_order[o] > 1
    )
    if t.orders is not None:
        t.problems = _database_against_fake(t)
    return t


def _run_tids(fake: FakeControl, buyer_ids: set[str]) -> dict[str, dict]:
    return {
        tid: rec
        for tid, rec in (fake.state().get("kakaopay", {}).get("tids") or {}).items()
        if str(rec.get("partner_user_id")) in buyer_ids
    }


def _in_progress(order: dict, t: Tally) -> bool:
    """Not settled yet: T4 still answers W, or a compensating cancel is owed."""
    return order.get("order_status") == "W" or order.get("status") in MONEY_PATH


def _database_against_fake(t: Tally) -> list[str]:
    problems = []
    known = set()
    for o in t.orders or []:
        known.add(o.get("tid"))
        charged = t.charged(o.get("tid"))
        if o.get("status") == "paid" and not charged:
            problems.append(f"{o['partner_order_id']} is paid but KakaoPay holds no charge for it")
        elif o.get("status") in SETTLED_FAILED and charged:
            problems.append(f"{o['partner_order_id']} is {o['status']} but KakaoPay holds it charged")
    for tid, rec in t.tids.items():
        if t.charged(tid) and tid not in known:
            problems.append(f"tid {tid} ({rec.get('partner_order_id')}) is charged but no order of ours has it")
    return problems


def run_orders(target: Target, *, relay_ids: set[str], since: datetime) -> list[dict]:
    """Every order of the run (by relay id) created since ``since`` (a minute earlier, for clock
    skew), through the merchant API's order list, following its cursor."""
    after = (since.astimezone(UTC) - timedelta(minutes=1)).isoformat()
    url: str | None = target.merchant_url("orders")
    params: dict[str, Any] | None = {"created_after": after, "page_size": 200}
    headers = {"Authorization": f"Bearer {target.api_key}"}
    found: list[dict] = []
    while url:
        r = _get(url, params, headers, target.timeout)
        body = r.json()
        found += [o for o in body.get("results") or [] if o.get("relay_id") in relay_ids]
        url, params = body.get("next"), None
    return found


def _get(url: str, params: dict | None, headers: dict, timeout: float) -> requests.Response:
    """One read of the merchant API; a server restarting under a fault test gets a few tries."""
    for attempt in range(10):
        try:
            r = requests.get(url, params=params, headers=headers, timeout=timeout)
            if r.status_code < 500:
                r.raise_for_status()
                return r
        except requests.ConnectionError:
            pass
        time.sleep(min(0.5 * 2**attempt, 5))
    r = requests.get(url, params=params, headers=headers, timeout=timeout)
    r.raise_for_status()
    return r
