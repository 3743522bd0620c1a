"""The flash sale: N buyers at once for a product with M units, each through the full payment flow.

Every buyer is a KakaoTalk user of scenario 9.2.4 without the sign-up: option T1 → option T2 →
payment T1 → KakaoPay ready → payment T2 → T4 polled every 0.5 s while the buyer authorizes at
KakaoPay and the approval redirect reaches T3 → S or F.  All buyers start together: each is a
coroutine of one asyncio loop (:mod:`simulator.aio`, aiohttp), so thousands of them cost the
server's cores little; their calls share a bounded pool of connections to our server.

What is counted, and where from (the money figures never from the buyers that finished: a buyer
whose flow broke may have paid all the same; see :mod:`simulator.tally`):
- successes / failures: T4's final answer (or the refusal a buyer got first: option T2 400 "품절",
  payment T2 300, ...), failures grouped by message;
- **oversold units**: units KakaoPay holds as charged (the fake's full state: every tid of the
  run's buyers, approved and not cancelled) beyond the stock M: must be 0;
- **double charges**: orders with more than one approve call, approval or charged tid at the fake:
  must be 0;
- **answer mismatches**: a buyer told S who holds no charge, or told F who holds one; an order our
  database (the merchant API's order list) has paid that KakaoPay does not hold charged, or failed
  that it does; a charge no order of ours knows: must be 0;
- **unsettled orders**: orders of the run our database still has W (T4) or refunding once
  ``settle_timeout`` has passed: must be 0;
- errors: transport errors and 5xx answers (a server that cannot answer is a failure too);
- **plugin answers**: how many of our plugin paths' answers were not a JSON envelope (must be 0),
  were 5xx (503 with ``Retry-After`` counted apart) or no answer at all;
- **errors for calls that took effect**: a buyer whose payment T2 or T3 got an error (or nothing)
  although our database holds its effect (T2: the order has its tid; T3: the order went on to be
  approved): must be 0;
- the stock left as option T1 shows it afterwards (must be M − units sold);
- latency percentiles per step and per buyer (first request to T4's final answer).
"""

from __future__ import annotations

import asyncio
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .aio import AsyncChannel, Pools, adrive
from .flows import Buyer, Payment, Refused, option_lookup, option_lookup_steps, option_select_steps, pay_steps
from .http import Channel, Printer, ScenarioFailed, Timings, percentile
from .options import NoChoice, choose
from .tally import Tally, tally
from .target import Target

# Kakao's calls at once to our server (a closed loop, like ``wrk -c``): enough to keep a few dozen
# server threads busy; more only queue inside the server, where a read timeout counts as an error
# (5,000 buyers over 256 connections timed out thousands of payment T2s on a loaded 2-core machine)
DEFAULT_CONNECTIONS = 32


@dataclass
class Outcome:
    buyer: Buyer
    status: str = ""  # S, F, C, refused, error
    reason: str = ""
    payment: Payment | None = None
    ms: float = 0.0


@dataclass
class LoadReport:
    buyers: int
    stock: int
    successes: int = 0
    failures: int = 0
    errors: int = 0
    oversold: int = 0
    double_charges: int = 0
    mismatches: int = 0
    charged_units: int = 0
    paid_orders: int | None = None  # our database (None: no merchant API key to read it)
    unsettled: int = 0
    effect_errors: int = 0  # error answers for calls that took effect
    answers: Counter = field(default_factory=Counter)  # what the plugin paths answered (Timings.answers)
    stock_left: int | None = None
    reasons: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def expected_successes(self) -> int:
        return min(self.buyers, self.stock)

    @property
    def passed(self) -> bool:
        return not self.problems


