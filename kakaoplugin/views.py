"""The base of every plugin API view (DRF)."""

from __future__ import annotations

from typing import Any

from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.views import APIView

from .envelope import BadRequest, OrjsonRenderer


class JsonOnly(BaseContentNegotiation):
    """Kakao speaks JSON only: skip negotiation (it costs time on the hot paths)."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class PluginAPIView(APIView):
    """No sessions, no CSRF, no DRF auth: the gate middleware authenticated the plugin key and put
    ``request.kakao_app`` and ``request.kakao`` (app user id, relay id) on the request."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []
    renderer_classes = [OrjsonRenderer]
    content_negotiation_class = JsonOnly

    @property
    def kakao_app(self):
        return self.request._request.kakao_app

    @property
    def kakao(self):
        return self.request._request.kakao

    def body(self) -> dict[str, Any]:
        """The JSON body as an object; anything else is a 400 envelope."""
        data = self.request.data
        if not isinstance(data, dict):
            raise BadRequest("요청 본문은 JSON 객체여야 합니다 (body must be a JSON object)")
        return data


def require(data: dict[str, Any] | Request, name: str, kind: type | tuple[type, ...] = str) -> Any:
    """A required field of the given JSON type, or a 400 envelope naming it."""
    value = data.get(name)
    if value is None or value == "":
        raise BadRequest(f"필수 항목이 없습니다: {name} (missing field)")
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise BadRequest(f"{name} 값의 형식이 올바르지 않습니다 (wrong type)")
    return value
