"""Bench-only URLconf: the real URLs plus the baselines, minimal Django views answering the same
bytes as the endpoint under test. Never mounted in production."""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import path

from catalog.selectors import option_t1_body, tree_load
from config.urls import urlpatterns as real_patterns
from kakaoplugin.envelope import JSON_CONTENT_TYPE

WAITING = b'{"status":200,"data":{"order_status":"W"}}'
_bodies: dict[str, bytes] = {}


def minimal(request):
    """T4's baseline: what T4 answers for an order still waiting."""
    return HttpResponse(WAITING, content_type=JSON_CONTENT_TYPE)


def baseline(request):
    """Option T1's baseline: T1's exact bytes, from memory."""
    code = request.GET["id"]
    body = _bodies.get(code)
    if body is None:
        body = _bodies[code] = option_t1_body(tree_load(code=code))
    return HttpResponse(body, content_type=JSON_CONTENT_TYPE)


urlpatterns = [path("bench/minimal", minimal), path("bench/baseline", baseline), *real_patterns]