class Progress:
    """A plain-text progress bar: redrawn in place on a terminal, a line per 10 % otherwise."""

    def __init__(self, printer: Printer, total: int, width: int = 40):
        self.printer, self.total, self.width = printer, total, width
        self.done = 0
        self.counts: Counter = Counter()
        self.lock = threading.Lock()
        self.last_decile = -1

    def tick(self, status: str) -> None:
        with self.lock:
            self.done += 1
            self.counts[status] += 1
            filled = self.width * self.done // self.total
            bar = "#" * filled + "-" * (self.width - filled)
            text = (f"  [{bar}] {self.done}/{self.total} buyers  S {self.counts['S']}  "
                    f"F {self.done - self.counts['S'] - self.counts['error']}  errors {self.counts['error']}")  # fmt: skip
            if self.printer.tty:
                self.printer.raw("\r" + text + ("\n" if self.done == self.total else ""))
            else:
                decile = 10 * self.done // self.total
                if decile != self.last_decile:
                    self.last_decile = decile
                    self.printer.line(text)


async def _buyer(
    target: Target, buyer: Buyer, product_id: str, channel: AsyncChannel, browser: AsyncChannel,
    start: asyncio.Event, gate: asyncio.Semaphore,
) -> Outcome:  # fmt: skip
    outcome = Outcome(buyer)
    await start.wait()
    async with gate:
        began = time.perf_counter()
        try:
            tree = await adrive(option_lookup_steps(target, buyer, product_id), kakao=channel)
            # T2 decides on stock: T1's count may lag a stock reset made by another process on the
            # embedded default (per-process cache), and in a flash sale it is stale within seconds.
            choice = choose(tree, skip_sold_out=False)
            sheet = await adrive(option_select_steps(target, buyer, choice), kakao=channel)
            outcome.payment = payment = await adrive(pay_steps(target, buyer, sheet), kakao=channel, browser=browser)
            outcome.status, outcome.reason = payment.status, payment.message
        except NoChoice as exc:
            outcome.status, outcome.reason = "refused", f"option T1: {exc}"
        except Refused as exc:
            outcome.status, outcome.reason = "refused", f"{exc.step}: {exc.message}"
        except ScenarioFailed as exc:
            outcome.status, outcome.reason = "error", str(exc)[:200]
        outcome.ms = (time.perf_counter() - began) * 1000
    return outcome


async def _sale(
    target: Target, people: list[Buyer], product_id: str, *, concurrency: int, connections: int,
    timings: Timings, progress: Progress,
) -> list[Outcome]:  # fmt: skip
    """Every buyer a coroutine, all released at once (at most ``concurrency`` in their flow)."""
    pools = Pools(target, connections=connections)
    channel, browser = AsyncChannel(target, pools, timings), AsyncChannel(target, pools, timings, browser=True)
    start, gate = asyncio.Event(), asyncio.Semaphore(concurrency)

    async def one(buyer: Buyer) -> Outcome:
        try:
            outcome = await _buyer(target, buyer, product_id, channel, browser, start, gate)
        except Exception as exc:  # never lose a buyer to a simulator bug
            outcome = Outcome(buyer, "error", f"{exc.__class__.__name__}: {exc}")
        progress.tick(outcome.status if outcome.status in ("S", "error") else "F")
        return outcome

    try:
        tasks = [asyncio.ensure_future(one(b)) for b in people]
        await asyncio.sleep(0)  # every buyer waits at the start line
        start.set()
        return list(await asyncio.gather(*tasks))
    finally:
        await pools.close()


