"""The load mode's client: the flows' steps (:mod:`simulator.steps`) driven on asyncio with aiohttp.

Thousands of buyers are coroutines in one thread, not a thread each: the load generator costs the
server's cores little.  Their calls go through two connection pools, as Kakao's servers keep theirs:
one from Kakao's servers to ours (``connections`` at most: the rest of the buyers' calls wait for a
free connection, and that wait counts in their latencies, as a queue in front of a server would) and
one to the fake KakaoPay.  The buyers' browsers (the approval redirect, T3) are phones, not Kakao's
servers: they connect on their own, without waiting behind Kakao's queue.  An :class:`AsyncChannel` answers as :class:`simulator.http.Channel` does: each
exchange timed into the :class:`~simulator.http.Timings`, every answer of a plugin path counted, a
transport error or a 5xx raised as :class:`~simulator.http.ScenarioFailed`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import orjson

from .http import Exchange, ScenarioFailed, Timings, excerpt
from .steps import Pause, Steps, T
from .target import Target


class Pools:
    """The pools (opened inside the running loop): Kakao's to our server, the fake's, and the
    browsers' (unbounded: a connection each)."""

    def __init__(self, target: Target, *, connections: int, fake_connections: int = 64):
        # no overall deadline (a call may first wait its turn for a connection); the connect and
        # each read have the target's timeout, as the blocking channel's requests do
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=target.timeout, sock_read=target.timeout)
        self.fake_url = target.fake_url.rstrip("/") + "/"
        self.server = self._session(connections, timeout)
        self.fake = self._session(fake_connections, timeout)
        self.browsers = self._session(0, timeout)

    @staticmethod
    def _session(limit: int, timeout: aiohttp.ClientTimeout) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=limit, limit_per_host=0, keepalive_timeout=30)
        # Kakao's server-to-server calls carry no cookies; one jar shared by thousands of buyers
        # would mix theirs
        return aiohttp.ClientSession(connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar())

    def for_url(self, url: str, *, browser: bool = False) -> aiohttp.ClientSession:
        if url.startswith(self.fake_url):
            return self.fake
        return self.browsers if browser else self.server

    async def close(self) -> None:
        for session in (self.server, self.fake, self.browsers):
            await session.close()


class AsyncChannel:
    """Kakao's servers (or, with ``browser``, the buyers' browsers) calling over the pools; no
    printing."""

    printer = None

    def __init__(self, target: Target, pools: Pools, timings: Timings | None = None, *, browser: bool = False):
        self.target, self.pools, self.timings, self.browser = target, pools, timings, browser

    async def call(
        self, label: str, method: str, url: str, *, params: dict | None = None, json_body: Any = None,
        form: dict | None = None, headers: dict | None = None, allow_redirects: bool = False,
        show_body: bool = True, show_answer: bool = True,
    ) -> Exchange:  # fmt: skip
        plugin = "/plugin/" in url
        started = time.perf_counter()
        try:
            async with self.pools.for_url(url, browser=self.browser).request(
                method, url, params=params, json=json_body, data=form, headers=headers, allow_redirects=allow_redirects
            ) as r:
                content = await r.read()
                status, answer_headers = r.status, dict(r.headers)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            if self.timings is not None and plugin:
                self.timings.answer(label, None, None, {})
            raise ScenarioFailed(
                f"{label}: {method} {self.target.shown(url)} failed: {exc.__class__.__name__}: {exc}"
            ) from None
        ms = (time.perf_counter() - started) * 1000
        try:
            body: Any = orjson.loads(content)
        except orjson.JSONDecodeError:
            body = content.decode("utf-8", "replace")
        ex = Exchange(label, method, url, status, body, ms, answer_headers)
        if self.timings is not None:
            self.timings.add(label, ms)
            if plugin:
                shown = excerpt(self.target.shown(excerpt(body, 1_000_000)), 80)
                self.timings.answer(label, status, body, answer_headers, shown)
        if status >= 500:
            raise ScenarioFailed(f"{label}: HTTP {status} {excerpt(body)}")
        return ex


async def adrive(steps: Steps[T], **channels: AsyncChannel) -> T:
    """Run ``steps`` on asyncio channels: :func:`simulator.steps.drive`'s twin."""
    answer: Exchange | None = None
    try:
        while True:
            try:
                step = steps.send(answer)
            except StopIteration as done:
                return done.value
            if isinstance(step, Pause):
                await asyncio.sleep(step.seconds)
                answer = None
            else:
                answer = await channels[step.via].call(step.label, step.method, step.url, **step.options)
    finally:
        steps.close()
