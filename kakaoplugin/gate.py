"""The plugin gate: every URL under ``/plugin/<plugin_key>/`` passes here first (CONTRACTS 0, 8).

- unknown key → 404 envelope (the key is never logged: see kakaoplugin.logging);
- source address outside the app's CIDR list (when set) → 403 envelope;
- body over ``PLUGIN_MAX_BODY_BYTES`` → 413 envelope; a NUL character in the query or body → 400;
- anything below that fails (an exception, Django's HTML 404/405/500 page) → a JSON envelope;
  the database unreachable → 503 envelope with ``Retry-After``; a connection the database dropped
  since the last request is replaced and the request answered (kakaoplugin.dbfaults);
  a view that answers a browser on purpose (Kakao Sync's redirect page) sets
  ``response.keep_as_page = True``.

What it learned is on the request for every view: ``request.kakao_app`` and ``request.kakao``
(:class:`KakaoContext`: app user id and relay id).

The buyer's browser reaches a few endpoints too (KakaoPay's redirects under ``/pay/``, Kakao
Sync's redirect URI under ``/sync/``): the gate treats them the same way (stored as inbound calls,
body cap, NUL check, envelopes) but with no plugin key and no allowlist: the path's reference names
the Kakao app (an app registers a resolver, :func:`register_browser_area`) and the view checks
the request's own token.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse

from . import envelope
from .dbfaults import DB_FAULTS, StatementCount, unavailable
from .log_context import bind as bind_log_context
from .plugin_paths import HOT_READS, PATHS
from .selectors import kakao_app_for_plugin_key
from .services import inbound_call_finish, inbound_call_start

logger = logging.getLogger(__name__)

PLUGIN_PATH = re.compile(r"^/plugin/(?P<key>[^/]+)(?:/|$)")
BROWSER_PATH = re.compile(r"^/(?P<area>[a-z]+)/(?P<ref>[^/]+)/(?P<action>[^/]+)")

ENDPOINTS = {path: name for name, path in PATHS.items()}
# Not stored: the two hot reads (Kakao polls T4 every 0.5 s per buyer); they change nothing.
UNLOGGED_ENDPOINTS = HOT_READS  # (kakaoplugin.plugin_paths)

# Hot reads the gate answers itself (registered by their apps in AppConfig.ready(); the core
# imports no app): no URL resolving and none of the middleware below the gate (sessions, CSRF,
# auth, messages are of no use to Kakao's servers). Their URL patterns stay for reverse() and for
# other methods.
FAST_PATHS: dict[str, Callable[..., HttpResponse]] = {}


def register_fast_path(endpoint: str, view: Callable[..., HttpResponse]) -> None:
    """Let the gate answer GETs of ``endpoint`` (a name of ``PATHS``) with ``view(request, plugin_key=...)``."""
    if endpoint not in UNLOGGED_ENDPOINTS:
        raise ValueError(f"{endpoint} is not a hot read: it must be stored as an inbound call")
    FAST_PATHS[endpoint] = view


@dataclass(frozen=True)
class BrowserArea:
    resolve: Callable[[str], object | None]  # the path's reference → its active Kakao app, or None
    actions: dict[str, str]  # action segment → endpoint name (stored with the call)
    pages: bool  # answers are pages for a person (Kakao Sync), not envelopes


BROWSER_AREAS: dict[str, BrowserArea] = {}


def register_browser_area(area: str, *, resolve: Callable[[str], object | None], actions: dict[str, str],
                          pages: bool = False) -> None:  # fmt: skip
    """Let the gate admit ``/<area>/<ref>/<action>...`` from browsers (registered in AppConfig.ready())."""
    BROWSER_AREAS[area] = BrowserArea(resolve=resolve, actions=actions, pages=pages)


def browser_area(path: str) -> tuple[BrowserArea, re.Match] | None:
    match = BROWSER_PATH.match(path)
    area = BROWSER_AREAS.get(match["area"]) if match else None
    return (area, match) if area is not None else None


APP_USER_HEADER = "HTTP_X_KAKAO_APPUSERID"
RELAY_HEADER = "HTTP_X_KAKAO_PLUGIN_RELAY_ID"


@dataclass(frozen=True, slots=True)
class KakaoContext:
    app_user_id: str | None
    relay_id: str | None


def client_ip(request: HttpRequest) -> str:
    """The caller's address: the socket's, unless the socket is one of our reverse proxies
    (``TRUSTED_PROXY_CIDRS``, default none). Then ``X-Forwarded-For`` is walked from the right,
    skipping our proxies: the first address that is not one of them is the client (what is left of
    it was written by the client and is not believed)."""
    peer = request.META.get("REMOTE_ADDR", "")
    proxies = trusted_proxy_networks()
    if not proxies or not ip_allowed(peer, proxies):
        return peer
    forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for hop in reversed(forwarded):
        if not hop or not _is_ip(hop):
            return peer  # a hop we cannot read: nothing to its left can be trusted
        if not ip_allowed(hop, proxies):
            return hop
    return peer


_proxy_networks: tuple[str, tuple] = ("", ())


def trusted_proxy_networks() -> tuple:
    """``TRUSTED_PROXY_CIDRS`` parsed once (re-parsed when the setting changes)."""
    global _proxy_networks
    raw = settings.TRUSTED_PROXY_CIDRS
    key = ",".join(raw) if isinstance(raw, list | tuple) else str(raw)
    if _proxy_networks[0] != key:
        _proxy_networks = (key, tuple(ipaddress.ip_network(c.strip()) for c in key.split(",") if c.strip()))
    return _proxy_networks[1]


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def ip_allowed(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def plugin_endpoint(path: str) -> str | None:
    """The endpoint name of a plugin path (metrics label), without its key; ``None`` off plugin paths."""
    match = PLUGIN_PATH.match(path)
    if match is None:
        return None
    return ENDPOINTS.get(path[match.end() :].rstrip("/"), "unknown")


def kakao_context(request: HttpRequest) -> KakaoContext:
    relay = request.META.get(RELAY_HEADER) or request.GET.get("relay_id") or None
    return KakaoContext(app_user_id=request.META.get(APP_USER_HEADER) or None, relay_id=relay)


class PluginGateMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        match = PLUGIN_PATH.match(request.path_info)
        if match is None:
            browser = browser_area(request.path_info)
            if browser is None:
                return self.get_response(request)

            def answer() -> HttpResponse:
                return self._browser(request, *browser)
        else:

            def answer() -> HttpResponse:
                return self._answer(request, match)

        try:
            return self._reconnecting(request, answer)
        except Exception as exc:  # the gate's own work failed (the app lookup, the database down)
            response = self.process_exception(request, exc)
            if response is None:  # a browser page area: Django's own error page
                raise
            return response

    def _reconnecting(self, request: HttpRequest, answer: Callable[[], HttpResponse]) -> HttpResponse:
        """Answer; when the request's first statement failed on a connection kept from an earlier
        request (the database dropped it), close it and answer once more (see kakaoplugin.dbfaults)."""
        reused = connection.connection is not None
        count = StatementCount()
        try:
            with connection.execute_wrapper(count):
                response = answer()
        except DB_FAULTS:
            if not reused or count.succeeded:
                raise
        else:
            if not (reused and count.succeeded == 0 and getattr(request, "plugin_db_fault", False)):
                return response
        logger.warning("plugin call on a dropped database connection: reconnecting once")
        connection.close()
        request.plugin_db_fault = False
        return answer()

    def _answer(self, request: HttpRequest, match: re.Match) -> HttpResponse:
        app = kakao_app_for_plugin_key(match["key"])
        if app is None:
            return envelope.fail(404, "알 수 없는 플러그인 주소입니다 (unknown plugin key)", http_status=404)
        bind_log_context(kakao_app=app.pk)
        started = time.monotonic()
        endpoint = ENDPOINTS.get(request.path_info[match.end() :].rstrip("/"), "unknown")
        request.plugin_endpoint = endpoint  # for the request log and the metrics, outside the gate
        context = kakao_context(request)
        call = None if endpoint in UNLOGGED_ENDPOINTS else self._store(request, app, endpoint, context)
        response = self._refusal(request, app)
        if response is None:
            request.kakao_app = app
            request.kakao = context
            fast = FAST_PATHS.get(endpoint) if request.method == "GET" else None
            if fast is not None:
                try:
                    response = fast(request, plugin_key=match["key"])
                except Exception as exc:  # outside get_response: no handler turns it into a page
                    response = self.process_exception(request, exc)
                # what CommonMiddleware and SecurityMiddleware would have added
                response.headers.setdefault("Content-Length", str(len(response.content)))
                response.headers.setdefault("X-Content-Type-Options", "nosniff")
            else:
                response = self.get_response(request)
            if not response.get("Content-Type", "").startswith("application/json") and not getattr(
                response, "keep_as_page", False
            ):
                response = self._as_envelope(response)
        if call is not None:
            self._complete(call, response, started)
        return response

    def _browser(self, request: HttpRequest, area: BrowserArea, match: re.Match) -> HttpResponse:
        """A browser endpoint: the app from the path's reference, no allowlist (a buyer's phone is
        anywhere), the view checks the token. Stored like a plugin call."""
        ref = match["ref"]
        try:  # (a NUL cannot be in any reference, and PostgreSQL refuses to compare one)
            app = area.resolve(ref) if len(ref) <= 100 and "\x00" not in ref else None
        except DB_FAULTS:  # reconnect once, or a 503 envelope, as on the plugin paths
            raise
        except Exception:
            logger.exception("could not resolve a %s reference", match["area"])
            return envelope.fail(500, "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해 주세요.", http_status=500)
        if app is None:
            return envelope.fail(404, "찾을 수 없는 주소입니다 (unknown or expired link)", http_status=404)
        started = time.monotonic()
        context = kakao_context(request)
        request.plugin_endpoint = area.actions.get(match["action"], "unknown")
        call = self._store(request, app, request.plugin_endpoint, context)
        response = self._body_too_large(request) or self._has_nul(request)
        if response is None:
            request.kakao_app = app
            request.kakao = context
            response = self.get_response(request)
            if not area.pages and not response.get("Content-Type", "").startswith("application/json"):
                response = self._as_envelope(response)
        if call is not None:
            self._complete(call, response, started)
        return response

    def _refusal(self, request: HttpRequest, app) -> HttpResponse | None:
        networks = app.networks
        if networks and not ip_allowed(source := client_ip(request), networks):
            logger.warning("plugin call refused: source %s not allowed for app %s", source, app.pk)
            return envelope.fail(403, "허용되지 않은 출발지입니다 (source address not allowed)", http_status=403)
        return self._body_too_large(request) or self._has_nul(request)

    @staticmethod
    def _store(request: HttpRequest, app, endpoint: str, context: KakaoContext):
        """Store the call before anything answers it (InboundCall); a body over the limit is not read."""
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = request.body if 0 < length <= settings.PLUGIN_MAX_BODY_BYTES else None
        try:
            return inbound_call_start(
                kakao_app=app, endpoint=endpoint, method=request.method, meta=request.META,
                query=request.GET.dict(), body=body, source_ip=client_ip(request),
                app_user_id=context.app_user_id, relay_id=context.relay_id,
            )  # fmt: skip
        except DB_FAULTS as exc:  # the database is down: the view will say so; do not hide its answer
            logger.warning("could not store an inbound %s call (%s)", endpoint, exc.__class__.__name__)
            return None
        except Exception:
            logger.exception("could not store an inbound %s call", endpoint)
            return None

    @staticmethod
    def _complete(call, response: HttpResponse, started: float) -> None:
        streaming = getattr(response, "streaming", False)
        try:
            inbound_call_finish(
                call=call, http_status=response.status_code, content=b"" if streaming else response.content,
                is_json=response.get("Content-Type", "").startswith("application/json"),
                duration_ms=int((time.monotonic() - started) * 1000),
            )  # fmt: skip
        except Exception:
            logger.exception("could not complete inbound call %s", call.pk)

    @staticmethod
    def _body_too_large(request: HttpRequest) -> HttpResponse | None:
        limit = settings.PLUGIN_MAX_BODY_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return envelope.fail(400, "Content-Length가 올바르지 않습니다", http_status=400)
        if length > limit:
            return envelope.fail(
                413, f"요청 본문이 너무 큽니다 (body over {limit} bytes)", http_status=413
            )
        return None

    @staticmethod
    def _has_nul(request: HttpRequest) -> HttpResponse | None:
        """A NUL character anywhere in the query or the body: no text column can store it (PostgreSQL
        refuses it), and no contract field carries one. Refused before any view sees it."""
        query = request.META.get("QUERY_STRING", "")
        body = request.body if request.META.get("CONTENT_LENGTH") else b""
        form = request.META.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded")
        if (
            "%00" in query or "\x00" in query or b"\x00" in body or b"\\u0000" in body.lower()
            or form and b"%00" in body
        ):  # fmt: skip
            return envelope.fail(400, "요청에 NUL 문자가 있습니다 (NUL character in the request)", http_status=400)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if PLUGIN_PATH.match(request.path_info) is None:
            browser = browser_area(request.path_info)
            if browser is None or browser[0].pages:
                return None
        if isinstance(exception, envelope.PluginError):
            return envelope.from_error(exception)
        if isinstance(exception, DB_FAULTS):  # nothing committed: Kakao may call again
            request.plugin_db_fault = True
            first_line = (str(exception).strip().splitlines() or [""])[0][:200]
            logger.warning("plugin call: database unavailable (%s: %s)", exception.__class__.__name__, first_line)
            return unavailable()
        logger.exception("plugin view failed: %s %s", request.method, request.path_info)
        return envelope.fail(500, "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해 주세요.", http_status=500)

    @staticmethod
    def _as_envelope(response: HttpResponse) -> HttpResponse:
        """Django answered with a page (404/405/500, redirect): say the same thing as JSON."""
        code = response.status_code
        if code < 400:
            return response  # redirects (Kakao Sync) and non-JSON pages a view chose on purpose
        messages = {
            404: "찾을 수 없습니다 (not found)",
            405: "허용되지 않은 메서드입니다 (method not allowed)",
        }
        message = messages.get(code, "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해 주세요.")
        return envelope.fail(code, message, http_status=code)