def flash_sale(
    target: Target,
    printer: Printer,
    *,
    buyers: int,
    stock: int,
    product_id: str,
    concurrency: int | None = None,
    connections: int | None = None,
    settle_timeout: float = 30.0,
) -> LoadReport:
    """Run ``buyers`` buyers against ``product_id`` whose stock was set to ``stock`` beforehand.
    The buyers are coroutines of one asyncio loop (:mod:`simulator.aio`), their calls to our server
    over at most ``connections`` connections (default 32, fewer when fewer buyers are at once).
    With a merchant API key (``target.api_key``) the run's orders are read from our database too,
    waiting up to ``settle_timeout`` s for those still on the money path."""
    concurrency = min(buyers, concurrency or buyers)
    connections = max(1, connections or min(concurrency, DEFAULT_CONNECTIONS))
    printer.line(f"\n== flash sale: {buyers} buyers, {stock} units of {product_id}, {concurrency} at once, "
                 f"{connections} connections, T4 every {target.t4_interval} s")  # fmt: skip
    base = random.randint(10**8, 10**9 - 10**6)
    run = f"{random.randint(0, 16**6):06x}"
    people = [Buyer(app_user_id=str(base + i), relay_id=f"sim-{run}-flash-{i}") for i in range(buyers)]
    timings = Timings()
    progress = Progress(printer, buyers)
    since = datetime.now(UTC)
    started = time.monotonic()
    outcomes = asyncio.run(_sale(target, people, product_id, concurrency=concurrency, connections=connections,
                                 timings=timings, progress=progress))  # fmt: skip
    report = LoadReport(buyers=buyers, stock=stock, seconds=time.monotonic() - started, answers=timings.answers)
    _count(target, report, outcomes, product_id, people=people, since=since, settle_timeout=settle_timeout)
    _print(printer, report, outcomes, timings)
    return report


def _count(
    target: Target, report: LoadReport, outcomes: list[Outcome], product_id: str, *,
    people: list[Buyer], since: datetime, settle_timeout: float,
) -> None:  # fmt: skip
    for o in outcomes:
        if o.status == "S":
            report.successes += 1
        elif o.status == "error":
            report.errors += 1
            report.reasons[f"error: {o.reason}"] += 1
        else:
            report.failures += 1
            report.reasons[o.reason or o.status] += 1

    # the money: the fake's full state and our database, whatever became of each buyer
    truth = tally(
        target, buyer_ids={str(b.app_user_id) for b in people}, relay_ids={str(b.relay_id) for b in people},
        since=since, settle_timeout=settle_timeout,
    )  # fmt: skip
    report.charged_units, report.double_charges = truth.charged_units, truth.double_charges
    report.paid_orders, report.unsettled = truth.paid_orders, len(truth.unsettled)
    report.oversold = max(0, report.charged_units - report.stock)
    told = [o for o in outcomes if o.status not in ("error", "")]  # buyers given an answer
    wrong = [o for o in told if (o.status == "S") != bool(truth.charged_tids_of(o.buyer.app_user_id))]
    report.mismatches = len(wrong) + len(truth.problems)
    for problem in truth.problems[:5]:
        report.problems.append(problem)
    if truth.orders is not None:
        report.effect_errors = len(_took_effect(outcomes, truth))
    if truth.unreadable:
        report.problems.append(truth.unreadable)

    reader = Channel(target)
    try:
        tree = option_lookup(reader, target, Buyer(app_user_id=None), product_id)
        stocks = [o.get("stock") for g in tree.get("option_groups") or [] for s in g.get("option_sub_groups") or []
                  for o in s.get("options") or [] if o.get("stock") is not None]  # fmt: skip
        report.stock_left = sum(stocks) if stocks else None
    except ScenarioFailed as exc:
        report.problems.append(f"option T1 after the sale: {exc}")
    finally:
        reader.close()

    if report.oversold:
        report.problems.append(f"{report.oversold} units oversold")
    if report.double_charges:
        report.problems.append(f"{report.double_charges} orders charged or approved more than once")
    if report.mismatches:
        report.problems.append(f"{report.mismatches} answers or orders disagree with what KakaoPay holds")
    if report.answers["non_json"]:
        report.problems.append(f"{report.answers['non_json']} plugin answers were not a JSON envelope")
    if report.effect_errors:
        report.problems.append(f"{report.effect_errors} buyers got an error for a call that took effect")
    if report.unsettled:
        report.problems.append(f"{report.unsettled} orders not settled (T4 W, or refunding) after {settle_timeout:.0f} s")
    if report.errors:
        report.problems.append(f"{report.errors} buyers got no usable answer (transport error or 5xx)")
    if report.successes != report.expected_successes:
        report.problems.append(f"{report.successes} successes, expected {report.expected_successes}")
    if report.stock_left is not None and report.stock_left != report.stock - report.charged_units:
        report.problems.append(
            f"option T1 shows {report.stock_left} left, expected {report.stock - report.charged_units}"
        )


