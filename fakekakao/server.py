"""A fake of Kakao and KakaoPay that speaks HTTP only (it imports nothing of the project).

One server answers every host the project calls, told apart by path:
KakaoPay legacy (``/v1/payment/...``) and open (``/online/v1/payment/...``), Kakao Login
(``/oauth/token``, ``/v2/user/...``), the plugin OTP URLs (``/otp/<token>/<kind>``) and an image CDN.
Feature modules register routes on :data:`ROUTES` with :func:`route`.

Control endpoints for tests and the simulator (JSON):
- ``GET /__fake__/health``
- ``GET /__fake__/calls[?op=approve]`` every call received (method, path, op, headers, params)
- ``POST /__fake__/reset`` forget calls, faults and all state
- ``POST /__fake__/faults`` ``{"op": "approve", "kind": "decline|delay|error500|lost", "times": 1,
  "delay": 12.0, "match": {"tid": "..."}}``: the next ``times`` calls of ``op`` (matching ``match``)
  misbehave. Feature modules read them with :meth:`FakeState.take_fault`.  A handler may write its
  answer itself, slowly, through :attr:`Request.writer` (a trickle) and return a ``sent`` response.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    params: dict[str, Any]  # query + form or JSON body, merged
    match: dict[str, str]
    base_url: str  # how the caller reached us, e.g. http://127.0.0.1:8701
    # writes raw bytes to the caller now; False once the caller has gone (hung up)
    writer: Callable[[bytes], bool] | None = None


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list → JSON; bytes → as is
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json;charset=UTF-8"
    sent: bool = False  # the handler already wrote it (through Request.writer): send nothing more

    def payload(self) -> bytes:
        if isinstance(self.body, bytes | bytearray):
            return bytes(self.body)
        if self.body is None:
            return b""
        return json.dumps(self.body, ensure_ascii=False).encode()

    def to_bytes(self) -> bytes:
        """The whole HTTP/1.1 answer as it goes on the wire (status line, headers, body)."""
        from http import HTTPStatus

        payload = self.payload()
        try:
            reason = HTTPStatus(self.status).phrase
        except ValueError:
            reason = ""
        head = [f"HTTP/1.1 {self.status} {reason}", f"Content-Type: {self.content_type}",
                f"Content-Length: {len(payload)}", "Connection: close"]  # fmt: skip
        head += [f"{k}: {v}" for k, v in self.headers.items()]
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload


Handler = Callable[["FakeState", Request], Response]


@dataclass
class Route:
    method: str
    pattern: re.Pattern
    op: str
    handler: Handler


ROUTES: list[Route] = []


def route(method: str, pattern: str, op: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        ROUTES.append(Route(method.upper(), re.compile("^" + pattern + "$"), op, fn))
        return fn

    return register


class FakeState:
    """Everything the fake remembers; one lock keeps handlers simple."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.calls: list[dict] = []
            self.faults: list[dict] = []
            self.data: dict[str, Any] = {}  # per feature module: its own namespace

    def ns(self, name: str) -> dict:
        with self.lock:
            return self.data.setdefault(name, {})

    def record(self, op: str, req: Request) -> None:
        with self.lock:
            self.calls.append(
                {
                    "op": op,
                    "method": req.method,
                    "path": req.path,
                    "headers": req.headers,
                    "params": req.params,
                    "at": time.time(),
                }
            )

    def take_fault(self, op: str, params: dict[str, Any]) -> dict | None:
        """The first armed fault for ``op`` whose ``match`` fits ``params``, used up once."""
        with self.lock:
            for fault in self.faults:
                if fault.get("op") != op or fault.get("times", 1) <= 0:
                    continue
                if any(str(params.get(k)) != str(v) for k, v in (fault.get("match") or {}).items()):
                    continue
                fault["times"] = fault.get("times", 1) - 1
                return dict(fault)
        return None


