"""Subscription schedules (정기결제): a plan's rule turned into dated amounts.

Pure functions over plain values (no database): the same rule produces payment T1's
``automatic_payment.details`` and the dates and amounts the orders app charges later, so what the
buyer was shown is what is charged.

Period 0 is the sign-up payment (KakaoPay approve, T1's ``total_amount``); period ``n`` falls ``n``
cycles after the sign-up date.  Months are counted from the sign-up date itself, never from the
previous (possibly clamped) date: a subscription started on 31 January is due on 29 February
(28 in other years), 31 March, 30 April, and so on.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

MONTH, WEEK, YEAR = "month", "week", "year"
CYCLE_LABELS = {MONTH: "월", WEEK: "주", YEAR: "년"}


def add_months(anchor: date, months: int) -> date:
    """``anchor`` plus ``months`` calendar months, the day clamped to the month's last day."""
    index = anchor.month - 1 + months
    year, month = anchor.year + index // 12, index % 12 + 1
    return date(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))


def parse_amounts(text: str) -> tuple[int, ...]:
    """``"0, 5,000"``-style text of the intro amounts (comma/space separated, thousands separators
    not allowed to be ambiguous: each item is a whole number of won)."""
    items = [item.strip().replace("_", "") for item in text.replace(";", ",").split(",")]
    amounts = []
    for item in items:
        if not item:
            continue
        if not item.isdigit():
            raise ValueError(f"{item!r} is not a whole number of won")
        amounts.append(int(item))
    return tuple(amounts)


@dataclass(frozen=True)
class Installment:
    seq: int  # 0: the sign-up payment
    due_date: date  # Asia/Seoul calendar date
    amount: int


@dataclass(frozen=True)
class ScheduleRule:
    cycle: str = MONTH
    interval: int = 1
    amount: int = 0  # the regular amount of every period after the intro ones
    intro_amounts: tuple[int, ...] = ()  # amounts of periods 0, 1, ... (e.g. (0,) for 첫달 무료)
    periods: int | None = None  # payments in all, the sign-up one included; None: until cancelled

    def __post_init__(self) -> None:
        if self.cycle not in CYCLE_LABELS:
            raise ValueError(f"unknown billing cycle {self.cycle!r}")
        if self.interval < 1:
            raise ValueError("interval must be at least 1")
        if self.periods is not None and self.periods < 1:
            raise ValueError("periods must be at least 1")

    def due_date(self, anchor: date, seq: int) -> date:
        steps = seq * self.interval
        if self.cycle == MONTH:
            return add_months(anchor, steps)
        if self.cycle == YEAR:
            return add_months(anchor, 12 * steps)
        return anchor + timedelta(weeks=steps)

    def amount_of(self, seq: int, quantity: int = 1) -> int:
        base = self.intro_amounts[seq] if seq < len(self.intro_amounts) else self.amount
        return base * quantity

    def exists(self, seq: int) -> bool:
        return seq >= 0 and (self.periods is None or seq < self.periods)

    def installment(self, anchor: date, seq: int, quantity: int = 1) -> Installment:
        return Installment(seq=seq, due_date=self.due_date(anchor, seq), amount=self.amount_of(seq, quantity))

    def installments(self, anchor: date, *, start: int = 0, count: int = 12, quantity: int = 1) -> list[Installment]:
        return [self.installment(anchor, seq, quantity) for seq in range(start, start + count) if self.exists(seq)]

    @property
    def cycle_label(self) -> str:
        """T1's ``billing_cycle``: "월", or e.g. "2개월" / "2주" / "2년"."""
        if self.interval == 1:
            return CYCLE_LABELS[self.cycle]
        return f"{self.interval}" + {MONTH: "개월", WEEK: "주", YEAR: "년"}[self.cycle]

    def as_json(self) -> dict:
        return {"cycle": self.cycle, "interval": self.interval, "amount": self.amount,
                "intro_amounts": list(self.intro_amounts), "periods": self.periods}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict) -> ScheduleRule:
        return cls(cycle=data["cycle"], interval=int(data["interval"]), amount=int(data["amount"]),
                   intro_amounts=tuple(int(a) for a in data.get("intro_amounts") or ()),
                   periods=data.get("periods"))  # fmt: skip
