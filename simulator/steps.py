"""A flow written once, driven by either client: the flows yield the HTTP exchanges they need.

A flow step (``option_lookup_steps``, ``pay_steps``, ...) is a generator: it yields a :class:`Call`
(one exchange, through the channel named ``via``: ``kakao`` for Kakao's servers, ``browser`` for the
buyer's browser) and is sent back the :class:`~simulator.http.Exchange`, or yields a :class:`Pause`;
it returns its result.  :func:`drive` runs it on the blocking channels of the scenarios
(:class:`~simulator.http.Channel`, ``requests``); :func:`simulator.aio.adrive` runs the same steps on
asyncio channels (the flash sale's load mode).  A channel's error (a transport error, a 5xx) is
raised where the driver was called, as :class:`~simulator.http.ScenarioFailed`.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .http import Exchange

T = TypeVar("T")


@dataclass
class Call:
    """One HTTP exchange a flow needs: the arguments of ``Channel.call``."""

    via: str
    label: str
    method: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Pause:
    seconds: float


Steps = Generator["Call | Pause", "Exchange | None", T]


def call(via: str, label: str, method: str, url: str, **options: Any) -> Call:
    return Call(via, label, method, url, options)


def drive(steps: Steps[T], **channels: Any) -> T:
    """Run ``steps`` on blocking channels (``kakao=``, ``browser=``): each Call through its channel,
    each Pause as a sleep; returns what the steps return."""
    answer: Exchange | None = None
    try:
        while True:
            try:
                step = steps.send(answer)
            except StopIteration as done:
                return done.value
            if isinstance(step, Pause):
                time.sleep(step.seconds)
                answer = None
            else:
                answer = channels[step.via].call(step.label, step.method, step.url, **step.options)
    finally:
        steps.close()