def _parse(handler: BaseHTTPRequestHandler) -> tuple[str, dict, bytes, dict]:
    split = urllib.parse.urlsplit(handler.path)
    query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
    length = int(handler.headers.get("Content-Length") or 0)
    body = handler.rfile.read(length) if length else b""
    params: dict[str, Any] = dict(query)
    ctype = handler.headers.get("Content-Type", "")
    if body:
        if "json" in ctype:
            try:
                loaded = json.loads(body)
                if isinstance(loaded, dict):
                    params.update(loaded)
            except ValueError:
                pass
        elif "x-www-form-urlencoded" in ctype:
            params.update(dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)))
    return split.path, query, body, params


def make_handler(state: FakeState) -> type[BaseHTTPRequestHandler]:
    class FakeHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "FakeKakao/1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(self, resp: Response) -> None:
            payload = resp.payload()
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for k, v in resp.headers.items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _dispatch(self) -> None:
            path, query, body, params = _parse(self)
            host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
            base_url = f"http://{host}"
            if path.startswith("/__fake__/"):
                self._send(_control(state, self.command, path, query, params))
                return
            for r in ROUTES:
                m = r.pattern.match(path)
                if m and r.method == self.command:
                    req = Request(
                        self.command, path, query, dict(self.headers.items()), body, params, m.groupdict(), base_url,
                        writer=self._write_raw,
                    )
                    state.record(r.op, req)
                    try:
                        resp = r.handler(state, req)
                    except _Drop:
                        self.close_connection = True
                        return
                    if resp.sent:
                        self.close_connection = True
                        return
                    self._send(resp)
                    return
            self._send(Response(404, {"error": "not found", "path": path}))

        def _write_raw(self, data: bytes) -> bool:
            try:
                self.wfile.write(data)
                self.wfile.flush()
                return True
            except OSError:
                self.close_connection = True
                return False

        do_GET = do_POST = do_DELETE = do_HEAD = _dispatch

    return FakeHandler


class _Drop(Exception):
    """Raised by a handler to close the connection without an answer (a lost response)."""


def drop_connection() -> None:
    raise _Drop()


def _control(state: FakeState, method: str, path: str, query: dict, params: dict) -> Response:
    if path == "/__fake__/health":
        return Response(200, {"status": "ok"})
    if path == "/__fake__/calls":
        with state.lock:
            calls = [c for c in state.calls if not query.get("op") or c["op"] == query["op"]]
        return Response(200, {"calls": calls})
    if path == "/__fake__/reset" and method == "POST":
        state.reset()
        return Response(200, {"status": "reset"})
    if path == "/__fake__/faults" and method == "POST":
        with state.lock:
            state.faults.append(dict(params))
        return Response(200, {"status": "armed", "fault": params})
    if path == "/__fake__/state":
        with state.lock:
            return Response(200, json.loads(json.dumps(state.data, default=str)))
    return Response(404, {"error": "unknown control endpoint"})


def load_features() -> None:
    """Import the feature modules so that their routes register (once)."""
    import importlib
    import pkgutil

    import fakekakao

    for info in pkgutil.iter_modules(fakekakao.__path__):
        if info.name not in {"server", "__main__", "control"}:
            importlib.import_module(f"fakekakao.{info.name}")


class _Server(ThreadingHTTPServer):
    """A thread per connection (keep-alive: a caller's pool reuses its connections), and a listen
    backlog deep enough for thousands of callers connecting at once: the standard library's 5
    dropped or reset connections under a 1,000-buyer flash sale (the kernel caps it at
    ``net.core.somaxconn``)."""

    request_queue_size = 4096
    daemon_threads = True
    block_on_close = False


class FakeKakaoServer:
    """Run in a background thread: ``with FakeKakaoServer() as fake: fake.url``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        load_features()
        self.state = FakeState()
        self.httpd = _Server((host, port), make_handler(self.state))
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="fakekakao", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeKakaoServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeKakaoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
