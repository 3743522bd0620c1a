"""Request body caps outside the plugin gate (which caps ``/plugin/`` bodies itself).

DRF reads a body without Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` check (that check is only in
Django's form parsing), so without this a merchant API call could make us parse any size of JSON.
``ApiBodyLimitMiddleware`` refuses, before any view or parser runs, a body on ``/api/`` over
``API_MAX_BODY_BYTES``:

- announced by ``Content-Length``: refused unread (413 envelope);
- streamed without a length (``Transfer-Encoding: chunked``; gunicorn de-chunks it and says so
  with ``wsgi.input_terminated``): read up to the cap + 1 byte, refused past it, otherwise handed on
  as an ordinary body with its length; a server that cannot de-chunk gets a 411 envelope.
"""

from __future__ import annotations

import io

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse

from . import envelope

API_PREFIX = "/api/"


def body_too_large(limit: int) -> HttpResponse:
    return envelope.fail(413, f"요청 본문이 너무 큽니다 (body over {limit} bytes)", http_status=413)


class ApiBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(API_PREFIX):
            refused = self._refusal(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    @staticmethod
    def _refusal(request: HttpRequest) -> HttpResponse | None:
        limit = settings.API_MAX_BODY_BYTES
        raw = request.META.get("CONTENT_LENGTH")
        if raw not in (None, ""):
            try:
                length = int(raw)
            except ValueError:
                return envelope.fail(400, "Content-Length가 올바르지 않습니다 (bad Content-Length)", http_status=400)
            return body_too_large(limit) if length > limit else None
        if "chunked" not in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            return None  # no body
        if not request.META.get("wsgi.input_terminated"):
            return envelope.fail(411, "Content-Length가 필요합니다 (length required)", http_status=411)
        data = request.META["wsgi.input"].read(limit + 1)
        if len(data) > limit:
            return body_too_large(limit)
        request._stream = LimitedStream(io.BytesIO(data), len(data))
        request.META["CONTENT_LENGTH"] = str(len(data))
        return None
