"""HTTP exchanges, printed readably (request, answer, time) and timed for the load report."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from .target import Target


class ScenarioFailed(Exception):
    """A step did not get what Kakao expects: the scenario stops and prints FAIL with this."""


@dataclass
class Exchange:
    label: str
    method: str
    url: str
    status: int
    body: Any  # parsed JSON, else the text
    ms: float
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def envelope_status(self) -> int | None:
        return self.body.get("status") if isinstance(self.body, dict) else None

    @property
    def data(self) -> Any:
        return self.body.get("data") if isinstance(self.body, dict) else None


def excerpt(value: Any, limit: int = 150) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Printer:
    """Where the simulator writes. ``verbose=False`` keeps only scenario and result lines."""

    def __init__(
        self, write: Callable[[str], Any] | None = None, *, verbose: bool = True, tty: bool | None = None
    ):
        self._write = write or (lambda text: (sys.stdout.write(text), sys.stdout.flush()))
        self.verbose = verbose
        self.tty = sys.stdout.isatty() if tty is None else tty
        self.lock = threading.Lock()

    def raw(self, text: str) -> None:
        with self.lock:
            self._write(text)

    def line(self, text: str = "") -> None:
        self.raw(text + "\n")

    def detail(self, text: str) -> None:
        if self.verbose:
            self.line(text)


class Timings:
    """Latencies per step label, and what our plugin paths answered (thread-safe), for the load
    report: ``answers`` counts ``plugin`` (every answer), ``non_json`` (not a JSON envelope: an
    HTML error page, say), ``5xx``, ``503_retry_after`` (a 503 saying when to come back) and
    ``no_answer`` (a transport error or timeout); ``examples`` keeps a few non-JSON bodies."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ms: dict[str, list[float]] = defaultdict(list)
        self.answers: Counter = Counter()
        self.examples: list[str] = []

    def add(self, label: str, ms: float) -> None:
        with self.lock:
            self.ms[label].append(ms)

    def answer(self, label: str, status: int | None, body: Any, headers: dict[str, str], shown: str = "") -> None:
        with self.lock:
            if status is None:
                self.answers["no_answer"] += 1
                return
            self.answers["plugin"] += 1
            if not (isinstance(body, dict) and isinstance(body.get("status"), int)):
                self.answers["non_json"] += 1
                if len(self.examples) < 5:
                    self.examples.append(f"{label}: HTTP {status} {shown}")
            if status >= 500:
                self.answers["5xx"] += 1
                if status == 503 and any(k.lower() == "retry-after" for k in headers):
                    self.answers["503_retry_after"] += 1


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


class Channel:
    """One party's HTTP session (Kakao's servers, or the buyer's browser) against ``target``.

    Every exchange is printed as ``→ METHOD url [body]`` / ``← HTTP status body (ms)`` when a
    printer is given, and timed into ``timings`` when given.  Transport errors and 5xx answers
    raise :class:`ScenarioFailed`: Kakao never gets a usable answer from those.
    """

    def __init__(self, target: Target, printer: Printer | None = None, timings: Timings | None = None):
        self.target = target
        self.printer = printer
        self.timings = timings
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def _show(self, value: Any, limit: int) -> str:
        return excerpt(self.target.shown(excerpt(value, 1_000_000)), limit)

    def call(
        self,
        label: str,
        method: str,
        url: str,
        *,
        params: dict | None = None,
        json_body: Any = None,
        form: dict | None = None,
        headers: dict | None = None,
        allow_redirects: bool = False,
        show_body: bool = True,
        show_answer: bool = True,
    ) -> Exchange:
        query = "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
        shown = self.target.shown(url + query)
        sent = json_body if json_body is not None else form
        if self.printer is not None:
            body = f"  {self._show(sent, 120)}" if sent and show_body else ""
            self.printer.detail(f"    → {label}: {method} {shown}{body}")
        started = time.perf_counter()
        try:
            r = self.session.request(
                method, url, params=params, json=json_body, data=form, headers=headers,
                timeout=self.target.timeout, allow_redirects=allow_redirects,
            )  # fmt: skip
        except requests.RequestException as exc:
            if self.timings is not None and "/plugin/" in url:
                self.timings.answer(label, None, None, {})
            raise ScenarioFailed(
                f"{label}: {method} {self.target.shown(url)} failed: {exc.__class__.__name__}: {exc}"
            ) from None
        ms = (time.perf_counter() - started) * 1000
        if self.timings is not None:
            self.timings.add(label, ms)
        try:
            body: Any = r.json()
        except ValueError:
            body = r.text
        ex = Exchange(label, method, url, r.status_code, body, ms, dict(r.headers))
        if self.timings is not None and "/plugin/" in url:
            self.timings.answer(label, r.status_code, body, ex.headers, self._show(body, 80))
        if self.printer is not None:
            shown_body = self._show(body, 150) if show_answer else f"({len(r.content)} bytes)"
            if r.is_redirect:
                shown_body = f"→ Location: {self.target.shown(r.headers.get('Location', ''))}"
            self.printer.detail(f"    ← HTTP {r.status_code} {shown_body}  ({ms:.0f} ms)")
        if r.status_code >= 500:
            raise ScenarioFailed(f"{label}: HTTP {r.status_code} {excerpt(body)}")
        return ex