def _took_effect(outcomes: list[Outcome], truth: Tally) -> list[Outcome]:
    """Buyers whose payment T2 or T3 got an error or no answer although it took effect."""
    latest: dict[str, dict] = {}
    for order in sorted(truth.orders or [], key=lambda o: o.get("created_at") or ""):
        latest[order.get("relay_id")] = order
    found = []
    for o in outcomes:
        if o.status != "error":
            continue
        order = latest.get(o.buyer.relay_id) or {}
        step = o.reason.split(":", 1)[0]
        if step == "payment T2" and order.get("tid"):
            found.append(o)
        elif step.startswith("payment T3") and (
            order.get("status") in ("approving", "paid", "refunding") or truth.charged(order.get("tid"))
        ):
            found.append(o)
    return found


def _print(printer: Printer, report: LoadReport, outcomes: list[Outcome], timings: Timings) -> None:
    line = printer.line
    line(f"  buyers:          {report.buyers} in {report.seconds:.1f} s")
    line(f"  successes:       {report.successes}  (T4 S; expected {report.expected_successes})")
    line(f"  failures:        {report.failures}")
    for reason, n in report.reasons.most_common(6):
        line(f"                   {n:>5} × {reason}")
    line(f"  errors:          {report.errors}")
    line(f"  units charged:   {report.charged_units} of {report.stock}  (KakaoPay's full state, net of cancels)")
    if report.paid_orders is not None:
        line(f"  orders paid:     {report.paid_orders}  (our database, merchant API)")
        line(f"  unsettled:       {report.unsettled}  (T4 still W, or a refund owed)")
    line(
        f"  stock left:      {report.stock_left if report.stock_left is not None else '-'}  (option T1 after the sale)"
    )
    a = report.answers
    line(f"  plugin answers:  {a['plugin']}  (non-JSON {a['non_json']}, 5xx {a['5xx']} of which 503 with "
         f"Retry-After {a['503_retry_after']}; no answer {a['no_answer']})")  # fmt: skip
    for example in timings.examples[:3]:
        line(f"                   not JSON: {example}")
    if report.paid_orders is not None:
        line(f"  errors for calls that took effect: {report.effect_errors}  (payment T2/T3)")
    line(f"  oversold units:  {report.oversold}")
    line(f"  double charges:  {report.double_charges}")
    line(f"  answer mismatches: {report.mismatches}  (told S but not charged, or told F but charged)")
    buyers_ms = [o.ms for o in outcomes if o.ms]
    line("  latency (ms)                p50     p95     p99     max       n")
    rows = [("buyer, first call to S/F", buyers_ms)]
    shown = {"option T1": "option T1", "option T2": "option T2", "payment T1": "payment T1",
             "KakaoPay ready (Kakao → fake)": "KakaoPay ready (fake)", "payment T2": "payment T2",
             "payment T3 (approval redirect)": "payment T3"}  # fmt: skip
    rows += [(short, timings.ms.get(label, [])) for label, short in shown.items()]
    t4 = [ms for label, values in timings.ms.items() if label.startswith("payment T4") for ms in values]
    rows.append(("payment T4 (every poll)", t4))
    for label, values in rows:
        if values:
            line(f"  {label:<25} {percentile(values, 50):>7.0f} {percentile(values, 95):>7.0f} "
                 f"{percentile(values, 99):>7.0f} {max(values):>7.0f} {len(values):>7}")  # fmt: skip
    polls = [o.payment.polls for o in outcomes if o.payment and o.payment.polls]
    if polls:
        line(f"  T4 polls per paying buyer: median {percentile(polls, 50):.0f}, max {max(polls)}")
    verdict = "PASS" if report.passed else "FAIL"
    line(f"{verdict}  flash sale: {report.successes} successes, {report.oversold} oversold, "
         f"{report.double_charges} double charges ({report.buyers} buyers, {report.stock} units)"
         + ("" if report.passed else "  ← " + "; ".join(report.problems)))  # fmt: skip
    sys.stdout.flush()
