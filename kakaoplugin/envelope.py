"""The response envelope of CONTRACTS section 0, rendered with orjson (Korean kept as UTF-8).

``{"status": 200, "data": ...}`` on success, ``{"status": <code>, "message": "..."}`` on failure.

HTTP status: a contract outcome (payment codes 300/301/400/401/500, option T2's 400) is answered
with HTTP 200 and the code in the body, because that is where Kakao reads it.  A request the
contract cannot even start on (unknown plugin key 404, refused source 403, body too large 413,
malformed JSON or missing field 400, wrong method 405) carries the same code as its HTTP status.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.http import HttpResponse
from rest_framework import exceptions, parsers, renderers

JSON_CONTENT_TYPE = "application/json; charset=utf-8"

# Payment-plugin codes (CONTRACTS section 6).
OK = 200
INVALID_ORDER = 300
STORE_CLOSED = 301
BAD_USER = 400
BLOCKED_USER = 401
OTHER_ERROR = 500


class PluginError(Exception):
    """A contract outcome other than success: rendered as ``{"status": code, "message": ...}``.

    ``http_status`` stays 200 for contract outcomes; the gate and the parser use the real status.
    """

    def __init__(self, code: int, message: str, *, http_status: int = 200):
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status


class BadRequest(PluginError):
    """Malformed request (not JSON, missing or mistyped field): envelope 400, HTTP 400."""

    def __init__(self, message: str):
        super().__init__(400, message, http_status=400)


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def json_response(body: bytes | dict, *, http_status: int = 200) -> HttpResponse:
    if not isinstance(body, bytes | bytearray):
        body = dumps(body)
    return HttpResponse(body, status=http_status, content_type=JSON_CONTENT_TYPE)


def ok(data: Any = None) -> HttpResponse:
    return json_response(success_body(data))


def success_body(data: Any = None) -> dict:
    return {"status": OK} if data is None else {"status": OK, "data": data}


def fail(code: int, message: str, *, http_status: int = 200) -> HttpResponse:
    return json_response({"status": code, "message": message}, http_status=http_status)


def from_error(error: PluginError) -> HttpResponse:
    return fail(error.code, error.message, http_status=error.http_status)


class OrjsonRenderer(renderers.BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return orjson.dumps(data)


class OrjsonParser(parsers.BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        if not raw.strip():
            return {}
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise exceptions.ParseError(f"요청 본문이 올바른 JSON이 아닙니다 (request body is not valid JSON: {exc})")


def _detail_text(detail: Any) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{k}: {_detail_text(v)}" for k, v in detail.items())
    if isinstance(detail, list):
        return "; ".join(_detail_text(v) for v in detail)
    return str(detail)


def exception_handler(exc: Exception, context: dict) -> HttpResponse | None:
    """DRF exception handler: every error a view raises becomes an envelope."""
    if isinstance(exc, PluginError):
        return from_error(exc)
    if isinstance(exc, exceptions.ValidationError):
        return fail(400, "요청 값이 올바르지 않습니다: " + _detail_text(exc.detail), http_status=400)
    if isinstance(exc, exceptions.APIException):
        response = fail(exc.status_code, _detail_text(exc.detail), http_status=exc.status_code)
        if getattr(exc, "auth_header", None):  # 401: say which scheme (the merchant API's Bearer)
            response["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None) is not None:  # 429 (throttled): when to try again
            response["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
        return response
    from django.http import Http404

    if isinstance(exc, Http404):
        return fail(404, "찾을 수 없습니다 (not found)", http_status=404)
    return None  # anything else: the gate middleware turns it into a 500 envelope and logs it
